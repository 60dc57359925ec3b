"""Reports are rendered on the advice signals, and the report sweep renders what a broker
outage left undone (docs/workflow.md): nothing lost, nothing rendered twice."""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError

from advice import services as advice_services
from advice.models import Advice
from reports import storage, tasks
from tests.factories import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


def _broker_down(*args, **kwargs):
    raise OperationalError("connection refused")


def _age(advice: Advice, minutes: int) -> None:
    before = timezone.now() - datetime.timedelta(minutes=minutes)
    Advice.objects.filter(pk=advice.pk).update(updated_at=before)


def test_computed_advice_gets_its_report_on_commit(case_at, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a", adverse_event=False)
    advice = Advice.objects.get(sample=case["sample"])
    assert len(advice.report_sha256) == 64
    assert (Path(settings.MEDIA_ROOT) / advice.report_pdf.name).read_bytes().startswith(b"%PDF")


def test_the_sweep_renders_reports_the_broker_never_took(
    case_at, staff, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(tasks.render_advice_report, "apply_async", _broker_down)
    monkeypatch.setattr(tasks.render_signed_report, "apply_async", _broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a", adverse_event=False)
    advice = Advice.objects.get(sample=case["sample"])
    assert advice.report_sha256 == ""

    # Fresh advice is left to its own task; older advice is the backlog.
    assert tasks.sweep_report_backlog()["reports"] == 0
    _age(advice, minutes=5)
    assert tasks.sweep_report_backlog()["reports"] == 1
    advice.refresh_from_db()
    assert len(advice.report_sha256) == 64
    assert tasks.sweep_report_backlog()["reports"] == 0

    with django_capture_on_commit_callbacks(execute=True):
        advice_services.advice_release(actor=staff["pharmacist_a"], advice=advice)
        advice_services.advice_accept(
            actor=staff["physician_a"],
            advice=advice,
            password=DEMO_PASSWORD,
            checks_confirmed=["adherence", "drug_interactions"],
        )
    advice.refresh_from_db()
    assert advice.signed_report_sha256 == ""
    Advice.objects.filter(pk=advice.pk).update(
        decided_at=timezone.now() - datetime.timedelta(minutes=5)
    )
    assert tasks.sweep_report_backlog()["signed_reports"] == 1
    advice.refresh_from_db()
    assert advice.signed_report_pdf.name.endswith("-signed.pdf")
    assert tasks.sweep_report_backlog()["signed_reports"] == 0


def test_the_sweep_removes_temporary_files_of_killed_renders_only(db):
    folder = Path(settings.MEDIA_ROOT) / storage.REPORT_FOLDER
    folder.mkdir(parents=True)
    stale = folder / ".advice-1.pdf.tmp"
    fresh = folder / ".advice-2.pdf.tmp"
    stale.write_bytes(b"%PDF half")
    fresh.write_bytes(b"%PDF half")
    old = (timezone.now() - storage.STALE_TEMPORARY_AGE - datetime.timedelta(minutes=1)).timestamp()
    os.utime(stale, (old, old))
    assert tasks.sweep_report_backlog()["stale_temporary_files"] == 1
    assert not stale.exists()
    assert fresh.exists()
