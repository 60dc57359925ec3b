"""The answer to a sign-in while the account is locked out (django-axes; docs/access.md):
429 on the login page, which says so, and on the API as `{"detail": …}` like its other errors."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

MESSAGE = (
    "This account is locked after {limit} failed logins. Try again in {minutes} minutes, or ask "
    "an administrator to unlock it."
)
TOO_MANY_REQUESTS = 429


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    message = MESSAGE.format(
        limit=settings.AXES_FAILURE_LIMIT,
        minutes=int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
    )
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=TOO_MANY_REQUESTS)
    return render(
        request, "registration/locked_out.html", {"message": message}, status=TOO_MANY_REQUESTS
    )
