"""Where records meet the clinical engine: model instances in, engine values out.

The engine (`advice/`) knows nothing of the ORM; this module turns records into its inputs and
stores its outputs on the records, so no view, task or command re-implements a rule.
"""

from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from advice.engine import dosing, pk, units
from advice.engine.case import AdviceResult, Regimen
from advice.engine.case_input import parse_case
from advice.engine.catalogue import parse_drug_row
from advice.engine.dosing import DoseSplit
from advice.engine.rules import advise
from advice.engine.toxicity import ToxicityAdvice, toxicity_advice
from cases import schedule
from cases.models import AdverseEvent, Drug, Sample, Treatment
from cases.regimens import last_change_on, phase_on

# Concentrations are stored to 4 decimals of ng/mL (the Sample columns).
NG_ML_STORED = Decimal("0.0001")


def split_daily_dose(drug: Drug, daily_dose_mg: Decimal, administrations_per_day: int) -> DoseSplit:
    """The per-administration split of a prescribed dose (an interruption has no parts)."""
    if daily_dose_mg <= 0:
        return DoseSplit(
            daily_dose_mg=Decimal(0),
            administrations_per_day=administrations_per_day,
            parts_mg=(),
            warnings=(),
        )
    return dosing.split_daily_dose(daily_dose_mg, administrations_per_day, drug.facts())


def compute_sample(sample: Sample) -> None:
    """Fill the sample's computed fields (unit, hours after dose, Ctrough) by
    docs/clinical-rules.md §1–§2."""
    treatment = sample.treatment
    facts = treatment.drug.facts()
    if sample.concentration is None:
        sample.concentration_ng_ml = None
    else:
        # Stored to 4 decimals (0.1 pg/mL), far below any assay's precision; an nmol/L result
        # converts to more digits than that.
        sample.concentration_ng_ml = units.to_ng_ml(
            Decimal(sample.concentration), sample.unit, facts.molar_mass_g_mol
        ).quantize(NG_ML_STORED, rounding=ROUND_HALF_UP)
    computed = (
        sample.status == Sample.Status.RESULTED
        and sample.administrations_per_day is not None
        and sample.daily_dose_mg
    )
    if not computed:
        sample.hours_after_dose = None
        sample.estimated_ctrough_ng_ml = None
        sample.method = ""
        sample.evaluable = None
        sample.not_evaluable_reasons = []
        sample.warnings = []
        return
    draw_day = timezone.localdate(sample.drawn_at)
    estimate = pk.estimate_ctrough(
        pk.SampleInput(
            drawn_at=timezone.localtime(sample.drawn_at),
            last_dose_at=timezone.localtime(sample.last_dose_at) if sample.last_dose_at else None,
            concentration_ng_ml=sample.concentration_ng_ml,
            below_lloq=sample.below_lloq,
        ),
        drug=facts,
        administrations_per_day=sample.administrations_per_day,
        treatment_start=treatment.start_date,
        last_dose_change=last_change_on(draw_day, treatment.dose_history()),
    )
    sample.hours_after_dose = estimate.hours_after_dose
    sample.estimated_ctrough_ng_ml = estimate.ctrough_ng_ml
    sample.method = estimate.method or ""
    sample.evaluable = estimate.evaluable
    sample.not_evaluable_reasons = list(estimate.reasons)
    sample.warnings = list(estimate.warnings)


SCHEDULE_HORIZON_DAYS = 365


def due_dates(treatment: Treatment, *, until: datetime.date) -> tuple[schedule.DueDate, ...]:
    """The treatment's sampling due dates (docs/sampling-schedule.md) up to `until`, from its
    dose history (uses prefetched regimens, so a page or task over many treatments asks nothing
    per treatment)."""
    return schedule.compute_due_dates(
        schedule.request_from_doses(
            [(step.effective_from, step.daily_dose_mg) for step in treatment.dose_history()],
            stop=treatment.stop_date,
            until=max(until, treatment.start_date),
        )
    )


def treatment_schedule(
    treatment: Treatment, *, until: datetime.date | None = None
) -> list[dict[str, object]]:
    """The treatment's due dates (docs/sampling-schedule.md) up to `until` (default a year
    ahead), each with the id of the sample that fulfils it, if any."""
    until = until or timezone.localdate() + datetime.timedelta(days=SCHEDULE_HORIZON_DAYS)
    due = due_dates(treatment, until=until)
    drawn = treatment.samples.filter(
        status__in=[Sample.Status.DRAWN, Sample.Status.RESULTED]
    ).order_by("drawn_at", "pk")
    fulfilled_by = schedule.match_samples(
        due, [(sample.pk, timezone.localdate(sample.drawn_at)) for sample in drawn]
    )
    return [
        {"date": entry.date, "kind": entry.kind, "fulfilled_by": fulfilled_by.get(entry.date)}
        for entry in due
    ]


def _iso(moment: datetime.datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment is not None else None


def _decimal_text(value: Decimal | None) -> str | None:
    return format(Decimal(value).normalize(), "f") if value is not None else None


def sample_advice_inputs(sample: Sample) -> dict[str, object]:
    """Everything the engine uses for a sample's advice, frozen as the `advise` case
    (docs/clinical-rules.md §11) plus the catalogue row it was judged against, so the advice can
    be reproduced later."""
    treatment = sample.treatment
    drug = treatment.drug
    draw_day = timezone.localdate(sample.drawn_at)
    history = treatment.dose_history()
    events = treatment.adverse_events.filter(entered_in_error=False).order_by("onset", "pk")
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


def advise_on_inputs(inputs: dict[str, object]) -> AdviceResult:
    """Run the engine on frozen inputs, judged against the catalogue row frozen with them."""
    facts = parse_drug_row(inputs["catalogue"]["row"])
    case = {key: value for key, value in inputs.items() if key != "catalogue"}
    regimen = case["regimen"]
    case["regimen"] = {**regimen, "daily_dose_mg": Decimal(regimen["daily_dose_mg"])}
    sample = case["sample"]
    if sample["concentration"] is not None:
        case["sample"] = {**sample, "concentration": Decimal(sample["concentration"])}
    return advise(parse_case(case, lambda name: [facts] if name == facts.drug else []))


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
