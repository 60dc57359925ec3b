"""The advice workflow (docs/workflow.md; the rules: docs/clinical-rules.md): compute on a
result, release, accept or reject, and what each step changes. Tasks run in-process here;
tests/tdm_site/test_live_worker.py runs a real worker."""

import datetime
import hashlib
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from advice import inputs as advice_inputs
from advice import services as advice_services
from advice import tasks
from advice.models import Advice
from cases import clinical, services
from cases.errors import StateConflict
from cases.models import AuditEvent, DoseRegimen, Sample
from notifications import services as notification_services
from notifications.models import Notification
from reports import tasks as report_tasks
from tests.conftest import DEMO_PASSWORD, local_datetime

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run a block and then everything it queued on commit (tasks run eagerly)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def record_sample(staff, treatment, drawn: str, last_dose: str, value: str) -> Sample:
    return services.sample_record(
        actor=staff["nurse_a"],
        treatment=treatment,
        drawn_at=local_datetime(drawn),
        last_dose_at=local_datetime(last_dose),
        concentration=Decimal(value),
    )


@pytest.fixture
def sorafenib_case(staff, case_at, run_on_commit):
    """Sorafenib 600 mg/day BID in step-up, 2870 ng/mL at trough: advice 800 mg/day."""
    with run_on_commit():
        case = case_at("a", adverse_event=False)
    case["advice"] = Advice.objects.get(sample=case["sample"])
    return case


def test_a_result_gets_draft_advice_with_its_report(sorafenib_case):
    advice = sorafenib_case["advice"]
    assert advice.state == Advice.State.DRAFT
    # 600 mg/day is below sorafenib's standard 800 mg/day: still in step-up
    # (docs/clinical-rules.md §3, row 9).
    assert advice.action == "continue_step_up"
    assert advice.proposed_daily_dose_mg == Decimal(800)
    assert advice.proposed_split_mg == [400, 400]
    assert advice.checks == ["adherence", "drug_interactions"]
    assert advice.inputs["sample"]["concentration"] == "2870"
    assert advice.inputs["catalogue"]["row"]["target_ng_ml"] == "3750"
    assert advice.computed["action"] == "continue_step_up"
    path = Path(settings.MEDIA_ROOT) / advice.report_pdf.name
    assert path.read_bytes()[:5] == b"%PDF-"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == advice.report_sha256


def test_frozen_inputs_reproduce_the_advice(sorafenib_case):
    advice = sorafenib_case["advice"]
    again = advice_inputs.advise_on_inputs(advice.inputs)
    assert again.action == advice.action
    assert again.text == advice.text


def test_computing_twice_creates_one_advice(sorafenib_case):
    sample = sorafenib_case["sample"]
    tasks.compute_sample_advice(sample.pk)
    tasks.compute_sample_advice(sample.pk)
    assert Advice.objects.filter(sample=sample).count() == 1


def test_a_newer_result_supersedes_unsigned_advice(sorafenib_case, staff, run_on_commit):
    treatment = sorafenib_case["treatment"]
    with run_on_commit():
        newer = record_sample(staff, treatment, "2024-03-04 09:00", "2024-03-03 21:00", "3100")
    old = sorafenib_case["advice"]
    old.refresh_from_db()
    assert old.state == Advice.State.SUPERSEDED
    assert Advice.objects.get(sample=newer).state == Advice.State.DRAFT
    with run_on_commit():
        late = record_sample(staff, treatment, "2024-02-20 09:00", "2024-02-19 21:00", "2950")
    assert Advice.objects.get(sample=late).state == Advice.State.SUPERSEDED
    assert Advice.objects.get(sample=newer).state == Advice.State.DRAFT
    # A superseded advice is still the sample's advice: neither a rerun nor the backlog sweep
    # advises on the sample again.
    count = Advice.objects.count()
    tasks.compute_sample_advice(old.sample_id)
    Sample.objects.update(created_at=timezone.now() - datetime.timedelta(hours=1))
    assert tasks.sweep_advice_backlog()["sample_advice"] == 0
    assert Advice.objects.count() == count


def test_signed_advice_is_never_superseded(sorafenib_case, staff, run_on_commit):
    advice = sorafenib_case["advice"]
    advice_services.advice_release(actor=staff["pharmacist_a"], advice=advice)
    advice_services.advice_reject(
        actor=staff["physician_a"], advice=advice, password=DEMO_PASSWORD, reason="non-adherent"
    )
    with run_on_commit():
        record_sample(
            staff, sorafenib_case["treatment"], "2024-03-04 09:00", "2024-03-03 21:00", "3100"
        )
    advice.refresh_from_db()
    assert advice.state == Advice.State.REJECTED


def test_release_notifies_the_treating_physician_and_keeps_the_original(
    sorafenib_case, staff, run_on_commit
):
    advice = sorafenib_case["advice"]
    with run_on_commit():
        advice_services.advice_release(
            actor=staff["pharmacist_a"],
            advice=advice,
            text="Increase to 800 mg/day after checking co-medication.",
            proposed_daily_dose_mg=Decimal(800),
        )
    advice.refresh_from_db()
    assert advice.state == Advice.State.RELEASED
    assert advice.edited is True
    assert advice.text.startswith("Increase to 800 mg/day after")
    assert advice.computed["text"].startswith("Estimated Ctrough 2870 ng/mL")
    assert advice.released_by == staff["pharmacist_a"]
    notification = Notification.objects.get(kind=Notification.Kind.ADVICE_RELEASED)
    assert notification.recipient == staff["physician_a"]
    assert [m.to for m in mail.outbox] == [[staff["physician_a"].email]]
    assert "/advice/" in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="release", object_id=str(advice.pk)).count() == 1


def test_release_checks_role_site_state_and_dose(sorafenib_case, staff):
    advice = sorafenib_case["advice"]
    for outsider in ("nurse_a", "physician_a", "pharmacist_b"):
        with pytest.raises(PermissionDenied):
            advice_services.advice_release(actor=staff[outsider], advice=advice)
    with pytest.raises(ValidationError) as invalid:
        advice_services.advice_release(
            actor=staff["pharmacist_a"], advice=advice, proposed_daily_dose_mg=Decimal(700)
        )
    assert "proposed_daily_dose_mg" in invalid.value.message_dict
    advice_services.advice_release(actor=staff["pharmacist_a"], advice=advice)
    with pytest.raises(StateConflict):
        advice_services.advice_release(actor=staff["pharmacist_a"], advice=advice)


@pytest.fixture
def released(sorafenib_case, staff):
    advice_services.advice_release(actor=staff["pharmacist_a"], advice=sorafenib_case["advice"])
    sorafenib_case["advice"].refresh_from_db()
    return sorafenib_case


def test_accept_changes_the_dose_and_schedules_the_post_change_sample(released, staff):
    advice = released["advice"]
    treatment = released["treatment"]
    effective = timezone.localdate() + datetime.timedelta(days=1)
    advice_services.advice_accept(
        actor=staff["physician_a"],
        advice=advice,
        password=DEMO_PASSWORD,
        checks_confirmed=["adherence", "drug_interactions"],
    )
    advice.refresh_from_db()
    assert advice.state == Advice.State.ACCEPTED
    assert advice.decided_by == staff["physician_a"]
    assert advice.effective_date == effective
    regimen = DoseRegimen.objects.get(advice=advice)
    assert regimen.reason == DoseRegimen.Reason.TDM_ADVICE
    assert regimen.effective_from == effective
    assert regimen.daily_dose_mg == Decimal(800)
    assert regimen.split_mg == [400, 400]
    due = clinical.treatment_schedule(treatment, until=effective + datetime.timedelta(days=60))
    assert {"date": effective + datetime.timedelta(days=28), "kind": "post_change"} in [
        {"date": d["date"], "kind": d["kind"]} for d in due
    ]


def test_accept_needs_the_password_and_the_checks(released, staff):
    advice = released["advice"]
    physician = staff["physician_a"]
    with pytest.raises(ValidationError) as wrong_password:
        advice_services.advice_accept(
            actor=physician, advice=advice, password="guess", checks_confirmed=advice.checks
        )
    assert "password" in wrong_password.value.message_dict
    with pytest.raises(ValidationError) as unchecked:
        advice_services.advice_accept(
            actor=physician, advice=advice, password=DEMO_PASSWORD, checks_confirmed=["adherence"]
        )
    assert "drug_interactions" in unchecked.value.message_dict["checks_confirmed"][0]
    with pytest.raises(PermissionDenied):
        advice_services.advice_accept(
            actor=staff["physician_b"],
            advice=advice,
            password=DEMO_PASSWORD,
            checks_confirmed=advice.checks,
        )
    advice.refresh_from_db()
    assert advice.state == Advice.State.RELEASED
    assert not DoseRegimen.objects.filter(advice=advice).exists()


def test_a_second_decision_is_a_conflict(released, staff):
    advice = released["advice"]
    advice_services.advice_accept(
        actor=staff["physician_a"],
        advice=advice,
        password=DEMO_PASSWORD,
        checks_confirmed=advice.checks,
    )
    with pytest.raises(StateConflict):
        advice_services.advice_reject(
            actor=staff["physician_a"], advice=advice, password=DEMO_PASSWORD, reason="changed mind"
        )
    assert DoseRegimen.objects.filter(advice=advice).count() == 1


def test_reject_needs_a_reason_and_changes_nothing_else(released, staff):
    advice = released["advice"]
    regimens = list(DoseRegimen.objects.values_list("pk", flat=True))
    with pytest.raises(ValidationError) as no_reason:
        advice_services.advice_reject(
            actor=staff["physician_a"], advice=advice, password=DEMO_PASSWORD, reason="  "
        )
    assert "reason" in no_reason.value.message_dict
    advice_services.advice_reject(
        actor=staff["physician_a"],
        advice=advice,
        password=DEMO_PASSWORD,
        reason="Patient reports missed doses; re-measure first.",
    )
    advice.refresh_from_db()
    assert advice.state == Advice.State.REJECTED
    assert advice.rejection_reason == "Patient reports missed doses; re-measure first."
    assert list(DoseRegimen.objects.values_list("pk", flat=True)) == regimens


def test_signed_report_is_rendered_once_with_its_hash(released, staff, run_on_commit):
    advice = released["advice"]
    with run_on_commit():
        advice_services.advice_accept(
            actor=staff["physician_a"],
            advice=advice,
            password=DEMO_PASSWORD,
            checks_confirmed=advice.checks,
        )
    advice.refresh_from_db()
    path = Path(settings.MEDIA_ROOT) / advice.signed_report_pdf.name
    content = path.read_bytes()
    assert hashlib.sha256(content).hexdigest() == advice.signed_report_sha256
    report_tasks.render_signed_report(advice.pk)
    advice.refresh_from_db()
    assert path.read_bytes() == content
    assert hashlib.sha256(path.read_bytes()).hexdigest() == advice.signed_report_sha256


def test_toxicity_advice_on_an_adverse_event(sorafenib_case, staff, run_on_commit):
    with run_on_commit():
        event = services.adverse_event_record(
            actor=staff["nurse_a"],
            treatment=sorafenib_case["treatment"],
            term="Diarrhea",
            grade=3,
            onset=datetime.date(2024, 2, 10),
        )
    advice = Advice.objects.get(adverse_event=event)
    assert advice.kind == Advice.Kind.TOXICITY
    assert advice.action == "interrupt_then_reduce"
    assert advice.proposed_daily_dose_mg == Decimal(400)
    assert "Measure Ctrough" in advice.text
    advice_services.advice_release(actor=staff["pharmacist_a"], advice=advice)
    advice_services.advice_accept(actor=staff["physician_a"], advice=advice, password=DEMO_PASSWORD)
    interruption = DoseRegimen.objects.get(advice=advice)
    assert interruption.daily_dose_mg == 0
    assert interruption.reason == DoseRegimen.Reason.INTERRUPTION


def test_unsigned_advice_is_renotified_once_after_three_days(released, staff):
    advice = released["advice"]
    released_at = advice.released_at
    assert notification_services.advice_unsigned(now=released_at + datetime.timedelta(days=2)) == 0
    assert notification_services.advice_unsigned(now=released_at + datetime.timedelta(days=3)) == 1
    assert notification_services.advice_unsigned(now=released_at + datetime.timedelta(days=4)) == 0
    assert Notification.objects.filter(kind=Notification.Kind.ADVICE_UNSIGNED).count() == 1


def test_broker_down_loses_no_work(staff, case_at, monkeypatch, run_on_commit):
    """The sample is saved although the broker refuses the message; the sweep does the work."""
    from kombu.exceptions import OperationalError

    def broker_down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.compute_sample_advice, "apply_async", broker_down)
    monkeypatch.setattr(tasks.compute_adverse_event_advice, "apply_async", broker_down)
    with run_on_commit():
        case = case_at("a", adverse_event=False)
    sample = case["sample"]
    assert Sample.objects.filter(pk=sample.pk).exists()
    assert not Advice.objects.filter(sample=sample).exists()
    Sample.objects.filter(pk=sample.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    done = tasks.sweep_advice_backlog()
    assert done["sample_advice"] == 1
    assert Advice.objects.get(sample=sample).action == "continue_step_up"
    assert tasks.sweep_advice_backlog()["sample_advice"] == 0
