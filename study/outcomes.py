"""The study outcomes of docs/study-outcomes.md, as plain values: one treatment's records in,
figures out.

Pure Python (no ORM, no settings, no clock): `study/summary.py` reads the records and hands them
over as the frozen dataclasses below; every definition lives here, in the docstring of the function
that computes it, with its section of docs/study-outcomes.md or its clinical source. The phase of a
sample (docs/study-outcomes.md §5) is `cases.regimens.phase_on`, shared with the advice engine.

Numbers stay Decimal until `summarise` turns them into JSON numbers, so no figure carries a
binary floating-point error from an intermediate step.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from advice.engine.case import AdverseEventInput
from advice.engine.case_input import json_number
from advice.engine.toxicity import worst_active_event

TDM_ADVICE = "tdm_advice"
TOXICITY = "toxicity"

# docs/study-outcomes.md §5: a toxicity-driven reduction within 28 days after a TDM intervention
# makes it fail.
TOXICITY_WINDOW_DAYS = 28

# Rounding of the JSON figures: concentrations to 0.01 ng/mL (the precision the Ctrough estimate is
# stored with), samples per patient to 0.01 (quartiles of counts end in .25, .5 or .75), relative
# dose intensity to 0.001 (0.1 percentage point), shares to 0.1 % (docs/study-outcomes.md §8).
CONCENTRATION_PLACES = 2
COUNT_PLACES = 2
DOSE_INTENSITY_PLACES = 3
PERCENT_PLACES = 1


@dataclass(frozen=True)
class DoseChange:
    """One regimen of a treatment's dose history: this daily dose from this date, and why.

    The start regimen is one too; 0 mg is an interruption (docs/data-dictionary.md, `doses`).
    """

    effective_from: datetime.date
    daily_dose_mg: Decimal
    reason: str


@dataclass(frozen=True)
class SampleResult:
    """A resulted sample: the local date it was drawn and what the Ctrough rules
    (docs/clinical-rules.md §2) made of it.

    `ctrough_ng_ml` is the estimated Ctrough, present only when the sample is evaluable.
    """

    drawn_on: datetime.date
    evaluable: bool
    ctrough_ng_ml: Decimal | None


@dataclass(frozen=True)
class NoEscalationAdvice:
    """A sample's `no_escalation_toxicity` advice (docs/clinical-rules.md §3, row 7): the draw
    date and the adverse events of the treatment as the advice engine saw them."""

    drawn_on: datetime.date
    adverse_events: tuple[AdverseEventInput, ...]


@dataclass(frozen=True)
class StudyTreatment:
    """One treatment with everything the study figures need.

    `target_ng_ml` is the Ctrough (Cmin) target of the treatment's own catalogue row (drug and
    indication); it is None for drugs monitored by AUC, whose samples are counted but never
    give an evaluable Ctrough (docs/study-outcomes.md §3). `samples` are the resulted samples only.
    """

    patient_id: int
    start_date: datetime.date
    stop_date: datetime.date | None
    standard_daily_dose_mg: Decimal
    target_ng_ml: Decimal | None
    doses: tuple[DoseChange, ...]
    samples: tuple[SampleResult, ...]
    no_escalation_advice: tuple[NoEscalationAdvice, ...] = ()
    rejected_advice: int = 0


@dataclass(frozen=True)
class Quartiles:
    q1: Decimal
    median: Decimal
    q3: Decimal


# Medians and quartiles ---------------------------------------------------------------------------


def quantile(values: Sequence[Decimal], probability: Decimal) -> Decimal:
    """The `probability` quantile by linear interpolation between order statistics
    (docs/study-outcomes.md §8): numpy's default, Hyndman & Fan type 7 (R's default,
    `statistics.quantiles(method="inclusive")`).

    With the n values sorted as x[0] … x[n-1], h = (n − 1) · p and the quantile is
    x[⌊h⌋] + (h − ⌊h⌋) · (x[⌊h⌋ + 1] − x[⌊h⌋]). [1, 2, 3, 4] gives 1.75, 2.5 and 3.25.
    """
    if not values:
        raise ValueError("the quantile of no values is undefined")
    if not 0 <= probability <= 1:
        raise ValueError("probability must be between 0 and 1")
    ordered = sorted(values)
    position = (len(ordered) - 1) * probability
    below = int(position)
    if below == len(ordered) - 1:
        return ordered[below]
    return ordered[below] + (position - below) * (ordered[below + 1] - ordered[below])


def quartiles(values: Iterable[Decimal | int]) -> Quartiles | None:
    """First quartile, median and third quartile (type 7); None when there are no values."""
    numbers = [Decimal(value) for value in values]
    if not numbers:
        return None
    return Quartiles(
        q1=quantile(numbers, Decimal("0.25")),
        median=quantile(numbers, Decimal("0.5")),
        q3=quantile(numbers, Decimal("0.75")),
    )


def rounded(value: Decimal, places: int) -> Decimal:
    """Rounded half up, as the advice text and report round (2.345 → 2.35)."""
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def quartile_summary(values: Iterable[Decimal | int], *, places: int) -> dict[str, object]:
    """`{"median", "q1", "q3"}` as JSON numbers rounded to `places` decimals (an int when
    whole); every one None when there are no values, so the keys are always there."""
    result = quartiles(values)
    if result is None:
        return {"median": None, "q1": None, "q3": None}
    return {
        "median": json_number(rounded(result.median, places)),
        "q1": json_number(rounded(result.q1, places)),
        "q3": json_number(rounded(result.q3, places)),
    }


def percentage(part: int, whole: int) -> float | None:
    """`part` of `whole` in percent with one decimal (docs/study-outcomes.md §8), rounded half
    up; None of 0."""
    if whole == 0:
        return None
    return float(rounded(Decimal(100) * part / whole, PERCENT_PLACES))


# Samples -----------------------------------------------------------------------------------------


def evaluable_ctrough_values(treatment: StudyTreatment) -> list[tuple[datetime.date, Decimal]]:
    """(draw date, Ctrough) of the treatment's evaluable Ctrough values, in draw order.

    docs/study-outcomes.md §2–§3: a sample is evaluable as docs/clinical-rules.md §2 says; samples
    of drugs without a Cmin target (AUC-monitored) are counted as samples but never as evaluable
    Ctrough values.
    """
    if treatment.target_ng_ml is None:
        return []
    return sorted(
        (sample.drawn_on, sample.ctrough_ng_ml)
        for sample in treatment.samples
        if sample.evaluable and sample.ctrough_ng_ml is not None
    )


def below_target_values(treatment: StudyTreatment) -> list[Decimal]:
    """The evaluable Ctrough values below the treatment's own target (docs/study-outcomes.md §4: the
    share of evaluable samples below their own treatment's target); equal to the target is not
    below."""
    target = treatment.target_ng_ml
    if target is None:
        return []
    return [value for _drawn_on, value in evaluable_ctrough_values(treatment) if value < target]


# TDM interventions -------------------------------------------------------------------------------


def tdm_interventions(treatment: StudyTreatment) -> list[DoseChange]:
    """docs/study-outcomes.md §5: a TDM intervention is a dose change with reason `tdm_advice`,
    whether it came from an accepted advice or was entered with the dose history (an imported
    cohort)."""
    return sorted(
        (dose for dose in treatment.doses if dose.reason == TDM_ADVICE),
        key=lambda dose: dose.effective_from,
    )


def _next_change(treatment: StudyTreatment, after: datetime.date) -> DoseChange | None:
    later = [dose for dose in treatment.doses if dose.effective_from > after]
    return min(later, key=lambda dose: dose.effective_from, default=None)


def is_dose_reduction(treatment: StudyTreatment, change: DoseChange) -> bool:
    """Whether `change` lowers the dose: below the last daily dose above 0 mg before it.

    An interruption in between does not count as the dose it lowers from, so resuming one level
    lower after a toxicity interruption is a reduction (Bolondi et al., Future Oncol 2015, table 5:
    interrupt until grade ≤ 1, resume one level lower).
    """
    earlier = sorted(
        (
            dose
            for dose in treatment.doses
            if dose.effective_from < change.effective_from and dose.daily_dose_mg > 0
        ),
        key=lambda dose: dose.effective_from,
    )
    return bool(earlier) and change.daily_dose_mg < earlier[-1].daily_dose_mg


def toxicity_reduction_after(
    treatment: StudyTreatment, intervention: DoseChange
) -> DoseChange | None:
    """The first dose change with reason `toxicity` to a lower dose that took effect 1 to 28
    days after the intervention (day 28 included, docs/study-outcomes.md §5)."""
    for dose in sorted(treatment.doses, key=lambda dose: dose.effective_from):
        days_after = (dose.effective_from - intervention.effective_from).days
        if (
            dose.reason == TOXICITY
            and 1 <= days_after <= TOXICITY_WINDOW_DAYS
            and is_dose_reduction(treatment, dose)
        ):
            return dose
    return None


def intervention_ctrough_values(
    treatment: StudyTreatment, intervention: DoseChange
) -> list[Decimal]:
    """The evaluable Ctrough values that judge an intervention (docs/study-outcomes.md §5): drawn
    after the day it took effect and before the day the next dose change (of any reason, an
    interruption too) took effect; without a next change, every later sample."""
    following = _next_change(treatment, intervention.effective_from)
    return [
        value
        for drawn_on, value in evaluable_ctrough_values(treatment)
        if drawn_on > intervention.effective_from
        and (following is None or drawn_on < following.effective_from)
    ]


def is_successful(treatment: StudyTreatment, intervention: DoseChange) -> bool:
    """docs/study-outcomes.md §5 (Guchelaar et al., Biomed Pharmacother 2022, §2.2): successful
    when the median Ctrough of its evaluable samples (`intervention_ctrough_values`) is ≥ the
    target and no dose change with reason `toxicity` to a lower dose took effect within 28 days
    after it. No evaluable sample in that period, or a drug without a Cmin target, is not
    successful."""
    target = treatment.target_ng_ml
    summary = quartiles(intervention_ctrough_values(treatment, intervention))
    if target is None or summary is None or summary.median < target:
        return False
    return toxicity_reduction_after(treatment, intervention) is None


# Reasons for not escalating ----------------------------------------------------------------------


def no_escalation_term(advice: NoEscalationAdvice) -> str | None:
    """docs/study-outcomes.md §6: the term of the worst-grade active treatment-related AE at the
    sample (ties by term name), as `advice.engine.toxicity.worst_active_event` chose it for the
    advice itself."""
    worst = worst_active_event(advice.adverse_events, advice.drawn_on)
    return None if worst is None else worst.term


def no_escalation_reasons(treatments: Iterable[StudyTreatment]) -> dict[str, int]:
    """Term → number of patients with a `no_escalation_toxicity` advice for that reason; a
    patient counts once per term however many advice or treatments gave it
    (docs/study-outcomes.md §6). Most frequent first, then by term."""
    patients_by_term: dict[str, set[int]] = defaultdict(set)
    for treatment in treatments:
        for advice in treatment.no_escalation_advice:
            term = no_escalation_term(advice)
            if term is not None:
                patients_by_term[term].add(treatment.patient_id)
    ordered = sorted(patients_by_term.items(), key=lambda item: (-len(item[1]), item[0]))
    return {term: len(patients) for term, patients in ordered}


# Relative dose intensity -------------------------------------------------------------------------


def treatment_days(
    treatment: StudyTreatment, *, as_of: datetime.date
) -> tuple[datetime.date, datetime.date]:
    """The treatment days as a half-open range [first, end): from the start date (day 1) up to
    and including `as_of`, and never the stop date or later: a treatment is stopped from its stop
    date on (docs/study-outcomes.md §7, `cases.regimens.status_on`), so the stop date is not a
    treatment day. `end <= first` means no treatment day yet."""
    end = as_of + datetime.timedelta(days=1)
    if treatment.stop_date is not None:
        end = min(end, treatment.stop_date)
    return treatment.start_date, end


def relative_dose_intensity(treatment: StudyTreatment, *, as_of: datetime.date) -> Decimal | None:
    """Cumulative actual dose ÷ cumulative standard dose over the treatment days
    (docs/study-outcomes.md §7; Akutsu et al., J Gastroenterol Dig Dis 2017, table 2), unrounded.

    The actual dose of a day is the daily dose of the regimen in effect on it, 0 mg on the days
    of an interruption; the standard dose of a day is the catalogue's standard daily dose of the
    treatment's drug and indication. None for a treatment without a treatment day by `as_of`.
    """
    first, end = treatment_days(treatment, as_of=as_of)
    days = (end - first).days
    if days <= 0 or treatment.standard_daily_dose_mg <= 0:
        return None
    ordered = sorted(treatment.doses, key=lambda dose: dose.effective_from)
    actual_mg = Decimal(0)
    for index, dose in enumerate(ordered):
        following = ordered[index + 1].effective_from if index + 1 < len(ordered) else end
        period = (min(following, end) - max(dose.effective_from, first)).days
        if period > 0:
            actual_mg += dose.daily_dose_mg * period
    return actual_mg / (treatment.standard_daily_dose_mg * days)


# The summary -------------------------------------------------------------------------------------


def summarise(treatments: Sequence[StudyTreatment], *, as_of: datetime.date) -> dict[str, object]:
    """The `study_summary` figures (docs/study-outcomes.md §1) of a group of treatments (one drug,
    or all).

    Patients are those with at least one treatment in the group; per-patient figures take all
    of a patient's treatments in the group together. `samples_per_patient` includes patients
    without a sample yet (0), so it describes the same patients as `patients`.
    `ctrough_ng_ml` pools the evaluable Ctrough values of every drug in the group.
    `relative_dose_intensity` has one value per treatment with a treatment day by `as_of`.
    """
    samples_by_patient: dict[int, int] = defaultdict(int)
    evaluable_patients: set[int] = set()
    below_target_patients: set[int] = set()
    intervention_patients: set[int] = set()
    successful_patients: set[int] = set()
    ctrough_values: list[Decimal] = []
    below_target = 0
    interventions = 0
    successful = 0
    rejected = 0
    dose_intensities: list[Decimal] = []
    for treatment in treatments:
        patient = treatment.patient_id
        samples_by_patient[patient] += len(treatment.samples)
        values = [value for _drawn_on, value in evaluable_ctrough_values(treatment)]
        ctrough_values += values
        if values:
            evaluable_patients.add(patient)
        below = below_target_values(treatment)
        below_target += len(below)
        if below:
            below_target_patients.add(patient)
        for intervention in tdm_interventions(treatment):
            interventions += 1
            intervention_patients.add(patient)
            if is_successful(treatment, intervention):
                successful += 1
                successful_patients.add(patient)
        rejected += treatment.rejected_advice
        intensity = relative_dose_intensity(treatment, as_of=as_of)
        if intensity is not None:
            dose_intensities.append(intensity)
    return {
        "patients": len(samples_by_patient),
        "evaluable_patients": len(evaluable_patients),
        "samples": sum(samples_by_patient.values()),
        "evaluable_samples": len(ctrough_values),
        "samples_per_patient": quartile_summary(samples_by_patient.values(), places=COUNT_PLACES),
        "ctrough_ng_ml": quartile_summary(ctrough_values, places=CONCENTRATION_PLACES),
        "samples_below_target_pct": percentage(below_target, len(ctrough_values)),
        "patients_with_sample_below_target": len(below_target_patients),
        "patients_with_tdm_intervention": len(intervention_patients),
        "tdm_interventions": interventions,
        "successful_interventions": successful,
        "patients_with_successful_intervention": len(successful_patients),
        "advice_rejected": rejected,
        "no_escalation_reasons": no_escalation_reasons(treatments),
        "relative_dose_intensity": quartile_summary(dose_intensities, places=DOSE_INTENSITY_PLACES),
    }


@dataclass(frozen=True)
class DrugGroup:
    """One drug's evaluable Ctrough values and the Cmin target they are judged against.

    `target_ng_ml` is None for a drug monitored by AUC: it has a slot on the plot that says so.
    """

    label: str
    target_ng_ml: Decimal | None
    ctrough_ng_ml: tuple[Decimal, ...]
