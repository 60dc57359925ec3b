"""docs/clinical-rules.md §3 and §7: the advice a physician reads, word for word.

The full texts of the table rows not spelled out in test_rules.py, how a predicted Ctrough is
shown (§7), and the fields of the result a caller reads besides the text. Edited catalogue rows
(an admin may change any value that passes the catalogue checks) are built with
`dataclasses.replace` on the shipped row.
"""

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from advice.engine.case import AdverseEventInput, AdviceCase, Regimen
from advice.engine.catalogue import read_catalogue
from advice.engine.pk import SampleInput
from advice.engine.rules import advise

DRUGS = {facts.label: facts for facts in read_catalogue()}
D = Decimal
CET = timezone(timedelta(hours=1))
DRAWN_AT = datetime(2024, 3, 1, 9, 0, tzinfo=CET)


def advice_for(
    drug,
    concentration="2870",
    *,
    daily="600",
    administrations=None,
    seconds_after_dose=None,
    last_dose_known=True,
    below_lloq=False,
    phase="maintenance",
    events=(),
    last_dose_change=date(2024, 1, 1),
):
    """Advice on a sample drawn at trough (t = tau unless `seconds_after_dose` is given)."""
    drug = DRUGS[drug] if isinstance(drug, str) else drug
    administrations = administrations or drug.administrations_per_day
    seconds = 86400 / administrations if seconds_after_dose is None else seconds_after_dose
    return advise(
        AdviceCase(
            drug=drug,
            phase=phase,
            regimen=Regimen(daily_dose_mg=D(daily), administrations_per_day=administrations),
            treatment_start=date(2023, 10, 2),
            last_dose_change=last_dose_change,
            sample=SampleInput(
                drawn_at=DRAWN_AT,
                last_dose_at=DRAWN_AT - timedelta(seconds=seconds) if last_dose_known else None,
                concentration_ng_ml=None if concentration is None else D(concentration),
                below_lloq=below_lloq,
            ),
            adverse_events=tuple(events),
        )
    )


# --- §7: how a predicted Ctrough is shown ---------------------------------------------------


@pytest.mark.parametrize(
    ("concentration", "daily", "predicted", "shown"),
    [
        # sorafenib 600 -> 800 mg/day: predicted = Ctrough x 4/3.
        ("75.35", "600", "100.47", "100"),  # from 100 ng/mL up: whole ng/mL
        ("8.43", "600", "11.24", "11.2"),  # from 10 to 100: one decimal
        ("7.85", "600", "10.47", "10.5"),
        ("4.16", "600", "5.55", "5.55"),  # below 10: two decimals
        # 800 -> 1000 mg/day: 2869.2 x 1.25 = 3586.50 is shown rounded half up.
        ("2869.2", "800", "3586.50", "3587"),
    ],
)
def test_a_predicted_ctrough_is_shown_to_a_precision_that_depends_on_its_size(
    concentration, daily, predicted, shown
):
    result = advice_for("sorafenib", concentration, daily=daily)
    assert result.action == "increase"
    assert result.predicted_ctrough_ng_ml == D(predicted)
    assert f"; predicted Ctrough {shown} ng/mL (exposure may rise less than proportionally)." in (
        result.text
    )


def test_an_estimate_that_rounds_to_zero_is_shown_as_0():
    result = advice_for("sorafenib", "0.004")
    assert result.ctrough_ng_ml == D("0.00")
    assert result.text.startswith("Estimated Ctrough 0 ng/mL is below the target of 3750 ng/mL")


# --- resample texts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"last_dose_known": False}, "the time of the last dose is not recorded"),
        # the last dose recorded 10 s after the draw: less than 0.005 h, shown as 0 h.
        ({"seconds_after_dose": -10}, "the recorded last dose is 0 h after the draw"),
        (
            {"seconds_after_dose": 0},
            "it was drawn 0 h after the dose, earlier than the 10 h after which sorafenib can be "
            "extrapolated",
        ),
        (
            {"concentration": None, "below_lloq": True},
            "the result is below the assay's lower limit of quantification, which points at "
            "missed doses: check adherence",
        ),
        (
            {"seconds_after_dose": 5 * 3600, "below_lloq": True},
            "it was drawn 5 h after the dose, earlier than the 10 h after which sorafenib can be "
            "extrapolated; the result is below the assay's lower limit of quantification, which "
            "points at missed doses: check adherence",
        ),
    ],
)
def test_a_resample_text_gives_every_reason_and_asks_for_a_trough_sample(kwargs, why):
    result = advice_for("sorafenib", **kwargs)
    assert result.action == "resample"
    assert result.text == (
        f"The sample cannot be used to estimate Ctrough: {why}. Take a new sample at trough, "
        "just before a dose; sorafenib unchanged at 600 mg/day (400 mg + 200 mg)."
    )


def test_an_extrapolation_from_a_sample_drawn_seconds_after_the_dose_shows_0_h():
    # an edited alectinib row with Tmax 0 h (and no minimum time): every sample can be used.
    # 300 x 0.5^((43200 - 10) / (33 x 3600)) = 233.17 ng/mL.
    drug = replace(DRUGS["alectinib"], tmax_h=D(0))
    result = advice_for(drug, "300", daily="900", seconds_after_dose=10)
    assert result.method == "extrapolated"
    assert result.text.startswith(
        "Estimated Ctrough 233.17 ng/mL (extrapolated from 300 ng/mL drawn 0 h after the dose)"
    )


# --- the other rows, word for word ------------------------------------------------------------


def test_continue_without_an_upper_threshold():
    result = advice_for("sorafenib", "3750")
    assert result.action == "continue"
    assert result.text == (
        "Estimated Ctrough 3750 ng/mL is at or above the target of 3750 ng/mL. "
        "Continue sorafenib 600 mg/day (400 mg + 200 mg)."
    )


def test_a_ctrough_exactly_at_the_upper_threshold_is_reduced_because_of_the_threshold():
    result = advice_for("sunitinib (intermittent)", "100", daily="50")
    assert result.action == "reduce"
    assert result.text == (
        "Estimated Ctrough 100 ng/mL is at or above the upper threshold of 100 ng/mL. "
        "Reduce sunitinib from 50 mg/day to 37.5 mg/day (once daily); predicted Ctrough "
        "75 ng/mL."
    )


def test_the_target_is_named_as_the_catalogue_gives_it_even_when_it_is_zero():
    result = advice_for(replace(DRUGS["sorafenib"], target_ng_ml=D(0)), "2870")
    assert result.action == "continue"
    assert result.text.startswith("Estimated Ctrough 2870 ng/mL is at or above the target of 0 ")


def test_a_reduction_for_toxicity_compares_an_estimate_of_0_with_the_upper_threshold_as_0():
    # An edited row with a target of 0 and an upper threshold of 0.5 ng/mL (the catalogue
    # accepts both): an estimate that rounds to 0.00 is below the threshold, so the reduction
    # is for the grade 3 toxicity at target.
    drug = replace(DRUGS["sorafenib"], target_ng_ml=D(0), upper_threshold_ng_ml=D("0.5"))
    event = AdverseEventInput(
        term="Diarrhea", grade=3, onset=date(2024, 2, 1), resolved=None, related=True
    )
    result = advice_for(drug, "0.004", daily="800", events=[event])
    assert result.action == "reduce"
    assert result.text.startswith(
        "Estimated Ctrough 0 ng/mL is at or above the target of 0 ng/mL with active "
        "treatment-related toxicity of grade 3. Reduce sorafenib"
    )


@pytest.mark.parametrize(
    ("edits", "aim"),
    [
        ({"mean_exposure": None}, "target 300 ng*h/mL; no population mean"),
        ({"mean_exposure": None, "target_ng_ml": None}, "no validated target; no population mean"),
    ],
)
def test_an_auc_drug_without_a_population_mean_says_so(edits, aim):
    result = advice_for(replace(DRUGS["axitinib"], **edits), "20", daily="10")
    assert result.action == "no_target"
    assert result.text == (
        f"Axitinib is monitored by AUC ({aim}), not by Ctrough: estimated Ctrough 20 ng/mL is "
        "recorded for comparison with the mean exposure, without dose advice; axitinib "
        "unchanged at 10 mg/day (5 mg + 5 mg)."
    )


def test_provisional_advice_is_the_full_advice_followed_by_the_provisional_note():
    # sorafenib dose changed 2024-02-28: steady state 180 h later, 2024-03-06 12:00.
    result = advice_for("sorafenib", "2870", last_dose_change=date(2024, 2, 28))
    assert result.provisional is True
    assert result.text == (
        "Estimated Ctrough 2870 ng/mL is below the target of 3750 ng/mL without "
        "treatment-related toxicity of grade 2 or higher. Increase sorafenib from 600 mg/day "
        "to 800 mg/day (400 mg + 400 mg); predicted Ctrough 3827 ng/mL (exposure may rise "
        "less than proportionally). Provisional: drawn before steady state (5 half-lives = "
        "180 h after the start or last dose change); confirm with a sample after "
        "2024-03-06 12:00."
    )


# --- the result besides the text ----------------------------------------------------------


def test_the_result_names_the_indication_and_the_current_frequency():
    result = advice_for("imatinib (gist)", "900", daily="400", administrations=2)
    assert result.drug == "imatinib"
    assert result.indication == "gist"
    assert result.current_administrations_per_day == 2
    assert result.current_daily_dose_mg == D("400")


def test_an_auc_drug_is_not_judged_against_an_upper_threshold():
    # §3: row 2 (no Cmin target) comes before row 3, also for an edited row with a threshold.
    drug = replace(DRUGS["axitinib"], upper_threshold_ng_ml=D(10))
    result = advice_for(drug, "20", daily="10")
    assert result.action == "no_target"
    assert result.upper_threshold_ng_ml is None
    assert result.target_ng_ml is None


def test_an_unknown_phase_is_refused_listing_the_phases():
    with pytest.raises(ValueError, match=r"^phase must be one of step_up, maintenance$"):
        advice_for("sorafenib", phase="titration")


def test_a_grade_3_reduction_text_names_the_grade():
    event = AdverseEventInput(
        term="Diarrhea", grade=3, onset=date(2024, 2, 1), resolved=None, related=True
    )
    result = advice_for("sorafenib", "3750", daily="800", events=[event])
    assert result.action == "reduce"
    assert result.text.startswith(
        "Estimated Ctrough 3750 ng/mL is at or above the target of 3750 ng/mL with active "
        "treatment-related toxicity of grade 3. Reduce sorafenib from 800 mg/day to 600 mg/day"
    )
