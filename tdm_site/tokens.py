"""`POST /api/v1/auth/token/`: an API token for a username and password (docs/api.md), under
the same lockout as the login page. Issuing one is a login: audited, and it starts the count of
failed logins again."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response


class TokenView(ObtainAuthToken):
    def get_serializer_context(self):
        # The lockout marks the request it is given as locked out, and the middleware that
        # answers 429 reads Django's request, not the API's wrapper around it.
        return {**super().get_serializer_context(), "request": self.request._request}

    @extend_schema(
        responses={
            200: inline_serializer("Token", {"token": serializers.CharField()}),
            400: OpenApiResponse(description="Wrong username or password."),
            429: OpenApiResponse(
                inline_serializer("LockedOut", {"detail": serializers.CharField()}),
                description="The account is locked out after repeated failed logins.",
            ),
        }
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        with transaction.atomic():
            token, _ = Token.objects.get_or_create(user=user)
            user_logged_in.send(sender=type(user), request=request._request, user=user)
        return Response({"token": token.key})
