"""Patient pages: the list, a patient, registering one."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from cases import access, services
from cases.forms import (
    PatientForm,
    apply_errors,
)
from cases.models import DoseRegimen, Patient, Treatment
from cases.pages import drug_names, may_act, render_form_page, sorted_page, visible_sites

PATIENTS_PER_PAGE = 50

# The columns the list sorts by: the `sort` parameter's keys (a leading "-" reverses them).
PATIENT_SORTS = {
    "study_number": ("study_number",),
    "site": ("site__code", "study_number"),
    "tumour": ("tumour", "study_number"),
    "treatments": ("treatment_count", "study_number"),
    "registered": ("created_at",),
}


def may_register(user) -> bool:
    """Patients are registered at a site the user works at, by a role that may add them."""
    return user.has_perm("cases.add_patient") and bool(access.member_site_ids(user))


@login_required
def patient_list(request):
    """The patients visible to the user, paged, sortable and filtered by site and drug."""
    user = request.user
    query = request.GET.get("q", "").strip()
    site = request.GET.get("site", "")
    drug = request.GET.get("drug", "")
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
    if site:
        patients = patients.filter(site__code=site)
    if drug:
        patients = patients.filter(
            Exists(Treatment.objects.filter(patient=OuterRef("pk"), drug__name=drug))
        )
    listing = sorted_page(request, patients, PATIENT_SORTS, "study_number", PATIENTS_PER_PAGE)
    return render(
        request,
        "cases/patient_list.html",
        {
            **listing,
            "rows": [
                {"patient": p, "identity": access.sees_identity(user, p)} for p in listing["page"]
            ],
            "q": query,
            "site": site,
            "drug": drug,
            "sites": visible_sites(user),
            "drugs": drug_names(),
            "may_register": may_register(user),
        },
    )


@login_required
def patient_detail(request, pk: int):
    patient = get_object_or_404(
        Patient.objects.visible_to(request.user).select_related(
            "site", "treating_physician", "responsible_nurse"
        ),
        pk=pk,
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
            "may_add_treatment": may_act(request.user, "cases.add_treatment", patient.site_id),
        },
    )


@login_required
def patient_create(request):
    if not request.user.has_perm("cases.add_patient"):
        raise PermissionDenied("Your role may not register patients.")
    form = PatientForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            apply_errors(form, error)
        else:
            messages.success(request, f"Patient {patient.study_number} registered.")
            return redirect("patient-detail", pk=patient.pk)
    return render_form_page(request, "cases/patient_form.html", {"form": form}, form)
