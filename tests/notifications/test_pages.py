"""In-app notifications: the list, the unread count in the header, opening one marks it read."""

from __future__ import annotations

import pytest

from advice import services as advice_services
from advice.models import Advice
from notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def released(case_at, staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a", adverse_event=False)
    advice = Advice.objects.get(sample=case["sample"])
    with django_capture_on_commit_callbacks(execute=True):
        advice_services.advice_release(actor=staff["pharmacist_a"], advice=advice)
    return advice


def test_physician_sees_the_count_and_opens_the_notification(client, staff, released):
    client.force_login(staff["physician_a"])
    note = Notification.objects.get(recipient=staff["physician_a"])

    home = client.get("/").content.decode()
    listing = client.get("/notifications/").content.decode()
    opened = client.post(f"/notifications/{note.pk}/open/", {"go": "1"})

    assert 'aria-label="1 unread"' in home
    assert note.subject in home
    assert note.subject in listing
    assert opened.status_code == 302
    assert opened["Location"] == f"/advice/{released.pk}/"
    note.refresh_from_db()
    assert note.read_at is not None
    assert "unread" not in client.get("/").content.decode().split("</header>")[0]


def test_mark_read_without_following_stays_on_the_list(client, staff, released):
    client.force_login(staff["physician_a"])
    note = Notification.objects.get(recipient=staff["physician_a"])

    response = client.post(f"/notifications/{note.pk}/open/")

    assert response["Location"] == "/notifications/"
    assert client.get("/notifications/?show=unread").content.decode().count(note.subject) == 0


def test_someone_elses_notification_is_not_found(client, staff, released):
    note = Notification.objects.get(recipient=staff["physician_a"])
    for name in ("physician_b", "nurse_a", "pharmacist_a"):
        client.force_login(staff[name])
        assert client.post(f"/notifications/{note.pk}/open/", {"go": "1"}).status_code == 404
        assert note.subject not in client.get("/notifications/").content.decode()
    note.refresh_from_db()
    assert note.read_at is None


def test_mark_all_read(client, staff, released):
    client.force_login(staff["physician_a"])

    response = client.post("/notifications/read-all/", follow=True)

    assert "1 notification marked read." in response.content.decode()
    assert not Notification.objects.filter(read_at__isnull=True).exists()


@pytest.mark.parametrize("query", ["?page=abc", "?page=999", "?show=whatever"])
def test_odd_list_queries_still_answer(client, staff, released, query):
    client.force_login(staff["physician_a"])
    assert client.get(f"/notifications/{query}").status_code == 200


def test_opening_needs_post(client, staff, released):
    client.force_login(staff["physician_a"])
    note = Notification.objects.get(recipient=staff["physician_a"])
    assert client.get(f"/notifications/{note.pk}/open/").status_code == 405
