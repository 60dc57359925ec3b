"""The advice pages: review queue, release, sign-off with password, errors next to the field."""

import datetime

import pytest
from django.utils import timezone

from advice.models import Advice
from cases.models import DoseRegimen
from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def advice(case_at, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a", adverse_event=False)
    return Advice.objects.get(sample=case["sample"])


def page(client, user, url, data=None):
    client.force_login(user)
    return client.post(url, data) if data is not None else client.get(url)


def test_pharmacist_reviews_and_releases_from_the_queue(client, staff, advice):
    queue = page(client, staff["pharmacist_a"], "/advice/")
    assert queue.status_code == 200
    assert f"/advice/{advice.pk}/" in queue.content.decode()
    detail = page(client, staff["pharmacist_a"], f"/advice/{advice.pk}/")
    assert "Release to the physician" in detail.content.decode()
    released = page(
        client,
        staff["pharmacist_a"],
        f"/advice/{advice.pk}/release/",
        {
            "text": advice.text,
            "proposed_daily_dose_mg": "800",
            "proposed_administrations_per_day": "2",
        },
    )
    assert released.status_code == 302
    advice.refresh_from_db()
    assert advice.state == Advice.State.RELEASED
    assert advice.edited is False


def test_release_with_a_dose_off_the_levels_shows_the_error_by_the_field(client, staff, advice):
    response = page(
        client,
        staff["pharmacist_a"],
        f"/advice/{advice.pk}/release/",
        {"text": "x", "proposed_daily_dose_mg": "700", "proposed_administrations_per_day": "2"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_proposed_daily_dose_mg-error"' in html
    assert "dose levels of sorafenib" in html
    advice.refresh_from_db()
    assert advice.state == Advice.State.DRAFT


def test_physician_signs_with_password_and_checks(client, staff, advice):
    page(
        client,
        staff["pharmacist_a"],
        f"/advice/{advice.pk}/release/",
        {
            "text": advice.text,
            "proposed_daily_dose_mg": "800",
            "proposed_administrations_per_day": "2",
        },
    )
    url = f"/advice/{advice.pk}/accept/"
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()
    wrong = page(
        client,
        staff["physician_a"],
        url,
        {"password": "nope", "effective_date": tomorrow, "checks_confirmed": advice.checks},
    )
    assert wrong.status_code == 400
    assert 'id="accept_password-error"' in wrong.content.decode()
    unchecked = page(
        client, staff["physician_a"], url, {"password": DEMO_PASSWORD, "effective_date": tomorrow}
    )
    assert unchecked.status_code == 400
    assert "Confirm before accepting" in unchecked.content.decode()
    accepted = page(
        client,
        staff["physician_a"],
        url,
        {"password": DEMO_PASSWORD, "effective_date": tomorrow, "checks_confirmed": advice.checks},
    )
    assert accepted.status_code == 302
    advice.refresh_from_db()
    assert advice.state == Advice.State.ACCEPTED
    assert DoseRegimen.objects.filter(advice=advice, effective_from=tomorrow).exists()
    again = page(client, staff["physician_a"], f"/advice/{advice.pk}/")
    assert "Accept and sign" not in again.content.decode()


def test_reject_without_reason_is_shown_by_the_field(client, staff, advice):
    page(
        client,
        staff["pharmacist_a"],
        f"/advice/{advice.pk}/release/",
        {
            "text": advice.text,
            "proposed_daily_dose_mg": "800",
            "proposed_administrations_per_day": "2",
        },
    )
    response = page(
        client, staff["physician_a"], f"/advice/{advice.pk}/reject/", {"password": DEMO_PASSWORD}
    )
    assert response.status_code == 400
    assert 'id="reject_reason-error"' in response.content.decode()


def test_other_sites_and_wrong_roles_cannot_act(client, staff, advice):
    assert page(client, staff["physician_b"], f"/advice/{advice.pk}/").status_code == 404
    assert page(client, staff["pharmacist_b"], f"/advice/{advice.pk}/report.pdf").status_code == 404
    nurse_try = page(
        client,
        staff["nurse_a"],
        f"/advice/{advice.pk}/release/",
        {"text": "x", "proposed_daily_dose_mg": "800", "proposed_administrations_per_day": "2"},
    )
    assert nurse_try.status_code == 302
    advice.refresh_from_db()
    assert advice.state == Advice.State.DRAFT


def test_report_pdf_is_pseudonymised_for_data_managers(client, staff, advice):
    clinical = page(client, staff["physician_a"], f"/advice/{advice.pk}/report.pdf")
    assert clinical["Content-Type"] == "application/pdf"
    pseudonymised = page(client, staff["datamanager_b"], f"/advice/{advice.pk}/report.pdf")
    assert pseudonymised["Content-Type"] == "application/pdf"
    from io import BytesIO

    from pypdf import PdfReader

    def text(response):
        return "".join(p.extract_text() for p in PdfReader(BytesIO(response.content)).pages)

    assert "Patient A" in text(clinical)
    assert "Patient A" not in text(pseudonymised)
    assert "MRN-A-1" not in text(pseudonymised)
    assert "TDM-A001" in text(pseudonymised)
