"""The cohort file's shape and its own rules (docs/cohort-format.md §1), checked by pydantic.

Everything that can be told from the file alone, without the drug catalogue or the database:
every object's keys (unknown ones are refused, so a typo such as `below_LLOQ` cannot silently
change a record), each value's type and limits, and the rules between the values of a record
(doses in date order, samples within the treatment, a decision's reason). Values are as strict
as JSON: `"1"` is not a number, `1` is not `true`, a date is a `YYYY-MM-DD` text.

`read_cohort` reports every problem as a `CohortError`: pydantic's `loc` becomes the JSON path
(`patients[0].treatments[1].samples[2].drawn_at`) and its error the format's own wording. The
rules of a record are checked once its values are all well-formed, so a bad value is reported
once, not again through every rule it takes part in.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Annotated, Any, Self

from django.utils import timezone
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from advice.engine import ctcae
from advice.engine.units import NG_PER_ML
from cases.models import AdverseEvent, DoseRegimen, Patient
from cases.models.patients import study_number_validator
from cases.models.sites import site_code_validator
from cases.services.validation import CLOCK_SKEW, normalised_identifier
from study.cohort.records import DECISIONS, FORMAT, CohortError
from study.cohort.values import (
    WORDED,
    BirthYear,
    Concentration,
    CtcaeTerm,
    DailyDose,
    Flag,
    IsoDate,
    IsoDateTime,
    Unit,
    checked_at,
    choice,
    coded,
    null_means,
    optional_text,
    text,
    whole,
    worded,
)

Loc = tuple[str | int, ...]


def _entries(entry: type[BaseModel]) -> Any:
    return Annotated[list[entry], Strict(), worded("must be a list")]


def _optional_entries(entry: type[BaseModel]) -> Any:
    return Annotated[_entries(entry), *null_means(list)]


# The objects of the file and the rules between their values --------------------------------------


def _refuse(problems: list[tuple[Loc, str]]) -> None:
    """Raise every rule a record breaks at once, each at its own key (pydantic puts the
    record's position in front)."""
    if problems:
        raise ValidationError.from_exception_data(
            "cohort record",
            [
                InitErrorDetails(type=PydanticCustomError(WORDED, message), loc=loc, input=None)
                for loc, message in problems
            ],
        )


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteEntry(_Entry):
    code: coded(site_code_validator)
    name: text(200)


class DoseEntry(_Entry):
    effective_from: IsoDate = Field(alias="from")
    daily_dose_mg: DailyDose
    administrations_per_day: whole(1, 4)
    reason: choice(DoseRegimen.Reason.values)
    off_label_reason: optional_text(200)
    status: choice(DoseRegimen.Status.values) = DoseRegimen.Status.ACTIVE
    status_reason: optional_text(200)


class SampleEntry(_Entry):
    drawn_at: IsoDateTime
    last_dose_at: IsoDateTime | None = None
    concentration: Concentration | None = None
    unit: Unit | None = None
    below_lloq: Annotated[Flag, *null_means(bool)]
    confirmed_implausible: Annotated[Flag, *null_means(bool)]
    analytes: Annotated[
        dict[str, Concentration],
        Strict(),
        worded("must be an object of analyte name → concentration in ng/mL"),
        *null_means(dict),
    ]

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Self:
        problems: list[tuple[Loc, str]] = []
        if self.drawn_at > checked_at(info) + CLOCK_SKEW:
            problems.append((("drawn_at",), "is in the future"))
        if self.last_dose_at is not None and self.last_dose_at > self.drawn_at:
            problems.append((("last_dose_at",), "is after the sample was drawn"))
        _refuse(problems + self._result_problems())
        return self

    def _result_problems(self) -> list[tuple[Loc, str]]:
        """No value at all is a sample drawn and awaiting its result, 0 only a result below the
        LLOQ (docs/clinical-rules.md §1). Per-analyte results (sunitinib + SU12662) come with
        their sum, the value the target applies to."""
        total = sum(self.analytes.values(), Decimal(0))
        if self.analytes and (self.unit != NG_PER_ML or self.concentration != total):
            sum_text = format(total.normalize(), "f")
            message = f"with analytes, the concentration is their sum in ng/mL ({sum_text} ng/mL)"
            return [(("concentration",), message)]
        if self.concentration is None:
            return []
        if self.unit is None:
            return [(("unit",), "is required with a concentration")]
        if self.concentration == 0 and not self.below_lloq:
            message = (
                "0 is not a measured concentration; a result below the limit of quantification "
                "has below_lloq true"
            )
            return [(("concentration",), message)]
        return []


class AdverseEventEntry(_Entry):
    term: CtcaeTerm
    grade: whole(1, 5)
    onset: IsoDate
    resolved: IsoDate | None = None
    related: Flag
    action: Annotated[
        choice(AdverseEvent.Action.values), *null_means(lambda: AdverseEvent.Action.NONE.value)
    ]
    other_specify: optional_text(200)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Self:
        today = timezone.localdate(checked_at(info))
        term = ctcae.find_term(self.term)
        problems: list[tuple[Loc, str]] = []
        if self.grade not in ctcae.allowed_grades(term):
            grades = ", ".join(str(grade) for grade in ctcae.allowed_grades(term))
            problems.append(
                (("grade",), f"{term.term} has no grade {self.grade}; its grades are {grades}")
            )
        if self.other_specify and not term.is_other_specify:
            problems.append((("other_specify",), "free text is only for an 'Other, specify' term"))
        if self.onset > today:
            problems.append((("onset",), "is in the future"))
        if self.resolved is not None and self.resolved < self.onset:
            problems.append((("resolved",), "is before the onset"))
        elif self.resolved is not None and self.resolved > today:
            problems.append((("resolved",), "is in the future"))
        _refuse(problems)
        return self


class DecisionEntry(_Entry):
    sample_drawn_at: IsoDateTime
    decision: choice(DECISIONS)
    reason: optional_text(2000)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.decision == "rejected" and not self.reason:
            _refuse([(("reason",), "a rejection needs its reason")])
        if self.decision == "accepted" and self.reason:
            _refuse([(("reason",), "only a rejection has a reason; give null")])
        return self


class TreatmentEntry(_Entry):
    drug: text(60)
    indication: optional_text(40)
    start_date: IsoDate
    stop_date: IsoDate | None = None
    stop_reason: optional_text(200)
    overlap_reason: optional_text(200)
    doses: _entries(DoseEntry)
    samples: _optional_entries(SampleEntry)
    adverse_events: _optional_entries(AdverseEventEntry)
    decisions: _optional_entries(DecisionEntry)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        start, stop = self.start_date, self.stop_date
        problems: list[tuple[Loc, str]] = []
        if stop is not None and stop < start:
            problems.append((("stop_date",), "is before the start date"))
            # Every check against the stop date would only repeat this problem.
            stop = None
        problems += self._dose_problems(stop) + self._sample_problems(stop)
        problems += [
            (("adverse_events", position, "onset"), f"is before the treatment started ({start})")
            for position, event in enumerate(self.adverse_events)
            if event.onset < start
        ]
        if not problems:
            # A decision is matched to its sample, and that sample's dose, once both are right.
            problems = self._decision_problems()
        _refuse(problems)
        return self

    def _dose_problems(self, stop: dt.date | None) -> list[tuple[Loc, str]]:
        if not self.doses:
            return [(("doses",), "must hold at least the starting dose")]
        start = self.start_date
        problems: list[tuple[Loc, str]] = []
        # A withdrawn or entered-in-error dose is kept for the record and counts for nothing:
        # the rules of a dose history hold for the live ones.
        live = [
            (position, dose)
            for position, dose in enumerate(self.doses)
            if dose.status == DoseRegimen.Status.ACTIVE
        ]
        for position, dose in enumerate(self.doses):
            if dose.status != DoseRegimen.Status.ACTIVE:
                if not dose.status_reason:
                    problems.append(
                        (
                            ("doses", position, "status_reason"),
                            f"is needed for a {dose.status} dose",
                        )
                    )
                if dose.reason == DoseRegimen.Reason.START:
                    problems.append((("doses", position, "status"), "the start dose is live"))
                elif dose.effective_from < start:
                    problems.append(
                        (("doses", position, "from"), f"is before the start date ({start})")
                    )
        if not live or live[0][0] != 0:
            problems.append((("doses", 0, "status"), "the first dose is the live start dose"))
            return problems
        first = self.doses[0]
        if first.effective_from != start:
            problems.append(
                (("doses", 0, "from"), f"the first dose starts on the start date ({start})")
            )
        if first.reason != DoseRegimen.Reason.START:
            problems.append((("doses", 0, "reason"), "the first dose has reason start"))
        if first.daily_dose_mg <= 0:
            problems.append(
                (("doses", 0, "daily_dose_mg"), "the starting daily dose must be above 0 mg")
            )
        for (_, previous), (position, dose) in pairwise(live):
            day = dose.effective_from
            if day <= previous.effective_from:
                message = f"must be after the previous dose's date ({previous.effective_from})"
                problems.append((("doses", position, "from"), message))
            elif day < start:
                problems.append(
                    (("doses", position, "from"), f"is before the start date ({start})")
                )
            if stop is not None and day >= stop:
                problems.append(
                    (("doses", position, "from"), f"is on or after the stop date ({stop})")
                )
            interruption = dose.reason == DoseRegimen.Reason.INTERRUPTION
            if dose.reason == DoseRegimen.Reason.START:
                problems.append(
                    (("doses", position, "reason"), "only the first dose has reason start")
                )
            elif (dose.daily_dose_mg == 0) != interruption:
                message = "a dose of 0 mg/day is an interruption, and only that"
                problems.append((("doses", position, "reason"), message))
        return problems

    def _sample_problems(self, stop: dt.date | None) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        first_at: dict[dt.datetime, int] = {}
        for position, sample in enumerate(self.samples):
            loc = ("samples", position, "drawn_at")
            drawn_on = timezone.localdate(sample.drawn_at)
            if drawn_on < self.start_date:
                problems.append((loc, f"is before the treatment started ({self.start_date})"))
            elif stop is not None and drawn_on > stop:
                problems.append((loc, f"is after the treatment stopped ({stop})"))
            if sample.drawn_at in first_at:
                message = (
                    f"samples[{first_at[sample.drawn_at]}] was drawn at the same moment; "
                    "decisions find their sample by this time"
                )
                problems.append((loc, message))
            first_at.setdefault(sample.drawn_at, position)
        return problems

    def _decision_problems(self) -> list[tuple[Loc, str]]:
        """A decision needs the advice of its sample: a result, and a dose taken on that day;
        and a sample has one decision at most."""
        by_time = {sample.drawn_at: sample for sample in self.samples}
        problems: list[tuple[Loc, str]] = []
        decided: dict[dt.datetime, int] = {}
        for position, decision in enumerate(self.decisions):
            loc = ("decisions", position, "sample_drawn_at")
            problem = self._undecidable(by_time.get(decision.sample_drawn_at))
            if problem:
                problems.append((loc, problem))
            if decision.sample_drawn_at in decided:
                message = (
                    f"decisions[{decided[decision.sample_drawn_at]}] already decides on that sample"
                )
                problems.append((loc, message))
            decided.setdefault(decision.sample_drawn_at, position)
        return problems

    def _undecidable(self, sample: SampleEntry | None) -> str | None:
        """Why a decision on this sample has no advice to decide on, if it has none."""
        if sample is None:
            return "no sample of this treatment was drawn then"
        if sample.concentration is None and not sample.below_lloq:
            return "that sample has no result, so no advice to decide on"
        drawn_on = timezone.localdate(sample.drawn_at)
        taken = [dose for dose in self.doses if dose.effective_from <= drawn_on]
        if taken and taken[-1].daily_dose_mg == 0:
            return (
                "that sample was drawn during an interruption, so there is no advice to decide on"
            )
        return None


def _normalised_record_number(value: str | None) -> str | None:
    return None if value is None else normalised_identifier(value)


class PatientEntry(_Entry):
    study_number: Annotated[coded(study_number_validator), AfterValidator(normalised_identifier)]
    site: text(20)
    sex: choice(Patient.Sex.values)
    birth_year: BirthYear
    tumour: text(200)
    tumour_code: optional_text(20)
    name: optional_text(200)
    record_number: Annotated[optional_text(40), AfterValidator(_normalised_record_number)]
    treatments: _entries(TreatmentEntry)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _refuse(
            [
                (("treatments", position, "start_date"), "is before the patient's birth year")
                for position, treatment in enumerate(self.treatments)
                if treatment.start_date.year < self.birth_year
            ]
        )
        return self


class CohortDocument(_Entry):
    format: choice((FORMAT,))
    exported_at: IsoDateTime | None = None
    sites: _entries(SiteEntry)
    patients: _entries(PatientEntry)


# Reading a document ------------------------------------------------------------------------------

# The entries each list of the document holds, to name the keys an unknown one could have been.
_ENTRY_OF_LIST: Mapping[str, type[_Entry]] = {
    "sites": SiteEntry,
    "patients": PatientEntry,
    "treatments": TreatmentEntry,
    "doses": DoseEntry,
    "samples": SampleEntry,
    "adverse_events": AdverseEventEntry,
    "decisions": DecisionEntry,
}
# Pydantic's errors about the document's structure, in the format's wording; the values' own
# errors are worded where their types are declared (`study.cohort.values`).
_WORDING = {"missing": "is required", "model_type": "must be a JSON object"}


def json_path(loc: Loc) -> str:
    """Pydantic's `loc` as the JSON path of the error messages: `patients[0].site`."""
    parts: list[str] = []
    for key in loc:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        else:
            parts.append(f".{key}" if parts else key)
    return "".join(parts) or "document"


def _message(problem: ErrorDetails) -> str:
    if problem["type"] == "extra_forbidden":
        entry: type[_Entry] = CohortDocument
        for key in problem["loc"][:-1]:
            if isinstance(key, str):
                entry = _ENTRY_OF_LIST[key]
        keys = [field.alias or name for name, field in entry.model_fields.items()]
        return f"unknown field; expected one of {', '.join(keys)}"
    return _WORDING.get(problem["type"], problem["msg"])


@dataclass(frozen=True)
class PatientReading:
    """One patient of the file: its entry when it is well-formed, else its problems."""

    index: int
    entry: PatientEntry | None
    errors: tuple[CohortError, ...]


@dataclass(frozen=True)
class CohortReading:
    """A cohort document as far as it is well-formed."""

    errors: tuple[CohortError, ...]  # those outside the patients: the document's keys, sites
    sites: tuple[tuple[int, SiteEntry], ...]  # (position, entry) of the well-formed sites
    patients: tuple[PatientReading, ...]


def read_cohort(document: object, *, now: dt.datetime) -> CohortReading:
    """Check a cohort document (parsed JSON) against its shape and rules at the moment `now`."""
    context = {"now": now}
    try:
        cohort = CohortDocument.model_validate(document, context=context)
    except ValidationError as invalid:
        problems = invalid.errors()
    else:
        return CohortReading(
            errors=(),
            sites=tuple(enumerate(cohort.sites)),
            patients=tuple(PatientReading(i, p, ()) for i, p in enumerate(cohort.patients)),
        )
    errors: list[CohortError] = []
    errors_of_patient: dict[int, list[CohortError]] = defaultdict(list)
    bad_entries: set[Loc] = set()
    for problem in problems:
        loc = problem["loc"]
        error = CohortError(json_path(loc), _message(problem))
        if len(loc) > 1:  # inside an entry of `sites` or `patients`
            bad_entries.add(loc[:2])
        if loc[:1] == ("patients",) and len(loc) > 1:
            errors_of_patient[loc[1]].append(error)
        else:
            errors.append(error)
    # The well-formed entries of an invalid document, read again one by one.
    raw = document if isinstance(document, dict) else {}
    raw_sites = raw.get("sites") if isinstance(raw.get("sites"), list) else []
    raw_patients = raw.get("patients") if isinstance(raw.get("patients"), list) else []
    return CohortReading(
        errors=tuple(errors),
        sites=tuple(
            (index, SiteEntry.model_validate(site, context=context))
            for index, site in enumerate(raw_sites)
            if ("sites", index) not in bad_entries
        ),
        patients=tuple(
            PatientReading(index, None, tuple(errors_of_patient[index]))
            if ("patients", index) in bad_entries
            else PatientReading(index, PatientEntry.model_validate(patient, context=context), ())
            for index, patient in enumerate(raw_patients)
        ),
    )
