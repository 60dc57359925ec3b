"""docs/workflow.md §6: a corrected sample supersedes its open advice and is advised on again
from the corrected values; a signed advice never changes and the new one follows it."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core import mail

from advice import tasks
from advice.models import Advice
from cases import services
from cases.models import AuditEvent, DoseRegimen, Sample
from notifications.models import Notification
from tests import factories
from tests.advice import stories
from tests.advice.stories import accept, correct, day, release
from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.django_db

REASON = stories.CORRECTION_REASON


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def resample_case(staff, on_commit):
    """Sorafenib 800 mg/day BID; a sample whose last dose was recorded 24 h before the draw
    (a missed dose: resample) although it was taken 12 h before."""
    treatment = stories.sorafenib_treatment(staff, daily=800)
    drawn_at = factories.local_datetime(f"{day(-1):%Y-%m-%d} 09:00")
    with on_commit():
        sample = factories.SampleFactory(
            actor=staff["nurse_a"],
            treatment=treatment,
            drawn_at=drawn_at,
            last_dose_at=factories.hours_before(drawn_at, 24),
            concentration=Decimal(3000),
        )
    advice = Advice.objects.get(sample=sample)
    assert advice.action == "resample"
    return {"treatment": treatment, "sample": sample, "advice": advice, "drawn_at": drawn_at}


def corrected_last_dose(staff, resample_case, on_commit) -> Advice:
    with on_commit():
        correct(
            staff,
            resample_case["sample"],
            last_dose_at=factories.hours_before(resample_case["drawn_at"], 12),
        )
    return Advice.objects.filter(sample=resample_case["sample"]).latest("pk")


def test_a_corrected_sample_gets_new_advice_and_its_draft_is_superseded(
    staff, resample_case, on_commit
):
    new = corrected_last_dose(staff, resample_case, on_commit)

    old = resample_case["advice"]
    old.refresh_from_db()
    assert old.state == Advice.State.SUPERSEDED
    assert (new.state, new.action, new.proposed_daily_dose_mg) == (
        "draft",
        "increase",
        Decimal(1000),
    )
    assert new.follows is None
    assert new.inputs["sample"]["last_dose_at"] != old.inputs["sample"]["last_dose_at"]
    assert new.report_sha256  # rendered on commit, as every new advice
    details = AuditEvent.objects.filter(model="advice.advice").values_list("detail", flat=True)
    assert f"superseded: sample {resample_case['sample'].pk} corrected ({REASON})" in details
    assert any(d.endswith(f"after a correction: {REASON}") for d in details)
    # The pharmacist's queue holds the new advice only.
    assert list(Advice.objects.filter(state=Advice.State.DRAFT)) == [new]


def test_the_task_path_stays_idempotent_after_a_correction(staff, resample_case, on_commit):
    new = corrected_last_dose(staff, resample_case, on_commit)
    sample = resample_case["sample"]

    assert tasks.compute_sample_advice(sample.pk) == new.pk
    Sample.objects.filter(pk=sample.pk).update(
        created_at=sample.created_at - datetime.timedelta(hours=1)
    )
    assert tasks.sweep_advice_backlog()["sample_advice"] == 0
    assert Advice.objects.filter(sample=sample).count() == 2


def test_a_released_advice_is_superseded_and_its_physician_told(staff, resample_case, on_commit):
    with on_commit():
        release(staff, resample_case["advice"])
    mail.outbox.clear()

    new = corrected_last_dose(staff, resample_case, on_commit)

    notice = Notification.objects.get(kind=Notification.Kind.ADVICE_SUPERSEDED)
    assert notice.recipient == staff["physician_a"]
    assert notice.advice == resample_case["advice"]
    assert notice.link == f"/advice/{new.pk}/"
    assert f"superseded: its sample was corrected ({REASON}). Do not sign it." in notice.body
    assert [m.to for m in mail.outbox] == [[staff["physician_a"].email]]


def test_a_correction_after_the_signature_follows_the_signed_advice(
    staff, resample_case, on_commit
):
    signed = resample_case["advice"]
    release(staff, signed)
    accept(staff, signed, day(1))

    first = corrected_last_dose(staff, resample_case, on_commit)
    with on_commit():
        correct(staff, resample_case["sample"], concentration=Decimal(4000))
    second = Advice.objects.filter(sample=resample_case["sample"]).latest("pk")

    signed.refresh_from_db()
    first.refresh_from_db()
    assert signed.state == Advice.State.ACCEPTED
    assert signed.action == "resample"
    assert first.state == Advice.State.SUPERSEDED
    assert (first.follows, second.follows) == (signed, signed)
    assert (second.state, second.action) == ("draft", "continue")
    assert not Notification.objects.filter(kind=Notification.Kind.ADVICE_SUPERSEDED).exists()


def test_a_sample_no_longer_advisable_supersedes_without_new_advice(
    staff, resample_case, on_commit
):
    with on_commit():
        release(staff, resample_case["advice"])
    with on_commit():
        correct(staff, resample_case["sample"], daily_dose_mg=None)

    assert list(Advice.objects.filter(sample=resample_case["sample"])) == [resample_case["advice"]]
    assert Advice.objects.get().state == Advice.State.SUPERSEDED
    notice = Notification.objects.get(kind=Notification.Kind.ADVICE_SUPERSEDED)
    assert notice.link == f"/advice/{resample_case['advice'].pk}/"
    assert "New advice" not in notice.body


def test_a_correction_by_the_dose_history_advises_again(staff, on_commit):
    """`sample_recompute` announces the correction when the dose under a sample is corrected."""
    treatment = stories.sorafenib_treatment(staff, daily=800, reduced_to=400)
    with on_commit():
        sample = stories.trough_sample(staff, treatment, "4000")
    advice = Advice.objects.get(sample=sample)
    assert (advice.action, advice.current_daily_dose_mg) == ("continue", Decimal(400))
    reduction = treatment.regimens.get(reason=DoseRegimen.Reason.TOXICITY)

    with on_commit():
        services.dose_regimen_mark_in_error(
            actor=staff["physician_a"], regimen=reduction, reason="the reduction was never given"
        )

    advice.refresh_from_db()
    new = Advice.objects.filter(sample=sample).latest("pk")
    assert advice.state == Advice.State.SUPERSEDED
    assert (new.state, new.current_daily_dose_mg, new.action) == (
        "draft",
        Decimal(800),
        "continue",
    )


def test_the_other_open_advice_of_the_treatment_redraws_its_report(staff, resample_case, on_commit):
    with on_commit():
        event = stories.hand_foot_syndrome(staff, resample_case["treatment"], grade=1)
    toxicity = Advice.objects.get(adverse_event=event)
    before = toxicity.report_sha256

    with on_commit():
        correct(staff, resample_case["sample"], concentration=Decimal(2500))

    toxicity.refresh_from_db()
    assert toxicity.state == Advice.State.DRAFT
    assert toxicity.report_sha256 not in ("", before)


def test_a_cancelled_released_advice_tells_its_physician(staff, resample_case, on_commit):
    with on_commit():
        release(staff, resample_case["advice"])

    with on_commit():
        services.sample_cancel(
            actor=staff["nurse_a"], sample=resample_case["sample"], reason="wrong patient"
        )

    notice = Notification.objects.get(kind=Notification.Kind.ADVICE_SUPERSEDED)
    assert "superseded: its sample was cancelled" in notice.body
    assert not Advice.objects.filter(state__in=["draft", "released"]).exists()


def test_an_old_sign_off_screen_posted_after_a_correction_signs_nothing(
    client, staff, resample_case, on_commit
):
    old = resample_case["advice"]
    with on_commit():
        release(staff, old)
    new = corrected_last_dose(staff, resample_case, on_commit)
    regimens = DoseRegimen.objects.count()

    client.force_login(staff["physician_a"])
    response = client.post(
        f"/advice/{old.pk}/accept/",
        {"password": DEMO_PASSWORD, "effective_date": f"{day(1):%Y-%m-%d}"},
        follow=True,
    )

    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.state, old.decided_by) == (Advice.State.SUPERSEDED, None)
    assert new.state == Advice.State.DRAFT
    assert DoseRegimen.objects.count() == regimens
    assert "this one is superseded" in response.content.decode()


def test_a_second_click_on_accept_signs_and_prescribes_once(
    client, staff, resample_case, on_commit
):
    new = corrected_last_dose(staff, resample_case, on_commit)
    release(staff, new)
    client.force_login(staff["physician_a"])
    form = {
        "password": DEMO_PASSWORD,
        "effective_date": f"{day(1):%Y-%m-%d}",
        "checks_confirmed": list(new.checks),
    }

    first = client.post(f"/advice/{new.pk}/accept/", form)
    second = client.post(f"/advice/{new.pk}/accept/", form, follow=True)

    assert first.status_code == 302
    assert "this one is accepted" in second.content.decode()
    assert DoseRegimen.objects.filter(advice=new).count() == 1
    assert AuditEvent.objects.filter(action=AuditEvent.Action.ACCEPT).count() == 1


def test_a_newer_result_tells_the_physicians_of_a_released_older_advice(
    staff, resample_case, on_commit
):
    with on_commit():
        release(staff, resample_case["advice"])
    # Drawn today, at midnight so that it is never ahead of the hour the test runs at.
    drawn_at = factories.local_datetime(f"{day(0):%Y-%m-%d} 00:00")
    with on_commit():
        newer = factories.SampleFactory(
            actor=staff["nurse_a"],
            treatment=resample_case["treatment"],
            drawn_at=drawn_at,
            last_dose_at=factories.hours_before(drawn_at, 12),
            concentration=Decimal(3000),
        )

    notice = Notification.objects.get(kind=Notification.Kind.ADVICE_SUPERSEDED)
    assert notice.recipient == staff["physician_a"]
    assert notice.advice == resample_case["advice"]
    assert notice.link == f"/advice/{Advice.objects.get(sample=newer).pk}/"
    assert "a newer sample, drawn" in notice.body
