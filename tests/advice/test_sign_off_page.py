"""The physician's sign-off page: the PDF beside the decision, one form per decision, what an
acceptance changes (or that it changes no dose) and the pending changes it withdraws."""

from __future__ import annotations

import datetime
from collections import Counter
from decimal import Decimal

import pytest
from django.utils import timezone

from advice import services as advice_services
from advice.models import Advice
from cases.models import DoseRegimen
from notifications.models import Notification
from tests import factories
from tests.advice import stories
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


# What the physician reads before and after signing (docs/workflow.md §3) -----------------------


def page_text(client, user, url) -> str:
    client.force_login(user)
    return " ".join(client.get(url).content.decode().split())


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def test_the_sign_off_page_lists_the_pending_changes_it_will_withdraw(client, staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    with on_commit():
        sample = stories.trough_sample(staff, treatment, "3000")
    escalation = Advice.objects.get(sample=sample)
    stories.release(staff, escalation)
    stories.accept(staff, escalation, stories.day(2))
    with on_commit():
        event = stories.hand_foot_syndrome(staff, treatment, grade=3)
    toxicity = Advice.objects.get(adverse_event=event)
    stories.release(staff, toxicity)

    html = page_text(client, staff["physician_a"], f"/advice/{toxicity.pk}/")

    assert "Dose changes not yet in effect:" in html
    assert f"1000 mg/day from {stories.day(2):%Y-%m-%d} (TDM advice)" in html
    assert "Accepting this advice withdraws each of them that would take effect on or after" in html
    # A toxicity advice asks for no checks: no empty "I confirmed" group.
    assert "I confirmed" not in html


def test_an_advice_that_changes_no_dose_says_so_before_and_after_signing(client, staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    with on_commit():
        sample = stories.trough_sample(staff, treatment, "4000")
    advice = Advice.objects.get(sample=sample)
    pending = factories.DoseRegimenFactory(
        actor=staff["physician_a"],
        treatment=treatment,
        effective_from=stories.day(3),
        daily_dose_mg=Decimal(600),
        reason=DoseRegimen.Reason.OTHER,
    )
    stories.release(staff, advice)

    before = page_text(client, staff["physician_a"], f"/advice/{advice.pk}/")
    stories.accept(staff, advice, stories.day(1))
    after = page_text(client, staff["physician_a"], f"/advice/{advice.pk}/")

    assert "Accepting this advice changes no dose" in before
    assert f"600 mg/day from {pending.effective_from:%Y-%m-%d}" in before
    assert "Accepting this advice leaves them prescribed." in before
    assert "; no dose change</p>" in after
    assert "takes effect" not in after


def test_the_signature_states_the_new_dose_and_its_date(client, staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    with on_commit():
        sample = stories.trough_sample(staff, treatment, "3000")
    advice = Advice.objects.get(sample=sample)
    stories.release(staff, advice)

    before = page_text(client, staff["physician_a"], f"/advice/{advice.pk}/")
    stories.accept(staff, advice, stories.day(1))
    after = page_text(client, staff["nurse_a"], f"/advice/{advice.pk}/")

    assert "Dose changes not yet in effect" not in before
    assert "changes no dose" not in before
    assert f"; the new dose takes effect on {stories.day(1):%Y-%m-%d}</p>" in after


def test_the_release_form_re_derives_an_edited_dose(client, staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800, reduced_to=400)
    with on_commit():
        sample = stories.trough_sample(staff, treatment, "4000")
    advice = Advice.objects.get(sample=sample)
    client.force_login(staff["pharmacist_a"])

    # The form sends the text as shown, unchanged: the text follows the edited dose.
    response = client.post(
        f"/advice/{advice.pk}/release/",
        {
            "text": advice.text,
            "proposed_daily_dose_mg": "600",
            "proposed_administrations_per_day": "2",
        },
    )

    assert response.status_code == 302
    advice.refresh_from_db()
    assert (advice.state, advice.action) == ("released", "increase")
    assert "Increase sorafenib from 400 mg/day to 600 mg/day" in advice.text
    html = page_text(client, staff["physician_a"], f"/advice/{advice.pk}/")
    assert "Computed original: “Estimated Ctrough 4000 ng/mL" in html
    assert 'name="checks_confirmed" value="adherence"' in html


def test_the_release_form_shows_a_refused_edit_by_its_field(client, staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800, reduced_to=400)
    with on_commit():
        sample = stories.trough_sample(staff, treatment, "4000")
    advice = Advice.objects.get(sample=sample)
    client.force_login(staff["pharmacist_a"])

    response = client.post(
        f"/advice/{advice.pk}/release/",
        {
            "text": advice.text,
            "proposed_daily_dose_mg": "1600",
            "proposed_administrations_per_day": "1",
        },
    )

    assert response.status_code == 400
    error = field_error(response.content.decode(), "id_proposed_administrations_per_day")
    assert "largest single dose of sorafenib (800 mg)" in error


def test_advice_after_a_correction_links_the_signed_advice(client, staff, on_commit):
    treatment = stories.sorafenib_treatment(staff, daily=800)
    with on_commit():
        sample = stories.trough_sample(staff, treatment, "4000")
    signed = Advice.objects.get(sample=sample)
    stories.release(staff, signed)
    stories.accept(staff, signed, stories.day(1))
    with on_commit():
        stories.correct(staff, sample, concentration=Decimal(3000))
    new = Advice.objects.filter(sample=sample).latest("pk")

    html = page_text(client, staff["pharmacist_a"], f"/advice/{new.pk}/")

    assert '<span class="badge">after correction</span>' in html
    assert f'it follows <a href="/advice/{signed.pk}/">advice {signed.pk}</a>, accepted' in html
    assert "after correction" not in page_text(
        client, staff["pharmacist_a"], f"/advice/{signed.pk}/"
    )
