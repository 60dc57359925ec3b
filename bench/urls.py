"""The product's URLs plus the floors of the page and API rows: views that do nothing but what
every request of the product does (session or token authentication, the login check)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import include, path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


@login_required
def trivial_page(request):
    return HttpResponse("ok")


class TrivialApi(APIView):
    """The same authentication classes as every resource (the DRF defaults of the settings)."""

    permission_classes = [IsAuthenticated]

    def get(self, request, format=None):
        return Response({"ok": True})


urlpatterns = [
    path("bench/trivial/", trivial_page),
    path("bench/trivial-api/", TrivialApi.as_view()),
    path("", include("tdm_site.urls")),
]
