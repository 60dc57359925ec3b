"""Requests no page or API can answer: refused before any view reads them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

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
