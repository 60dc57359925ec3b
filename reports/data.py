"""What a report shows, read from the records: the advice, its treatment's series, signatures.

`report_data` gathers a `ReportData` (reports/report.py) from the database; the same series
feeds the plot on the treatment page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.utils import timezone

from advice.engine.case import AdverseEventInput
from advice.engine.toxicity import is_active
from advice.models import Advice
from cases.models import Sample, Treatment
from reports.plot import ctrough_plot_svg
from reports.report import DosePeriod, PlotPoint, ReportData, Signature


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass(frozen=True)
class TreatmentSeries:
    """What the Ctrough-over-time plot of a treatment shows: samples, doses, adverse events."""

    points: tuple[PlotPoint, ...]
    doses: tuple[DosePeriod, ...]
    adverse_events: tuple[AdverseEventInput, ...]

    def active_events(self, day: date) -> tuple[AdverseEventInput, ...]:
        return tuple(e for e in self.adverse_events if is_active(e, day))


def treatment_series(treatment: Treatment, *, current_sample_id: int | None) -> TreatmentSeries:
    samples = treatment.samples.exclude(
        status__in=[Sample.Status.CANCELLED, Sample.Status.SCHEDULED]
    ).order_by("drawn_at")
    return TreatmentSeries(
        points=tuple(
            PlotPoint(
                drawn_at=timezone.localtime(s.drawn_at),
                ctrough_ng_ml=s.estimated_ctrough_ng_ml,
                measured_ng_ml=s.concentration_ng_ml,
                daily_dose_mg=s.daily_dose_mg,
                evaluable=bool(s.evaluable),
                is_current=s.pk == current_sample_id,
            )
            for s in samples
        ),
        doses=tuple(
            DosePeriod(effective_from=r.effective_from, daily_dose_mg=r.daily_dose_mg)
            # Withdrawn and entered-in-error regimens were never taken.
            for r in treatment.live_regimens()
        ),
        adverse_events=tuple(
            AdverseEventInput(
                term=e.term, grade=e.grade, onset=e.onset, resolved=e.resolved, related=e.related
            )
            for e in treatment.adverse_events.filter(entered_in_error=False).order_by("onset")
        ),
    )


def treatment_plot_svg(treatment: Treatment) -> str:
    """The Ctrough-over-time plot of a treatment page, against the drug's current target."""
    series = treatment_series(treatment, current_sample_id=None)
    drug = treatment.drug
    return ctrough_plot_svg(
        series.points,
        series.doses,
        target_ng_ml=drug.target_ng_ml if drug.metric == "cmin" else None,
        upper_threshold_ng_ml=drug.upper_threshold_ng_ml,
        mean_exposure=drug.mean_exposure,
        unit=drug.unit,
        time_zone=settings.TIME_ZONE,
        adverse_events=series.adverse_events,
    )


def report_data(advice: Advice, *, clinical_copy: bool) -> ReportData:
    """Everything the report shows, read from the advice, its treatment and the catalogue row
    frozen with the advice (the report shows the target the advice was judged against)."""
    treatment = advice.treatment
    patient = treatment.patient
    site = patient.site
    drug = treatment.drug
    row = advice.inputs.get("catalogue", {}).get("row") or drug.as_row()
    sample = advice.sample
    reference_day = (
        timezone.localdate(sample.drawn_at) if sample is not None else advice.adverse_event.onset
    )
    regimen = treatment.regimen_on(reference_day)
    series = treatment_series(treatment, current_sample_id=sample.pk if sample else None)
    signature = None
    if advice.state in (Advice.State.ACCEPTED, Advice.State.REJECTED):
        signer = advice.decided_by
        signature = Signature(
            # A decision imported with a cohort was signed elsewhere, not in this system.
            printed_name=(signer.get_full_name() or signer.get_username())
            if signer
            else "decision imported with the study cohort",
            signed_at=advice.decided_at,
            time_zone=settings.TIME_ZONE,
            meaning=advice.state,
            reason=advice.rejection_reason,
            checks_confirmed=tuple(advice.checks_confirmed),
            effective_date=advice.effective_date if advice.state == Advice.State.ACCEPTED else None,
            action=advice.action,
            # An imported decision's prescription is in the imported dose history, not here.
            states_prescription=advice.state == Advice.State.ACCEPTED and signer is not None,
        )
    computed_text = advice.computed.get("text") if advice.edited else None
    return ReportData(
        site_name=site.name,
        site_code=site.code,
        study_number=patient.study_number,
        patient_name=(patient.name or None) if clinical_copy else None,
        record_number=(patient.record_number or None) if clinical_copy else None,
        birth_year=patient.birth_year,
        sex=patient.get_sex_display(),
        tumour=patient.tumour,
        drug_label=str(drug),
        analyte=row["analyte"],
        unit=row["unit"],
        target_ng_ml=_decimal(row["target_ng_ml"] or None),
        upper_threshold_ng_ml=_decimal(row["upper_threshold_ng_ml"] or None),
        mean_exposure=_decimal(row["mean_exposure"] or None),
        metric=row["metric"],
        evidence_level=row["tdm_level"],
        target_basis=row["target_basis"],
        current_daily_dose_mg=advice.current_daily_dose_mg,
        current_administrations_per_day=regimen.administrations_per_day if regimen else 1,
        current_split_mg=tuple(Decimal(str(p)) for p in (regimen.split_mg if regimen else [])),
        drawn_at=timezone.localtime(sample.drawn_at) if sample else None,
        last_dose_at=timezone.localtime(sample.last_dose_at)
        if sample and sample.last_dose_at
        else None,
        hours_after_dose=sample.hours_after_dose if sample else None,
        measured_value=sample.concentration if sample else None,
        measured_unit=sample.unit if sample else "",
        below_lloq=sample.below_lloq if sample else False,
        ctrough_ng_ml=advice.ctrough_ng_ml,
        method=sample.method or None if sample else None,
        evaluable=advice.evaluable,
        reasons=tuple(advice.reasons),
        action=advice.action,
        proposed_daily_dose_mg=advice.proposed_daily_dose_mg,
        proposed_administrations_per_day=advice.proposed_administrations_per_day,
        proposed_split_mg=tuple(Decimal(str(p)) for p in advice.proposed_split_mg),
        predicted_ctrough_ng_ml=advice.predicted_ctrough_ng_ml,
        warnings=tuple(advice.warnings),
        checks=tuple(advice.checks),
        text=advice.text,
        provisional=advice.provisional,
        computed_text=computed_text,
        kind=advice.kind,
        state=advice.state,
        advice_id=advice.pk,
        generated_at=timezone.localtime(
            advice.decided_at or advice.released_at or advice.created_at
        ),
        time_zone=settings.TIME_ZONE,
        released_by=(advice.released_by.get_full_name() or advice.released_by.get_username())
        if advice.released_by
        else None,
        released_at=timezone.localtime(advice.released_at) if advice.released_at else None,
        points=series.points,
        doses=series.doses,
        adverse_events=series.active_events(reference_day),
        signature=signature,
    )
