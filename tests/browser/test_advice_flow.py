"""The whole TDM round in a real browser: a nurse logs a sample and sees its estimate before
saving, the advice appears, the pharmacist releases it, the physician reads the PDF and signs,
and the new dose and the next due date follow. A physician of another site finds nothing."""

from __future__ import annotations

import datetime
import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from advice.models import Advice
from cases.models import Sample
from tests.factories import DEMO_PASSWORD, PatientFactory, SampleFactory, TreatmentFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def days_from_today(days: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=days)


@pytest.fixture
def treatment(staff, site_a, sorafenib):
    """Sorafenib 600 mg/day BID for 64 days: due dates 28, 56, 84 … days after the start, so
    the next is 20 days from today; the first was sampled (2870 ng/mL would be too low)."""
    nurse = staff["nurse_a"]
    patient = PatientFactory(
        actor=nurse,
        site=site_a,
        study_number="TDM-0042",
        name="Jan de Boer",
        treating_physician=staff["physician_a"],
        responsible_nurse=nurse,
    )
    treatment = TreatmentFactory(
        actor=nurse,
        patient=patient,
        drug=sorafenib,
        start_date=days_from_today(-64),
        daily_dose_mg=Decimal(600),
        administrations_per_day=2,
    )
    first = timezone.make_aware(datetime.datetime.combine(days_from_today(-36), datetime.time(9)))
    SampleFactory(
        actor=nurse,
        treatment=treatment,
        drawn_at=first,
        last_dose_at=first - datetime.timedelta(hours=12),
        concentration=Decimal(3950),
    )
    return treatment


def log_in(page, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")


def test_sample_to_signed_dose_change(open_page, staff, treatment, screenshot, assert_accessible):
    # The nurse: log in, find the patient, log a sample and see the estimate before saving.
    nurse = open_page()
    nurse.goto("/accounts/login/")
    screenshot(nurse, "01-login")
    assert_accessible(nurse)
    log_in(nurse, "nurse_a")
    screenshot(nurse, "02-nurse-home")
    menu = nurse.get_by_role("navigation", name="Main")
    menu.get_by_role("link", name="Worklist").click()
    expect(nurse.get_by_role("heading", name="Sample worklist")).to_be_visible()
    screenshot(nurse, "03-worklist")
    menu.get_by_role("link", name="Patients").click()
    nurse.get_by_label("Search by study number, name or record number").fill("de Boer")
    nurse.get_by_role("button", name="Search").click()
    nurse.get_by_role("link", name="TDM-0042").click()
    screenshot(nurse, "04-patient")
    nurse.get_by_role("link", name="sorafenib").click()
    expect(nurse.get_by_text(f"{days_from_today(20):%Y-%m-%d}").first).to_be_visible()
    nurse.get_by_role("link", name="Log a sample").click()

    drawn = timezone.localtime().replace(second=0, microsecond=0) - datetime.timedelta(hours=1)
    last_dose = drawn - datetime.timedelta(hours=12)
    nurse.get_by_label("Drawn at").fill(drawn.strftime("%Y-%m-%dT%H:%M"))
    nurse.get_by_label("Last dose taken at").fill(last_dose.strftime("%Y-%m-%dT%H:%M"))
    nurse.get_by_label("Measured concentration").fill("2870")
    preview = nurse.locator("#preview")
    expect(preview).to_contain_text("Estimated Ctrough")
    expect(preview).to_contain_text("12 h")
    expect(preview).to_contain_text("below target")
    expect(preview).to_contain_text("Nothing is saved yet.")
    screenshot(nurse, "05-sample-form-preview")
    assert_accessible(nurse)
    assert Sample.objects.filter(treatment=treatment).count() == 1

    nurse.get_by_role("button", name="Save the sample").click()
    expect(nurse.get_by_role("status")).to_contain_text("Sample logged with its result")
    expect(nurse.get_by_role("cell", name="continue step up")).to_be_visible()
    screenshot(nurse, "06-treatment-with-advice")
    assert_accessible(nurse)
    advice = Advice.objects.get(sample__treatment=treatment, state=Advice.State.DRAFT)

    # The pharmacist: review and release.
    pharmacist = open_page()
    log_in(pharmacist, "pharmacist_a")
    expect(pharmacist.get_by_role("heading", name="Advice to review")).to_be_visible()
    pharmacist.get_by_role("link", name="TDM-0042 — sorafenib").click()
    expect(pharmacist.get_by_label("Proposed daily dose (mg)")).to_have_value("800")
    screenshot(pharmacist, "07-pharmacist-review")
    pharmacist.get_by_role("button", name="Release to the physician").click()
    expect(pharmacist.get_by_role("status")).to_contain_text("Advice released")

    # The physician: notified, opens the PDF, confirms the checks and signs with a password.
    physician = open_page(viewport={"width": 1366, "height": 900})
    log_in(physician, "physician_a")
    expect(physician.locator(".bell .count")).to_have_text("1")
    physician.get_by_role("link", name="TDM-0042 — sorafenib").click()
    expect(physician).to_have_url(re.compile(f"/advice/{advice.pk}/$"))
    report = physician.locator("object[type='application/pdf']")
    expect(report).to_have_attribute("data", re.compile(f"^/advice/{advice.pk}/report.pdf#"))
    pdf = physician.request.get(f"/advice/{advice.pk}/report.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF")
    assert pdf.headers.get("x-frame-options") == "SAMEORIGIN"
    # Chromium's PDF viewer paints a moment after the file has arrived.
    physician.wait_for_load_state("networkidle")
    physician.wait_for_timeout(2500)
    screenshot(physician, "08-physician-sign-off")
    assert_accessible(physician)

    physician.get_by_role("checkbox", name=re.compile("adherence")).check()
    physician.get_by_role("checkbox", name=re.compile("drug interactions")).check()
    expect(physician.get_by_label("Dose change takes effect on")).to_have_value(
        days_from_today(1).isoformat()
    )
    physician.locator("#accept_password").fill(DEMO_PASSWORD)
    physician.get_by_role("button", name="Accept and sign").click()
    expect(physician.get_by_role("status")).to_contain_text("Advice accepted and signed.")
    expect(physician.locator(".signature")).to_contain_text("Electronically signed: accepted")
    expect(physician.locator(".signature")).to_contain_text(re.compile(r"\d{2}:\d{2} CES?T|UTC"))

    physician.get_by_role("link", name="sorafenib").first.click()
    history = physician.locator("table", has=physician.get_by_role("columnheader", name="Split"))
    expect(history).to_contain_text(f"{days_from_today(1):%Y-%m-%d}")
    expect(history).to_contain_text("800 mg")
    expect(history).to_contain_text("TDM advice")
    expect(physician.locator(".next-due")).to_contain_text(f"{days_from_today(29):%Y-%m-%d}")
    expect(physician.locator(".next-due")).to_contain_text("after the dose change")
    screenshot(physician, "09-treatment-after-sign-off")

    # A physician of the other site gets the same answer as for a page that does not exist.
    outsider = open_page(staff["physician_b"])
    response = outsider.goto(f"/patients/{treatment.patient_id}/")
    assert response.status == 404
    assert outsider.goto(f"/treatments/{treatment.pk}/").status == 404
    assert outsider.goto(f"/advice/{advice.pk}/").status == 404
    expect(outsider.get_by_role("heading", name="Not found")).to_be_visible()
    expect(outsider.get_by_text("Jan de Boer")).to_have_count(0)
    screenshot(outsider, "10-other-site-not-found")
