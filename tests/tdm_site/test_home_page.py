"""The home page per role: what each person has to do next."""

from __future__ import annotations

import pytest

from advice import services as advice_services
from advice.models import Advice

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(case_at, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a", adverse_event=False)
    return Advice.objects.get(sample=case["sample"])


def home(client, user) -> str:
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def test_pharmacist_sees_drafts_to_review(client, staff, draft):
    html = home(client, staff["pharmacist_a"])
    assert "Advice to review" in html
    assert f"/advice/{draft.pk}/" in html
    assert "Advice to sign" not in html
    assert "Samples to collect" not in html
    assert "Advice to review" in home(client, staff["pharmacist_b"])
    assert f"/advice/{draft.pk}/" not in home(client, staff["pharmacist_b"])


def test_physician_sees_advice_to_sign_once_released(client, staff, draft):
    assert f"/advice/{draft.pk}/" not in home(client, staff["physician_a"])
    advice_services.advice_release(actor=staff["pharmacist_a"], advice=draft)
    html = home(client, staff["physician_a"])
    assert "Advice to sign" in html
    assert f"/advice/{draft.pk}/" in html
    assert f"/advice/{draft.pk}/" not in home(client, staff["physician_b"])


def test_nurse_sees_the_worklist_summary_and_may_register(client, staff, draft):
    html = home(client, staff["nurse_a"])
    assert "Samples to collect" in html
    assert 'href="/patients/new/"' in html
    assert "Advice to review" not in html
    assert 'href="/exports/"' not in html


@pytest.mark.parametrize("name", ["datamanager_a", "admin"])
def test_data_manager_sees_the_study_data_links(client, staff, draft, name):
    html = home(client, staff[name])
    assert "Study data" in html
    assert 'href="/audit/"' in html
    assert 'href="/exports/"' in html
    assert 'href="/study/"' in html
    assert 'href="/patients/new/"' not in html
    assert "Samples to collect" not in html


def test_menu_offers_the_worklist_to_clinical_users_only(client, staff, draft):
    assert 'href="/worklist/"' in home(client, staff["nurse_a"])
    assert 'href="/worklist/"' in home(client, staff["physician_a"])
    assert 'href="/worklist/"' not in home(client, staff["datamanager_a"])
    assert 'href="/audit/"' not in home(client, staff["nurse_a"])
