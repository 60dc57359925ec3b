"""Forms in the browser: live feedback while typing, wrong input shown next to its field,
the CTCAE term autocomplete with the term's own grades, and dose levels that follow the drug."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from cases.models import AdverseEvent, Drug, Patient, Sample, Treatment
from tests.factories import PatientFactory, TreatmentFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def treatment(staff, site_a):
    nurse = staff["nurse_a"]
    patient = PatientFactory(
        actor=nurse,
        site=site_a,
        study_number="TDM-0007",
        treating_physician=staff["physician_a"],
        responsible_nurse=nurse,
    )
    return TreatmentFactory(
        actor=nurse,
        patient=patient,
        start_date=timezone.localdate() - datetime.timedelta(days=40),
    )


def local_input(moment: datetime.datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def expect_error_next_to(page, field_id: str, text: str) -> None:
    """The message is shown right by the field, and the field is described by it."""
    error = page.locator(f"#{field_id}-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(text)
    described = page.locator(f"[aria-describedby~='{field_id}-error']")
    expect(described).to_have_count(1)
    field_box = page.locator(f"#{field_id}-field").bounding_box()
    error_box = error.bounding_box()
    assert field_box["y"] <= error_box["y"] <= field_box["y"] + field_box["height"]


def test_sample_form_reports_wrong_input_live_and_on_saving(
    open_page, staff, treatment, screenshot
):
    page = open_page(staff["nurse_a"])
    page.goto(f"/treatments/{treatment.pk}/samples/new/")
    drawn = timezone.now() - datetime.timedelta(hours=2)

    page.get_by_label("Drawn at").fill(local_input(drawn))
    page.get_by_label("Last dose taken at").fill(local_input(drawn + datetime.timedelta(hours=1)))
    page.get_by_label("Measured concentration").fill("-40")
    preview = page.locator("#preview")
    expect(preview).to_contain_text("The last dose cannot be taken after the draw.")
    expect(preview).to_contain_text("A concentration cannot be negative.")
    page.get_by_label("Measured concentration").fill("12,5")
    expect(preview).to_contain_text("decimal point")

    page.get_by_role("button", name="Save the sample").click()

    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved.")
    expect_error_next_to(page, "id_concentration", "decimal point")
    screenshot(page, "11-sample-form-errors")
    page.get_by_label("Measured concentration").fill("-40")
    page.get_by_role("button", name="Save the sample").click()
    expect_error_next_to(page, "id_concentration", "cannot be negative")
    expect_error_next_to(page, "id_last_dose_at", "cannot be taken after the draw")
    assert not Sample.objects.exists()

    future = timezone.now() + datetime.timedelta(days=1)
    page.get_by_label("Drawn at").fill(local_input(future))
    page.get_by_label("Last dose taken at").fill(local_input(drawn))
    page.get_by_label("Measured concentration").fill("3000")
    page.get_by_role("button", name="Save the sample").click()
    expect_error_next_to(page, "id_drawn_at", "in the future")
    assert not Sample.objects.exists()


def test_adverse_event_term_autocomplete_and_its_grades(open_page, staff, treatment, screenshot):
    page = open_page(staff["nurse_a"])
    page.goto(f"/treatments/{treatment.pk}/adverse-events/new/")
    term = page.get_by_label("CTCAE v5.0 term")

    term.press_sequentially("fatig", delay=30)
    expect(page.locator("#ctcae-terms option[value='Fatigue']")).to_have_count(1)
    term.fill("Fatigue")
    grades = page.get_by_role("group", name="Grade").get_by_role("radio")
    expect(grades).to_have_count(3)
    expect(
        page.get_by_label("Grade 3: Fatigue not relieved by rest, limiting self care ADL")
    ).to_be_visible()
    expect(page.locator("input[name='grade'][value='4']")).to_have_count(0)
    screenshot(page, "12-adverse-event-form")

    page.get_by_label("Grade 2", exact=False).check()
    page.get_by_label("Onset date").fill(
        f"{timezone.localdate() + datetime.timedelta(days=3):%Y-%m-%d}"
    )
    page.get_by_role("button", name="Log the adverse event").click()
    expect_error_next_to(page, "id_onset", "in the future")
    expect(page.locator("input[name='grade'][value='2']")).to_be_checked()
    assert not AdverseEvent.objects.exists()

    page.get_by_label("Onset date").fill(f"{timezone.localdate():%Y-%m-%d}")
    page.get_by_role("button", name="Log the adverse event").click()
    expect(page.get_by_role("status")).to_contain_text("Fatigue grade 2 logged")
    assert AdverseEvent.objects.get().grade == 2


def test_treatment_form_dose_levels_follow_the_drug_and_off_label_needs_a_reason(
    open_page, staff, treatment, screenshot
):
    page = open_page(staff["nurse_a"])
    page.goto(f"/patients/{treatment.patient_id}/treatments/new/")
    imatinib = Drug.objects.get(name="imatinib", indication="gist")

    page.get_by_label("Drug (and indication)").select_option(label="imatinib (gist)")
    dose = page.get_by_label("Daily dose (mg/day)", exact=True)
    expect(dose).to_have_value("400")
    expect(dose.locator("option")).to_have_count(len(imatinib.facts().dose_levels_mg) + 1)
    expect(page.get_by_label("Administrations per day")).to_have_value("1")

    page.get_by_label("Daily dose (mg/day)", exact=True).select_option("")
    page.get_by_text("Off-label dose (only when no dose level fits)").click()
    page.get_by_label("Off-label daily dose (mg/day)").fill("500")
    page.get_by_role("button", name="Register the treatment").click()
    expect_error_next_to(page, "id_off_label_dose_mg", "is not a dose level of imatinib")
    screenshot(page, "13-treatment-form-off-label")
    assert Treatment.objects.count() == 1

    page.get_by_label("I confirm a dose that is not one of the drug's dose levels").check()
    page.get_by_label("Reason for the off-label dose").fill("hepatic impairment")
    page.get_by_role("button", name="Register the treatment").click()
    expect(page.get_by_role("status")).to_contain_text("Treatment with imatinib (gist) registered.")
    assert Treatment.objects.filter(drug=imatinib, regimens__off_label=True).count() == 1


def test_patient_form_by_keyboard_with_visible_focus(open_page, staff, treatment, screenshot):
    page = open_page(staff["nurse_a"])
    page.goto("/patients/new/")

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "id_study_number":
            break
    focused = page.locator("#id_study_number")
    expect(focused).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), outline
    page.keyboard.type("TDM-0007")
    page.get_by_label("Sex").select_option("M")
    page.get_by_label("Birth year").fill("1950")
    page.get_by_label("Tumour type").fill("melanoma")
    page.keyboard.press("Enter")

    expect_error_next_to(page, "id_study_number", "already exists")
    screenshot(page, "14-patient-form-duplicate")
    assert Patient.objects.count() == 1
