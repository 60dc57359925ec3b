"""The treatment page: the sampling schedule with its next due date and fulfilled marks."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from cases import services
from cases.models import DoseRegimen, Patient, Treatment
from tests.factories import DoseRegimenFactory, PatientFactory, SampleFactory, TreatmentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def treatment(staff, site_a, sorafenib):
    nurse = staff["nurse_a"]
    patient = PatientFactory(actor=nurse, site=site_a, study_number="TDM-S1")
    today = timezone.localdate()
    treatment = TreatmentFactory(
        actor=nurse,
        patient=patient,
        drug=sorafenib,
        start_date=today - datetime.timedelta(days=64),
        daily_dose_mg=Decimal(600),
        administrations_per_day=2,
    )
    drawn = timezone.make_aware(
        datetime.datetime.combine(today - datetime.timedelta(days=35), datetime.time(9))
    )
    SampleFactory(
        actor=nurse,
        treatment=treatment,
        drawn_at=drawn,
        last_dose_at=drawn - datetime.timedelta(hours=12),
        concentration=Decimal(3000),
    )
    # Registered in eTDM when it started: its missed dates are the nurse's to act on.
    Treatment.objects.filter(pk=treatment.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=64)
    )
    return treatment


def days_from_today(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


def test_schedule_marks_fulfilled_and_missed_dates_and_the_next_one(client, staff, treatment):
    client.force_login(staff["nurse_a"])

    response = client.get(f"/treatments/{treatment.pk}/")

    rows = {row["date"]: row for row in response.context["schedule"]}
    sample = treatment.samples.get()
    assert rows[days_from_today(-36)]["state"] == "fulfilled"
    assert rows[days_from_today(-36)]["fulfilled_by"] == sample.pk
    assert rows[days_from_today(-8)]["state"] == "overdue"
    assert response.context["overdue"]["date"] == days_from_today(-8)
    assert response.context["next_due"]["date"] == days_from_today(20)
    html = response.content.decode()
    assert f'href="/samples/{sample.pk}/"' in html
    assert "✓ sampled" in html
    assert "Take one at the next visit." in html


def test_a_sample_after_the_window_clears_the_overdue_date(client, staff, treatment):
    # Today, whatever the hour the test runs at: two hours ago may be yesterday.
    drawn = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    SampleFactory(
        actor=staff["nurse_a"],
        treatment=treatment,
        drawn_at=drawn,
        last_dose_at=drawn - datetime.timedelta(hours=12),
        concentration=None,
    )
    client.force_login(staff["nurse_a"])

    response = client.get(f"/treatments/{treatment.pk}/")

    rows = {row["date"]: row for row in response.context["schedule"]}
    assert response.context["overdue"] is None
    assert rows[days_from_today(-8)]["state"] == "missed"


def test_dose_change_moves_the_next_due_date(client, staff, treatment):
    client.force_login(staff["physician_a"])

    response = client.post(
        f"/treatments/{treatment.pk}/dose/",
        {
            "effective_from": days_from_today(1).isoformat(),
            "daily_dose_mg": "800",
            "administrations_per_day": "2",
            "reason": "step_up",
        },
        follow=True,
    )

    next_due = response.context["next_due"]
    assert next_due["date"] == days_from_today(29)
    assert next_due["kind"] == "post_change"
    assert days_from_today(20) not in {row["date"] for row in response.context["schedule"]}
    assert "4 weeks after the dose change" in response.content.decode()


def test_stopped_treatment_has_no_next_sample(client, staff, treatment):
    services.treatment_stop(
        actor=staff["nurse_a"], treatment=treatment, stop_date=days_from_today(0), reason="toxicity"
    )
    client.force_login(staff["nurse_a"])

    response = client.get(f"/treatments/{treatment.pk}/")

    assert response.context["next_due"] is None
    assert "None: the treatment is stopped." in response.content.decode()


@pytest.mark.parametrize("name", ["nurse_b", "physician_b", "pharmacist_b"])
def test_other_sites_users_do_not_find_the_treatment(client, staff, treatment, name):
    client.force_login(staff[name])
    assert client.get(f"/treatments/{treatment.pk}/").status_code == 404
    patient = Patient.objects.get(study_number="TDM-S1")
    assert client.get(f"/patients/{patient.pk}/").status_code == 404


def test_a_date_missed_before_registration_is_not_called_overdue(client, staff, treatment):
    Treatment.objects.filter(pk=treatment.pk).update(created_at=timezone.now())
    client.force_login(staff["nurse_a"])

    response = client.get(f"/treatments/{treatment.pk}/")

    rows = {row["date"]: row for row in response.context["schedule"]}
    assert rows[days_from_today(-8)]["before_registration"]
    assert response.context["overdue"] is None
    assert "before registration" in response.content.decode()
    assert response.context["next_due"]["date"] == days_from_today(20)


@pytest.fixture
def escalation(staff, treatment):
    """800 mg/day from tomorrow."""
    return DoseRegimenFactory(
        actor=staff["physician_a"],
        treatment=treatment,
        effective_from=days_from_today(1),
        daily_dose_mg=Decimal(800),
        reason=DoseRegimen.Reason.TDM_ADVICE,
    )


def test_a_dose_withdrawn_from_a_page_opened_before_it_took_effect_is_not_withdrawn(
    client, staff, treatment, escalation
):
    client.force_login(staff["physician_a"])
    page = client.get(f"/regimens/{escalation.pk}/withdraw/").content.decode()
    assert "Withdraw the dose" in page

    with time_machine.travel(timezone.now() + datetime.timedelta(days=2), tick=False):
        client.force_login(staff["physician_a"])
        sent = client.post(
            f"/regimens/{escalation.pk}/withdraw/", {"reason": "not wanted"}, follow=True
        )

    assert sent.redirect_chain == [(f"/treatments/{treatment.pk}/", 302)]
    assert "a physician marks it entered in error instead" in sent.content.decode()
    escalation.refresh_from_db()
    assert escalation.status == DoseRegimen.Status.ACTIVE


def test_the_entered_in_error_page_says_what_it_does_whatever_the_date(client, staff, escalation):
    client.force_login(staff["physician_a"])

    page = client.get(f"/regimens/{escalation.pk}/entered-in-error/").content.decode()

    assert "Mark entered in error</button>" in page
    assert "Withdraw the dose" not in page
