"""The physician's sign-off page: the PDF beside the decision, one form per decision."""

from __future__ import annotations

import datetime
from collections import Counter

import pytest
from django.utils import timezone

from advice import services as advice_services
from advice.models import Advice
from notifications.models import Notification
from tests.conftest import DEMO_PASSWORD
from tests.pages import elements, field_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def released(case_at, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a", adverse_event=False)
    advice = Advice.objects.get(sample=case["sample"])
    with django_capture_on_commit_callbacks(execute=True):
        advice_services.advice_release(actor=staff["pharmacist_a"], advice=advice)
    return advice


def test_report_is_embedded_beside_the_decision(client, staff, released):
    client.force_login(staff["physician_a"])

    html = client.get(f"/advice/{released.pk}/").content.decode()
    report = client.get(f"/advice/{released.pk}/report.pdf")

    assert f'data="/advice/{released.pk}/report.pdf#' in html
    assert report["X-Frame-Options"] == "SAMEORIGIN"
    assert "Accept and sign" in html
    assert "Reject and sign" in html


def test_every_id_on_the_sign_off_page_is_unique(client, staff, released):
    client.force_login(staff["physician_a"])

    html = client.get(f"/advice/{released.pk}/").content.decode()

    ids = Counter(a["id"] for a in elements(html).attrs.values())
    assert [i for i, n in ids.items() if n > 1] == []
    assert 'for="accept_password"' in html
    assert 'for="reject_password"' in html


def test_effective_date_out_of_range_is_refused_next_to_it(client, staff, released):
    client.force_login(staff["physician_a"])

    response = client.post(
        f"/advice/{released.pk}/accept/",
        {
            "password": DEMO_PASSWORD,
            "effective_date": "9999-12-31",
            "checks_confirmed": released.checks,
        },
    )

    assert response.status_code == 400
    assert "between 1900" in field_error(response.content.decode(), "accept_effective_date")
    released.refresh_from_db()
    assert released.state == Advice.State.RELEASED


def test_effective_date_in_the_past_is_refused(client, staff, released):
    client.force_login(staff["physician_a"])
    yesterday = timezone.localdate() - datetime.timedelta(days=1)

    response = client.post(
        f"/advice/{released.pk}/accept/",
        {
            "password": DEMO_PASSWORD,
            "effective_date": yesterday.isoformat(),
            "checks_confirmed": released.checks,
        },
    )

    assert "in the past" in field_error(response.content.decode(), "accept_effective_date")


def test_rejection_messages_say_what_is_missing(client, staff, released):
    client.force_login(staff["physician_a"])

    html = client.post(f"/advice/{released.pk}/reject/", {}).content.decode()

    assert "Give the reason" in field_error(html, "reject_reason")
    assert "Enter your password" in field_error(html, "reject_password")


def test_opening_the_advice_reads_its_notification(client, staff, released):
    client.force_login(staff["physician_a"])
    assert Notification.objects.filter(read_at__isnull=True).count() == 1

    client.get(f"/advice/{released.pk}/")

    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_release_offers_the_drugs_dose_levels(
    client, staff, case_at, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a", adverse_event=False)
    advice = Advice.objects.get(sample=case["sample"])
    client.force_login(staff["pharmacist_a"])

    html = client.get(f"/advice/{advice.pk}/").content.decode()

    assert '<option value="800" selected>800 mg/day</option>' in html
    assert '<option value="1600">1600 mg/day</option>' in html


def test_queue_tabs_count_each_state(client, staff, released):
    client.force_login(staff["physician_a"])

    html = client.get("/advice/").content.decode()

    assert "Released (1)" in html
    assert "Draft (0)" in html
    assert f"/advice/{released.pk}/" in html
