"""Dose history integrity (docs/workflow.md §5): a regimen not yet in effect is withdrawn, one in
effect is marked entered in error; either stays on record and counts for nothing; a stop
withdraws what would follow it; a second live course of a drug needs its reason."""

from __future__ import annotations

import contextlib
import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cases import clinical, services, signals
from cases.errors import StateConflict
from cases.models import AuditEvent, DoseRegimen, Sample, Treatment
from tests.conftest import local_datetime
from tests.factories import PatientFactory, SampleFactory, TreatmentFactory

pytestmark = pytest.mark.django_db

API = "/api/v1"
TODAY = timezone.localdate


def _days(n: int) -> datetime.date:
    return TODAY() + datetime.timedelta(days=n)


@pytest.fixture
def treatment(staff) -> Treatment:
    patient = PatientFactory(actor=staff["nurse_a"], responsible_nurse=staff["nurse_a"])
    return TreatmentFactory(
        actor=staff["nurse_a"], patient=patient, start_date=_days(-60), daily_dose_mg=Decimal(400)
    )


def _prescribe(staff, treatment, day: datetime.date, mg: int, reason="tdm_advice"):
    return services.dose_regimen_create(
        actor=staff["physician_a"],
        treatment=treatment,
        effective_from=day,
        daily_dose_mg=Decimal(mg),
        administrations_per_day=2,
        reason=reason,
    )


def _dose_on(treatment: Treatment, day: datetime.date) -> Decimal | None:
    regimen = Treatment.objects.get(pk=treatment.pk).regimen_on(day)
    return regimen.daily_dose_mg if regimen else None


# Withdrawing a regimen not yet in effect ---------------------------------------------------------


def test_a_withdrawn_regimen_stays_on_record_and_counts_for_nothing(staff, treatment):
    escalation = _prescribe(staff, treatment, _days(3), 800)
    assert _dose_on(treatment, _days(10)) == 800

    services.dose_regimen_withdraw(
        actor=staff["pharmacist_a"], regimen=escalation, reason="prescribed on the wrong patient"
    )

    escalation.refresh_from_db()
    assert escalation.status == DoseRegimen.Status.WITHDRAWN
    assert escalation.status_reason == "prescribed on the wrong patient"
    assert escalation.status_changed_by == staff["pharmacist_a"]
    assert _dose_on(treatment, _days(10)) == 400
    reloaded = Treatment.objects.get(pk=treatment.pk)
    assert [step.daily_dose_mg for step in reloaded.dose_history()] == [400]
    # No post-change sample is due for a change that will not happen.
    kinds = {due.kind for due in clinical.due_dates(reloaded, until=_days(120))}
    assert "post_change" not in kinds
    event = AuditEvent.objects.filter(model="cases.doseregimen", object_id=str(escalation.pk))
    assert event.filter(detail__contains="withdrawn").exists()


def test_the_same_day_can_be_prescribed_again_after_a_withdrawal(staff, treatment):
    first = _prescribe(staff, treatment, _days(3), 800)
    services.dose_regimen_withdraw(actor=staff["physician_a"], regimen=first, reason="typo")

    again = _prescribe(staff, treatment, _days(3), 600)

    assert _dose_on(treatment, _days(3)) == again.daily_dose_mg == 600


def test_a_regimen_in_effect_cannot_be_withdrawn(staff, treatment):
    past = _prescribe(staff, treatment, _days(-5), 600)
    with pytest.raises(StateConflict, match="entered in error"):
        services.dose_regimen_withdraw(actor=staff["physician_a"], regimen=past, reason="x")


def test_withdrawing_needs_a_reason_and_the_role(staff, treatment):
    future = _prescribe(staff, treatment, _days(3), 800)
    with pytest.raises(ValidationError) as refused:
        services.dose_regimen_withdraw(actor=staff["physician_a"], regimen=future, reason="  ")
    assert "reason" in refused.value.message_dict
    with pytest.raises(PermissionDenied):
        services.dose_regimen_withdraw(actor=staff["nurse_a"], regimen=future, reason="why")
    with pytest.raises(ValidationError):
        services.dose_regimen_withdraw(actor=staff["physician_b"], regimen=future, reason="why")
    future.refresh_from_db()
    assert future.status == DoseRegimen.Status.ACTIVE


def test_a_regimen_is_withdrawn_once(staff, treatment):
    future = _prescribe(staff, treatment, _days(3), 800)
    services.dose_regimen_withdraw(actor=staff["physician_a"], regimen=future, reason="typo")
    with pytest.raises(StateConflict):
        services.dose_regimen_withdraw(actor=staff["physician_a"], regimen=future, reason="again")


def test_stopping_a_treatment_withdraws_its_future_regimens(staff, treatment):
    later = _prescribe(staff, treatment, _days(20), 800)
    before_stop = _prescribe(staff, treatment, _days(5), 600)

    services.treatment_stop(
        actor=staff["physician_a"], treatment=treatment, stop_date=_days(10), reason="PD"
    )

    later.refresh_from_db()
    before_stop.refresh_from_db()
    assert later.status == DoseRegimen.Status.WITHDRAWN
    assert later.status_reason == f"treatment stopped on {_days(10).isoformat()}"
    assert before_stop.status == DoseRegimen.Status.ACTIVE


# Marking a regimen in effect as entered in error -------------------------------------------------


def test_a_regimen_in_effect_marked_in_error_is_read_as_never_prescribed(staff, treatment):
    wrong = _prescribe(staff, treatment, _days(-20), 800)
    sample = SampleFactory(
        actor=staff["nurse_a"],
        treatment=treatment,
        drawn_at=local_datetime(f"{_days(-2)} 09:00"),
        last_dose_at=local_datetime(f"{_days(-3)} 21:00"),
    )
    assert sample.daily_dose_mg == 800
    corrected: list[Sample] = []
    signals.sample_corrected.connect(
        receiver := lambda sender, sample, **kw: corrected.append(sample), weak=False
    )
    try:
        services.dose_regimen_mark_in_error(
            actor=staff["physician_a"], regimen=wrong, reason="800 mg was never given"
        )
    finally:
        signals.sample_corrected.disconnect(receiver)

    wrong.refresh_from_db()
    assert wrong.status == DoseRegimen.Status.ENTERED_IN_ERROR
    assert _dose_on(treatment, _days(-10)) == 400
    sample.refresh_from_db()
    assert sample.daily_dose_mg == 400
    assert [s.pk for s in corrected] == [sample.pk]


def test_marking_in_error_recomputes_the_samples_after_the_next_regimen_too(staff, treatment):
    """400 mg, 800 mg in error, 400 mg again: without the 800 mg the last 400 mg is no change,
    so a sample drawn soon after it is at steady state (sorafenib t½ 36 h, 5 × t½ = 7.5 days)."""
    wrong = _prescribe(staff, treatment, _days(-20), 800)
    _prescribe(staff, treatment, _days(-6), 400)
    sample = SampleFactory(
        actor=staff["nurse_a"],
        treatment=treatment,
        drawn_at=local_datetime(f"{_days(-2)} 09:00"),
        last_dose_at=local_datetime(f"{_days(-3)} 21:00"),
    )
    assert sample.daily_dose_mg == 400
    assert "not_steady_state" in sample.warnings

    services.dose_regimen_mark_in_error(
        actor=staff["physician_a"], regimen=wrong, reason="800 mg was never given"
    )

    sample.refresh_from_db()
    assert "not_steady_state" not in sample.warnings
    assert AuditEvent.objects.filter(
        object_id=str(sample.pk), detail__startswith="recomputed: dose history corrected"
    ).exists()


def test_only_a_physician_marks_a_regimen_in_error_and_never_a_future_or_start_one(
    staff, treatment
):
    past = _prescribe(staff, treatment, _days(-20), 800)
    future = _prescribe(staff, treatment, _days(5), 600)
    start = treatment.regimens.get(reason=DoseRegimen.Reason.START)
    with pytest.raises(PermissionDenied):
        services.dose_regimen_mark_in_error(actor=staff["pharmacist_a"], regimen=past, reason="x")
    with pytest.raises(StateConflict, match="withdraw"):
        services.dose_regimen_mark_in_error(actor=staff["physician_a"], regimen=future, reason="x")
    with pytest.raises(ValidationError) as refused:
        services.dose_regimen_mark_in_error(actor=staff["physician_a"], regimen=start, reason="x")
    assert "regimen" in refused.value.message_dict
    assert set(treatment.regimens.values_list("status", flat=True)) == {"active"}


# Through the API ---------------------------------------------------------------------------------


def test_api_withdraw_answers_the_regimen_with_its_status(api, staff, treatment):
    future = _prescribe(staff, treatment, _days(3), 800)

    response = api("pharmacist_a").post(
        f"{API}/dose-regimens/{future.pk}/withdraw/", {"reason": "wrong date"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "withdrawn"
    assert response.json()["status_reason"] == "wrong date"
    listed = api("nurse_a").get(f"{API}/dose-regimens/?treatment={treatment.pk}&status=active")
    assert [r["id"] for r in listed.json()["results"]] == [
        treatment.regimens.get(reason="start").pk
    ]
    detail = api("nurse_a").get(f"{API}/treatments/{treatment.pk}/").json()
    assert {r["id"]: r["status"] for r in detail["regimens"]}[future.pk] == "withdrawn"
    assert detail["current_daily_dose_mg"] == 400


@pytest.mark.parametrize(
    ("user", "path", "body", "status"),
    [
        ("pharmacist_a", "withdraw", {"reason": ""}, 400),
        ("nurse_a", "withdraw", {"reason": "x"}, 403),
        ("datamanager_a", "withdraw", {"reason": "x"}, 403),
        ("physician_b", "withdraw", {"reason": "x"}, 404),
        ("physician_a", "entered-in-error", {"reason": "x"}, 409),
        ("pharmacist_a", "entered-in-error", {"reason": "x"}, 403),
    ],
)
def test_api_regimen_status_changes_refused(api, staff, treatment, user, path, body, status):
    future = _prescribe(staff, treatment, _days(3), 800)

    response = api(user).post(f"{API}/dose-regimens/{future.pk}/{path}/", body, format="json")

    assert response.status_code == status, response.content
    future.refresh_from_db()
    assert future.status == DoseRegimen.Status.ACTIVE


def test_api_withdraw_of_a_regimen_in_effect_is_409(api, staff, treatment):
    past = _prescribe(staff, treatment, _days(-3), 800)
    response = api("physician_a").post(
        f"{API}/dose-regimens/{past.pk}/withdraw/", {"reason": "x"}, format="json"
    )
    assert response.status_code == 409
    response = api("physician_a").post(
        f"{API}/dose-regimens/{past.pk}/entered-in-error/", {"reason": "never given"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "entered_in_error"


# A second course of the same drug ----------------------------------------------------------------


def test_an_overlapping_course_of_the_same_drug_needs_its_reason(staff, treatment):
    with pytest.raises(ValidationError) as refused:
        TreatmentFactory(actor=staff["nurse_a"], patient=treatment.patient, start_date=_days(-5))
    assert f"treatment {treatment.pk}" in refused.value.message_dict["overlap_reason"][0]
    assert Treatment.objects.count() == 1

    second = TreatmentFactory(
        actor=staff["nurse_a"],
        patient=treatment.patient,
        start_date=_days(-5),
        overlap_reason="  intermittent schedule per protocol ",
    )
    assert second.overlap_reason == "intermittent schedule per protocol"


def test_a_course_after_a_stopped_one_needs_no_reason(staff, treatment):
    services.treatment_stop(
        actor=staff["physician_a"], treatment=treatment, stop_date=_days(-10), reason="toxicity"
    )
    again = TreatmentFactory(
        actor=staff["nurse_a"], patient=treatment.patient, start_date=_days(-3)
    )
    assert again.overlap_reason == ""


def test_a_course_starting_before_the_other_stops_overlaps(staff, treatment):
    services.treatment_stop(
        actor=staff["physician_a"], treatment=treatment, stop_date=_days(-3), reason="toxicity"
    )
    with pytest.raises(ValidationError) as refused:
        TreatmentFactory(actor=staff["nurse_a"], patient=treatment.patient, start_date=_days(-10))
    assert "overlap_reason" in refused.value.message_dict


def test_the_treatment_page_refuses_an_overlap_without_reason(client, staff, treatment):
    client.force_login(staff["nurse_a"])
    body = {
        "drug": treatment.drug.pk,
        "start_date": _days(-2).isoformat(),
        "daily_dose_mg": "400",
        "administrations_per_day": "2",
    }
    url = f"/patients/{treatment.patient.pk}/treatments/new/"

    refused = client.post(url, body)
    accepted = client.post(url, {**body, "overlap_reason": "second course intended"})

    assert refused.status_code == 400
    assert "stop it first, or say why both are intended" in refused.content.decode()
    assert accepted.status_code == 302
    assert Treatment.objects.filter(overlap_reason="second course intended").count() == 1


# The property ------------------------------------------------------------------------------------

DOSES = (400, 600, 800)
operation = st.one_of(
    st.tuples(st.just("prescribe"), st.integers(-40, 90), st.sampled_from(DOSES)),
    st.tuples(st.just("withdraw"), st.integers(0, 10), st.just(0)),
    st.tuples(st.just("interrupt"), st.integers(-40, 90), st.just(0)),
    st.tuples(st.just("resume"), st.integers(-40, 90), st.sampled_from(DOSES)),
    st.tuples(st.just("stop"), st.integers(-40, 90), st.just(0)),
    st.tuples(st.just("extra"), st.integers(0, 90), st.just(0)),
)


class _RollBack(Exception):
    pass


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, max_size=8))
def test_the_dose_in_effect_is_the_one_last_accepted_for_that_day(staff, operations):
    """Random creates, withdrawals, interruptions (which, like an accepted interruption, withdraw
    what would follow), resumes, stops and extra samples: on every day the dose in effect is the
    latest live prescription for that day, and no sample is due inside an interruption or after
    the stop."""
    try:
        with transaction.atomic():
            _replay(staff, operations)
            raise _RollBack
    except _RollBack:
        pass


def _replay(staff, operations) -> None:
    patient = PatientFactory(actor=staff["nurse_a"])
    treatment = TreatmentFactory(
        actor=staff["nurse_a"], patient=patient, start_date=_days(-60), daily_dose_mg=Decimal(400)
    )
    physician = staff["physician_a"]
    expected: dict[datetime.date, int] = {_days(-60): 400}
    stop: datetime.date | None = None
    for kind, offset, mg in operations:
        day = _days(offset)
        if kind == "withdraw":
            pending = sorted(d for d in expected if d > TODAY())
            if not pending:
                continue
            chosen = pending[offset % len(pending)]
            regimen = treatment.regimens.get(effective_from=chosen, status="active")
            services.dose_regimen_withdraw(actor=physician, regimen=regimen, reason="withdrawn")
            del expected[chosen]
            continue
        if kind == "extra":
            # Refused with a field error when the day cannot hold a sample (inside a known
            # interruption, after the stop, already due); the schedule is checked below.
            with contextlib.suppress(ValidationError):
                services.extra_due_date_create(
                    actor=physician, treatment=treatment, date=day, reason="re-sample"
                )
            continue
        if kind == "stop":
            if stop is not None:
                continue
            services.treatment_stop(
                actor=physician, treatment=treatment, stop_date=day, reason="stopped"
            )
            stop = day
            expected = {d: v for d, v in expected.items() if d < day}
            continue
        refused = day <= _days(-60) or (stop is not None and day >= stop)
        if kind == "interrupt" and not refused:
            services.dose_regimens_withdraw_from(
                actor=physician, treatment=treatment, first_day=day, reason="interrupted"
            )
            expected = {d: v for d, v in expected.items() if d < day}
        if day in expected:
            refused = True
        reason = {"prescribe": "tdm_advice", "interrupt": "interruption", "resume": "resume"}[kind]
        try:
            _prescribe(staff, treatment, day, mg, reason=reason)
        except ValidationError:
            assert refused, (kind, day, mg)
        else:
            assert not refused, (kind, day, mg)
            expected[day] = mg

    reloaded = Treatment.objects.prefetch_related("regimens").get(pk=treatment.pk)
    for offset in range(-60, 100):
        day = _days(offset)
        latest = max(d for d in expected if d <= day)
        assert reloaded.regimen_on(day).daily_dose_mg == expected[latest], day
    for due in clinical.due_dates(reloaded, until=_days(100)):
        assert reloaded.status_on(due.date) == "active", due


# The pages ---------------------------------------------------------------------------------------


def test_the_treatment_page_strikes_through_a_withdrawn_dose_and_offers_the_actions(
    client, staff, treatment
):
    future = _prescribe(staff, treatment, _days(3), 800)
    past = _prescribe(staff, treatment, _days(-3), 600)
    client.force_login(staff["physician_a"])
    page = client.get(f"/treatments/{treatment.pk}/").content.decode()
    assert f'href="/regimens/{future.pk}/withdraw/"' in page
    assert f'href="/regimens/{past.pk}/entered-in-error/"' in page

    form = client.get(f"/regimens/{future.pk}/withdraw/")
    empty = client.post(f"/regimens/{future.pk}/withdraw/", {"reason": ""})
    done = client.post(f"/regimens/{future.pk}/withdraw/", {"reason": "wrong patient"})

    assert form.status_code == 200
    assert empty.status_code == 400
    assert "Give the reason." in empty.content.decode()
    assert done.status_code == 302
    page = client.get(f"/treatments/{treatment.pk}/").content.decode()
    assert '<tr class="struck">' in page
    assert "<s>800 mg</s>" in page
    assert "wrong patient" in page
    assert f'href="/regimens/{future.pk}/withdraw/"' not in page


def test_the_regimen_pages_refuse_who_may_not_and_what_no_longer_can(client, staff, treatment):
    future = _prescribe(staff, treatment, _days(3), 800)
    client.force_login(staff["nurse_a"])
    assert (
        f"/regimens/{future.pk}/withdraw/"
        not in client.get(f"/treatments/{treatment.pk}/").content.decode()
    )
    assert client.post(f"/regimens/{future.pk}/withdraw/", {"reason": "x"}).status_code == 403
    client.force_login(staff["physician_b"])
    assert client.get(f"/regimens/{future.pk}/withdraw/").status_code == 404
    client.force_login(staff["pharmacist_a"])
    assert (
        client.post(f"/regimens/{future.pk}/entered-in-error/", {"reason": "x"}).status_code == 403
    )

    client.force_login(staff["physician_a"])
    client.post(f"/regimens/{future.pk}/withdraw/", {"reason": "first"})
    again = client.post(f"/regimens/{future.pk}/withdraw/", {"reason": "second"}, follow=True)
    assert "already withdrawn" in again.content.decode()
    future.refresh_from_db()
    assert future.status_reason == "first"
