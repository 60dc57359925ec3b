"""The inputs of an advice, frozen from the records, and the engine run on them.

An advice stores everything the engine used (the catalogue row included), so it can be
reproduced later exactly as it was computed (docs/workflow.md).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal

from django.utils import timezone

from advice.engine.case import AdviceCase, AdviceResult, Regimen
from advice.engine.case_input import parse_case
from advice.engine.catalogue import parse_drug_row
from advice.engine.rules import advise, advise_edited
from advice.engine.toxicity import ToxicityAdvice, toxicity_advice
from cases.models import AdverseEvent, Sample
from cases.regimens import last_change_on, phase_on


def _iso(moment: datetime.datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment is not None else None


def _decimal_text(value: Decimal | None) -> str | None:
    return format(Decimal(value).normalize(), "f") if value is not None else None


def sample_advice_inputs(
    sample: Sample, *, adverse_events: Sequence[AdverseEvent] | None = None
) -> dict[str, object]:
    """Everything the engine uses for a sample's advice, frozen as the `advise` case
    (docs/clinical-rules.md §11) plus the catalogue row it was judged against, so the advice can
    be reproduced later. `adverse_events`: the treatment's live events in (onset, pk) order, when
    the caller has them (a cohort written set-based); read from the database otherwise."""
    treatment = sample.treatment
    drug = treatment.drug
    draw_day = timezone.localdate(sample.drawn_at)
    history = treatment.dose_history()
    events = (
        adverse_events
        if adverse_events is not None
        else treatment.adverse_events.filter(entered_in_error=False).order_by("onset", "pk")
    )
    return {
        "drug": drug.name,
        "indication": drug.indication or None,
        "phase": phase_on(draw_day, history, drug.standard_daily_dose_mg),
        "regimen": {
            "daily_dose_mg": _decimal_text(sample.daily_dose_mg),
            "administrations_per_day": sample.administrations_per_day,
        },
        "treatment_start": treatment.start_date.isoformat(),
        "last_dose_change": _date_text(last_change_on(draw_day, history)),
        "sample": {
            "drawn_at": _iso(sample.drawn_at),
            "last_dose_at": _iso(sample.last_dose_at),
            "concentration": _decimal_text(sample.concentration),
            "unit": sample.unit if sample.concentration is not None else None,
            "below_lloq": sample.below_lloq,
        },
        "adverse_events": [
            {
                "term": event.term,
                "grade": event.grade,
                "onset": event.onset.isoformat(),
                "resolved": _date_text(event.resolved),
                "related": event.related,
            }
            for event in events
        ],
        "catalogue": {"version": drug.version, "row": drug.as_row()},
    }


def _date_text(day: datetime.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _engine_case(inputs: dict[str, object]) -> AdviceCase:
    """The engine's case from frozen inputs, with the catalogue row frozen with them."""
    facts = parse_drug_row(inputs["catalogue"]["row"])
    case = {key: value for key, value in inputs.items() if key != "catalogue"}
    regimen = case["regimen"]
    case["regimen"] = {**regimen, "daily_dose_mg": Decimal(regimen["daily_dose_mg"])}
    sample = case["sample"]
    if sample["concentration"] is not None:
        case["sample"] = {**sample, "concentration": Decimal(sample["concentration"])}
    return parse_case(case, lambda name: [facts] if name == facts.drug else [])


def advise_on_inputs(inputs: dict[str, object]) -> AdviceResult:
    """Run the engine on frozen inputs, judged against the catalogue row frozen with them."""
    return advise(_engine_case(inputs))


def advise_edited_on_inputs(
    inputs: dict[str, object], *, daily_dose_mg: Decimal, administrations_per_day: int
) -> AdviceResult:
    """The advice on frozen inputs with the pharmacist's regimen as its proposal
    (docs/workflow.md §2); `InputError` naming the field when the engine cannot justify it."""
    return advise_edited(
        _engine_case(inputs),
        Regimen(daily_dose_mg=daily_dose_mg, administrations_per_day=administrations_per_day),
    )


def adverse_event_advice_inputs(event: AdverseEvent) -> dict[str, object] | None:
    """The frozen inputs of the toxicity advice on an AE (docs/clinical-rules.md §6), or None
    when the patient takes no drug on the onset date (interrupted): there is no dose to modify."""
    treatment = event.treatment
    regimen = treatment.regimen_on(event.onset)
    if regimen is None or regimen.daily_dose_mg <= 0:
        return None
    return {
        "term": event.term,
        "grade": event.grade,
        "occurrence": event.occurrence,
        "related": event.related,
        "onset": event.onset.isoformat(),
        "regimen": {
            "daily_dose_mg": _decimal_text(regimen.daily_dose_mg),
            "administrations_per_day": regimen.administrations_per_day,
        },
        "catalogue": {"version": treatment.drug.version, "row": treatment.drug.as_row()},
    }


def toxicity_on_inputs(inputs: dict[str, object]) -> ToxicityAdvice:
    regimen = inputs["regimen"]
    return toxicity_advice(
        term=inputs["term"],
        grade=inputs["grade"],
        occurrence=inputs["occurrence"],
        related=inputs["related"],
        regimen=Regimen(
            daily_dose_mg=Decimal(regimen["daily_dose_mg"]),
            administrations_per_day=regimen["administrations_per_day"],
        ),
        drug=parse_drug_row(inputs["catalogue"]["row"]),
    )
