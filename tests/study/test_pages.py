"""Data-manager pages: study exports with a progress bar, and the study dashboard."""

import pytest

from study.models import Export

pytestmark = pytest.mark.django_db


@pytest.fixture
def cohort(case_at, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case_at("a", "TDM-P1")
        case_at("b", "TDM-P2", adverse_event=False)


def login(client, user):
    client.force_login(user)
    return client


def test_export_from_the_page_to_the_download(
    client, staff, cohort, django_capture_on_commit_callbacks
):
    login(client, staff["datamanager_a"])
    assert client.get("/exports/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        started = client.post("/exports/start/", {"format": "xlsx"})
    export = Export.objects.get()
    assert started.status_code == 302
    assert started["Location"] == f"/exports/{export.pk}/"
    page = client.get(f"/exports/{export.pk}/").content.decode()
    assert 'id="export-download"' in page
    assert 'value="100"' in page
    download = client.get(f"/exports/{export.pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content)[:2] == b"PK"


def test_progress_polls_until_done(client, staff):
    login(client, staff["datamanager_a"])
    export = Export.objects.create(requested_by=staff["datamanager_a"], format="csv")
    Export.objects.filter(pk=export.pk).update(state=Export.State.RUNNING, progress=42)
    partial = client.get(f"/exports/{export.pk}/progress/").content.decode()
    assert 'hx-trigger="every 1s"' in partial
    assert 'value="42"' in partial
    Export.objects.filter(pk=export.pk).update(
        state=Export.State.FAILED, error="OSError: disk full"
    )
    partial = client.get(f"/exports/{export.pk}/progress/").content.decode()
    assert "hx-trigger" not in partial
    assert "OSError: disk full" in partial


def test_export_form_errors_are_shown_by_the_field(client, staff, settings):
    settings.TDM_EXPORT_KEY_FILE = ""
    login(client, staff["datamanager_a"])
    response = client.post("/exports/start/", {"format": "csv", "for_release": "on"})
    assert response.status_code == 400
    assert 'id="id_for_release-error"' in response.content.decode()
    bad = client.post("/exports/start/", {"format": "docx"})
    assert bad.status_code == 400
    assert 'id="id_format-error"' in bad.content.decode()
    assert Export.objects.count() == 0


def test_clinical_roles_cannot_reach_the_study_pages(client, staff):
    for name in ("nurse_a", "pharmacist_a", "physician_a"):
        login(client, staff[name])
        assert client.get("/exports/").status_code == 403
        assert client.get("/study/").status_code == 403


def test_another_data_managers_export_is_not_found(client, staff):
    export = Export.objects.create(requested_by=staff["datamanager_a"], format="csv")
    login(client, staff["datamanager_b"])
    assert client.get(f"/exports/{export.pk}/").status_code == 404
    assert client.get(f"/exports/{export.pk}/download/").status_code == 404


def test_dashboard_shows_figures_per_drug_and_the_plot(client, staff, cohort):
    login(client, staff["datamanager_a"])
    page = client.get("/study/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<svg" in html
    assert "sorafenib" in html
    assert "All drugs" in html
    assert "Patient A" not in html
