"""The `advise` case as JSON (docs/clinical-rules.md §11): parsing it into engine inputs and the
advice back out.

`parse_case` checks every field and raises `InputError` naming the first bad one by its dotted
JSON path (`sample.unit`, `adverse_events[0].grade`); unknown keys are errors too, so a typo
such as `below_LLOQ` cannot silently change the advice. `advice_to_json` gives the documented
output with JSON numbers only. `advise_json` does both around `advice.engine.rules.advise`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cache

from advice.engine.case import AdverseEventInput, AdviceCase, AdviceResult, Regimen
from advice.engine.catalogue import DrugFacts, read_catalogue
from advice.engine.codes import PHASES
from advice.engine.ctcae import allowed_grades, find_term
from advice.engine.errors import InputError
from advice.engine.pk import SampleInput, local_date
from advice.engine.rules import advise
from advice.engine.toxicity import ToxicityAdvice
from advice.engine.units import parse_number, sample_concentration_ng_ml

DrugFinder = Callable[[str], Sequence[DrugFacts]]

AE_ACTIONS = ("none", "interrupted", "reduced", "discontinued")

_CASE_KEYS = {
    "drug": True,
    "indication": False,
    "phase": True,
    "regimen": True,
    "treatment_start": True,
    "last_dose_change": False,
    "sample": True,
    "adverse_events": False,
}
_REGIMEN_KEYS = {"daily_dose_mg": True, "administrations_per_day": True}
# A kilogram a day is beyond any drug (the catalogue's largest daily dose is under 2 g): a
# larger number is not a dose, and one of 4e28 mg or more would overflow the dose split.
MAX_PLAUSIBLE_DAILY_DOSE_MG = Decimal(1_000_000)
_SAMPLE_KEYS = {
    "drawn_at": True,
    "last_dose_at": False,
    "concentration": False,
    "unit": False,
    "below_lloq": False,
}
_AE_KEYS = {
    "term": True,
    "grade": True,
    "onset": True,
    "resolved": False,
    "related": True,
    "action": False,
}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def catalogue_finder(rows: Iterable[DrugFacts]) -> DrugFinder:
    """A `find_drug` over the given catalogue rows (name matched ignoring case)."""
    by_name: dict[str, list[DrugFacts]] = {}
    for row in rows:
        by_name.setdefault(row.drug, []).append(row)
    return lambda name: tuple(by_name.get(name.strip().lower(), ()))


@cache
def shipped_catalogue_finder() -> DrugFinder:
    """A `find_drug` over the drugs.csv shipped with the product."""
    return catalogue_finder(read_catalogue())


def _object(value: object, field: str, keys: Mapping[str, bool]) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise InputError(field or "case", "must be a JSON object")
    prefix = f"{field}." if field else ""
    for key in value:
        if key not in keys:
            raise InputError(f"{prefix}{key}", f"unknown field; expected one of {', '.join(keys)}")
    for key, required in keys.items():
        if required and key not in value:
            raise InputError(f"{prefix}{key}", "is required")
    return value


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(field, "must be a non-empty string")
    return value.strip()


def _boolean(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise InputError(field, f"must be true or false, not {value!r}")
    return value


def _integer(value: object, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InputError(field, f"must be a whole number from {low} to {high}, not {value!r}")
    return value


def parse_date(value: object, field: str) -> date:
    """A `YYYY-MM-DD` string as a date."""
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        raise InputError(field, f"must be a date as YYYY-MM-DD, not {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(field, f"{value!r} is not a valid date") from None


def parse_datetime(value: object, field: str) -> datetime:
    """An ISO-8601 date and time with a UTC offset (`Z` allowed) as an aware datetime."""
    example = "e.g. 2024-03-01T09:10:00+01:00"
    if not isinstance(value, str) or not _DATE.match(value) or len(value) <= 10:
        raise InputError(field, f"must be an ISO-8601 date and time ({example}), not {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            field, f"must be an ISO-8601 date and time ({example}), not {value!r}"
        ) from None
    if moment.utcoffset() is None:
        raise InputError(field, f"needs a time zone offset ({example}), got {value!r}")
    return moment


def _optional_date(value: object, field: str) -> date | None:
    return None if value is None else parse_date(value, field)


def _select_drug(payload: Mapping[str, object], find_drug: DrugFinder) -> DrugFacts:
    name = _text(payload["drug"], "drug")
    rows = list(find_drug(name))
    if not rows:
        raise InputError("drug", f"unknown drug {name!r}")
    indication = payload.get("indication")
    if indication is not None and not isinstance(indication, str):
        raise InputError("indication", f"must be a string or null, not {indication!r}")
    variants = sorted(row.indication for row in rows if row.indication is not None)
    if len(rows) == 1 and rows[0].indication is None:
        if indication is not None and indication.strip():
            raise InputError("indication", f"{rows[0].drug} has no indication variants; give null")
        return rows[0]
    wanted = (indication or "").strip().lower()
    for row in rows:
        if row.indication is not None and row.indication.lower() == wanted:
            return row
    requirement = "is required" if not wanted else f"{indication!r} is not valid"
    raise InputError(
        "indication", f"{requirement} for {rows[0].drug}; use one of {', '.join(variants)}"
    )


def _parse_regimen(value: object) -> Regimen:
    raw = _object(value, "regimen", _REGIMEN_KEYS)
    daily = parse_number(raw["daily_dose_mg"], field="regimen.daily_dose_mg")
    if daily <= 0:
        raise InputError("regimen.daily_dose_mg", f"must be positive, not {daily}")
    if daily > MAX_PLAUSIBLE_DAILY_DOSE_MG:
        raise InputError(
            "regimen.daily_dose_mg",
            f"must be at most {MAX_PLAUSIBLE_DAILY_DOSE_MG} mg/day, not {daily}",
        )
    administrations = _integer(
        raw["administrations_per_day"], "regimen.administrations_per_day", 1, 4
    )
    return Regimen(daily_dose_mg=daily, administrations_per_day=administrations)


def _parse_sample(value: object, drug: DrugFacts) -> SampleInput:
    raw = _object(value, "sample", _SAMPLE_KEYS)
    drawn_at = parse_datetime(raw["drawn_at"], "sample.drawn_at")
    last_dose_raw = raw.get("last_dose_at")
    last_dose_at = (
        None if last_dose_raw is None else parse_datetime(last_dose_raw, "sample.last_dose_at")
    )
    below_lloq = _boolean(raw.get("below_lloq", False), "sample.below_lloq")
    if raw.get("concentration") is not None and raw.get("unit") is None:
        raise InputError("sample.unit", "is required with a concentration")
    concentration = sample_concentration_ng_ml(
        raw.get("concentration"),
        raw.get("unit"),
        below_lloq=below_lloq,
        molar_mass_g_mol=drug.molar_mass_g_mol,
    )
    return SampleInput(
        drawn_at=drawn_at,
        last_dose_at=last_dose_at,
        concentration_ng_ml=concentration,
        below_lloq=below_lloq,
    )


def parse_adverse_event(value: object, field: str) -> AdverseEventInput:
    """One adverse event object; the term must be CTCAE v5.0 and the grade one it defines."""
    raw = _object(value, field, _AE_KEYS)
    name = _text(raw["term"], f"{field}.term")
    term = find_term(name)
    if term is None:
        raise InputError(f"{field}.term", f"{name!r} is not a CTCAE v5.0 term")
    grade = _integer(raw["grade"], f"{field}.grade", 1, 5)
    grades = allowed_grades(term)
    if grade not in grades:
        raise InputError(
            f"{field}.grade",
            f"{term.term} has no grade {grade}; its grades are {', '.join(str(g) for g in grades)}",
        )
    onset = parse_date(raw["onset"], f"{field}.onset")
    resolved = _optional_date(raw.get("resolved"), f"{field}.resolved")
    if resolved is not None and resolved < onset:
        raise InputError(f"{field}.resolved", "is before the onset")
    action = raw.get("action")
    if action is not None and action not in AE_ACTIONS:
        raise InputError(f"{field}.action", f"must be one of {', '.join(AE_ACTIONS)}")
    return AdverseEventInput(
        term=term.term,
        grade=grade,
        onset=onset,
        resolved=resolved,
        related=_boolean(raw["related"], f"{field}.related"),
    )


def parse_case(payload: object, find_drug: DrugFinder) -> AdviceCase:
    """The `advise` input (docs/clinical-rules.md §11) as an `AdviceCase`; InputError names the
    first bad field."""
    raw = _object(payload, "", _CASE_KEYS)
    drug = _select_drug(raw, find_drug)
    phase = raw["phase"]
    if phase not in PHASES:
        raise InputError("phase", f"must be one of {', '.join(PHASES)}, not {phase!r}")
    regimen = _parse_regimen(raw["regimen"])
    treatment_start = parse_date(raw["treatment_start"], "treatment_start")
    last_dose_change = _optional_date(raw.get("last_dose_change"), "last_dose_change")
    sample = _parse_sample(raw["sample"], drug)
    draw_date = local_date(sample.drawn_at)
    if draw_date < treatment_start:
        raise InputError("sample.drawn_at", "is before the treatment start")
    if last_dose_change is not None:
        if last_dose_change < treatment_start:
            raise InputError("last_dose_change", "is before the treatment start")
        if last_dose_change > draw_date:
            raise InputError(
                "last_dose_change", "is after the sample was drawn; give the regimen in force"
            )
    events_raw = raw.get("adverse_events")
    if events_raw is None:
        events_raw = []
    if not isinstance(events_raw, list):
        raise InputError("adverse_events", "must be a list")
    events = tuple(
        parse_adverse_event(event, f"adverse_events[{index}]")
        for index, event in enumerate(events_raw)
    )
    return AdviceCase(
        drug=drug,
        phase=phase,
        regimen=regimen,
        treatment_start=treatment_start,
        last_dose_change=last_dose_change,
        sample=sample,
        adverse_events=events,
    )


def json_number(value: Decimal | None) -> int | float | None:
    """A Decimal as a JSON number: an int when it is whole, else a float; None stays None."""
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def advice_to_json(result: AdviceResult) -> dict[str, object]:
    """The `advise` output object of docs/clinical-rules.md §11."""
    return {
        "drug": result.drug,
        "indication": result.indication,
        "evaluable": result.evaluable,
        "reasons": list(result.reasons),
        "hours_after_dose": json_number(result.hours_after_dose),
        "ctrough_ng_ml": json_number(result.ctrough_ng_ml),
        "method": result.method,
        "target_ng_ml": json_number(result.target_ng_ml),
        "upper_threshold_ng_ml": json_number(result.upper_threshold_ng_ml),
        "action": result.action,
        "current_daily_dose_mg": json_number(result.current_daily_dose_mg),
        "current_administrations_per_day": result.current_administrations_per_day,
        "proposed_daily_dose_mg": json_number(result.proposed_daily_dose_mg),
        "proposed_administrations_per_day": result.proposed_administrations_per_day,
        "proposed_split_mg": [json_number(part) for part in result.proposed_split_mg],
        "predicted_ctrough_ng_ml": json_number(result.predicted_ctrough_ng_ml),
        "warnings": list(result.warnings),
        "checks": list(result.checks),
        "provisional": result.provisional,
        "worst_active_grade": result.worst_active_grade,
        "text": result.text,
    }


def toxicity_advice_to_json(advice: ToxicityAdvice) -> dict[str, object]:
    """A `ToxicityAdvice` as a JSON object with JSON numbers only."""
    return {
        "action": advice.action,
        "term": advice.term,
        "grade": advice.grade,
        "occurrence": advice.occurrence,
        "current_daily_dose_mg": json_number(advice.current_daily_dose_mg),
        "resume_daily_dose_mg": json_number(advice.resume_daily_dose_mg),
        "resume_administrations_per_day": advice.resume_administrations_per_day,
        "resume_split_mg": [json_number(part) for part in advice.resume_split_mg],
        "warnings": list(advice.warnings),
        "measure_ctrough": advice.measure_ctrough,
        "text": advice.text,
    }


def advise_json(payload: object, find_drug: DrugFinder) -> dict[str, object]:
    """Parse an `advise` case, advise on it and return the output object
    (docs/clinical-rules.md §11)."""
    return advice_to_json(advise(parse_case(payload, find_drug)))
