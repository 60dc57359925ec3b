"""Requests no page or API can answer, refused before any view reads them; and the lifetime
of a page session."""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from cases.signals import SESSION_RENEWED_AT, SESSION_SIGNED_IN_AT

NUL = "\x00"
NUL_MESSAGE = "The request contains a NUL character, which no field may hold."


class RefuseNulCharactersMiddleware:
    """400 for a NUL character in the address or a query or form value.

    No text eTDM stores may hold one (PostgreSQL cannot), and a search or filter that passed it
    on to the database would fail there; forms and serializers refuse it in their own fields.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _holds_nul(request):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": NUL_MESSAGE}, status=400)
            return HttpResponseBadRequest(NUL_MESSAGE)
        return self.get_response(request)


def _holds_nul(request: HttpRequest) -> bool:
    if NUL in request.path:
        return True
    values = [*request.GET.keys(), *(v for vs in request.GET.lists() for v in vs[1])]
    if request.content_type == "application/x-www-form-urlencoded":
        values += [*request.POST.keys(), *(v for vs in request.POST.lists() for v in vs[1])]
    return any(NUL in value for value in values)


# A session's expiry is moved on at most this often: not a database write on every request.
SESSION_RENEWAL_SECONDS = 60


class SessionLifetimeMiddleware:
    """A logged-in page session ends `SESSION_COOKIE_AGE` after its last request (the expiry is
    moved on as it is used) and `SESSION_MAX_LIFETIME` after the login, used or not (a session
    with no login time, from before this rule, ends at once); the request then goes on as an
    anonymous one, which the login page takes."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and hasattr(request, "session"):
            now = time.time()
            session = request.session
            signed_in_at = session.get(SESSION_SIGNED_IN_AT, 0)
            if now - signed_in_at > settings.SESSION_MAX_LIFETIME.total_seconds():
                logout(request)
            elif now - session.get(SESSION_RENEWED_AT, 0) > SESSION_RENEWAL_SECONDS:
                session[SESSION_RENEWED_AT] = now
        return self.get_response(request)
