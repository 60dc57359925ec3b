"""What an advice report shows, as plain values, and the template context built from them.

`ReportData` is a frozen snapshot of one advice, its treatment and (once signed) its signature;
whoever renders a report fills it from the database. `report_context` turns it into
ready-to-print strings, so the template only lays them out and the wording can be tested
without rendering a PDF.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from advice.engine.case import AdverseEventInput
from advice.engine.text import CODE_DESCRIPTIONS, decision_effect
from reports.plot import ctrough_plot_svg, format_concentration


@dataclass(frozen=True)
class PlotPoint:
    """One sample of the treatment as plotted; `is_current` marks the sample advised on."""

    drawn_at: datetime
    ctrough_ng_ml: Decimal | None
    measured_ng_ml: Decimal | None
    daily_dose_mg: Decimal | None
    evaluable: bool
    is_current: bool


@dataclass(frozen=True)
class DosePeriod:
    """One step of the dose history: the daily dose from `effective_from` on."""

    effective_from: date
    daily_dose_mg: Decimal


@dataclass(frozen=True)
class Signature:
    """The physician's electronic signature; `meaning` is "accepted" or "rejected".

    `effective_date` is when an accepted advice changed the prescription (None: no dose
    change); `states_prescription` says whether the signature states that change at all (an
    acceptance signed here does; a rejection or an imported decision does not).
    """

    printed_name: str
    signed_at: datetime
    time_zone: str
    meaning: str
    reason: str
    checks_confirmed: tuple[str, ...]
    effective_date: date | None
    action: str
    states_prescription: bool


@dataclass(frozen=True)
class ReportData:
    """Everything one advice report prints. Patient name and record number are None in the
    pseudonymised copy; concentrations are in ng/mL unless a field names another unit."""

    site_name: str
    site_code: str
    study_number: str
    patient_name: str | None
    record_number: str | None
    birth_year: int
    sex: str
    tumour: str
    drug_label: str
    analyte: str
    unit: str
    target_ng_ml: Decimal | None
    upper_threshold_ng_ml: Decimal | None
    mean_exposure: Decimal | None
    metric: str
    evidence_level: str
    target_basis: str
    current_daily_dose_mg: Decimal
    current_administrations_per_day: int
    current_split_mg: tuple[Decimal, ...]
    drawn_at: datetime | None
    last_dose_at: datetime | None
    hours_after_dose: Decimal | None
    measured_value: Decimal | None
    measured_unit: str
    below_lloq: bool
    ctrough_ng_ml: Decimal | None
    method: str | None
    evaluable: bool | None
    reasons: tuple[str, ...]
    action: str
    proposed_daily_dose_mg: Decimal
    proposed_administrations_per_day: int
    proposed_split_mg: tuple[Decimal, ...]
    predicted_ctrough_ng_ml: Decimal | None
    warnings: tuple[str, ...]
    checks: tuple[str, ...]
    text: str
    provisional: bool
    computed_text: str | None
    kind: str
    state: str
    advice_id: int
    generated_at: datetime
    time_zone: str
    released_by: str | None
    released_at: datetime | None
    points: tuple[PlotPoint, ...]
    doses: tuple[DosePeriod, ...]
    adverse_events: tuple[AdverseEventInput, ...]
    signature: Signature | None


ACTION_LABELS: dict[str, str] = {
    # Sample advice, docs/clinical-rules.md §3.
    "resample": "Take a new sample",
    "no_target": "No dose advice (drug monitored by AUC)",
    "reduce": "Reduce dose",
    "stop_step_up": "Stop the step-up; keep the dose",
    "continue": "Continue the current dose",
    "no_escalation_toxicity": "Do not increase (toxicity)",
    "max_dose_reached": "Maximum dose reached; keep the dose",
    "continue_step_up": "Continue the step-up: increase dose",
    "increase": "Increase dose",
    # Adverse-event advice, docs/clinical-rules.md §6 (Bolondi et al., Future Oncol 2015, table 5).
    "reassess": "Continue; re-assess in 7 days",
    "interrupt_then_reduce": "Interrupt until grade ≤ 1, resume one level lower",
    "discontinue": "Discontinue treatment",
    "interrupt": "Interrupt; physician decides on discontinuation",
}

STATE_LABELS: dict[str, str] = {
    "draft": "DRAFT — not released",
    "released": "Released — awaiting decision",
    "accepted": "Accepted by the physician",
    "rejected": "Rejected by the physician",
    "superseded": "SUPERSEDED by newer advice",
    "withdrawn": "WITHDRAWN by the pharmacist",
}

METHOD_LABELS: dict[str, str] = {
    "measured": "measured at trough",
    "extrapolated": "extrapolated to trough",
}

TARGET_BASIS_LABELS: dict[str, str] = {
    "threshold": "exposure–response threshold",
    "mean_exposure": "population mean exposure (no validated threshold)",
}

SEX_LABELS: dict[str, str] = {"F": "female", "M": "male"}

_FREQUENCY = {1: "once daily", 2: "twice daily", 3: "three times daily", 4: "four times daily"}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NOT_RECORDED = "—"


def report_context(data: ReportData) -> dict:
    """The template context for one report: every value formatted for print."""
    zone = ZoneInfo(data.time_zone)
    clinical = data.patient_name is not None or data.record_number is not None
    auc_drug = data.metric == "auc"
    plot_svg = ctrough_plot_svg(
        data.points,
        data.doses,
        # An AUC target is not a concentration: those drugs are plotted against the mean.
        target_ng_ml=None if auc_drug else data.target_ng_ml,
        upper_threshold_ng_ml=data.upper_threshold_ng_ml,
        mean_exposure=data.mean_exposure,
        unit=data.unit,
        time_zone=data.time_zone,
        adverse_events=data.adverse_events,
    )
    return {
        "advice_id": data.advice_id,
        "copy_label": "Clinical copy" if clinical else "Pseudonymised copy",
        "clinical": clinical,
        "title": f"TDM advice #{data.advice_id} — {data.study_number}",
        "state_label": STATE_LABELS.get(data.state, data.state),
        "state_is_final": data.state in ("accepted", "rejected"),
        "state_is_warning": data.state in ("draft", "superseded", "withdrawn"),
        "provisional": data.provisional,
        "generated_at": format_datetime(data.generated_at, zone),
        "time_zone": data.time_zone,
        "site": f"{data.site_name} ({data.site_code})",
        "patient": {
            "study_number": data.study_number,
            "name": data.patient_name or NOT_RECORDED,
            "record_number": data.record_number or NOT_RECORDED,
            "birth_year": str(data.birth_year),
            "sex": SEX_LABELS.get(data.sex, data.sex),
            "tumour": data.tumour,
        },
        "drug": {
            "label": data.drug_label,
            "analyte": data.analyte,
            "current_regimen": format_regimen(
                data.current_daily_dose_mg,
                data.current_administrations_per_day,
                data.current_split_mg,
            ),
        },
        "sample": _sample_context(data, zone),
        "target": _target_context(data, auc_drug),
        "plot_svg": plot_svg,
        # WeasyPrint reads an SVG image with its SVG parser; inline SVG would also go
        # through the HTML style cascade, which rejects every SVG property.
        "plot_src": "data:image/svg+xml;base64," + base64.b64encode(plot_svg.encode()).decode(),
        "adverse_events": [
            {
                "term": event.term,
                "grade": f"Grade {event.grade}",
                "onset": format_date(event.onset),
                "resolved": format_date(event.resolved) if event.resolved else "ongoing",
                "related": "yes" if event.related else "no",
            }
            for event in sorted(data.adverse_events, key=lambda e: (-e.grade, e.onset, e.term))
        ],
        "advice": _advice_context(data),
        "released": (
            f"Released by {data.released_by} on {format_datetime(data.released_at, zone)}"
            if data.released_by and data.released_at
            else "Not released"
        ),
        "signature": _signature_context(data.signature),
    }


def _sample_context(data: ReportData, zone: ZoneInfo) -> dict | None:
    if data.drawn_at is None:
        return None
    if data.below_lloq:
        measured = "below the lower limit of quantification"
    elif data.measured_value is not None:
        measured = f"{_exact(data.measured_value)} {data.measured_unit}"
    else:
        measured = NOT_RECORDED
    ctrough = (
        f"{_exact(data.ctrough_ng_ml)} ng/mL" if data.ctrough_ng_ml is not None else "not estimated"
    )
    return {
        "drawn_at": format_datetime(data.drawn_at, zone),
        "last_dose_at": (
            format_datetime(data.last_dose_at, zone) if data.last_dose_at else NOT_RECORDED
        ),
        "hours_after_dose": (
            f"{_exact(data.hours_after_dose)} h"
            if data.hours_after_dose is not None
            else NOT_RECORDED
        ),
        "measured": measured,
        "ctrough": ctrough,
        "method": METHOD_LABELS.get(data.method, data.method) if data.method else None,
        "evaluable": data.evaluable is not False,
        "reasons": [describe_code(code) for code in data.reasons],
    }


def _target_context(data: ReportData, auc_drug: bool) -> dict:
    unit = data.unit.replace("*", "·")
    if data.target_ng_ml is None:
        target = "no validated target"
    elif auc_drug:
        target = (
            f"AUC ≥ {_exact(data.target_ng_ml)} {unit} — no Ctrough target; the Ctrough is "
            "plotted against the mean exposure"
        )
    else:
        target = f"Ctrough ≥ {_exact(data.target_ng_ml)} {unit}"
    return {
        "target": target,
        "basis": TARGET_BASIS_LABELS.get(data.target_basis, data.target_basis),
        "upper_threshold": (
            f"{_exact(data.upper_threshold_ng_ml)} {unit}"
            if data.upper_threshold_ng_ml is not None
            else None
        ),
        "mean_exposure": (
            f"{_exact(data.mean_exposure)} {unit}" if data.mean_exposure is not None else None
        ),
        "evidence_level": data.evidence_level,
    }


def _advice_context(data: ReportData) -> dict:
    dose_changes = data.proposed_daily_dose_mg != data.current_daily_dose_mg or (
        data.proposed_administrations_per_day != data.current_administrations_per_day
    )
    return {
        "kind": ("Advice on the concentration" if data.kind == "sample" else "Advice on toxicity"),
        "action": ACTION_LABELS.get(data.action, data.action),
        "proposed_regimen": format_regimen(
            data.proposed_daily_dose_mg,
            data.proposed_administrations_per_day,
            data.proposed_split_mg,
        ),
        "dose_changes": dose_changes,
        "predicted_ctrough": (
            f"{format_concentration(data.predicted_ctrough_ng_ml)} ng/mL (linear estimate)"
            if data.predicted_ctrough_ng_ml is not None
            else None
        ),
        "warnings": [describe_code(code) for code in data.warnings],
        "checks": [describe_code(code) for code in data.checks],
        "text": data.text,
        "computed_text": data.computed_text,
    }


def _signature_context(signature: Signature | None) -> dict | None:
    if signature is None:
        return None
    zone = ZoneInfo(signature.time_zone)
    return {
        "printed_name": signature.printed_name,
        "signed_at": f"{format_datetime(signature.signed_at, zone)} ({signature.time_zone})",
        "meaning": signature.meaning,
        "rejected": signature.meaning == "rejected",
        "reason": signature.reason,
        "checks_confirmed": [describe_code(code) for code in signature.checks_confirmed],
        "prescription": (
            capitalised(
                decision_effect(
                    signature.action,
                    format_date(signature.effective_date) if signature.effective_date else None,
                )
            )
            if signature.states_prescription
            else None
        ),
    }


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def describe_code(code: str) -> str:
    """A reason, warning or check code as a short sentence for the reader."""
    return capitalised(CODE_DESCRIPTIONS.get(code, code.replace("_", " ")))


def format_regimen(
    daily_dose_mg: Decimal, administrations_per_day: int, split_mg: tuple[Decimal, ...]
) -> str:
    """A regimen with its split: "600 mg/day = 400 mg + 200 mg (twice daily)"."""
    daily = f"{_exact(daily_dose_mg)} mg/day"
    if daily_dose_mg == 0:
        return f"{daily} (treatment interrupted)"
    frequency = _FREQUENCY.get(administrations_per_day, f"{administrations_per_day} times daily")
    if len(split_mg) > 1:
        parts = " + ".join(f"{_exact(part)} mg" for part in split_mg)
        return f"{daily} = {parts} ({frequency})"
    return f"{daily} ({frequency})"


def format_date(day: date) -> str:
    """A date that reads the same in every locale: "5 Feb 2024"."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def format_datetime(moment: datetime, zone: ZoneInfo) -> str:
    """An aware datetime in `zone` with the zone's abbreviation: "5 Feb 2024 09:00 CET"."""
    local = moment.astimezone(zone)
    return f"{format_date(local.date())} {local:%H:%M} {local.tzname()}"


def _exact(value: Decimal) -> str:
    # The engine judges these values as stored, so they are shown without rounding:
    # a Ctrough of 3749.5 must not print as the 3750 target it fell short of.
    return f"{value.normalize():f}"
