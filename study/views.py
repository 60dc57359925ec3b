"""Pages for data managers: study exports with progress, and the study dashboard
(docs/study-outcomes.md).

Both are study-wide (every site, pseudonymised) and need the `export_study` permission.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from cases.forms import apply_errors
from study import jobs
from study.models import Export
from study.summary import ctrough_groups, study_summary_by_drug

study_access = permission_required("study.export_study", raise_exception=True)
RECENT_EXPORTS = 20


class ExportForm(forms.Form):
    format = forms.ChoiceField(label="Format", choices=Export.Format.choices)
    for_release = forms.BooleanField(
        label="For release outside the study (study numbers re-pseudonymised, dates shifted)",
        required=False,
    )


def _exports_page(request, form: ExportForm, status: int = 200):
    exports = jobs.exports_visible_to(request.user).select_related("requested_by")
    return render(
        request,
        "study/exports.html",
        {"form": form, "exports": exports[:RECENT_EXPORTS]},
        status=status,
    )


@login_required
@study_access
def export_list(request):
    return _exports_page(request, ExportForm(initial={"format": Export.Format.CSV}))


@login_required
@study_access
@require_POST
def export_start(request):
    form = ExportForm(request.POST)
    if form.is_valid():
        try:
            export = jobs.export_request(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            return redirect("export-detail", pk=export.pk)
    return _exports_page(request, form, status=400)


def _visible_export(request, pk: int) -> Export:
    return get_object_or_404(jobs.exports_visible_to(request.user), pk=pk)


@login_required
@study_access
def export_detail(request, pk: int):
    return render(request, "study/export_detail.html", {"export": _visible_export(request, pk)})


@login_required
@study_access
def export_progress(request, pk: int):
    """The progress bar alone, polled by the export page until the export is finished."""
    return render(request, "study/_export_progress.html", {"export": _visible_export(request, pk)})


@login_required
@study_access
def export_download(request, pk: int):
    export = _visible_export(request, pk)
    if export.state != Export.State.DONE:
        return redirect("export-detail", pk=export.pk)
    path = jobs.export_file(export, actor=request.user)
    return FileResponse(path.open("rb"), as_attachment=True, filename=export.filename)


@login_required
@study_access
def study_dashboard(request):
    from study.plot import ctrough_vs_target_svg  # matplotlib: loaded by the first plot drawn

    summaries = study_summary_by_drug()
    overall = summaries.pop("overall")
    return render(
        request,
        "study/dashboard.html",
        {
            "overall": overall,
            "by_drug": summaries,
            "plot_svg": ctrough_vs_target_svg(ctrough_groups()),
        },
    )
