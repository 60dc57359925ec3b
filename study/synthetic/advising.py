"""The advice on a result, as the services store it (docs/synthetic-cohort.md §5): the engine's
case and output, the advice row, and the inputs frozen the way `advice.inputs` freezes them."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from advice.engine.case import AdverseEventInput, AdviceCase, AdviceResult, Regimen
from advice.engine.case_input import advice_to_json, json_number
from advice.engine.catalogue import DrugFacts
from advice.engine.rules import advise
from advice.engine.units import NG_PER_ML
from advice.models import Advice
from cases.regimens import DoseStep, last_change_on, phase_on

from . import measurement
from .writer import Row


@dataclass
class KnownEvent:
    """An adverse event as the course knows it: the row, and when it resolves in truth
    (possibly after the cutoff, when the row shows it unresolved)."""

    row: Row
    resolves_on: datetime.date | None
    resolution_recorded_at: datetime.datetime | None

    def resolved_by(self, moment: datetime.datetime) -> datetime.date | None:
        """The resolution date as the record showed it at `moment`."""
        recorded = self.resolution_recorded_at
        return self.row.resolved if recorded is not None and recorded <= moment else None


@dataclass
class OpenAdvice:
    """A sample advice and the moments its workflow steps happen (None: never)."""

    row: Row
    sample: Row
    result: AdviceResult
    released_at: datetime.datetime | None
    decided_at: datetime.datetime | None
    superseded_at: datetime.datetime | None = None
    decided: bool = False


def sample_advice(
    advice_id: int,
    treatment: Row,
    facts: DrugFacts,
    history: list[DoseStep],
    sample: Row,
    events: list[KnownEvent],
    moment: datetime.datetime,
) -> tuple[Row, AdviceResult]:
    """The engine's advice on a resulted sample computed at `moment`, as an advice row in state
    draft: what `advice.services` stores for it, from the adverse events logged by then."""
    draw_day = sample.drawn_at.date()
    known = sorted(
        (event for event in events if event.row.created_at <= moment),
        key=lambda event: (event.row.onset, event.row.id),
    )
    case = AdviceCase(
        drug=facts,
        phase=phase_on(draw_day, history, facts.standard_daily_dose_mg),
        regimen=Regimen(sample.daily_dose_mg, sample.administrations_per_day),
        treatment_start=treatment.start_date,
        last_dose_change=last_change_on(draw_day, history),
        sample=measurement.sample_input(sample),
        adverse_events=tuple(
            AdverseEventInput(
                term=event.row.term,
                grade=event.row.grade,
                onset=event.row.onset,
                resolved=event.resolved_by(moment),
                related=event.row.related,
            )
            for event in known
        ),
    )
    result = advise(case)
    row = Row(
        id=advice_id,
        treatment_id=treatment.id,
        kind=Advice.Kind.SAMPLE,
        sample_id=sample.id,
        state=Advice.State.DRAFT,
        inputs=case_inputs(case, sample),
        computed=advice_to_json(result),
        action=result.action,
        evaluable=result.evaluable,
        reasons=list(result.reasons),
        ctrough_ng_ml=result.ctrough_ng_ml,
        target_ng_ml=result.target_ng_ml,
        current_daily_dose_mg=result.current_daily_dose_mg,
        proposed_daily_dose_mg=result.proposed_daily_dose_mg,
        proposed_administrations_per_day=result.proposed_administrations_per_day,
        proposed_split_mg=[json_number(part) for part in result.proposed_split_mg],
        predicted_ctrough_ng_ml=result.predicted_ctrough_ng_ml,
        warnings=list(result.warnings),
        checks=list(result.checks),
        text=result.text,
        provisional=result.provisional,
        created_at=moment,
        updated_at=moment,
    )
    return row, result


def _decimal_text(value: Decimal | None) -> str | None:
    return format(Decimal(value).normalize(), "f") if value is not None else None


def _iso(moment: datetime.datetime | None) -> str | None:
    """As `advice.inputs` writes a moment (the rows' moments are in the local zone already)."""
    return moment.isoformat() if moment is not None else None


def case_inputs(case: AdviceCase, sample: Row) -> dict[str, object]:
    """The frozen inputs as `advice.inputs.sample_advice_inputs` freezes them, without the
    catalogue row (the course adds it to advice still open)."""
    return {
        "drug": case.drug.drug,
        "indication": case.drug.indication or None,
        "phase": case.phase,
        "regimen": {
            "daily_dose_mg": _decimal_text(case.regimen.daily_dose_mg),
            "administrations_per_day": case.regimen.administrations_per_day,
        },
        "treatment_start": case.treatment_start.isoformat(),
        "last_dose_change": case.last_dose_change.isoformat() if case.last_dose_change else None,
        "sample": {
            "drawn_at": _iso(sample.drawn_at),
            "last_dose_at": _iso(sample.last_dose_at),
            "concentration": _decimal_text(sample.concentration),
            "unit": NG_PER_ML if sample.concentration is not None else None,
            "below_lloq": sample.below_lloq,
        },
        "adverse_events": [
            {
                "term": event.term,
                "grade": event.grade,
                "onset": event.onset.isoformat(),
                "resolved": event.resolved.isoformat() if event.resolved else None,
                "related": event.related,
            }
            for event in case.adverse_events
        ],
    }
