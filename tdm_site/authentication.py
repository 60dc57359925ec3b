"""API token authentication with a lifetime (docs/access.md). Kept apart from the token views:
DRF imports the authentication classes while its own views module loads."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token


def expired(token: Token) -> bool:
    return token.created <= timezone.now() - settings.API_TOKEN_LIFETIME


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` while the token is younger than its lifetime."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if expired(token):
            token.delete()
            raise exceptions.AuthenticationFailed("The token has expired: ask for a new one.")
        return user, token
