"""A correction in a real browser (docs/clinical-rules.md §1.3): the nurse logs a result without
the time of the last dose (advice `resample`), corrects that time on the sample's correction
page, and the advice becomes a dose advice; the pharmacist's queue holds only the new one."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from advice.models import Advice
from cases.models import Sample
from tests.factories import PatientFactory, TreatmentFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def treatment(staff, site_a, sorafenib):
    """Sorafenib 600 mg/day BID for 40 days: in its step-up phase (the standard dose is 800)."""
    nurse = staff["nurse_a"]
    patient = PatientFactory(
        actor=nurse,
        site=site_a,
        study_number="TDM-0077",
        name="Anna Jansen",
        treating_physician=staff["physician_a"],
        responsible_nurse=nurse,
    )
    return TreatmentFactory(
        actor=nurse,
        patient=patient,
        drug=sorafenib,
        start_date=timezone.localdate() - datetime.timedelta(days=40),
        daily_dose_mg=Decimal(600),
        administrations_per_day=2,
    )


def queue_rows(page):
    page.goto("/advice/")
    expect(page.get_by_role("heading", name="Advice to review")).to_be_visible()
    return page.locator("main table tbody tr")


def test_correcting_the_last_dose_replaces_the_resample_advice(
    open_page, staff, treatment, screenshot, assert_accessible
):
    drawn = timezone.localtime().replace(second=0, microsecond=0) - datetime.timedelta(hours=1)
    nurse = open_page(staff["nurse_a"])
    nurse.goto(f"/treatments/{treatment.pk}/samples/new/")
    nurse.get_by_label("Drawn at").fill(drawn.strftime("%Y-%m-%dT%H:%M"))
    nurse.get_by_label("Measured concentration").fill("2870")
    expect(nurse.locator("#preview")).to_contain_text("time of the last dose unknown")
    nurse.get_by_role("button", name="Save the sample").click()
    expect(nurse.get_by_role("status")).to_contain_text("Sample logged with its result")
    expect(nurse.get_by_role("cell", name="resample", exact=True)).to_be_visible()
    first = Advice.objects.get(treatment=treatment)
    assert first.action == "resample"

    pharmacist = open_page(staff["pharmacist_a"])
    before = queue_rows(pharmacist)
    expect(before).to_have_count(1)
    expect(before).to_contain_text("resample")

    sample = Sample.objects.get(treatment=treatment)
    nurse.get_by_role("link", name=f"{drawn:%Y-%m-%d %H:%M}").first.click()
    nurse.get_by_role("link", name="Correct the sample").click()
    expect(nurse.get_by_role("heading", level=1)).to_contain_text("Correct the sample of")
    expect(nurse.get_by_label("Drawn at")).to_have_value(drawn.strftime("%Y-%m-%dT%H:%M"))
    expect(nurse.get_by_label("Measured concentration")).to_have_value("2870")
    last_dose = drawn - datetime.timedelta(hours=12)
    nurse.get_by_label("Last dose taken at").fill(last_dose.strftime("%Y-%m-%dT%H:%M"))
    nurse.get_by_label("Reason for the correction").fill("the patient remembered: 12 h before")
    screenshot(nurse, "correction-form")
    assert_accessible(nurse)
    nurse.get_by_role("button", name="Save the correction").click()

    expect(nurse.get_by_role("status")).to_contain_text("Sample corrected")
    history = nurse.locator("section", has=nurse.get_by_role("heading", name="Corrections"))
    expect(history).to_contain_text(f"last dose: — → {last_dose:%Y-%m-%d %H:%M}")
    expect(history).to_contain_text("the patient remembered: 12 h before")
    expect(history).to_contain_text("nurse_a")
    screenshot(nurse, "corrected-sample")
    assert_accessible(nurse)
    sample.refresh_from_db()
    assert sample.evaluable is True

    nurse.goto(f"/treatments/{treatment.pk}/")
    expect(nurse.get_by_role("cell", name="continue step up")).to_be_visible()
    first.refresh_from_db()
    assert first.state == Advice.State.SUPERSEDED
    new = Advice.objects.get(treatment=treatment, state=Advice.State.DRAFT)
    assert new.action == "continue_step_up"
    assert new.proposed_daily_dose_mg == 800

    after = queue_rows(pharmacist)
    expect(after).to_have_count(1)
    expect(after).to_contain_text("continue step up")
    expect(after).not_to_contain_text("resample")
    expect(after.get_by_role("link")).to_have_attribute("href", f"/advice/{new.pk}/")
    screenshot(pharmacist, "queue-after-correction")
