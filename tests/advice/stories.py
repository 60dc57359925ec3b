"""The records of the advice stories, dated from today (a decision takes effect from today on):
a sorafenib patient of site A whose trough sample was drawn yesterday morning.

Every record goes through the services (tests/factories.py); tasks run in-process, so the
sample's advice exists once its block has committed (`on_commit`).
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from advice import services as advice_services
from advice.models import Advice
from cases import clinical, services, signals
from cases.models import DoseRegimen, Sample, Treatment
from tests import factories
from tests.conftest import DEMO_PASSWORD


def today() -> datetime.date:
    return timezone.localdate()


def day(offset: int) -> datetime.date:
    """Today plus `offset` days (D+1 is tomorrow)."""
    return today() + datetime.timedelta(days=offset)


def sorafenib_treatment(staff, *, daily: int = 800, reduced_to: int | None = None) -> Treatment:
    """Sorafenib BID started 10 weeks ago at `daily` mg/day (800 is the standard dose: the
    treatment is in maintenance), reduced to `reduced_to` 6 weeks ago when given."""
    nurse = staff["nurse_a"]
    patient = factories.PatientFactory(
        actor=nurse,
        treating_physician=staff["physician_a"],
        responsible_nurse=nurse,
    )
    treatment = factories.TreatmentFactory(
        actor=nurse,
        patient=patient,
        start_date=day(-70),
        daily_dose_mg=Decimal(daily),
        administrations_per_day=2,
    )
    if reduced_to is not None:
        factories.DoseRegimenFactory(
            actor=staff["physician_a"],
            treatment=treatment,
            effective_from=day(-42),
            daily_dose_mg=Decimal(reduced_to),
            reason=DoseRegimen.Reason.TOXICITY,
        )
    return treatment


def trough_sample(staff, treatment: Treatment, concentration: str, *, days_ago: int = 1) -> Sample:
    """A sample drawn at 09:00 `days_ago` days ago, 12 h after the last dose: at trough."""
    drawn_at = factories.local_datetime(f"{day(-days_ago):%Y-%m-%d} 09:00")
    return factories.SampleFactory(
        actor=staff["nurse_a"],
        treatment=treatment,
        drawn_at=drawn_at,
        last_dose_at=factories.hours_before(drawn_at, 12),
        concentration=Decimal(concentration),
    )


def hand_foot_syndrome(staff, treatment: Treatment, *, grade: int = 3, onset=None):
    return services.adverse_event_record(
        actor=staff["nurse_a"],
        treatment=treatment,
        term="Palmar-plantar erythrodysesthesia syndrome",
        grade=grade,
        onset=onset or today(),
    )


def release(staff, advice: Advice, **edits) -> Advice:
    return advice_services.advice_release(actor=staff["pharmacist_a"], advice=advice, **edits)


def accept(staff, advice: Advice, effective_date: datetime.date) -> Advice:
    advice.refresh_from_db()
    return advice_services.advice_accept(
        actor=staff["physician_a"],
        advice=advice,
        password=DEMO_PASSWORD,
        effective_date=effective_date,
        checks_confirmed=advice.checks,
    )


def dose_on(treatment: Treatment, on: datetime.date) -> Decimal | None:
    """The daily dose in effect on a day: the latest live regimen from that day or before."""
    regimen = Treatment.objects.get(pk=treatment.pk).regimen_on(on)
    return None if regimen is None else regimen.daily_dose_mg


def accept_without_checks(staff, advice: Advice, effective_date: datetime.date) -> Advice:
    return advice_services.advice_accept(
        actor=staff["physician_a"],
        advice=advice,
        password=DEMO_PASSWORD,
        effective_date=effective_date,
    )


def accept_as_of(
    staff, advice: Advice, *, effective_date: datetime.date, today: datetime.date
) -> Advice:
    """Accept as if signed on `today` (the date checks read it)."""
    return advice_services.advice_accept(
        actor=staff["physician_a"],
        advice=advice,
        password=DEMO_PASSWORD,
        effective_date=effective_date,
        checks_confirmed=advice.checks,
        today=today,
    )


CORRECTION_REASON = "time of last dose was 21:00, not 09:00"


def correct(staff, sample: Sample, **values) -> None:
    """Change the sample's values as a correction does, and announce it in its transaction
    (`cases.signals.sample_corrected`, as the correction services send it)."""
    with transaction.atomic():
        sample = Sample.objects.select_for_update().get(pk=sample.pk)
        for name, value in values.items():
            setattr(sample, name, value)
        clinical.compute_sample(sample)
        sample.save()
        signals.sample_corrected.send(
            sender=Sample, sample=sample, actor=staff["nurse_a"], reason=CORRECTION_REASON
        )
