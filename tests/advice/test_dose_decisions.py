"""docs/workflow.md §2–§3 at service level: an edited advice is re-derived, an acceptance
prescribes exactly what the advice changes (or states "no dose change"), and an acceptance that
changes the prescription first withdraws the changes not yet in effect."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from advice.models import Advice
from cases import services
from cases.errors import StateConflict
from cases.models import AuditEvent, DoseRegimen
from cases.services import due_dates as stored_due_dates
from reports.data import report_data
from reports.report import report_context
from tests import factories
from tests.advice import stories
from tests.advice.stories import accept, day, dose_on, release

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def sample_advice(staff, treatment, concentration: str, on_commit) -> Advice:
    with on_commit():
        sample = stories.trough_sample(staff, treatment, concentration)
    return Advice.objects.get(sample=sample)


def prescription(advice: Advice) -> str | None:
    advice.refresh_from_db()
    return report_context(report_data(advice, clinical_copy=True))["signature"]["prescription"]


# The edit story (issue: "continue 400 mg/day" edited to 600 mg/day) ----------------------------


def test_the_edit_story_an_edited_continue_is_an_increase_that_is_prescribed(staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800, reduced_to=400)
    advice = sample_advice(staff, treatment, "4000", on_commit)
    assert (advice.action, advice.proposed_daily_dose_mg) == ("continue", Decimal(400))

    release(staff, advice, proposed_daily_dose_mg=Decimal(600))

    advice.refresh_from_db()
    assert advice.action == "increase"
    assert advice.proposed_daily_dose_mg == Decimal(600)
    assert advice.proposed_split_mg == [400, 200]
    assert advice.predicted_ctrough_ng_ml == Decimal("6000.00")
    assert advice.checks == ["adherence", "drug_interactions"]
    assert advice.warnings == ["nonlinear_absorption"]
    assert advice.text.startswith(
        "Estimated Ctrough 4000 ng/mL is at or above the target of 3750 ng/mL. Increase "
        "sorafenib from 400 mg/day to 600 mg/day (400 mg + 200 mg)"
    )
    assert "Continue sorafenib 400" not in advice.text
    assert advice.edited is True
    # The engine's original is kept beside the edited columns.
    assert advice.computed["action"] == "continue"
    assert advice.computed["proposed_daily_dose_mg"] == 400
    assert advice.computed["text"].endswith("Continue sorafenib 400 mg/day (200 mg + 200 mg).")

    with pytest.raises(ValidationError) as unchecked:
        stories.accept_without_checks(staff, advice, day(1))
    assert "adherence" in unchecked.value.message_dict["checks_confirmed"][0]

    accept(staff, advice, day(1))

    advice.refresh_from_db()
    regimen = DoseRegimen.objects.get(advice=advice)
    assert (regimen.daily_dose_mg, regimen.split_mg) == (Decimal(600), [400, 200])
    assert (regimen.effective_from, regimen.reason) == (day(1), DoseRegimen.Reason.TDM_ADVICE)
    assert advice.effective_date == day(1)
    assert dose_on(treatment, day(1)) == Decimal(600)
    assert prescription(advice) == f"The new dose takes effect on {day(1):%-d %b %Y}"


def test_the_pharmacists_own_text_is_kept_with_the_re_derived_regimen(staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800, reduced_to=400)
    advice = sample_advice(staff, treatment, "4000", on_commit)

    release(
        staff,
        advice,
        text="Increase to 600 mg/day: the patient tolerates 400 mg well.",
        proposed_daily_dose_mg=Decimal(600),
    )

    advice.refresh_from_db()
    assert advice.text == "Increase to 600 mg/day: the patient tolerates 400 mg well."
    assert (advice.action, advice.checks) == ("increase", ["adherence", "drug_interactions"])


@pytest.mark.parametrize(
    ("edits", "field", "fragment"),
    [
        ({"proposed_daily_dose_mg": Decimal(1800)}, "proposed_daily_dose_mg", "above the highest"),
        ({"proposed_daily_dose_mg": Decimal(700)}, "proposed_daily_dose_mg", "dose levels"),
        ({"proposed_daily_dose_mg": Decimal(0)}, "proposed_daily_dose_mg", "above 0 mg"),
        (
            {"proposed_daily_dose_mg": Decimal(1600), "proposed_administrations_per_day": 1},
            "proposed_administrations_per_day",
            "largest single dose of sorafenib (800 mg)",
        ),
    ],
)
def test_an_edit_the_engine_cannot_justify_is_refused_and_nothing_changes(
    staff, on_commit, edits, field, fragment
):
    treatment = stories.sorafenib_treatment(staff, daily=800, reduced_to=400)
    advice = sample_advice(staff, treatment, "4000", on_commit)

    with pytest.raises(ValidationError) as refused:
        release(staff, advice, **edits)

    assert fragment in refused.value.message_dict[field][0]
    advice.refresh_from_db()
    assert (advice.state, advice.action, advice.edited) == ("draft", "continue", False)


def test_a_resample_advice_cannot_be_edited_to_a_dose_change(staff, on_commit):
    treatment = stories.sorafenib_treatment(staff)
    with on_commit():
        sample = factories.SampleFactory(
            actor=staff["nurse_a"],
            treatment=treatment,
            drawn_at=factories.local_datetime(f"{day(-1):%Y-%m-%d} 09:00"),
            last_dose_at=None,
        )
    advice = Advice.objects.get(sample=sample)
    assert advice.action == "resample"

    with pytest.raises(ValidationError) as refused:
        release(staff, advice, proposed_daily_dose_mg=Decimal(1000))

    assert "proposes no dose change" in refused.value.message_dict["proposed_daily_dose_mg"][0]


def test_a_toxicity_advice_keeps_the_regimen_of_the_toxicity_rules(staff, on_commit):
    treatment = stories.sorafenib_treatment(staff)
    with on_commit():
        event = stories.hand_foot_syndrome(staff, treatment)
    advice = Advice.objects.get(adverse_event=event)

    with pytest.raises(ValidationError) as refused:
        release(staff, advice, proposed_daily_dose_mg=Decimal(400))

    assert "toxicity rules" in refused.value.message_dict["proposed_daily_dose_mg"][0]


# The toxicity story (issue: an accepted interruption undone by an earlier escalation) ----------


def test_the_interruption_story_withdraws_the_escalation_accepted_earlier(staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    escalation = sample_advice(staff, treatment, "3000", on_commit)
    assert (escalation.action, escalation.proposed_daily_dose_mg) == ("increase", Decimal(1000))
    release(staff, escalation)
    accept(staff, escalation, day(2))
    future = DoseRegimen.objects.get(advice=escalation)
    assert (future.effective_from, future.daily_dose_mg) == (day(2), Decimal(1000))

    with on_commit():
        event = stories.hand_foot_syndrome(staff, treatment, grade=3)
    toxicity = Advice.objects.get(adverse_event=event)
    assert toxicity.action == "interrupt_then_reduce"
    release(staff, toxicity)
    accept(staff, toxicity, day(1))

    future.refresh_from_db()
    toxicity.refresh_from_db()
    assert future.status == DoseRegimen.Status.WITHDRAWN
    assert future.status_reason == (
        f"superseded by advice {toxicity.pk} accepted on {stories.today().isoformat()}"
    )
    assert AuditEvent.objects.filter(
        model="cases.doseregimen", object_id=str(future.pk), detail__startswith="regimen withdrawn"
    ).exists()
    interruption = DoseRegimen.objects.get(advice=toxicity)
    assert (interruption.effective_from, interruption.daily_dose_mg) == (day(1), Decimal(0))
    assert dose_on(treatment, day(0)) == Decimal(800)
    assert [dose_on(treatment, day(n)) for n in range(1, 121)] == [Decimal(0)] * 120
    assert prescription(toxicity) == f"The treatment is interrupted from {day(1):%-d %b %Y}"

    # Until the physician prescribes the resume.
    factories.DoseRegimenFactory(
        actor=staff["physician_a"],
        treatment=treatment,
        effective_from=day(30),
        daily_dose_mg=Decimal(600),
        reason=DoseRegimen.Reason.RESUME,
    )
    assert [dose_on(treatment, day(n)) for n in range(1, 30)] == [Decimal(0)] * 29
    assert dose_on(treatment, day(30)) == Decimal(600)


def test_an_acceptance_withdraws_only_the_changes_from_its_effective_date_on(staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    advice = sample_advice(staff, treatment, "3000", on_commit)
    earlier, later = (
        factories.DoseRegimenFactory(
            actor=staff["physician_a"],
            treatment=treatment,
            effective_from=day(offset),
            daily_dose_mg=Decimal(dose),
            reason=DoseRegimen.Reason.OTHER,
        )
        for offset, dose in ((2, 600), (10, 1200))
    )
    release(staff, advice)

    accept(staff, advice, day(5))

    earlier.refresh_from_db()
    later.refresh_from_db()
    assert earlier.status == DoseRegimen.Status.ACTIVE
    assert later.status == DoseRegimen.Status.WITHDRAWN
    assert f"advice {advice.pk}" in later.status_reason
    assert [dose_on(treatment, day(n)) for n in (1, 2, 5, 10, 40)] == [
        Decimal(800),
        Decimal(600),
        Decimal(1000),
        Decimal(1000),
        Decimal(1000),
    ]


def test_an_unchanged_advice_prescribes_nothing_and_says_no_dose_change(staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    advice = sample_advice(staff, treatment, "4000", on_commit)
    pending = factories.DoseRegimenFactory(
        actor=staff["physician_a"],
        treatment=treatment,
        effective_from=day(3),
        daily_dose_mg=Decimal(600),
        reason=DoseRegimen.Reason.OTHER,
    )
    assert advice.action == "continue"
    release(staff, advice)

    accept(staff, advice, day(1))

    advice.refresh_from_db()
    pending.refresh_from_db()
    assert advice.state == Advice.State.ACCEPTED
    assert advice.dose_regimen is None
    assert advice.effective_date is None
    # A change prescribed separately stays prescribed.
    assert pending.status == DoseRegimen.Status.ACTIVE
    assert treatment.regimens.count() == 2
    assert prescription(advice) == "No dose change"
    assert AuditEvent.objects.get(action="accept", object_id=str(advice.pk)).detail.endswith(
        "no dose change"
    )


def test_a_dose_prescribed_since_the_sample_is_not_prescribed_twice(staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    advice = sample_advice(staff, treatment, "3000", on_commit)
    factories.DoseRegimenFactory(
        actor=staff["physician_a"],
        treatment=treatment,
        effective_from=day(0),
        daily_dose_mg=Decimal(1000),
        reason=DoseRegimen.Reason.OTHER,
    )
    release(staff, advice)

    accept(staff, advice, day(1))

    advice.refresh_from_db()
    assert advice.dose_regimen is None
    assert treatment.regimens.filter(daily_dose_mg=1000).count() == 1
    assert prescription(advice) == "No dose change"


def test_a_sample_advice_does_not_resume_an_interrupted_treatment(staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    advice = sample_advice(staff, treatment, "3000", on_commit)
    factories.DoseRegimenFactory(
        actor=staff["physician_a"],
        treatment=treatment,
        effective_from=day(0),
        daily_dose_mg=Decimal(0),
        reason=DoseRegimen.Reason.INTERRUPTION,
    )
    release(staff, advice)

    with pytest.raises(StateConflict, match="interrupted"):
        accept(staff, advice, day(1))

    advice.refresh_from_db()
    assert advice.state == Advice.State.RELEASED
    assert [dose_on(treatment, day(n)) for n in (1, 30)] == [Decimal(0), Decimal(0)]


def test_the_effective_date_cannot_be_before_the_sample(staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    advice = sample_advice(staff, treatment, "3000", on_commit)
    release(staff, advice)
    advice.refresh_from_db()

    with pytest.raises(ValidationError) as refused:
        stories.accept_as_of(staff, advice, effective_date=day(-2), today=day(-3))

    assert refused.value.message_dict["effective_date"] == [
        f"The change cannot take effect before the sample ({day(-1)})."
    ]
    advice.refresh_from_db()
    assert advice.state == Advice.State.RELEASED


def test_a_discontinuation_stops_the_treatment_and_withdraws_what_follows(staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    pending = factories.DoseRegimenFactory(
        actor=staff["physician_a"],
        treatment=treatment,
        effective_from=day(5),
        daily_dose_mg=Decimal(1000),
        reason=DoseRegimen.Reason.OTHER,
    )
    with on_commit():
        for weeks_ago in (6, 4):
            services.adverse_event_record(
                actor=staff["nurse_a"],
                treatment=treatment,
                term="Diarrhea",
                grade=3,
                onset=day(-7 * weeks_ago),
                resolved=day(-7 * weeks_ago + 5),
            )
        third = services.adverse_event_record(
            actor=staff["nurse_a"], treatment=treatment, term="Diarrhea", grade=3, onset=day(0)
        )
    advice = Advice.objects.get(adverse_event=third)
    assert advice.action == "discontinue"
    release(staff, advice)

    accept(staff, advice, day(1))

    treatment.refresh_from_db()
    pending.refresh_from_db()
    assert treatment.stop_date == day(1)
    assert pending.status == DoseRegimen.Status.WITHDRAWN
    assert prescription(advice) == f"The treatment stops on {day(1):%-d %b %Y}"


def test_accepting_an_interruption_that_withdraws_a_pending_dose_stores_the_due_dates_once(
    staff, on_commit, monkeypatch
):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    escalation = sample_advice(staff, treatment, "3000", on_commit)
    release(staff, escalation)
    accept(staff, escalation, day(2))
    with on_commit():
        event = stories.hand_foot_syndrome(staff, treatment, grade=3)
    toxicity = Advice.objects.get(adverse_event=event)
    release(staff, toxicity)
    stores: list[int] = []
    store = stored_due_dates._store

    def counted(treatments, **kwargs):
        stores.extend(t.pk for t in treatments)
        return store(treatments, **kwargs)

    monkeypatch.setattr(stored_due_dates, "_store", counted)

    accept(staff, toxicity, day(1))

    assert stores == [treatment.pk]
    assert DoseRegimen.objects.get(advice=escalation).status == DoseRegimen.Status.WITHDRAWN
