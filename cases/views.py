"""Pages. Every lookup goes through `visible_to(user)`: another site's record is a 404."""

from __future__ import annotations

import datetime

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Prefetch, Q
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from cases import access, clinical, roles, schedule
from cases.forms import AdverseEventResolveForm, SampleCancelForm, SampleResultForm
from cases.models import AdverseEvent, Advice, DoseRegimen, Notification, Patient, Sample, Treatment
from cases.pages import may_act, render_form_page
from cases.worklist_views import build_worklist, still_overdue
from reports import service as report_service

PATIENTS_PER_PAGE = 100
HOME_LIST_LIMIT = 8


def may_register(user) -> bool:
    """Patients are registered at a site the user works at, by a role that may add them."""
    return user.has_perm("cases.add_patient") and bool(access.member_site_ids(user))


@login_required
def home(request):
    user = request.user
    user_roles = access.user_roles(user)
    patients = Patient.objects.visible_to(user)
    advice = Advice.objects.visible_to(user).select_related(
        "treatment__patient", "treatment__drug", "sample"
    )
    context = {
        "roles": sorted(user_roles),
        "sites": [
            m.site for m in user.site_memberships.select_related("site").order_by("site__code")
        ],
        "patient_count": patients.count(),
        "recent_samples": Sample.objects.visible_to(user)
        .select_related("treatment__patient", "treatment__drug")
        .order_by("-drawn_at")[:10],
        "unread": Notification.objects.filter(recipient=user, read_at__isnull=True)[
            :HOME_LIST_LIMIT
        ],
        "may_register": may_register(user),
    }
    if roles.NURSE in user_roles:
        context["work"] = build_worklist(user)
    if roles.PHARMACIST in user_roles:
        drafts = advice.filter(state=Advice.State.DRAFT).order_by("created_at")
        context["drafts"] = drafts[:HOME_LIST_LIMIT]
        context["draft_count"] = drafts.count()
    if roles.PHYSICIAN in user_roles:
        to_sign = advice.filter(state=Advice.State.RELEASED).order_by("released_at")
        context["to_sign"] = to_sign[:HOME_LIST_LIMIT]
        context["to_sign_count"] = to_sign.count()
    context["study_data"] = user.is_superuser or bool(user_roles & roles.ALL_SITES_ROLES)
    return render(request, "cases/home.html", context)


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
    return render(
        request,
        "cases/patient_list.html",
        {
            "rows": rows,
            "query": query,
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


def schedule_rows(
    treatment: Treatment, samples: list[Sample], *, today: datetime.date
) -> list[dict[str, object]]:
    """The treatment's due dates (SPEC §6), each with what it means today for the nurse:
    `fulfilled`, `due`, `overdue` (the one to act on now) or `missed` (overtaken by a later one)."""
    window = datetime.timedelta(days=schedule.FULFILMENT_WINDOW_DAYS)
    due = clinical.treatment_schedule(treatment)
    overdue = still_overdue(
        [schedule.DueDate(row["date"], row["kind"]) for row in due],
        [
            timezone.localdate(sample.drawn_at)
            for sample in samples
            if sample.status in (Sample.Status.DRAWN, Sample.Status.RESULTED)
        ],
        today=today,
    )
    rows = []
    for row in due:
        if row["fulfilled_by"] is not None:
            state = "fulfilled"
        elif row["date"] >= today:
            state = "due"
        elif overdue is not None and row["date"] == overdue.date:
            state = "overdue"
        else:
            state = "missed"
        rows.append(
            {
                **row,
                "state": state,
                "counts_from": row["date"] - window,
                "counts_until": row["date"] + window,
            }
        )
    return rows


@login_required
def treatment_detail(request, pk: int):
    user = request.user
    treatment = get_object_or_404(
        Treatment.objects.visible_to(user)
        .select_related("patient__site", "drug")
        .prefetch_related(
            Prefetch(
                "regimens",
                queryset=DoseRegimen.objects.select_related("advice").order_by("effective_from"),
            )
        ),
        pk=pk,
    )
    today = timezone.localdate()
    site_id = treatment.patient.site_id
    status = treatment.status_on(today)
    samples = list(treatment.samples.order_by("-drawn_at"))
    due = schedule_rows(treatment, samples, today=today)
    stopped = treatment.stop_date is not None
    return render(
        request,
        "cases/treatment_detail.html",
        {
            "treatment": treatment,
            "patient": treatment.patient,
            "identity": access.sees_identity(user, treatment.patient),
            "today": today,
            "status": status,
            "phase": treatment.phase_on(today),
            "regimen": treatment.regimen_on(today),
            "upcoming": [r for r in treatment.regimens.all() if r.effective_from > today],
            "samples": samples,
            "adverse_events": treatment.adverse_events.order_by("-onset"),
            "advice_list": treatment.advice.select_related("sample").order_by("-created_at"),
            "plot_svg": report_service.treatment_plot_svg(treatment),
            "schedule": due,
            "overdue": next((row for row in due if row["state"] == "overdue"), None),
            "next_due": next((row for row in due if row["state"] == "due"), None),
            "may_log_sample": may_act(user, "cases.add_sample", site_id) and not stopped,
            "may_log_event": may_act(user, "cases.add_adverseevent", site_id),
            "may_change_dose": may_act(user, "cases.add_doseregimen", site_id) and not stopped,
            "may_stop": may_act(user, "cases.change_treatment", site_id) and not stopped,
            "may_change_sample": may_act(user, "cases.change_sample", site_id),
            "may_resolve": may_act(user, "cases.change_adverseevent", site_id),
        },
    )


def sample_page(request, sample: Sample, *, result_form=None, cancel_form=None):
    """The sample with its result and cancel forms (bound ones when a submission failed)."""
    site_id = sample.treatment.patient.site_id
    may_change = may_act(request.user, "cases.change_sample", site_id)
    context = {
        "sample": sample,
        "patient": sample.treatment.patient,
        "identity": access.sees_identity(request.user, sample.treatment.patient),
        "advice_list": sample.advice.order_by("-created_at"),
        "result_form": result_form or SampleResultForm(initial={"unit": sample.unit}),
        "cancel_form": cancel_form or SampleCancelForm(),
        "may_enter_result": may_change and sample.status == Sample.Status.DRAWN,
        "may_cancel": may_change and sample.status != Sample.Status.CANCELLED,
    }
    return render_form_page(
        request, "cases/sample_detail.html", context, *(f for f in (result_form, cancel_form) if f)
    )


def visible_sample(request, pk: int) -> Sample:
    return get_object_or_404(
        Sample.objects.visible_to(request.user).select_related(
            "treatment__patient__site", "treatment__drug"
        ),
        pk=pk,
    )


@login_required
def sample_detail(request, pk: int):
    return sample_page(request, visible_sample(request, pk))


def adverse_event_page(request, event: AdverseEvent, *, resolve_form=None):
    may_resolve = may_act(
        request.user, "cases.change_adverseevent", event.treatment.patient.site_id
    )
    context = {
        "event": event,
        "patient": event.treatment.patient,
        "identity": access.sees_identity(request.user, event.treatment.patient),
        "advice_list": event.advice.order_by("-created_at"),
        "resolve_form": resolve_form
        or AdverseEventResolveForm(initial={"resolved": timezone.localdate()}),
        "may_resolve": may_resolve and event.resolved is None and not event.entered_in_error,
    }
    return render_form_page(
        request, "cases/adverse_event_detail.html", context, *(f for f in (resolve_form,) if f)
    )


def visible_adverse_event(request, pk: int) -> AdverseEvent:
    return get_object_or_404(
        AdverseEvent.objects.visible_to(request.user).select_related(
            "treatment__patient__site", "treatment__drug"
        ),
        pk=pk,
    )


@login_required
def adverse_event_detail(request, pk: int):
    return adverse_event_page(request, visible_adverse_event(request, pk))
