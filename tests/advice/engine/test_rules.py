"""docs/clinical-rules.md §3–§5: the advice table row by row, its order, the proposed regimen
and the text."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from advice.engine.case import AdverseEventInput, AdviceCase, Regimen
from advice.engine.catalogue import read_catalogue
from advice.engine.codes import ESCALATION_CHECKS, WARNING_ORDER
from advice.engine.pk import REASON_ORDER, SampleInput
from advice.engine.rules import advise
from advice.engine.text import CODE_DESCRIPTIONS
from advice.engine.toxicity import is_active, worst_active_event, worst_active_grade

DRUGS = {facts.label: facts for facts in read_catalogue()}
D = Decimal
CET = timezone(timedelta(hours=1))
DRAWN_AT = datetime(2024, 3, 1, 9, 0, tzinfo=CET)
DRAW_DATE = date(2024, 3, 1)


def ae(grade, *, term="Fatigue", onset=date(2024, 2, 1), resolved=None, related=True):
    return AdverseEventInput(
        term=term, grade=grade, onset=onset, resolved=resolved, related=related
    )


def case(
    label="sorafenib",
    concentration="2870",
    *,
    daily="600",
    administrations=None,
    phase="maintenance",
    events=(),
    hours=None,
    last_dose_known=True,
    below_lloq=False,
    start=date(2023, 10, 2),
    last_dose_change=date(2024, 1, 1),
):
    """A sample drawn at trough (t = tau unless `hours` is given), so Ctrough = concentration."""
    drug = DRUGS[label]
    administrations = administrations or drug.administrations_per_day
    hours = 24 / administrations if hours is None else hours
    return AdviceCase(
        drug=drug,
        phase=phase,
        regimen=Regimen(daily_dose_mg=D(daily), administrations_per_day=administrations),
        treatment_start=start,
        last_dose_change=last_dose_change,
        sample=SampleInput(
            drawn_at=DRAWN_AT,
            last_dose_at=DRAWN_AT - timedelta(hours=hours) if last_dose_known else None,
            concentration_ng_ml=None if concentration is None else D(concentration),
            below_lloq=below_lloq,
        ),
        adverse_events=tuple(events),
    )


def test_the_sorafenib_example_from_the_study():
    """Guchelaar et al., Biomed Pharmacother 2022, table 2: 600 mg/day, Ctrough 2870 ng/mL, no
    ADR, maintenance -> 800 mg/day."""
    result = advise(case("sorafenib", "2870", daily="600", administrations=2))
    assert result.evaluable
    assert result.ctrough_ng_ml == D("2870.00")
    assert result.method == "measured"
    assert result.hours_after_dose == D("12.00")
    assert result.target_ng_ml == D("3750")
    assert result.action == "increase"
    assert result.current_daily_dose_mg == D("600")
    assert result.proposed_daily_dose_mg == D("800")
    assert result.proposed_split_mg == (D("400"), D("400"))
    assert result.proposed_administrations_per_day == 2
    # 2870 x 800 / 600 = 3826.666...
    assert result.predicted_ctrough_ng_ml == D("3826.67")
    assert result.checks == ("adherence", "drug_interactions")
    assert result.warnings == ("nonlinear_absorption",)
    assert result.provisional is False
    assert result.text == (
        "Estimated Ctrough 2870 ng/mL is below the target of 3750 ng/mL without "
        "treatment-related toxicity of grade 2 or higher. Increase sorafenib from 600 mg/day "
        "to 800 mg/day (400 mg + 400 mg); predicted Ctrough 3827 ng/mL (exposure may rise "
        "less than proportionally)."
    )


# One row per line of the advice table (docs/clinical-rules.md §3); sorafenib target 3750,
# sunitinib target 50 / upper 100.
@pytest.mark.parametrize(
    ("kwargs", "action", "proposed", "predicted"),
    [
        # 1 not evaluable -> resample, unchanged.
        ({"last_dose_known": False}, "resample", "600", None),
        # 2 no Cmin target (AUC drugs) -> no_target, unchanged.
        ({"label": "axitinib", "concentration": "20", "daily": "10"}, "no_target", "10", None),
        ({"label": "ibrutinib", "concentration": "20", "daily": "420"}, "no_target", "420", None),
        # 3 Ctrough >= upper threshold -> reduce one level (even without toxicity, in step-up).
        (
            {"label": "sunitinib (intermittent)", "concentration": "120", "daily": "50"},
            "reduce",
            "37.5",
            "90.00",
        ),
        (
            {
                "label": "sunitinib (intermittent)",
                "concentration": "100",
                "daily": "50",
                "phase": "step_up",
            },
            "reduce",
            "37.5",
            "75.00",
        ),
        # 4 Ctrough >= target and worst grade >= 3 -> reduce: 4000 x 600 / 800 = 3000.
        ({"concentration": "4000", "daily": "800", "events": [ae(3)]}, "reduce", "600", "3000.00"),
        # 5 Ctrough >= target in step-up -> stop_step_up.
        (
            {"concentration": "3750", "daily": "600", "phase": "step_up"},
            "stop_step_up",
            "600",
            "3750.00",
        ),
        # 6 Ctrough >= target -> continue (grade 2 does not matter above target).
        (
            {"concentration": "3750", "daily": "800", "events": [ae(2)]},
            "continue",
            "800",
            "3750.00",
        ),
        (
            {"label": "sunitinib (intermittent)", "concentration": "99.99", "daily": "50"},
            "continue",
            "50",
            "99.99",
        ),
        # 7 Ctrough < target and worst grade >= 2 -> no_escalation_toxicity.
        ({"concentration": "2870", "events": [ae(2)]}, "no_escalation_toxicity", "600", "2870.00"),
        ({"concentration": "2870", "events": [ae(3)]}, "no_escalation_toxicity", "600", "2870.00"),
        # 8 Ctrough < target and current dose >= max (sorafenib 1600) -> max_dose_reached.
        ({"concentration": "2870", "daily": "1600"}, "max_dose_reached", "1600", "2870.00"),
        ({"concentration": "2870", "daily": "1700"}, "max_dose_reached", "1700", "2870.00"),
        # 9 Ctrough < target in step-up -> continue_step_up, next level: 2000 x 600 / 400.
        (
            {"concentration": "2000", "daily": "400", "phase": "step_up"},
            "continue_step_up",
            "600",
            "3000.00",
        ),
        # 10 Ctrough < target -> increase, next level.
        ({"concentration": "2870", "daily": "600"}, "increase", "800", "3826.67"),
        ({"concentration": "2870", "daily": "500"}, "increase", "600", "3444.00"),
        ({"concentration": "1000", "daily": "1400"}, "increase", "1600", "1142.86"),
    ],
)
def test_advice_table(kwargs, action, proposed, predicted):
    result = advise(case(**kwargs))
    assert result.action == action
    assert result.proposed_daily_dose_mg == D(proposed)
    assert result.predicted_ctrough_ng_ml == (None if predicted is None else D(predicted))


@pytest.mark.parametrize(
    ("kwargs", "action"),
    [
        # row 1 before row 2: an unusable AUC-drug sample is resampled.
        ({"label": "axitinib", "daily": "10", "last_dose_known": False}, "resample"),
        # row 3 before row 5: above the upper threshold during step-up.
        (
            {
                "label": "sunitinib (intermittent)",
                "concentration": "150",
                "phase": "step_up",
                "daily": "50",
            },
            "reduce",
        ),
        # row 3 before row 7 does not arise (upper > target); row 4 needs Ctrough >= target:
        # grade 3 below target is row 7, not a reduction.
        ({"concentration": "3749.99", "events": [ae(3)]}, "no_escalation_toxicity"),
        # row 4 before row 5: grade 3 at target during step-up.
        ({"concentration": "3750", "phase": "step_up", "events": [ae(3)]}, "reduce"),
        # row 7 before row 8: toxicity at the maximum dose.
        ({"concentration": "2870", "daily": "1600", "events": [ae(2)]}, "no_escalation_toxicity"),
        # row 8 before row 9: maximum reached during step-up.
        ({"concentration": "2870", "daily": "1600", "phase": "step_up"}, "max_dose_reached"),
        # row 7 before row 9: toxicity during step-up.
        (
            {"concentration": "2870", "phase": "step_up", "events": [ae(2)]},
            "no_escalation_toxicity",
        ),
    ],
)
def test_the_first_matching_row_wins(kwargs, action):
    assert advise(case(**kwargs)).action == action


@pytest.mark.parametrize(
    ("concentration", "action"),
    [
        # the rounded estimate is judged: 3749.995 shows as 3750.00, at target.
        ("3749.995", "continue"),
        ("3749.994", "increase"),
    ],
)
def test_the_shown_value_is_the_judged_value(concentration, action):
    result = advise(case(concentration=concentration))
    assert result.action == action


@pytest.mark.parametrize(
    ("event", "counted"),
    [
        (ae(2, onset=DRAW_DATE), True),
        (ae(2, onset=DRAW_DATE + timedelta(days=1)), False),
        (ae(2, resolved=DRAW_DATE), True),
        (ae(2, resolved=DRAW_DATE - timedelta(days=1)), False),
        (ae(2, related=False), False),
    ],
)
def test_only_active_related_events_count(event, counted):
    result = advise(case(concentration="2870", events=[event]))
    assert result.worst_active_grade == (2 if counted else 0)
    assert result.action == ("no_escalation_toxicity" if counted else "increase")


def test_worst_active_grade_takes_the_highest_active_related_grade():
    events = [
        ae(1, term="Diarrhea"),
        ae(3, term="Rash acneiform", resolved=date(2024, 2, 15)),
        ae(4, term="Hypertension", related=False),
        ae(2, term="Palmar-plantar erythrodysesthesia syndrome"),
        ae(2, term="Fatigue"),
    ]
    assert worst_active_grade(events, DRAW_DATE) == 2
    assert worst_active_grade([], DRAW_DATE) == 0
    # ties go to the first term by name.
    assert worst_active_event(events, DRAW_DATE).term == "Fatigue"
    assert is_active(events[1], date(2024, 2, 15))
    assert not is_active(events[1], date(2024, 2, 16))


def test_reduction_below_the_lowest_level_keeps_the_dose():
    result = advise(case(concentration="4000", daily="200", events=[ae(3)]))
    assert result.action == "reduce"
    assert result.proposed_daily_dose_mg == D("200")
    assert "below_lowest_level" in result.warnings
    assert "nonlinear_absorption" not in result.warnings
    assert result.predicted_ctrough_ng_ml == D("4000.00")
    assert "lowest dose level (200 mg/day)" in result.text


def test_reduction_from_between_levels_goes_to_the_level_below():
    result = advise(case(concentration="4000", daily="700", events=[ae(3)]))
    assert result.proposed_daily_dose_mg == D("600")


def test_above_label_dose():
    # sorafenib label maximum 800 mg/day; TDM may go to 1600 (Guchelaar et al., Biomed
    # Pharmacother 2022, §2.2).
    result = advise(case(concentration="2870", daily="800"))
    assert result.action == "increase"
    assert result.proposed_daily_dose_mg == D("1000")
    assert result.proposed_split_mg == (D("600"), D("400"))
    assert result.warnings == ("nonlinear_absorption", "above_label_dose")
    # 2870 x 1000 / 800 = 3587.5
    assert result.predicted_ctrough_ng_ml == D("3587.50")


def test_administrations_change_when_a_part_exceeds_the_maximum_single_dose():
    # imatinib GIST target 1100; 600 mg QD -> 800 mg/day, at most 600 mg a time.
    result = advise(case("imatinib (gist)", "900", daily="600"))
    assert result.action == "increase"
    assert result.proposed_daily_dose_mg == D("800")
    assert result.proposed_administrations_per_day == 2
    assert result.proposed_split_mg == (D("400"), D("400"))
    assert result.warnings == ("administrations_changed",)
    assert "800 mg/day (400 mg + 400 mg, twice daily instead of once daily)" in result.text
    # 900 x 800 / 600 = 1200
    assert result.predicted_ctrough_ng_ml == D("1200.00")


@pytest.mark.parametrize(
    ("label", "concentration", "daily", "nonlinear"),
    [
        ("sorafenib", "2870", "600", True),  # flagged, dose changes
        ("sorafenib", "3750", "600", False),  # flagged, dose unchanged
        ("pazopanib", "15000", "800", True),
        ("alectinib", "300", "900", False),  # not flagged
    ],
)
def test_nonlinear_absorption_warning_when_the_dose_changes(label, concentration, daily, nonlinear):
    result = advise(case(label, concentration, daily=daily))
    assert ("nonlinear_absorption" in result.warnings) is nonlinear


@pytest.mark.parametrize(
    ("kwargs", "checks"),
    [
        ({"concentration": "2870"}, ("adherence", "drug_interactions")),
        (
            {"concentration": "2870", "phase": "step_up", "daily": "400"},
            ("adherence", "drug_interactions"),
        ),
        ({"concentration": "3750"}, ()),
        ({"concentration": "2870", "daily": "1600"}, ()),
        ({"concentration": None, "below_lloq": True}, ("adherence",)),
        ({"last_dose_known": False}, ()),
    ],
)
def test_checks(kwargs, checks):
    assert advise(case(**kwargs)).checks == checks


def test_below_lloq_resample():
    result = advise(case(concentration=None, below_lloq=True))
    assert result.action == "resample"
    assert result.reasons == ("below_lloq",)
    assert result.ctrough_ng_ml is None
    assert result.predicted_ctrough_ng_ml is None
    assert result.proposed_daily_dose_mg == D("600")
    assert result.proposed_split_mg == (D("400"), D("200"))
    assert "lower limit of quantification" in result.text
    assert "check adherence" in result.text


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"last_dose_known": False}, "the time of the last dose is not recorded"),
        ({"hours": -1}, "the recorded last dose is 1 h after the draw"),
        ({"hours": 5}, "drawn 5 h after the dose, earlier than the 10 h after which sorafenib"),
        ({"hours": 20}, "more than 1.5 dosing intervals (18 h): a dose was missed"),
        (
            {"label": "regorafenib", "daily": "160", "hours": 20},
            "regorafenib concentrations cannot be extrapolated and it was drawn 20 h after the "
            "dose, more than 1 h from the 24 h trough",
        ),
        (
            # regorafenib from 2024-02-02: 2024-03-01 is day 29 -> day 1 of cycle 2 (on);
            # from 2024-02-03 it is day 28 (off).
            {
                "label": "regorafenib",
                "daily": "160",
                "start": date(2024, 2, 3),
                "last_dose_change": None,
            },
            "drawn on day 28 of the 28-day cycle, in the off period (days 22-28)",
        ),
    ],
)
def test_resample_text_says_why(kwargs, fragment):
    result = advise(case(**kwargs))
    assert result.action == "resample"
    assert fragment in result.text
    assert "Take a new sample at trough" in result.text


def test_off_cycle_resample_says_when_to_sample():
    result = advise(case("regorafenib", daily="160", start=date(2024, 2, 3), last_dose_change=None))
    assert result.reasons == ("off_cycle",)
    assert "on days 1-21 of a cycle" in result.text


def test_provisional_advice_says_so():
    # sorafenib dose changed 2024-02-28 (a leap year): steady state 180 h later, 2024-03-06 12:00.
    result = advise(case(concentration="2870", last_dose_change=date(2024, 2, 28)))
    assert result.action == "increase"
    assert result.provisional is True
    assert result.warnings[0] == "not_steady_state"
    assert "Provisional: drawn before steady state (5 half-lives = 180 h" in result.text
    assert "confirm with a sample after 2024-03-06 12:00" in result.text


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        (
            {"label": "sunitinib (intermittent)", "concentration": "120", "daily": "50"},
            "Estimated Ctrough 120 ng/mL is at or above the upper threshold of 100 ng/mL. "
            "Reduce sunitinib from 50 mg/day to 37.5 mg/day (once daily); predicted Ctrough "
            "90 ng/mL.",
        ),
        (
            {"concentration": "4000", "daily": "800", "events": [ae(3)]},
            "Estimated Ctrough 4000 ng/mL is at or above the target of 3750 ng/mL with active "
            "treatment-related toxicity of grade 3. Reduce sorafenib from 800 mg/day to "
            "600 mg/day (400 mg + 200 mg); predicted Ctrough 3000 ng/mL (exposure may rise "
            "less than proportionally).",
        ),
        (
            {"concentration": "3900", "daily": "600", "phase": "step_up"},
            "Estimated Ctrough 3900 ng/mL has reached the target of 3750 ng/mL during step-up. "
            "Stop the step-up: continue sorafenib 600 mg/day (400 mg + 200 mg).",
        ),
        (
            {"label": "sunitinib (intermittent)", "concentration": "62.4", "daily": "50"},
            "Estimated Ctrough 62.4 ng/mL is at or above the target of 50 ng/mL and below the "
            "upper threshold of 100 ng/mL. Continue sunitinib 50 mg/day (once daily).",
        ),
        (
            {"concentration": "2870", "events": [ae(2)]},
            "Estimated Ctrough 2870 ng/mL is below the target of 3750 ng/mL, but "
            "treatment-related toxicity of grade 2 is active. Do not increase: continue "
            "sorafenib 600 mg/day (400 mg + 200 mg).",
        ),
        (
            {"concentration": "2870", "daily": "1600"},
            "Estimated Ctrough 2870 ng/mL is below the target of 3750 ng/mL, but 1600 mg/day is "
            "already at or above the highest dose TDM may advise (1600 mg/day). Continue "
            "sorafenib 1600 mg/day (800 mg + 800 mg).",
        ),
        (
            {"concentration": "2000", "daily": "400", "phase": "step_up"},
            "Estimated Ctrough 2000 ng/mL is below the target of 3750 ng/mL during step-up "
            "without treatment-related toxicity of grade 2 or higher. Continue the step-up: "
            "increase sorafenib from 400 mg/day to 600 mg/day (400 mg + 200 mg); predicted "
            "Ctrough 3000 ng/mL (exposure may rise less than proportionally).",
        ),
        (
            {"label": "trametinib", "concentration": "8.4", "daily": "1.5"},
            "Estimated Ctrough 8.4 ng/mL is below the target of 10.6 ng/mL without "
            "treatment-related toxicity of grade 2 or higher. Increase trametinib from "
            "1.5 mg/day to 2 mg/day (once daily); predicted Ctrough 11.2 ng/mL.",
        ),
        (
            {"hours": 10},
            "Estimated Ctrough 2761.58 ng/mL (extrapolated from 2870 ng/mL drawn 10 h after the "
            "dose) is below the target of 3750 ng/mL",
        ),
        (
            {"label": "axitinib", "concentration": "20", "daily": "10"},
            "Axitinib is monitored by AUC (target 300 ng*h/mL; population mean 375 ng*h/mL), not "
            "by Ctrough: estimated Ctrough 20 ng/mL is recorded for comparison with the mean "
            "exposure, without dose advice; axitinib unchanged at 10 mg/day (5 mg + 5 mg).",
        ),
        (
            {"label": "everolimus", "concentration": "7.5", "daily": "10"},
            "Estimated whole-blood Ctrough 7.5 ng/mL is below the target of 10 ng/mL",
        ),
    ],
)
def test_text(kwargs, text):
    assert advise(case(**kwargs)).text.startswith(text)


def test_auc_drug_result_carries_no_ctrough_target():
    result = advise(case("ibrutinib", "20", daily="420"))
    assert result.target_ng_ml is None
    assert result.checks == ()
    assert "no validated target; population mean 680 ng*h/mL" in result.text


def test_unknown_phase_is_refused():
    with pytest.raises(ValueError, match="phase"):
        advise(case(phase="titration"))


def test_every_code_has_a_description():
    codes = {*REASON_ORDER, *WARNING_ORDER, *ESCALATION_CHECKS}
    assert codes == CODE_DESCRIPTIONS.keys()
