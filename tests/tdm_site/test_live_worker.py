"""The whole TDM flow through the API with a real Celery worker process (docs/workflow.md,
docs/api.md).

Runs on PostgreSQL and the configured broker (Redis in CI); see `postgresql` in conftest.
"""

import datetime
import hashlib
import os
import signal
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from advice.models import Advice
from cases.models import DoseRegimen
from reports import storage as report_storage
from tests.conftest import DEMO_PASSWORD
from tests.live import celery_worker, purge_broker, wait_for

pytestmark = [
    pytest.mark.live_worker,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def worker_var(tmp_path, settings):
    var = tmp_path / "var"
    settings.MEDIA_ROOT = var / "media"
    purge_broker()
    return var


def report_ready(treatment_id: int):
    advice = Advice.objects.filter(treatment_id=treatment_id).exclude(report_sha256="").first()
    return advice


def test_sample_to_signed_dose_change_with_a_real_worker(postgresql, staff, api, worker_var):
    nurse, pharmacist, physician = api("nurse_a"), api("pharmacist_a"), api("physician_a")
    with celery_worker(worker_var):
        patient = nurse.post(
            "/api/v1/patients/",
            {
                "study_number": "TDM-E2E1",
                "site": "SITEA",
                "sex": "M",
                "birth_year": 1956,
                "tumour": "hepatocellular carcinoma",
                "treating_physician": "physician_a",
                "responsible_nurse": "nurse_a",
            },
            format="json",
        )
        assert patient.status_code == 201, patient.json()
        treatment = nurse.post(
            "/api/v1/treatments/",
            {
                "patient": "TDM-E2E1",
                "drug": "sorafenib",
                "indication": None,
                "start_date": "2024-01-08",
                "daily_dose_mg": 800,
                "administrations_per_day": 2,
            },
            format="json",
        ).json()
        sample = nurse.post(
            "/api/v1/samples/",
            {
                "treatment": treatment["id"],
                "drawn_at": "2024-02-05T09:00:00+01:00",
                "last_dose_at": "2024-02-04T21:00:00+01:00",
                "concentration": 2870,
                "unit": "ng/mL",
                "below_lloq": False,
            },
            format="json",
        )
        assert sample.status_code == 201, sample.json()
        assert sample.json()["ctrough_ng_ml"] == 2870

        advice = wait_for(
            lambda: report_ready(treatment["id"]), timeout=90, what="advice and its PDF"
        )
        listed = nurse.get("/api/v1/advice/", {"treatment": treatment["id"]}).json()["results"]
        assert [a["id"] for a in listed] == [advice.pk]
        assert listed[0]["action"] == "increase"
        # 1000 mg/day twice daily from 200 mg tablets: larger part first
        # (docs/clinical-rules.md §4).
        assert listed[0]["proposed_split_mg"] == [600, 400]
        assert "above_label_dose" in listed[0]["warnings"]
        pdf = Path(settings.MEDIA_ROOT) / advice.report_pdf.name
        assert hashlib.sha256(pdf.read_bytes()).hexdigest() == advice.report_sha256

        released = pharmacist.post(f"/api/v1/advice/{advice.pk}/release/", {}, format="json")
        assert released.status_code == 200, released.json()
        assert released.json()["state"] == "released"

        accepted = physician.post(
            f"/api/v1/advice/{advice.pk}/accept/",
            {"password": DEMO_PASSWORD, "checks_confirmed": ["adherence", "drug_interactions"]},
            format="json",
        )
        assert accepted.status_code == 200, accepted.json()
        effective = timezone.localdate() + datetime.timedelta(days=1)
        regimen = DoseRegimen.objects.get(advice=advice)
        assert regimen.reason == "tdm_advice"
        assert regimen.daily_dose_mg == Decimal(1000)
        assert regimen.effective_from == effective
        schedule = nurse.get(
            f"/api/v1/treatments/{treatment['id']}/schedule/",
            {"until": (effective + datetime.timedelta(days=60)).isoformat()},
        ).json()["due"]
        post_change = (effective + datetime.timedelta(days=28)).isoformat()
        assert {"date": post_change, "kind": "post_change", "fulfilled_by": None} in schedule

        signed = wait_for(
            lambda: Advice.objects.exclude(signed_report_sha256="").filter(pk=advice.pk).first(),
            timeout=90,
            what="the signed PDF",
        )
        signed_pdf = Path(settings.MEDIA_ROOT) / signed.signed_report_pdf.name
        assert hashlib.sha256(signed_pdf.read_bytes()).hexdigest() == signed.signed_report_sha256
        download = physician.get(f"/api/v1/advice/{advice.pk}/report.pdf")
        assert download["Content-Type"] == "application/pdf"
        assert b"".join(download) == signed_pdf.read_bytes()

        again = physician.post(
            f"/api/v1/advice/{advice.pk}/accept/",
            {"password": DEMO_PASSWORD, "checks_confirmed": ["adherence", "drug_interactions"]},
            format="json",
        )
        assert again.status_code == 409
        assert DoseRegimen.objects.filter(advice=advice).count() == 1


def test_reject_needs_a_reason_with_a_real_worker(postgresql, staff, api, case_at, worker_var):
    with celery_worker(worker_var):
        case = case_at("a", adverse_event=False)
        advice = wait_for(
            lambda: report_ready(case["treatment"].pk), timeout=90, what="advice and its PDF"
        )
        api("pharmacist_a").post(f"/api/v1/advice/{advice.pk}/release/", {}, format="json")
        physician = api("physician_a")
        regimens_before = list(DoseRegimen.objects.values_list("pk", flat=True))
        no_reason = physician.post(
            f"/api/v1/advice/{advice.pk}/reject/", {"password": DEMO_PASSWORD}, format="json"
        )
        assert no_reason.status_code == 400
        assert "reason" in no_reason.json()
        advice.refresh_from_db()
        assert advice.state == "released"
        rejected = physician.post(
            f"/api/v1/advice/{advice.pk}/reject/",
            {"password": DEMO_PASSWORD, "reason": "Adherence doubtful; repeat the level."},
            format="json",
        )
        assert rejected.status_code == 200
        advice.refresh_from_db()
        assert advice.state == "rejected"
        assert advice.rejection_reason == "Adherence doubtful; repeat the level."
        assert list(DoseRegimen.objects.values_list("pk", flat=True)) == regimens_before


def test_a_worker_killed_while_rendering_leaves_no_partial_report(
    postgresql, staff, case_at, worker_var
):
    """The pool process dies mid-write; the task is delivered again and completes, and the
    report's path only ever holds a whole PDF whose SHA-256 is the stored one."""
    marker = worker_var / "stalled.pid"
    with celery_worker(
        worker_var,
        app="tests.stalling_worker",
        pool="prefork",
        extra_env={"TDM_TEST_STALL_MARKER": str(marker)},
    ):
        case = case_at("a", adverse_event=False)
        wait_for(marker.exists, timeout=90, what="the render to stall mid-write")
        os.kill(int(marker.read_text()), signal.SIGKILL)
        reports = Path(settings.MEDIA_ROOT) / "reports"
        assert list(reports.glob("*.pdf")) == []
        advice = Advice.objects.get(sample=case["sample"])
        assert advice.report_sha256 == ""
        advice = wait_for(
            lambda: report_ready(case["treatment"].pk), timeout=90, what="the retried render"
        )
    pdfs = list(reports.glob("*.pdf"))
    assert [p.name for p in pdfs] == [Path(advice.report_pdf.name).name]
    content = pdfs[0].read_bytes()
    assert content.startswith(b"%PDF-")
    assert content.rstrip().endswith(b"%%EOF")
    assert hashlib.sha256(content).hexdigest() == advice.report_sha256
    # What the killed process had half written is removed by the sweep once surely orphaned.
    orphans = list(reports.glob(".*.tmp"))
    assert len(orphans) == 1
    later = timezone.now() + datetime.timedelta(minutes=16)
    assert report_storage.remove_stale_temporary_files(now=later) == 1
    assert list(reports.glob(".*.tmp")) == []
    assert pdfs[0].read_bytes() == content
