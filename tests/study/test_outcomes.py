"""The study outcomes of docs/study-outcomes.md as pure functions: every expected number is
worked out by hand in the comment beside it."""

import datetime
from decimal import Decimal
from pathlib import Path

import numpy
import pytest
from hypothesis import given
from hypothesis import strategies as st

from advice.engine.case import AdverseEventInput
from study import outcomes
from study.outcomes import (
    DoseChange,
    NoEscalationAdvice,
    SampleResult,
    StudyTreatment,
    is_successful,
    no_escalation_reasons,
    no_escalation_term,
    percentage,
    quantile,
    quartile_summary,
    quartiles,
    relative_dose_intensity,
    summarise,
    tdm_interventions,
)
from tests.advice.engine.test_engine_purity import imported_modules, is_forbidden

D = datetime.date.fromisoformat
SORAFENIB_TARGET = Decimal(3750)


def dose(day: str, mg: int, reason: str) -> DoseChange:
    return DoseChange(effective_from=D(day), daily_dose_mg=Decimal(mg), reason=reason)


def trough(day: str, ng_ml: str) -> SampleResult:
    return SampleResult(drawn_on=D(day), evaluable=True, ctrough_ng_ml=Decimal(ng_ml))


def not_evaluable(day: str) -> SampleResult:
    return SampleResult(drawn_on=D(day), evaluable=False, ctrough_ng_ml=None)


def sorafenib(doses, samples=(), *, patient=1, start="2024-01-01", stop=None, **fields):
    """A sorafenib treatment (target 3750 ng/mL, standard 800 mg/day) from `start`."""
    return StudyTreatment(
        patient_id=patient,
        start_date=D(start),
        stop_date=D(stop) if stop else None,
        standard_daily_dose_mg=Decimal(800),
        target_ng_ml=SORAFENIB_TARGET,
        doses=tuple(doses),
        samples=tuple(samples),
        **fields,
    )


def test_the_module_is_pure():
    path = Path(outcomes.__file__)
    assert [module for module in imported_modules(path) if is_forbidden(module)] == []


# Quartiles (docs/study-outcomes.md §8: linear interpolation, numpy's default "type 7") ------------


@pytest.mark.parametrize(
    ("values", "expected_q1_median_q3"),
    [
        # n = 4, h = 3p: q1 h = 0.75 → 1 + 0.75·(2 − 1) = 1.75; median h = 1.5 → 2.5;
        # q3 h = 2.25 → 3 + 0.25·(4 − 3) = 3.25.
        ([1, 2, 3, 4], ("1.75", "2.5", "3.25")),
        # n = 5, h = 4p = 1, 2, 3: the order statistics themselves.
        ([5, 1, 4, 2, 3], ("2", "3", "4")),
        # n = 2, h = 0.25, 0.5, 0.75 of the way from 10 to 20.
        ([20, 10], ("12.5", "15", "17.5")),
        # One value is every quantile.
        ([7], ("7", "7", "7")),
        # n = 11 (the cohort of tests/study/test_summary.py): h = 2.5, 5, 7.5 →
        # 2800 + 0.5·200 = 2900, 3500, 4000 + 0.5·200 = 4100.
        (
            [2000, 2500, 2800, 3000, 3000, 3500, 3900, 4000, 4200, 15000, 21000],
            ("2900", "3500", "4100"),
        ),
    ],
)
def test_quartiles_type_7(values, expected_q1_median_q3):
    result = quartiles(Decimal(v) for v in values)
    assert (result.q1, result.median, result.q3) == tuple(Decimal(v) for v in expected_q1_median_q3)


def test_quantile_bounds_are_the_minimum_and_maximum():
    values = [Decimal(3), Decimal(1), Decimal(2)]
    assert quantile(values, Decimal(0)) == 1
    assert quantile(values, Decimal(1)) == 3


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=40))
def test_quartiles_agree_with_numpy_default(values):
    ours = quartiles(Decimal(v) for v in values)
    theirs = numpy.quantile(values, [0.25, 0.5, 0.75])
    assert [float(ours.q1), float(ours.median), float(ours.q3)] == pytest.approx(list(theirs))


def test_no_values_have_no_quartiles_but_keep_their_keys():
    assert quartiles([]) is None
    assert quartile_summary([], places=2) == {"median": None, "q1": None, "q3": None}


def test_summary_numbers_are_rounded_half_up_and_whole_ones_are_ints():
    # [0, 1, 4]: q1 h = 0.5 → 0.5, median 1, q3 h = 1.5 → 2.5.
    assert quartile_summary([0, 1, 4], places=2) == {"median": 1, "q1": 0.5, "q3": 2.5}
    assert type(quartile_summary([2, 2], places=2)["median"]) is int
    # [0.85, 0.996]: q1 = 0.85 + 0.25 · 0.146 = 0.8865 → 0.887 (half up; to even gives 0.886).
    assert quartile_summary([Decimal("0.85"), Decimal("0.996")], places=3)["q1"] == 0.887


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [
        (7, 11, 63.6),  # 63.63… %
        (2, 3, 66.7),  # 66.66… %
        (1, 16, 6.3),  # 6.25 % rounds half up
        (3, 3, 100.0),
        (0, 4, 0.0),
        (0, 0, None),  # no evaluable sample: no share
    ],
)
def test_percentage_has_one_decimal(part, whole, expected):
    assert percentage(part, whole) == expected


# Success of a TDM intervention (docs/study-outcomes.md §5) ----------------------------------------

# Sorafenib from 1 January 2024 at 400 mg/day; the TDM intervention raises it to 600 mg/day
# from Thursday 1 February 2024. 2024 is a leap year: 1 Feb + 28 days = 29 Feb.
START = dose("2024-01-01", 400, "start")
INTERVENTION = dose("2024-02-01", 600, "tdm_advice")


@pytest.mark.parametrize(
    ("later_doses", "samples", "successful"),
    [
        pytest.param(
            [],
            [trough("2024-02-15", "3500"), trough("2024-02-29", "4000")],
            True,
            id="median exactly at the target: (3500 + 4000) / 2 = 3750",
        ),
        pytest.param(
            [],
            [trough("2024-02-15", "3500"), trough("2024-02-29", "3999.98")],
            False,
            id="median just below the target: 3749.99",
        ),
        pytest.param(
            [],
            [trough("2024-02-01", "5000"), trough("2024-02-15", "3000")],
            False,
            id="a sample on the day it took effect is not after it: median 3000",
        ),
        pytest.param(
            [],
            [trough("2024-01-29", "4000"), trough("2024-03-15", "3800")],
            True,
            id="only samples after it: 3800 (the January 4000 is before)",
        ),
        pytest.param(
            [dose("2024-03-01", 600, "other")],
            [trough("2024-02-15", "3000"), trough("2024-03-01", "5000")],
            False,
            id="next change of any reason ends the period, its own day excluded: median 3000",
        ),
        pytest.param(
            [],
            [trough("2024-02-15", "3000"), trough("2024-03-01", "5000")],
            True,
            id="without that change both count: (3000 + 5000) / 2 = 4000",
        ),
        pytest.param(
            [dose("2024-02-10", 0, "interruption"), dose("2024-02-20", 600, "resume")],
            [trough("2024-02-08", "3900"), trough("2024-02-26", "2000")],
            True,
            id="an interruption is the next change: only 3900 (8 Feb) counts",
        ),
        pytest.param(
            [dose("2024-02-29", 400, "toxicity")],
            [trough("2024-02-15", "4000")],
            False,
            id="toxicity reduction on day 28 (29 Feb) fails it",
        ),
        pytest.param(
            [dose("2024-03-01", 400, "toxicity")],
            [trough("2024-02-15", "4000")],
            True,
            id="toxicity reduction on day 29 (1 Mar) does not",
        ),
        pytest.param(
            [dose("2024-02-29", 400, "other")],
            [trough("2024-02-15", "4000")],
            True,
            id="a reduction for another reason within 28 days does not",
        ),
        pytest.param(
            [dose("2024-02-10", 600, "toxicity")],
            [trough("2024-02-08", "4000")],
            True,
            id="a toxicity change that keeps 600 mg/day is no reduction",
        ),
        pytest.param(
            [dose("2024-02-10", 0, "interruption"), dose("2024-02-17", 400, "toxicity")],
            [trough("2024-02-08", "4000")],
            False,
            id="resuming at 400 after an interruption is below the 600 before it",
        ),
        pytest.param(
            [],
            [not_evaluable("2024-02-15"), not_evaluable("2024-02-29")],
            False,
            id="no evaluable sample in the period",
        ),
        pytest.param([], [], False, id="no sample at all"),
    ],
)
def test_success_of_a_tdm_intervention(later_doses, samples, successful):
    treatment = sorafenib([START, INTERVENTION, *later_doses], samples)
    assert is_successful(treatment, INTERVENTION) is successful


def test_an_auc_drug_intervention_is_never_successful():
    # Axitinib's samples are computed (evaluable, with a number) but its target is an AUC.
    axitinib = StudyTreatment(
        patient_id=1,
        start_date=D("2024-01-01"),
        stop_date=None,
        standard_daily_dose_mg=Decimal(10),
        target_ng_ml=None,
        doses=(dose("2024-01-01", 10, "start"), dose("2024-02-01", 14, "tdm_advice")),
        samples=(trough("2024-02-15", "40"),),
    )
    assert is_successful(axitinib, axitinib.doses[1]) is False
    assert outcomes.evaluable_ctrough_values(axitinib) == []


def test_interventions_are_the_tdm_advice_changes_in_date_order():
    treatment = sorafenib(
        [
            dose("2024-03-01", 800, "tdm_advice"),
            START,
            dose("2024-02-20", 400, "toxicity"),
            INTERVENTION,
        ]
    )
    assert [change.effective_from for change in tdm_interventions(treatment)] == [
        D("2024-02-01"),
        D("2024-03-01"),
    ]


# Reasons for not escalating (docs/study-outcomes.md §6) -------------------------------------------


def event(term, grade, onset, resolved=None, related=True):
    return AdverseEventInput(
        term=term,
        grade=grade,
        onset=D(onset),
        resolved=D(resolved) if resolved else None,
        related=related,
    )


NAUSEA_2 = event("Nausea", 2, "2024-01-20")


@pytest.mark.parametrize(
    ("events", "term"),
    [
        # Equal grades: the first term by name.
        ([event("Fatigue", 2, "2024-01-20"), event("Diarrhea", 2, "2024-01-25")], "Diarrhea"),
        ([event("Fatigue", 3, "2024-01-20"), event("Diarrhea", 2, "2024-01-25")], "Fatigue"),
        # Not related to the treatment: not a reason.
        ([event("Anemia", 3, "2024-01-20", related=False), NAUSEA_2], "Nausea"),
        # Resolved the day before the draw: no longer active; resolved on the draw day: active.
        ([event("Fatigue", 3, "2024-01-20", "2024-02-04"), NAUSEA_2], "Nausea"),
        ([event("Fatigue", 3, "2024-01-20", "2024-02-05"), NAUSEA_2], "Fatigue"),
        # Onset after the draw: not yet there.
        ([event("Fatigue", 3, "2024-02-06"), NAUSEA_2], "Nausea"),
        ([event("Fatigue", 2, "2024-02-06")], None),
    ],
)
def test_the_reason_is_the_worst_active_related_event_at_the_draw(events, term):
    advice = NoEscalationAdvice(drawn_on=D("2024-02-05"), adverse_events=tuple(events))
    assert no_escalation_term(advice) == term


def test_each_patient_counts_once_per_term():
    fatigue = NoEscalationAdvice(D("2024-02-05"), (event("Fatigue", 2, "2024-01-20"),))
    later_fatigue = NoEscalationAdvice(D("2024-03-04"), (event("Fatigue", 2, "2024-01-20"),))
    diarrhea = NoEscalationAdvice(D("2024-04-01"), (event("Diarrhea", 2, "2024-03-20"),))
    treatments = [
        # Patient 1: Fatigue at two samples of one treatment and again on a second treatment.
        sorafenib([START], no_escalation_advice=(fatigue, later_fatigue), patient=1),
        sorafenib([START], no_escalation_advice=(fatigue, diarrhea), patient=1),
        sorafenib([START], no_escalation_advice=(fatigue,), patient=2),
        sorafenib([START], no_escalation_advice=(diarrhea,), patient=3),
        sorafenib([START], no_escalation_advice=(diarrhea,), patient=4),
    ]
    reasons = no_escalation_reasons(treatments)
    # Fatigue: patients 1 and 2; Diarrhea: patients 1, 3 and 4. Most frequent first.
    assert reasons == {"Diarrhea": 3, "Fatigue": 2}
    assert list(reasons) == ["Diarrhea", "Fatigue"]


# Relative dose intensity (docs/study-outcomes.md §7; Akutsu et al., J Gastroenterol Dig Dis 2017) -

FULL_DOSE = dose("2024-01-01", 800, "start")
INTERRUPTED_AND_REDUCED = [
    FULL_DOSE,
    dose("2024-01-11", 0, "interruption"),
    dose("2024-01-16", 600, "resume"),
]


@pytest.mark.parametrize(
    ("doses", "stop", "as_of", "expected"),
    [
        # 1–10 Jan at 800 of a standard 800: 10 days, 8000 / 8000.
        ([FULL_DOSE], None, "2024-01-10", Decimal(1)),
        # The start day itself is one treatment day.
        ([FULL_DOSE], None, "2024-01-01", Decimal(1)),
        # 800 × 10 (1–10 Jan) + 0 × 5 (11–15 Jan) + 600 × 16 (16–31 Jan) = 17600 mg over
        # 31 days of 800 mg = 24800 mg: 17600 / 24800 = 22/31.
        (INTERRUPTED_AND_REDUCED, None, "2024-01-31", Decimal(22) / Decimal(31)),
        # Stopped from 21 Jan: the treatment days are 1–20 Jan whatever `as_of` says:
        # 800 × 10 + 0 × 5 + 600 × 5 = 11000 mg of 800 × 20 = 16000 mg = 0.6875.
        (INTERRUPTED_AND_REDUCED, "2024-01-21", "2024-06-30", Decimal("0.6875")),
        # `as_of` before the stop date ends it: 1–15 Jan, 8000 mg of 12000 mg.
        (INTERRUPTED_AND_REDUCED, "2024-01-21", "2024-01-15", Decimal(8000) / Decimal(12000)),
        # Escalated above the standard: 800 × 5 + 1000 × 5 = 9000 of 8000 mg.
        ([FULL_DOSE, dose("2024-01-06", 1000, "tdm_advice")], None, "2024-01-10", Decimal("1.125")),
        # No treatment day yet, or stopped on its start day.
        ([FULL_DOSE], None, "2023-12-31", None),
        ([FULL_DOSE], "2024-01-01", "2024-06-30", None),
    ],
)  # fmt: skip
def test_relative_dose_intensity(doses, stop, as_of, expected):
    treatment = sorafenib(doses, stop=stop)
    assert relative_dose_intensity(treatment, as_of=D(as_of)) == expected


# The whole summary -------------------------------------------------------------------------------


def test_summary_of_a_small_group():
    pazopanib = StudyTreatment(
        patient_id=1,
        start_date=D("2024-04-01"),
        stop_date=D("2024-05-01"),
        standard_daily_dose_mg=Decimal(800),
        target_ng_ml=Decimal(20000),
        doses=(dose("2024-04-01", 800, "start"),),
        samples=(trough("2024-04-29", "25000"),),
    )
    axitinib = StudyTreatment(
        patient_id=2,
        start_date=D("2024-01-01"),
        stop_date=None,
        standard_daily_dose_mg=Decimal(10),
        target_ng_ml=None,
        doses=(dose("2024-01-01", 10, "start"),),
        samples=(trough("2024-01-29", "20"),),
        rejected_advice=1,
    )
    samples = [trough("2024-01-29", "2000"), trough("2024-02-26", "3800")]
    samples.append(not_evaluable("2024-03-04"))
    treatments = [
        sorafenib([START, INTERVENTION], samples, patient=1),
        pazopanib,
        axitinib,
        sorafenib([dose("2024-03-01", 800, "start")], start="2024-03-01", patient=3),
    ]

    summary = summarise(treatments, as_of=D("2024-03-31"))

    assert summary == {
        # Patients 1 (sorafenib and pazopanib), 2 (axitinib) and 3 (sorafenib, no sample yet).
        "patients": 3,
        # Only patient 1 has an evaluable Ctrough: axitinib's is an AUC drug's.
        "evaluable_patients": 1,
        # Patient 1: 3 + 1, patient 2: 1, patient 3: 0.
        "samples": 5,
        "evaluable_samples": 3,
        # [0, 1, 4]: q1 h = 0.5 → 0.5; median 1; q3 h = 1.5 → 1 + 0.5 · 3 = 2.5.
        "samples_per_patient": {"median": 1, "q1": 0.5, "q3": 2.5},
        # [2000, 3800, 25000]: q1 = 2000 + 0.5 · 1800 = 2900; q3 = 3800 + 0.5 · 21200 = 14400.
        "ctrough_ng_ml": {"median": 3800, "q1": 2900, "q3": 14400},
        # 2000 < 3750 only: 1 of 3.
        "samples_below_target_pct": 33.3,
        "patients_with_sample_below_target": 1,
        # 1 Feb → 600 mg: after it 3800 (4 Mar is not evaluable) ≥ 3750, no toxicity change.
        "patients_with_tdm_intervention": 1,
        "tdm_interventions": 1,
        "successful_interventions": 1,
        "patients_with_successful_intervention": 1,
        "advice_rejected": 1,
        "no_escalation_reasons": {},
        # Up to 31 Mar. Sorafenib 1: 1 Jan–31 Mar = 91 days, 400 × 31 + 600 × 60 = 48400 mg of
        # 800 × 91 = 72800 mg = 0.66484; pazopanib starts after 31 Mar (no value); axitinib and
        # sorafenib 3 took their standard dose every day = 1. [0.66484, 1, 1]: q1 h = 0.5 →
        # 0.66484 + 0.5 · 0.33516 = 0.83242 → 0.832; median 1; q3 h = 1.5 → 1.
        "relative_dose_intensity": {"median": 1, "q1": 0.832, "q3": 1},
    }


def test_summary_of_no_treatments():
    assert summarise([], as_of=D("2024-03-31")) == {
        "patients": 0,
        "evaluable_patients": 0,
        "samples": 0,
        "evaluable_samples": 0,
        "samples_per_patient": {"median": None, "q1": None, "q3": None},
        "ctrough_ng_ml": {"median": None, "q1": None, "q3": None},
        "samples_below_target_pct": None,
        "patients_with_sample_below_target": 0,
        "patients_with_tdm_intervention": 0,
        "tdm_interventions": 0,
        "successful_interventions": 0,
        "patients_with_successful_intervention": 0,
        "advice_rejected": 0,
        "no_escalation_reasons": {},
        "relative_dose_intensity": {"median": None, "q1": None, "q3": None},
    }
