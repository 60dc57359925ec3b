"""A cancelled sample is not evaluable anywhere, and the open advice of its treatment redraws its
report without it (docs/workflow.md): a value entered in error must not stay on a plot the
pharmacist reviews."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from advice.models import Advice
from cases import services
from cases.models import Sample
from study.pseudonym import Pseudonymiser
from study.tables import SAMPLES
from tests.factories import SampleFactory, local_datetime

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_results(staff, case_at, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a", adverse_event=False)
        newer = SampleFactory(
            actor=staff["nurse_a"],
            treatment=case["treatment"],
            drawn_at=local_datetime("2024-03-04 09:00"),
            concentration=3100,
        )
    return case["sample"], newer


def test_a_cancelled_sample_is_not_evaluable_in_the_api_the_page_and_the_export(
    staff, api, client, two_results
):
    older, _ = two_results
    assert Sample.objects.get(pk=older.pk).evaluable is True
    services.sample_cancel(actor=staff["nurse_a"], sample=older, reason="wrong patient's tube")
    older.refresh_from_db()
    assert older.evaluable is False
    assert api("nurse_a").get(f"/api/v1/samples/{older.pk}/").json()["evaluable"] is False
    client.force_login(staff["nurse_a"])
    page = client.get(f"/treatments/{older.treatment_id}/").content.decode()
    assert 'title="wrong patient&#x27;s tube">no: cancelled</span>' in page
    columns = [column.name for column in SAMPLES.columns]
    _, highest_id = SAMPLES.extent()
    rows = {
        row[0]: dict(zip(columns, row, strict=True))
        for row in SAMPLES.rows(Pseudonymiser(), up_to_id=highest_id)
    }
    assert rows[older.pk]["evaluable"] is False


def test_the_open_advice_redraws_its_report_without_the_cancelled_sample(
    staff, two_results, django_capture_on_commit_callbacks
):
    older, newer = two_results
    open_advice = Advice.objects.get(sample=newer)
    assert open_advice.state == Advice.State.DRAFT
    drawn_with_it = open_advice.report_sha256
    assert len(drawn_with_it) == 64
    with django_capture_on_commit_callbacks(execute=True):
        services.sample_cancel(actor=staff["nurse_a"], sample=older, reason="entered in error")
    open_advice.refresh_from_db()
    assert open_advice.state == Advice.State.DRAFT
    assert open_advice.report_sha256 not in ("", drawn_with_it)


def test_a_cancelled_sample_carries_the_reason_code_cancelled_after_its_own(
    staff, api, two_results
):
    older, _ = two_results
    services.sample_cancel(actor=staff["nurse_a"], sample=older, reason="wrong patient's tube")

    answer = api("nurse_a").get(f"/api/v1/samples/{older.pk}/").json()
    assert answer["reasons"] == ["cancelled"]
    columns = [column.name for column in SAMPLES.columns]
    _, highest_id = SAMPLES.extent()
    rows = {
        row[0]: dict(zip(columns, row, strict=True))
        for row in SAMPLES.rows(Pseudonymiser(), up_to_id=highest_id)
    }
    assert "cancelled" in str(rows[older.pk]["not_evaluable_reasons"])


def test_the_migration_gives_earlier_cancelled_samples_the_reason_code(staff, two_results):
    older, _ = two_results
    Sample.objects.filter(pk=older.pk).update(
        status="cancelled", cancel_reason="wrong tube", evaluable=False
    )
    migration = importlib.import_module("cases.migrations.0006_cancelled_samples_reason_code")

    migration.add_reason_code(apps, None)
    migration.add_reason_code(apps, None)

    assert Sample.objects.get(pk=older.pk).not_evaluable_reasons == ["cancelled"]
