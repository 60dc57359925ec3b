"""The advice report in the API: /api/v1/advice/{id}/report.pdf."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema

from advice.api import AdviceViewSet
from cases import access


class AdviceReportViewSet(AdviceViewSet):
    """The advice resource's report: the same lookup and permissions as the advice itself."""

    @extend_schema(
        parameters=[OpenApiParameter("copy", str, enum=["clinical", "pseudonymised"])],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY},
    )
    def report(self, request, pk=None, format=None):
        """The advice report as PDF: signed once decided; pseudonymised for data managers."""
        from reports import storage  # WeasyPrint: loaded when a report is asked for

        advice = self.get_object()
        pseudonymised = request.query_params.get("copy") == "pseudonymised" or not (
            access.sees_identity(request.user, advice.treatment.patient)
        )
        filename = f"etdm-advice-{advice.pk}.pdf"
        content = storage.pseudonymised_pdf(advice) if pseudonymised else storage.stored_pdf(advice)
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{filename}"'
        return response
