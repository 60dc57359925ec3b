"""API tokens (docs/access.md): `POST /api/v1/auth/token/` issues one for a username and
password, under the same lockout as the login page; it lasts `API_TOKEN_LIFETIME` from its issue
and ends with `POST /api/v1/auth/logout/`, a password change or the user's deactivation. Issuing
one is a login and revoking one a logout, audited as such."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


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
            Token.objects.filter(
                user=user, created__lte=timezone.now() - settings.API_TOKEN_LIFETIME
            ).delete()
            token, _ = Token.objects.get_or_create(user=user)
            user_logged_in.send(sender=type(user), request=request._request, user=user)
        return Response({"token": token.key})


class LogoutView(APIView):
    """Revoke the token the request was made with (a session is ended on the logout page)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request, *args, **kwargs):
        with transaction.atomic():
            if isinstance(request.auth, Token):
                request.auth.delete()
            user_logged_out.send(
                sender=type(request.user), request=request._request, user=request.user
            )
        return Response(status=status.HTTP_204_NO_CONTENT)
