"""Study exports as jobs (docs/data-dictionary.md): asked for by a data manager, run by a task with
progress, downloaded once done; everything in the audit trail."""

import datetime
import io
import zipfile

import pytest
from django.utils import timezone

from cases.models import AuditEvent
from study import jobs
from study.models import Export

pytestmark = pytest.mark.django_db


@pytest.fixture
def cohort(case_at):
    case_at("a", "TDM-X1")
    case_at("b", "TDM-X2")


def test_data_manager_exports_and_downloads(api, staff, cohort, django_capture_on_commit_callbacks):
    client = api("datamanager_a")
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post("/api/v1/exports/", {"format": "csv"}, format="json")
    assert created.status_code == 201, created.json()
    export_id = created.json()["id"]
    detail = client.get(f"/api/v1/exports/{export_id}/").json()
    assert detail["state"] == "done"
    assert detail["progress"] == 100
    assert detail["download_url"] == f"/api/v1/exports/{export_id}/download/"
    download = client.get(detail["download_url"])
    assert download.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))
    assert "dictionary.csv" in archive.namelist()
    patients = archive.read(next(n for n in archive.namelist() if "patients" in n)).decode()
    assert "TDM-X1" in patients
    assert "TDM-X2" in patients
    assert "Patient A" not in patients
    actions = AuditEvent.objects.filter(model="study.export", object_id=str(export_id))
    assert sorted(actions.values_list("detail", flat=True)) == [
        "downloaded",
        "requested csv export",
    ]


def test_only_roles_with_export_permission_may_export(api, staff, cohort):
    for name in ("nurse_a", "pharmacist_a", "physician_a"):
        assert (
            api(name).post("/api/v1/exports/", {"format": "json"}, format="json").status_code == 403
        )
    assert Export.objects.count() == 0


def test_a_data_manager_sees_only_their_own_exports(api, staff, cohort):
    mine = jobs.export_request(actor=staff["datamanager_a"], format="json")
    assert api("datamanager_b").get(f"/api/v1/exports/{mine.pk}/").status_code == 404
    assert api("admin").get(f"/api/v1/exports/{mine.pk}/").status_code == 200


def test_unknown_format_and_release_without_key_are_refused(api, staff, settings):
    client = api("datamanager_a")
    bad = client.post("/api/v1/exports/", {"format": "pdf"}, format="json")
    assert bad.status_code == 400
    assert "format" in bad.json()
    settings.TDM_EXPORT_KEY_FILE = ""
    no_key = client.post("/api/v1/exports/", {"format": "csv", "for_release": True}, format="json")
    assert no_key.status_code == 400
    assert "for_release" in no_key.json()
    assert Export.objects.count() == 0


def test_release_export_re_pseudonymises_with_the_installation_key(
    api, staff, cohort, settings, tmp_path, django_capture_on_commit_callbacks
):
    key = tmp_path / "export.key"
    key.write_bytes(b"k" * 48)
    settings.TDM_EXPORT_KEY_FILE = str(key)
    with django_capture_on_commit_callbacks(execute=True):
        created = api("datamanager_a").post(
            "/api/v1/exports/", {"format": "json", "for_release": True}, format="json"
        )
    export = Export.objects.get(pk=created.json()["id"])
    assert export.state == Export.State.DONE
    content = jobs.export_file(export, actor=staff["datamanager_a"]).read_text()
    assert "TDM-X1" not in content
    assert "TDM-X2" not in content


def test_download_before_it_is_done_is_a_conflict(api, staff):
    export = jobs.export_request(actor=staff["datamanager_a"], format="csv")
    response = api("datamanager_a").get(f"/api/v1/exports/{export.pk}/download/")
    assert response.status_code == 409


def test_running_twice_writes_once_and_a_stalled_export_is_taken_over(staff, cohort):
    export = jobs.export_request(actor=staff["datamanager_a"], format="json")
    assert jobs.export_run(export_id=export.pk).state == Export.State.DONE
    finished_at = Export.objects.get(pk=export.pk).finished_at
    assert jobs.export_run(export_id=export.pk).finished_at == finished_at

    stalled = jobs.export_request(actor=staff["datamanager_a"], format="json")
    Export.objects.filter(pk=stalled.pk).update(state=Export.State.RUNNING)
    assert jobs.export_run(export_id=stalled.pk).state == Export.State.RUNNING
    assert jobs._claim(stalled.pk, timezone.now() + datetime.timedelta(minutes=11))


def test_a_failing_export_is_marked_failed_with_its_error(staff, cohort, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(jobs, "write_export", broken)
    export = jobs.export_request(actor=staff["datamanager_a"], format="csv")
    result = jobs.export_run(export_id=export.pk)
    assert result.state == Export.State.FAILED
    assert result.error == "OSError: disk full"


def test_progress_is_recorded_while_the_export_runs(staff, cohort, monkeypatch):
    export = jobs.export_request(actor=staff["datamanager_a"], format="csv")
    seen = []
    real_write_export = jobs.write_export

    def observed(fmt, path, *, pseudonymiser, progress):
        def spy(done, total):
            progress.last_write -= datetime.timedelta(seconds=5)
            progress(done, total)
            seen.append(Export.objects.get(pk=export.pk).progress)

        return real_write_export(fmt, path, pseudonymiser=pseudonymiser, progress=spy)

    monkeypatch.setattr(jobs, "write_export", observed)
    assert jobs.export_run(export_id=export.pk).progress == 100
    assert seen
    assert seen == sorted(seen)
    assert all(0 <= percent <= 99 for percent in seen)
