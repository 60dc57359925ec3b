"""Every main page, as each role sees it, checked with axe-core in Chromium (no serious or
critical violation: labels, contrast, landmarks, names) and kept as a screenshot."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from advice import services as advice_services
from advice.models import Advice
from cases.models import Sample
from tests.factories import AdverseEventFactory, PatientFactory, SampleFactory, TreatmentFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def at(days_back: int, hour: int) -> datetime.datetime:
    day = timezone.localdate() - datetime.timedelta(days=days_back)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


@pytest.fixture
def ward(staff, site_a):
    """Two patients at site A: one with advice released to the physician, an ongoing AE and a
    sample waiting for its result; one with draft advice for the pharmacist."""
    nurse = staff["nurse_a"]
    records = {}
    for number, name, result in (("TDM-0101", "Anna de Wit", 2870), ("TDM-0102", "Bram Kok", 4100)):
        patient = PatientFactory(
            actor=nurse,
            site=site_a,
            study_number=number,
            name=name,
            treating_physician=staff["physician_a"],
            responsible_nurse=nurse,
        )
        treatment = TreatmentFactory(
            actor=nurse,
            patient=patient,
            start_date=timezone.localdate() - datetime.timedelta(days=90),
        )
        sample = SampleFactory(
            actor=nurse,
            treatment=treatment,
            drawn_at=at(30, 9),
            last_dose_at=at(31, 21),
            concentration=Decimal(result),
        )
        records[number] = {"patient": patient, "treatment": treatment, "sample": sample}
    first = records["TDM-0101"]
    first["event"] = AdverseEventFactory(
        actor=nurse,
        treatment=first["treatment"],
        term="Diarrhea",
        grade=1,
        onset=timezone.localdate() - datetime.timedelta(days=20),
    )
    first["drawn"] = SampleFactory(
        actor=nurse,
        treatment=first["treatment"],
        drawn_at=at(1, 9),
        last_dose_at=at(2, 21),
        concentration=None,
    )
    released = Advice.objects.get(sample=first["sample"])
    advice_services.advice_release(actor=staff["pharmacist_a"], advice=released)
    records["released"] = released
    records["draft"] = Advice.objects.get(sample=records["TDM-0102"]["sample"])
    return records


def check_pages(page, role: str, pages: dict[str, str], screenshot, assert_accessible) -> None:
    problems = []
    for name, url in pages.items():
        response = page.goto(url)
        assert response.status in (200, 404), (url, response.status)
        page.wait_for_load_state("networkidle")
        if page.locator("object[type='application/pdf']").count():
            page.wait_for_timeout(2500)  # Chromium's PDF viewer paints after the file arrived
        screenshot(page, f"page-{role}-{name}")
        try:
            assert_accessible(page)
        except AssertionError as problem:
            problems.append(str(problem))
    assert not problems, "\n".join(problems)


def test_nurse_pages(open_page, staff, ward, screenshot, assert_accessible):
    case = ward["TDM-0101"]
    treatment = case["treatment"].pk
    page = open_page(staff["nurse_a"])
    check_pages(
        page,
        "nurse",
        {
            "home": "/",
            "worklist": "/worklist/",
            "patients": "/patients/",
            "patient": f"/patients/{case['patient'].pk}/",
            "treatment": f"/treatments/{treatment}/",
            "register-patient": "/patients/new/",
            "register-treatment": f"/patients/{case['patient'].pk}/treatments/new/",
            "log-sample": f"/treatments/{treatment}/samples/new/",
            "change-dose": f"/treatments/{treatment}/dose/",
            "stop-treatment": f"/treatments/{treatment}/stop/",
            "sample-awaiting-result": f"/samples/{case['drawn'].pk}/",
            "adverse-event": f"/adverse-events/{case['event'].pk}/",
            "notifications": "/notifications/",
            "not-found": "/patients/987654/",
        },
        screenshot,
        assert_accessible,
    )

    page.goto(f"/treatments/{treatment}/adverse-events/new/")
    page.get_by_label("CTCAE v5.0 term").fill("Hand-foot skin reaction")
    page.get_by_label("CTCAE v5.0 term").fill("Palmar-plantar erythrodysesthesia syndrome")
    page.get_by_role("radio").first.wait_for()
    page.wait_for_load_state("networkidle")
    screenshot(page, "page-nurse-log-adverse-event")
    assert_accessible(page)

    page.goto("/patients/new/")
    page.get_by_role("button", name="Register the patient").click()
    page.get_by_role("alert").wait_for()
    screenshot(page, "page-nurse-register-patient-errors")
    assert_accessible(page)

    page.goto(f"/samples/{case['drawn'].pk}/")
    page.get_by_label("Measured concentration").fill("-1")
    page.get_by_role("button", name="Save the result").click()
    page.get_by_role("alert").wait_for()
    screenshot(page, "page-nurse-result-errors")
    assert_accessible(page)
    assert Sample.objects.get(pk=case["drawn"].pk).status == Sample.Status.DRAWN


def test_pharmacist_pages(open_page, staff, ward, screenshot, assert_accessible):
    page = open_page(staff["pharmacist_a"])
    check_pages(
        page,
        "pharmacist",
        {
            "home": "/",
            "review-queue": "/advice/?state=draft",
            "review": f"/advice/{ward['draft'].pk}/",
        },
        screenshot,
        assert_accessible,
    )


def test_physician_pages(open_page, staff, ward, screenshot, assert_accessible):
    page = open_page(staff["physician_a"], viewport={"width": 1366, "height": 900})
    check_pages(
        page,
        "physician",
        {
            "home": "/",
            "notifications": "/notifications/",
            "sign-off-inbox": "/advice/?state=released",
            "sign-off": f"/advice/{ward['released'].pk}/",
        },
        screenshot,
        assert_accessible,
    )
    page.get_by_role("button", name="Reject and sign").click()
    page.get_by_role("alert").first.wait_for()
    screenshot(page, "page-physician-reject-errors")
    assert_accessible(page)


def test_data_manager_pages(open_page, staff, ward, screenshot, assert_accessible):
    page = open_page(staff["datamanager_a"])
    check_pages(
        page,
        "datamanager",
        {
            "home": "/",
            "patients": "/patients/",
            "audit-trail": "/audit/",
            "audit-trail-filtered": "/audit/?model=cases.sample&date_from=someday",
            "treatment": f"/treatments/{ward['TDM-0101']['treatment'].pk}/",
        },
        screenshot,
        assert_accessible,
    )


def test_login_page_with_an_error(open_page, screenshot, assert_accessible):
    page = open_page()
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("nurse_a")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("alert").wait_for()
    screenshot(page, "page-login-error")
    assert_accessible(page)
