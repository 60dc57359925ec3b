"""`generate_cohort` (docs/synthetic-cohort.md): a synthetic cohort that is the same for the same
seed, holds every rule the services enforce, and reads in the application like any other."""

from __future__ import annotations

import datetime
import itertools
import json
from collections import Counter, defaultdict
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from advice.engine import ctcae, toxicity
from advice.engine.case_input import advice_to_json, json_number
from advice.inputs import advise_on_inputs
from advice.models import OPEN_STATES, Advice
from cases import clinical, roles
from cases.models import (
    AdverseEvent,
    DoseRegimen,
    DueDate,
    DueDateHorizon,
    Patient,
    Sample,
    Site,
    SiteMembership,
    Treatment,
)
from cases.services.treatments import check_dose
from study.summary import study_summary
from study.synthetic import distributions

pytestmark = pytest.mark.django_db

PATIENTS = 30
SEED = 20240108
STAFF = (roles.NURSE, roles.PHYSICIAN, roles.PHARMACIST)


def generate(*args: str) -> tuple[dict, str]:
    out, err = StringIO(), StringIO()
    call_command("generate_cohort", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()


@pytest.fixture
def cohort() -> dict:
    summary, _ = generate("--patients", str(PATIENTS), "--seed", str(SEED))
    return summary


def dump_of_a_run(*args: str) -> dict[str, list]:
    """The canonical rows a run writes (everything but ids and password hashes, references
    by natural key), the run then rolled back."""
    savepoint = transaction.savepoint()
    generate(*args)
    dump = canonical_rows()
    transaction.savepoint_rollback(savepoint)
    return dump


def canonical_rows() -> dict[str, list]:
    treatment = ("treatment__patient__study_number", "treatment__start_date")
    queries = {
        "sites": Site.objects.values_list("code", "name", "created_at"),
        "users": get_user_model().objects.values_list(
            "username", "first_name", "last_name", "email", "groups__name", "date_joined"
        ),
        "memberships": SiteMembership.objects.values_list("user__username", "site__code"),
        "patients": Patient.objects.values_list(
            "study_number", "site__code", "name", "record_number", "sex", "birth_year",
            "tumour", "tumour_code", "treating_physician__username",
            "responsible_nurse__username", "created_at", "updated_at",
        ),
        "treatments": Treatment.objects.values_list(
            "patient__study_number", "drug__name", "drug__indication", "start_date",
            "stop_date", "stop_reason", "created_by__username", "created_at", "updated_at",
        ),
        "regimens": DoseRegimen.objects.values_list(
            *treatment, "effective_from", "daily_dose_mg", "administrations_per_day",
            "split_mg", "reason", "status", "created_by__username", "created_at",
        ),
        "samples": Sample.objects.values_list(
            "lab_accession", "status", "drawn_at", "last_dose_at", "daily_dose_mg",
            "administrations_per_day", "concentration", "unit", "below_lloq", "analytes",
            "cancel_reason", "confirmed_implausible", "concentration_ng_ml",
            "hours_after_dose", "estimated_ctrough_ng_ml", "method", "evaluable",
            "not_evaluable_reasons", "warnings", "created_by__username", "created_at",
            "updated_at",
        ),
        "adverse_events": AdverseEvent.objects.values_list(
            *treatment, "term", "meddra_code", "grade", "onset", "resolved", "related",
            "action", "occurrence", "created_at", "updated_at",
        ),
        "advice": Advice.objects.values_list(
            "sample__lab_accession", "state", "inputs", "computed", "action",
            "proposed_daily_dose_mg", "proposed_administrations_per_day", "text",
            "released_by__username", "released_at", "decided_by__username", "decided_at",
            "rejection_reason", "checks_confirmed", "effective_date",
            "dose_regimen__effective_from", "created_at", "updated_at",
        ),
    }  # fmt: skip
    return {name: sorted(query, key=repr) for name, query in queries.items()}


def today() -> datetime.date:
    return timezone.localdate()


def draw_day(sample: Sample) -> datetime.date:
    return timezone.localdate(sample.drawn_at)


def treatments_with_history():
    return Treatment.objects.select_related("drug", "patient__site").prefetch_related(
        "regimens", "samples", "adverse_events", "extra_due_dates"
    )


# The command ------------------------------------------------------------------------------------


def test_the_summary_counts_every_row_written_and_progress_goes_to_stderr():
    summary, progress = generate("--patients", "30", "--seed", "7", "--sites", "2")
    assert summary["study_numbers"] == ["SYN-0000001", "SYN-0000030"]
    assert summary["seed"] == 7
    assert summary["seconds"] >= 0
    models = [
        Site, SiteMembership, Patient, Treatment, DoseRegimen, Sample, AdverseEvent, Advice,
    ]  # fmt: skip
    written = summary["rows"]
    assert {model._meta.label: model.objects.count() for model in models} == {
        model._meta.label: written[model._meta.label] for model in models
    }
    assert written["auth.User"] == get_user_model().objects.count()
    assert written["cases.AuditEvent"] == 1
    assert Site.objects.count() == 2
    assert "30/30 patients" in progress


def test_the_same_seed_writes_the_same_rows_and_another_seed_others():
    first = dump_of_a_run("--patients", "30", "--seed", "11")
    again = dump_of_a_run("--patients", "30", "--seed", "11")
    other = dump_of_a_run("--patients", "30", "--seed", "12")
    assert first["samples"]
    assert first == again
    for table in ("patients", "treatments", "samples", "advice"):
        assert first[table] != other[table], table


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--patients", "0", "--seed", "1"], "--patients"),
        (["--patients", "-5", "--seed", "1"], "--patients"),
        (["--patients", "ten", "--seed", "1"], "--patients"),
        (["--patients", "10", "--seed", "1", "--sites", "0"], "--sites"),
        (["--patients", "10", "--seed", "1.5"], "--seed"),
    ],
)
def test_a_bad_argument_is_refused_naming_it(args, option):
    with pytest.raises(CommandError, match=option):
        call_command("generate_cohort", *args, stdout=StringIO(), stderr=StringIO())
    assert not Patient.objects.exists()


def test_a_database_with_patients_is_refused_unless_appending(cohort):
    with pytest.raises(CommandError, match="--append") as refused:
        generate("--patients", "5", "--seed", "2")
    assert refused.value.returncode == 2
    assert Patient.objects.count() == PATIENTS

    summary, _ = generate("--patients", "5", "--seed", "2", "--append")
    assert summary["study_numbers"] == ["SYN-0000031", "SYN-0000035"]
    assert Patient.objects.count() == PATIENTS + 5
    # The sites and their staff are there already: the second run adds none.
    assert "cases.Site" not in summary["rows"]
    assert "auth.User" not in summary["rows"]
    assert Site.objects.count() == 3


# The records hold what the services would enforce ------------------------------------------------


def test_every_constraint_holds_and_every_record_passes_the_services_validation(cohort):
    connection.check_constraints()
    live = DoseRegimen.objects.filter(status=DoseRegimen.Status.ACTIVE)
    assert not live.values("treatment", "effective_from").annotate(n=Count("id")).filter(n__gt=1)
    open_advice = Advice.objects.filter(state__in=OPEN_STATES)
    assert not open_advice.values("sample").annotate(n=Count("id")).filter(n__gt=1)
    assert Patient.objects.values("study_number").distinct().count() == PATIENTS
    # Sample advice on every result, and only there.
    resulted = Sample.objects.filter(status=Sample.Status.RESULTED)
    assert sorted(Advice.objects.values_list("sample", flat=True)) == sorted(
        resulted.values_list("pk", flat=True)
    )
    assert not Advice.objects.exclude(kind=Advice.Kind.SAMPLE).exists()
    # What the services check with `full_clean` before they save (study number format, choices,
    # lengths); the database checked its own constraints as the rows went in.
    for patient in Patient.objects.all():
        patient.full_clean()
    for record in (*DoseRegimen.objects.all(), *Sample.objects.all()):
        record.full_clean(exclude=["treatment"])


def test_staff_have_their_role_and_site_and_look_after_their_sites_patients(cohort):
    for user in get_user_model().objects.prefetch_related("groups", "site_memberships"):
        assert [group.name for group in user.groups.all()] == [user.username.split("-")[1]]
        assert [m.site.code for m in user.site_memberships.all()] == [
            user.username.split("-")[0].upper()
        ]
        assert not user.has_usable_password()
    for site in Site.objects.all():
        for role in STAFF:
            assert site.memberships.filter(user__groups__name=role).exists(), (site, role)
    for patient in Patient.objects.select_related("treating_physician", "responsible_nurse"):
        for user, role in (
            (patient.treating_physician, roles.PHYSICIAN),
            (patient.responsible_nurse, roles.NURSE),
        ):
            assert user.groups.filter(name=role).exists()
            assert user.site_memberships.filter(site=patient.site_id).exists()


def test_all_dates_fit_together(cohort):
    history_start = today() - datetime.timedelta(days=3 * 365 + 1)
    registered = set()
    for treatment in treatments_with_history():
        assert history_start <= treatment.start_date < today()
        end = treatment.stop_date or today()
        if treatment.stop_date is not None:
            assert treatment.start_date <= treatment.stop_date < today()
            assert treatment.stop_reason
        assert timezone.localdate(treatment.created_at) <= treatment.start_date
        assert treatment.patient.created_at <= treatment.created_at
        registered.add(timezone.localdate(treatment.created_at))
        for regimen in treatment.regimens.all():
            assert treatment.start_date <= regimen.effective_from
            assert treatment.stop_date is None or regimen.effective_from < treatment.stop_date
            assert regimen.created_at < timezone.now()
        for sample in treatment.samples.all():
            assert treatment.start_date < draw_day(sample) <= end
            assert draw_day(sample) < today()
            assert sample.last_dose_at is None or sample.last_dose_at < sample.drawn_at
            assert sample.drawn_at < sample.created_at <= sample.updated_at
            # A dose prescribed after the draw takes effect after the draw day.
            for regimen in treatment.regimens.all():
                if regimen.created_at > sample.drawn_at:
                    assert regimen.effective_from > draw_day(sample)
        for event in treatment.adverse_events.all():
            assert treatment.start_date <= event.onset <= end
            assert event.resolved is None or event.onset <= event.resolved < today()
    # Registered over the cohort's history, not all at once.
    assert len(registered) > PATIENTS // 2


def test_every_treatment_past_its_first_due_date_has_one_to_ten_samples(cohort):
    counts = Counter()
    for treatment in treatments_with_history():
        samples = len(treatment.samples.all())
        assert samples <= 10
        due = clinical.due_dates(treatment, until=today())
        if due and due[0].date <= today() - datetime.timedelta(days=4):
            assert samples >= 1, treatment
        counts[samples > 0] += 1
    assert counts[True] > counts[False]


def test_a_sample_carries_the_dose_in_effect_on_its_draw_day(cohort):
    for treatment in treatments_with_history():
        for sample in treatment.samples.all():
            regimen = treatment.regimen_on(draw_day(sample))
            assert regimen.daily_dose_mg > 0
            assert (sample.daily_dose_mg, sample.administrations_per_day) == (
                regimen.daily_dose_mg,
                regimen.administrations_per_day,
            )


def test_the_computed_fields_are_what_the_engine_computes(cohort):
    fields = (
        "concentration_ng_ml", "hours_after_dose", "estimated_ctrough_ng_ml", "method",
        "evaluable", "not_evaluable_reasons", "warnings",
    )  # fmt: skip
    checked = Counter()
    for treatment in treatments_with_history():
        for sample in treatment.samples.all():
            if sample.status != Sample.Status.RESULTED:
                continue
            stored = [getattr(sample, name) for name in fields]
            sample.treatment = treatment
            clinical.compute_sample(sample)
            assert stored == [getattr(sample, name) for name in fields], sample.pk
            assert sample.confirmed_implausible == ("implausible_value" in sample.warnings)
            checked[sample.evaluable] += 1
    assert checked[True] > 0
    assert checked[False] > 0
    cancelled = Sample.objects.filter(status=Sample.Status.CANCELLED)
    assert all(s.cancel_reason and s.evaluable is False for s in cancelled)
    assert Sample.objects.filter(status=Sample.Status.RESULTED, below_lloq=True).exists()


def test_doses_are_catalogue_levels_given_as_the_services_split_them(cohort):
    reasons = Counter()
    for regimen in DoseRegimen.objects.select_related("treatment__drug"):
        drug = regimen.treatment.drug
        reasons[regimen.reason] += 1
        if regimen.daily_dose_mg == 0:
            assert regimen.reason == DoseRegimen.Reason.INTERRUPTION
            assert regimen.split_mg == []
            continue
        errors = {}
        check_dose(errors, drug, regimen.daily_dose_mg, regimen.administrations_per_day, "")
        assert errors == {}, regimen
        split = clinical.split_daily_dose(
            drug, regimen.daily_dose_mg, regimen.administrations_per_day
        )
        assert regimen.split_mg == [json_number(part) for part in split.parts_mg]
    assert reasons[DoseRegimen.Reason.START] == Treatment.objects.count()
    assert reasons[DoseRegimen.Reason.TDM_ADVICE] > 0
    assert reasons[DoseRegimen.Reason.INTERRUPTION] > 0


def test_each_treatment_starts_at_the_standard_dose_or_steps_up_to_it(cohort):
    for treatment in treatments_with_history():
        history = treatment.live_regimens()
        start, standard = history[0].daily_dose_mg, treatment.drug.standard_daily_dose_mg
        steps = [r for r in history if r.reason == DoseRegimen.Reason.STEP_UP]
        if start < standard:
            assert treatment.drug.name in distributions.STEP_UP
        else:
            assert start == standard
            assert steps == []
        for earlier, later in itertools.pairwise(history):
            assert earlier.effective_from < later.effective_from
            if later.reason == DoseRegimen.Reason.RESUME:
                assert earlier.daily_dose_mg == 0
            if later.reason == DoseRegimen.Reason.STEP_UP:
                assert earlier.daily_dose_mg < later.daily_dose_mg <= standard


def test_adverse_events_use_ctcae_terms_with_their_grades_and_count_occurrences(cohort):
    by_treatment = defaultdict(list)
    for event in AdverseEvent.objects.order_by("pk"):
        term = ctcae.find_term(event.term)
        assert term is not None
        assert event.term == term.term
        assert event.meddra_code == term.meddra_code
        assert event.grade in ctcae.allowed_grades(term)
        earlier = [(other.term, other.onset) for other in by_treatment[event.treatment_id]]
        assert event.occurrence == toxicity.occurrence_number(event.term, event.onset, earlier)
        by_treatment[event.treatment_id].append(event)
    assert AdverseEvent.objects.filter(occurrence__gt=1).exists()
    assert AdverseEvent.objects.exclude(action=AdverseEvent.Action.NONE).exists()


def test_advice_is_signed_in_plausible_states_and_prescribes_what_it_proposed(cohort):
    states = Counter(Advice.objects.values_list("state", flat=True))
    assert states[Advice.State.ACCEPTED] > sum(states.values()) / 2
    assert states[Advice.State.REJECTED] + states[Advice.State.SUPERSEDED] > 0
    linked = set()
    for advice in Advice.objects.select_related(
        "sample", "dose_regimen", "treatment__patient", "released_by", "decided_by"
    ):
        site = advice.treatment.patient.site_id
        if advice.state in (Advice.State.ACCEPTED, Advice.State.REJECTED):
            assert advice.released_at < advice.decided_at
            assert advice.decided_by.groups.filter(name=roles.PHYSICIAN).exists()
            assert advice.decided_by.site_memberships.filter(site=site).exists()
        if advice.released_by is not None:
            assert advice.released_by.groups.filter(name=roles.PHARMACIST).exists()
            assert advice.released_by.site_memberships.filter(site=site).exists()
        assert (advice.state == Advice.State.REJECTED) == bool(advice.rejection_reason)
        if advice.dose_regimen is not None:
            linked.add(advice.dose_regimen_id)
            assert advice.state == Advice.State.ACCEPTED
            assert advice.dose_regimen.reason == DoseRegimen.Reason.TDM_ADVICE
            assert advice.dose_regimen.daily_dose_mg == advice.proposed_daily_dose_mg
            assert advice.effective_date == advice.dose_regimen.effective_from
            assert advice.effective_date > draw_day(advice.sample)
        # The inputs are what the engine reads: advising on them again gives the same advice.
        inputs = advice.inputs
        if "catalogue" not in inputs:
            drug = advice.treatment.drug
            inputs = {**inputs, "catalogue": {"version": drug.version, "row": drug.as_row()}}
        assert advice_to_json(advise_on_inputs(inputs)) == advice.computed
        assert advice.computed["action"] == advice.action
    assert linked == set(
        DoseRegimen.objects.filter(reason=DoseRegimen.Reason.TDM_ADVICE).values_list(
            "pk", flat=True
        )
    )
    # Open advice carries the catalogue row a pharmacist's edit on release needs.
    assert all("catalogue" in a.inputs for a in Advice.objects.filter(state__in=OPEN_STATES))


def test_a_newer_result_supersedes_only_older_unsigned_advice(cohort):
    for advice in Advice.objects.filter(state=Advice.State.SUPERSEDED).select_related("sample"):
        newer = Advice.objects.filter(
            treatment=advice.treatment_id, sample__drawn_at__gt=advice.sample.drawn_at
        )
        assert newer.filter(created_at=advice.updated_at).exists()
        assert advice.decided_at is None


# The application reads the cohort --------------------------------------------------------------


def test_the_treatment_page_answers_its_sites_nurse_and_hides_it_from_others(client, cohort):
    treatment = Treatment.objects.filter(samples__isnull=False).select_related("patient").first()
    nurse = treatment.patient.responsible_nurse
    client.force_login(nurse)
    page = client.get(f"/treatments/{treatment.pk}/")
    assert page.status_code == 200
    assert treatment.patient.study_number in page.content.decode()
    other = get_user_model().objects.filter(
        Q(groups__name=roles.NURSE) & ~Q(site_memberships__site=treatment.patient.site_id)
    )
    client.force_login(other.first())
    assert client.get(f"/treatments/{treatment.pk}/").status_code == 404


def test_the_advice_page_answers_its_sites_physician(client, cohort):
    advice = Advice.objects.select_related("treatment__patient").first()
    client.force_login(advice.treatment.patient.treating_physician)
    assert client.get(f"/advice/{advice.pk}/").status_code == 200


def test_most_past_due_dates_are_fulfilled_and_the_study_summary_runs(cohort):
    fulfilled = Counter()
    for treatment in treatments_with_history():
        for entry in clinical.treatment_schedule(treatment):
            if entry["date"] < today() - datetime.timedelta(days=7):
                fulfilled[entry["fulfilled_by"] is not None] += 1
    assert fulfilled[True] > 0.8 * (fulfilled[True] + fulfilled[False])
    summary = study_summary()
    assert summary["patients"] == PATIENTS
    assert summary["tdm_interventions"] > 0


def test_the_generated_cohort_has_its_due_dates_stored_as_the_pure_schedule(cohort):
    """Written past the services, the cohort's due dates are derived from it at the end, so the
    reminder scan and the worklist see them at once."""
    assert cohort["rows"]["cases.DueDate"] == DueDate.objects.count() > 0
    for treatment in Treatment.objects.all():
        horizon = DueDateHorizon.objects.get(treatment=treatment).until
        pure = clinical.treatment_schedule(treatment, until=horizon)
        stored = list(
            DueDate.objects.filter(treatment=treatment)
            .order_by("date")
            .values_list("date", "kind", "fulfilled_by_id")
        )
        assert stored == [(row["date"], row["kind"], row["fulfilled_by"]) for row in pure]
