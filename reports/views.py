"""The advice report as a page: the PDF beside the sign-off form, or on its own."""

from __future__ import annotations

from csp.decorators import csp_replace
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.views.decorators.clickjacking import xframe_options_sameorigin

from advice.views import visible_advice
from cases import access


@login_required
# The sign-off page shows the report beside the decision: framed by eTDM's own pages only.
@xframe_options_sameorigin
@csp_replace({"frame-ancestors": ["'self'"]})
def advice_report(request, pk: int):
    from reports import storage  # WeasyPrint: loaded when a report is asked for

    advice = visible_advice(request, pk)
    if access.sees_identity(request.user, advice.treatment.patient):
        content = storage.stored_pdf(advice)
    else:
        content = storage.pseudonymised_pdf(advice)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="etdm-advice-{advice.pk}.pdf"'
    return response
