"""docs/workflow.md §2: an advice whose regimen the pharmacist edits is re-derived by the advice
table from the edited dose, or refused naming the field (`advise_edited`)."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from advice.engine.case import Regimen
from advice.engine.catalogue import read_catalogue
from advice.engine.codes import ESCALATION_CHECKS
from advice.engine.errors import InputError
from advice.engine.pk import quantize_cents
from advice.engine.rules import advise, advise_edited, edited_action
from advice.engine.text import decision_effect
from tests.advice.engine.test_rules import DRUGS, ae, case

D = Decimal


def edit(advice_case, daily, administrations=None):
    administrations = administrations or advice_case.regimen.administrations_per_day
    return advise_edited(advice_case, Regimen(D(daily), administrations))


# Sorafenib (target 3750 ng/mL, levels 200-1600, label maximum 800, nonlinear absorption):
# 4000 ng/mL at 400 mg/day after a reduction, in maintenance, is `continue` at 400.
CONTINUE_400 = {"concentration": "4000", "daily": "400", "administrations": 2}


def test_the_story_continue_400_edited_to_600_is_an_increase_with_its_checks():
    result = edit(case(**CONTINUE_400), "600")

    assert advise(case(**CONTINUE_400)).action == "continue"
    assert result.action == "increase"
    assert result.proposed_daily_dose_mg == D(600)
    assert result.proposed_administrations_per_day == 2
    assert result.proposed_split_mg == (D(400), D(200))
    # Linear: 4000 x 600 / 400.
    assert result.predicted_ctrough_ng_ml == D("6000.00")
    assert result.warnings == ("nonlinear_absorption",)
    assert result.checks == ("adherence", "drug_interactions")
    assert result.text == (
        "Estimated Ctrough 4000 ng/mL is at or above the target of 3750 ng/mL. Increase "
        "sorafenib from 400 mg/day to 600 mg/day (400 mg + 200 mg); predicted Ctrough 6000 "
        "ng/mL (exposure may rise less than proportionally). Edited by the pharmacist: the "
        "computed advice was to continue at 400 mg/day."
    )
    assert "Continue sorafenib 400" not in result.text


def test_the_computed_proposal_gives_the_computed_advice_back():
    for kwargs in (CONTINUE_400, {"concentration": "2870"}, {"last_dose_known": False}):
        computed = advise(case(**kwargs))
        again = edit(
            case(**kwargs),
            computed.proposed_daily_dose_mg,
            computed.proposed_administrations_per_day,
        )
        assert again == computed


@pytest.mark.parametrize(
    ("kwargs", "daily", "action"),
    [
        # Maintenance: higher is an increase, lower a reduction, equal a continuation.
        (CONTINUE_400, "600", "increase"),
        (CONTINUE_400, "200", "reduce"),
        ({"concentration": "2870", "daily": "600"}, "600", "continue"),
        ({"concentration": "2870", "daily": "600"}, "1000", "increase"),
        ({"concentration": "2870", "daily": "600"}, "400", "reduce"),
        # Step-up: higher continues the step-up, equal stops it, lower is a reduction.
        ({**CONTINUE_400, "phase": "step_up"}, "600", "continue_step_up"),
        ({"concentration": "2000", "daily": "400", "phase": "step_up"}, "400", "stop_step_up"),
        ({"concentration": "2000", "daily": "400", "phase": "step_up"}, "200", "reduce"),
        # Whatever the computed row: toxicity, the maximum, a reduction.
        ({"concentration": "2870", "events": [ae(2)]}, "800", "increase"),
        ({"concentration": "2870", "daily": "1600"}, "1400", "reduce"),
        ({"concentration": "4000", "daily": "800", "events": [ae(3)]}, "800", "continue"),
        (
            {"label": "sunitinib (intermittent)", "concentration": "120", "daily": "50"},
            "25",
            "reduce",
        ),
    ],
)
def test_the_action_follows_the_edited_dose(kwargs, daily, action):
    advice_case = case(**kwargs)
    result = edit(advice_case, daily)

    assert result.action == action == edited_action(advice_case, D(daily))
    assert result.proposed_daily_dose_mg == D(daily)
    assert sum(result.proposed_split_mg) == D(daily)
    assert result.checks == (
        ESCALATION_CHECKS if action in ("increase", "continue_step_up") else ()
    )


def test_edited_action_compares_with_the_current_dose():
    maintenance, step_up = case(daily="600"), case(daily="600", phase="step_up")
    assert [edited_action(maintenance, D(d)) for d in ("800", "600", "400")] == [
        "increase",
        "continue",
        "reduce",
    ]
    assert [edited_action(step_up, D(d)) for d in ("800", "600", "400")] == [
        "continue_step_up",
        "stop_step_up",
        "reduce",
    ]


def test_above_the_label_maximum_warns():
    result = edit(case(concentration="2870", daily="600"), "1000")

    assert result.warnings == ("nonlinear_absorption", "above_label_dose")
    assert result.proposed_split_mg == (D(600), D(400))
    assert result.predicted_ctrough_ng_ml == D("4783.33")


def test_a_drug_absorbed_linearly_carries_no_nonlinear_warning():
    result = edit(case("imatinib (gist)", "800", daily="400"), "300")

    assert result.action == "reduce"
    assert result.warnings == ()
    assert result.predicted_ctrough_ng_ml == D("600.00")


def test_the_current_dose_in_another_frequency_keeps_the_computed_continuation():
    result = edit(case(**CONTINUE_400), "400", 1)

    assert result.action == "continue"
    assert result.proposed_administrations_per_day == 1
    assert result.proposed_split_mg == (D(400),)
    assert result.warnings == ("administrations_changed",)
    assert result.checks == ()
    assert result.text == (
        "Estimated Ctrough 4000 ng/mL is at or above the target of 3750 ng/mL. Continue "
        "sorafenib 400 mg/day (once daily instead of twice daily)."
    )


def test_the_computed_dose_in_another_frequency_keeps_the_computed_action_and_its_wording():
    result = edit(case(concentration="2870", daily="600"), "800", 1)

    assert result.action == "increase"
    assert result.proposed_split_mg == (D(800),)
    assert result.warnings == ("administrations_changed", "nonlinear_absorption")
    assert result.checks == ESCALATION_CHECKS
    assert result.text == (
        "Estimated Ctrough 2870 ng/mL is below the target of 3750 ng/mL without "
        "treatment-related toxicity of grade 2 or higher. Increase sorafenib from 600 mg/day "
        "to 800 mg/day (once daily instead of twice daily); predicted Ctrough 3827 ng/mL "
        "(exposure may rise less than proportionally)."
    )


def test_a_reduction_with_no_lower_level_keeps_its_warning_in_another_frequency():
    result = edit(case("sunitinib (intermittent)", "120", daily="25", administrations=1), "25", 2)

    assert result.action == "reduce"
    assert result.proposed_split_mg == (D("12.5"), D("12.5"))
    assert result.warnings == ("below_lowest_level", "administrations_changed")
    assert "is not above the lowest dose level (25 mg/day)" in result.text


def test_the_split_moves_to_fewer_administrations_when_the_strengths_require_it():
    result = edit(case(**CONTINUE_400), "200", 2)

    # 200 mg/day cannot be shared out over two administrations of 200 mg tablets.
    assert result.proposed_administrations_per_day == 1
    assert result.warnings == ("administrations_changed", "nonlinear_absorption")


def test_a_current_dose_off_the_levels_may_be_kept():
    advice_case = case(concentration="2870", daily="500")
    assert advise(advice_case).proposed_daily_dose_mg == D(600)

    result = edit(advice_case, "500")

    assert result.action == "continue"
    assert result.warnings == ("strengths_mismatch",)


# Refusals: the field named, the reason given.
def refusal(advice_case, daily, administrations=None) -> InputError:
    with pytest.raises(InputError) as refused:
        edit(advice_case, daily, administrations)
    return refused.value


@pytest.mark.parametrize(
    ("kwargs", "daily", "administrations", "field", "message"),
    [
        (
            {"concentration": "2870"},
            "1800",
            2,
            "proposed_daily_dose_mg",
            "1800 mg/day is above the highest dose TDM may advise for sorafenib (1600 mg/day).",
        ),
        (
            {"concentration": "2870"},
            "700",
            2,
            "proposed_daily_dose_mg",
            "Propose one of the dose levels of sorafenib: 200, 400, 600, 800, 1000, 1200, 1400, "
            "1600 mg/day.",
        ),
        (
            {"concentration": "2870"},
            "0",
            2,
            "proposed_daily_dose_mg",
            "Propose a daily dose above 0 mg; an interruption is the physician's prescription.",
        ),
        (
            {"concentration": "2870"},
            "-200",
            2,
            "proposed_daily_dose_mg",
            "Propose a daily dose above 0 mg; an interruption is the physician's prescription.",
        ),
        (
            {"concentration": "2870"},
            "800",
            5,
            "proposed_administrations_per_day",
            "Give 1 to 4 administrations a day.",
        ),
        (
            {"concentration": "2870"},
            "800",
            -1,
            "proposed_administrations_per_day",
            "Give 1 to 4 administrations a day.",
        ),
        (
            {"label": "imatinib (gist)", "concentration": "800", "daily": "400"},
            "800",
            1,
            "proposed_administrations_per_day",
            "800 mg/day in 1 administration a day would exceed the largest single dose of "
            "imatinib (gist) (600 mg); give it in 2 administrations a day.",
        ),
        (
            {"concentration": "2870", "daily": "1600"},
            "1600",
            1,
            "proposed_administrations_per_day",
            "1600 mg/day in 1 administration a day would exceed the largest single dose of "
            "sorafenib (800 mg); give it in 2 administrations a day.",
        ),
        (
            {"last_dose_known": False},
            "800",
            2,
            "proposed_daily_dose_mg",
            "This advice proposes no dose change: the sample cannot be used to estimate "
            "Ctrough. Edit the text, or withdraw the advice.",
        ),
        (
            {"last_dose_known": False},
            "600",
            1,
            "proposed_administrations_per_day",
            "This advice proposes no dose change: the sample cannot be used to estimate "
            "Ctrough. Edit the text, or withdraw the advice.",
        ),
        (
            {"label": "axitinib", "concentration": "20", "daily": "10"},
            "14",
            2,
            "proposed_daily_dose_mg",
            "This advice proposes no dose change: axitinib has no Ctrough target. Edit the "
            "text, or withdraw the advice.",
        ),
    ],
)
def test_an_edit_the_engine_cannot_justify_is_refused_naming_the_field(
    kwargs, daily, administrations, field, message
):
    error = refusal(case(**kwargs), daily, administrations)

    assert isinstance(error, ValueError)
    assert (error.field, error.message) == (field, message)


def test_a_split_over_the_largest_single_dose_even_in_four_is_refused():
    small_tablets = replace(DRUGS["sorafenib"], max_single_dose_mg=D(200))
    advice_case = replace(case(concentration="2870", daily="600"), drug=small_tablets)

    error = refusal(advice_case, "1600", 4)

    assert error.field == "proposed_daily_dose_mg"
    assert error.message == (
        "1600 mg/day cannot be given within the largest single dose of sorafenib (200 mg) even "
        "in 4 administrations."
    )


def test_every_level_of_every_drug_with_a_target_is_re_derived_consistently():
    """Each catalogue drug judged at target at its standard dose, edited to each of its levels."""
    for facts in read_catalogue():
        if not facts.has_cmin_target:
            continue
        standard = facts.standard_daily_dose_mg
        advice_case = case(
            facts.label, str(facts.target_ng_ml), daily=str(standard), start=date(2023, 10, 2)
        )
        for level in facts.dose_levels_mg:
            over = facts.max_single_dose_mg is not None and (
                level / facts.administrations_per_day > facts.max_single_dose_mg
            )
            if over:
                # Only a frequency the largest single dose cannot hold is refused.
                error = refusal(advice_case, level)
                assert error.field == "proposed_administrations_per_day", (facts.label, level)
                continue
            result = edit(advice_case, level)
            label = (facts.label, level)
            assert result.action == edited_action(advice_case, level), label
            assert result.proposed_daily_dose_mg == level, label
            assert sum(result.proposed_split_mg) == level, label
            assert result.predicted_ctrough_ng_ml == quantize_cents(
                facts.target_ng_ml * level / standard
            ), label
            assert ("above_label_dose" in result.warnings) == (
                level > facts.label_max_daily_dose_mg
            ), label
            assert ("nonlinear_absorption" in result.warnings) == (
                facts.nonlinear_absorption and level != standard
            ), label
            escalates = result.action in ("increase", "continue_step_up")
            assert (result.checks == ESCALATION_CHECKS) == escalates, label
            assert (result.proposed_daily_dose_mg > standard) == escalates, label


@pytest.mark.parametrize(
    ("kwargs", "daily", "judged", "summary"),
    [
        (
            {"concentration": "2870"},
            "600",
            "Estimated Ctrough 2870 ng/mL is below the target of 3750 ng/mL.",
            "the computed advice was to increase to 800 mg/day.",
        ),
        (
            {"concentration": "2000", "daily": "400", "phase": "step_up"},
            "400",
            "Estimated Ctrough 2000 ng/mL is below the target of 3750 ng/mL.",
            "the computed advice was to continue the step-up to 600 mg/day.",
        ),
        (
            {"concentration": "4000", "daily": "600", "phase": "step_up"},
            "800",
            "Estimated Ctrough 4000 ng/mL is at or above the target of 3750 ng/mL.",
            "the computed advice was to stop the step-up at 600 mg/day.",
        ),
        (
            {"concentration": "4000", "daily": "800", "events": [ae(3)]},
            "800",
            "Estimated Ctrough 4000 ng/mL is at or above the target of 3750 ng/mL, with active "
            "treatment-related toxicity of grade 3.",
            "the computed advice was to reduce to 600 mg/day.",
        ),
        (
            {"concentration": "4000", "daily": "200", "events": [ae(3)]},
            "400",
            "Estimated Ctrough 4000 ng/mL is at or above the target of 3750 ng/mL, with active "
            "treatment-related toxicity of grade 3.",
            "the computed advice was to reduce, with no dose level below 200 mg/day.",
        ),
        (
            {"concentration": "2870", "events": [ae(2)]},
            "800",
            "Estimated Ctrough 2870 ng/mL is below the target of 3750 ng/mL, with active "
            "treatment-related toxicity of grade 2.",
            "the computed advice was to keep 600 mg/day because of the toxicity.",
        ),
        (
            {"concentration": "2870", "daily": "1600"},
            "1400",
            "Estimated Ctrough 2870 ng/mL is below the target of 3750 ng/mL.",
            "the computed advice was to keep 1600 mg/day, at or above the highest dose TDM may "
            "advise (1600 mg/day).",
        ),
        (
            {"label": "sunitinib (intermittent)", "concentration": "120", "daily": "50"},
            "25",
            "Estimated Ctrough 120 ng/mL is at or above the upper threshold of 100 ng/mL.",
            "the computed advice was to reduce to 37.5 mg/day.",
        ),
    ],
)
def test_the_edited_text_judges_the_estimate_and_names_the_computed_advice(
    kwargs, daily, judged, summary
):
    text = edit(case(**kwargs), daily).text

    assert text.startswith(judged + " ")
    assert text.endswith(" Edited by the pharmacist: " + summary)


@pytest.mark.parametrize(
    ("kwargs", "daily", "step"),
    [
        (
            {"concentration": "2870", "daily": "600"},
            "1000",
            "Increase sorafenib from 600 mg/day to 1000 mg/day (600 mg + 400 mg); predicted "
            "Ctrough 4783 ng/mL (exposure may rise less than proportionally).",
        ),
        (
            {**CONTINUE_400, "phase": "step_up"},
            "600",
            "Continue the step-up: increase sorafenib from 400 mg/day to 600 mg/day (400 mg + "
            "200 mg); predicted Ctrough 6000 ng/mL (exposure may rise less than proportionally).",
        ),
        (
            {"label": "imatinib (gist)", "concentration": "800", "daily": "400"},
            "300",
            "Reduce imatinib from 400 mg/day to 300 mg/day (once daily); predicted Ctrough 600 "
            "ng/mL.",
        ),
        (
            {"concentration": "2000", "daily": "400", "phase": "step_up"},
            "400",
            "Stop the step-up: continue sorafenib 400 mg/day (200 mg + 200 mg).",
        ),
        (
            {"concentration": "2870", "daily": "600"},
            "600",
            "Continue sorafenib 600 mg/day (400 mg + 200 mg).",
        ),
    ],
)
def test_the_edited_text_says_what_to_do_with_the_edited_regimen(kwargs, daily, step):
    assert f". {step} Edited by the pharmacist:" in edit(case(**kwargs), daily).text


def test_an_edited_extrapolated_provisional_advice_keeps_both_notes():
    advice_case = case(
        concentration="2870", daily="600", hours=10, last_dose_change=date(2024, 2, 28)
    )
    result = edit(advice_case, "1000")

    assert result.provisional is True
    assert "(extrapolated from 2870 ng/mL drawn 10 h after the dose)" in result.text
    edited_note = "Edited by the pharmacist: the computed advice was to increase to 800 mg/day."
    provisional_note = " Provisional: drawn before steady state"
    assert result.text.index(edited_note) < result.text.index(provisional_note)
    assert result.text.endswith(advise(advice_case).text.split(provisional_note)[1])


@pytest.mark.parametrize(
    ("action", "day", "effect"),
    [
        ("increase", "2026-12-02", "the new dose takes effect on 2026-12-02"),
        ("reduce", "7 Feb 2024", "the new dose takes effect on 7 Feb 2024"),
        ("interrupt", "2026-12-02", "the treatment is interrupted from 2026-12-02"),
        ("interrupt_then_reduce", "2026-12-02", "the treatment is interrupted from 2026-12-02"),
        ("discontinue", "2026-12-02", "the treatment stops on 2026-12-02"),
        ("increase", None, "no dose change"),
        ("continue", None, "no dose change"),
    ],
)
def test_the_decision_effect_says_what_the_acceptance_changed(action, day, effect):
    assert decision_effect(action, day) == effect
