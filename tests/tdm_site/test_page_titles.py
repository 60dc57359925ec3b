"""Every main page has a plain-text title (what a screen reader and the browser tab show)."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_titles_are_plain_text(client, staff, case_at, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a")
    client.force_login(staff["physician_a"])
    advice = case["treatment"].advice.first()
    urls = [
        "/",
        "/worklist/",
        "/patients/",
        f"/patients/{case['patient'].pk}/",
        f"/treatments/{case['treatment'].pk}/",
        f"/samples/{case['sample'].pk}/",
        f"/adverse-events/{case['event'].pk}/",
        "/advice/",
        f"/advice/{advice.pk}/",
        "/notifications/",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        title = re.search(r"<title>(.*?)</title>", response.content.decode(), re.S).group(1)
        assert "<" not in title, (url, title)
        assert title.strip().endswith("· eTDM"), (url, title)
