"""Pages. Every lookup goes through `visible_to(user)`: another site's record is a 404."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from cases import access
from cases.models import AdverseEvent, DoseRegimen, Patient, Sample, Treatment
from reports import service as report_service

PATIENTS_PER_PAGE = 100


@login_required
def home(request):
    user = request.user
    patients = Patient.objects.visible_to(user).select_related("site")
    return render(
        request,
        "cases/home.html",
        {
            "roles": sorted(access.user_roles(user)),
            "sites": [
                m.site for m in user.site_memberships.select_related("site").order_by("site__code")
            ],
            "patient_count": patients.count(),
            "recent_samples": Sample.objects.visible_to(user)
            .select_related("treatment__patient", "treatment__drug")
            .order_by("-drawn_at")[:10],
        },
    )


@login_required
def patient_list(request):
    user = request.user
    query = request.GET.get("q", "").strip()
    patients = (
        Patient.objects.visible_to(user)
        .select_related("site")
        .annotate(treatment_count=Count("treatments"))
    )
    if query:
        matches = Q(study_number__icontains=query)
        if access.is_clinical_user(user):
            own = Q(site_id__in=access.member_site_ids(user))
            matches |= own & (Q(name__icontains=query) | Q(record_number__iexact=query))
        patients = patients.filter(matches)
    rows = [
        {"patient": p, "identity": access.sees_identity(user, p)}
        for p in patients[:PATIENTS_PER_PAGE]
    ]
    return render(request, "cases/patient_list.html", {"rows": rows, "query": query})


@login_required
def patient_detail(request, pk: int):
    patient = get_object_or_404(
        Patient.objects.visible_to(request.user).select_related("site"), pk=pk
    )
    treatments = patient.treatments.select_related("drug").prefetch_related(
        Prefetch("regimens", queryset=DoseRegimen.objects.order_by("effective_from"))
    )
    today = timezone.localdate()
    return render(
        request,
        "cases/patient_detail.html",
        {
            "patient": patient,
            "identity": access.sees_identity(request.user, patient),
            "treatments": [
                {"treatment": t, "status": t.status_on(today), "regimen": t.regimen_on(today)}
                for t in treatments
            ],
        },
    )


@login_required
def treatment_detail(request, pk: int):
    treatment = get_object_or_404(
        Treatment.objects.visible_to(request.user)
        .select_related("patient__site", "drug")
        .prefetch_related(
            Prefetch("regimens", queryset=DoseRegimen.objects.order_by("effective_from"))
        ),
        pk=pk,
    )
    today = timezone.localdate()
    return render(
        request,
        "cases/treatment_detail.html",
        {
            "treatment": treatment,
            "patient": treatment.patient,
            "identity": access.sees_identity(request.user, treatment.patient),
            "status": treatment.status_on(today),
            "phase": treatment.phase_on(today),
            "samples": treatment.samples.order_by("-drawn_at"),
            "adverse_events": treatment.adverse_events.order_by("-onset"),
            "advice_list": treatment.advice.select_related("sample").order_by("-created_at"),
            "plot_svg": report_service.treatment_plot_svg(treatment),
        },
    )


@login_required
def sample_detail(request, pk: int):
    sample = get_object_or_404(
        Sample.objects.visible_to(request.user).select_related(
            "treatment__patient__site", "treatment__drug"
        ),
        pk=pk,
    )
    return render(request, "cases/sample_detail.html", {"sample": sample})


@login_required
def adverse_event_detail(request, pk: int):
    event = get_object_or_404(
        AdverseEvent.objects.visible_to(request.user).select_related(
            "treatment__patient__site", "treatment__drug"
        ),
        pk=pk,
    )
    return render(request, "cases/adverse_event_detail.html", {"event": event})
