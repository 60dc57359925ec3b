"""Bad input is refused with 400 naming the field, and nothing is written (docs/api.md, "Errors";
units: docs/clinical-rules.md §1).

The second half bypasses the services and writes with the ORM directly: the database itself
must refuse what the services refuse, and the audit trail must stay append-only.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.db.models.deletion import ProtectedError
from django.utils import timezone

from cases.models import (
    AdverseEvent,
    AuditEvent,
    AuditTrailIsAppendOnly,
    DoseRegimen,
    Patient,
    Sample,
    Treatment,
)
from notifications.models import Reminder
from tests.conftest import local_datetime

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def case(case_at) -> dict[str, Any]:
    return case_at("a")


@pytest.fixture
def nurse(api):
    return api("nurse_a")


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Patient, Treatment, DoseRegimen, Sample, AdverseEvent, AuditEvent)
    }


def _in_a_day() -> str:
    return (timezone.now() + datetime.timedelta(days=1)).isoformat()


def _base(resource: str, case: dict[str, Any]) -> dict[str, Any]:
    """A body the API accepts; each bad-input row changes one thing in it."""
    treatment = case["treatment"].pk
    return {
        "patients": {
            "study_number": "TDM-A002",
            "site": "SITEA",
            "sex": "M",
            "birth_year": 1970,
            "tumour": "renal cell carcinoma",
        },
        "treatments": {
            "patient": "TDM-A001",
            "drug": "sorafenib",
            "indication": None,
            "start_date": "2024-03-04",
            "daily_dose_mg": 600,
            "administrations_per_day": 2,
            # TDM-A001 already takes sorafenib: a second live course needs its reason.
            "overlap_reason": "second course intended by the study protocol",
        },
        "samples": {
            "treatment": treatment,
            "drawn_at": "2024-03-04T09:00:00+01:00",
            "last_dose_at": "2024-03-03T21:00:00+01:00",
            "concentration": 3100,
            "unit": "ng/mL",
        },
        "adverse-events": {
            "treatment": treatment,
            "term": "Diarrhea",
            "grade": 2,
            "onset": "2024-02-10",
        },
        "dose-regimens": {
            "treatment": treatment,
            "effective_from": "2024-03-04",
            "daily_dose_mg": 800,
            "administrations_per_day": 2,
            "reason": "tdm_advice",
        },
    }[resource]


# (resource, changes to the base body, the field the 400 must name)
BAD_INPUT: dict[str, tuple[str, dict[str, Any] | Callable[[], dict[str, Any]], str]] = {
    "negative concentration": ("samples", {"concentration": -5}, "concentration"),
    "non-numeric concentration": ("samples", {"concentration": "abc"}, "concentration"),
    "zero concentration without below_lloq": ("samples", {"concentration": 0}, "concentration"),
    "drawn in the future": ("samples", lambda: {"drawn_at": _in_a_day()}, "drawn_at"),
    "drawn before the treatment start": (
        "samples",
        {"drawn_at": "2024-01-07T09:00:00+01:00", "last_dose_at": "2024-01-06T21:00:00+01:00"},
        "drawn_at",
    ),
    "last dose after the draw": (
        "samples",
        {"last_dose_at": "2024-03-04T10:00:00+01:00"},
        "last_dose_at",
    ),
    "unit mmol": ("samples", {"unit": "mmol"}, "unit"),
    "grade 0": ("adverse-events", {"grade": 0}, "grade"),
    "grade 6": ("adverse-events", {"grade": 6}, "grade"),
    "Fatigue grade 4 (undefined for the term)": (
        "adverse-events",
        {"term": "Fatigue", "grade": 4},
        "grade",
    ),
    "unknown CTCAE term": ("adverse-events", {"term": "Feeling blue"}, "term"),
    "resolved before onset": ("adverse-events", {"resolved": "2024-02-09"}, "resolved"),
    "unknown drug": ("treatments", {"drug": "aspirin"}, "drug"),
    "a second live sorafenib course without a reason": (
        "treatments",
        {"overlap_reason": ""},
        "overlap_reason",
    ),
    "imatinib without indication": (
        "treatments",
        {"drug": "imatinib", "daily_dose_mg": 400, "administrations_per_day": 1},
        "indication",
    ),
    "5 administrations a day (treatment)": (
        "treatments",
        {"administrations_per_day": 5},
        "administrations_per_day",
    ),
    "sorafenib 500 mg/day (not a dose level)": (
        "treatments",
        {"daily_dose_mg": 500},
        "daily_dose_mg",
    ),
    "off-label reason without confirmation": (
        "treatments",
        {"daily_dose_mg": 500, "off_label_reason": "renal impairment"},
        "daily_dose_mg",
    ),
    "off-label confirmed without a reason": (
        "treatments",
        {"daily_dose_mg": 500, "off_label_confirmed": True},
        "off_label_reason",
    ),
    "imatinib 800 mg once daily (above max single dose)": (
        "treatments",
        {
            "drug": "imatinib",
            "indication": "gist",
            "daily_dose_mg": 800,
            "administrations_per_day": 1,
        },
        "administrations_per_day",
    ),
    "unknown site": ("patients", {"site": "NOWHERE"}, "site"),
    "duplicate study number": ("patients", {"study_number": "TDM-A001"}, "study_number"),
    "5 administrations a day (dose regimen)": (
        "dose-regimens",
        {"administrations_per_day": 5},
        "administrations_per_day",
    ),
    "0 mg/day that is not an interruption": (
        "dose-regimens",
        {"daily_dose_mg": 0, "reason": "toxicity"},
        "reason",
    ),
}


@pytest.mark.parametrize("resource", ["patients", "treatments", "samples", "adverse-events"])
def test_the_base_bodies_are_accepted(nurse, case, resource):
    """Each bad-input row below differs from an accepted body in the one thing it names."""
    response = nurse.post(f"{API}/{resource}/", _base(resource, case), format="json")

    assert response.status_code == 201, response.json()


def test_the_base_dose_regimen_is_accepted(api, case):
    response = api("physician_a").post(
        f"{API}/dose-regimens/", _base("dose-regimens", case), format="json"
    )

    assert response.status_code == 201, response.json()


@pytest.mark.parametrize("label", list(BAD_INPUT))
def test_bad_input_is_refused_naming_the_field_and_nothing_is_saved(nurse, case, label):
    resource, changes, field = BAD_INPUT[label]
    body = {**_base(resource, case), **(changes() if callable(changes) else changes)}
    before = _counts()

    response = nurse.post(f"{API}/{resource}/", body, format="json")

    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors, errors
    assert isinstance(errors[field], list)
    assert all(isinstance(message, str) and message for message in errors[field])
    assert _counts() == before


def test_off_label_dose_is_accepted_when_confirmed_with_a_reason(nurse, case):
    body = {
        **_base("treatments", case),
        "daily_dose_mg": 500,
        "off_label_confirmed": True,
        "off_label_reason": "  hepatic impairment, agreed in tumour board ",
    }
    before = _counts()

    response = nurse.post(f"{API}/treatments/", body, format="json")

    assert response.status_code == 201, response.json()
    [regimen] = response.json()["regimens"]
    assert regimen["daily_dose_mg"] == 500
    assert regimen["off_label"] is True
    assert regimen["off_label_reason"] == "hepatic impairment, agreed in tumour board"
    assert sum(regimen["split_mg"]) == 500
    stored = DoseRegimen.objects.get(pk=regimen["id"])
    assert stored.off_label is True
    after = _counts()
    assert after["Treatment"] == before["Treatment"] + 1
    assert after["DoseRegimen"] == before["DoseRegimen"] + 1


def test_catalogue_dose_is_not_marked_off_label(nurse, case):
    response = nurse.post(f"{API}/treatments/", _base("treatments", case), format="json")

    [regimen] = response.json()["regimens"]
    assert regimen["off_label"] is False
    assert regimen["off_label_reason"] == ""


def test_off_label_dose_regimen_is_accepted_when_confirmed(api, case):
    body = {
        **_base("dose-regimens", case),
        "daily_dose_mg": 700,
        "off_label_confirmed": True,
        "off_label_reason": "between two levels on purpose",
    }

    response = api("physician_a").post(f"{API}/dose-regimens/", body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["off_label"] is True
    assert response.json()["daily_dose_mg"] == 700


def test_interruption_is_0_mg_with_reason_interruption(api, case):
    body = {**_base("dose-regimens", case), "daily_dose_mg": 0, "reason": "interruption"}

    response = api("physician_a").post(f"{API}/dose-regimens/", body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["split_mg"] == []
    treatment = api("physician_a").get(f"{API}/treatments/{case['treatment'].pk}/").json()
    assert treatment["status"] == "interrupted"


# Draw times without a time zone -----------------------------------------------------------------


@pytest.fixture
def amsterdam(settings):
    """The default installation zone (docs/configuration.md), pinned so the offsets below hold."""
    settings.TIME_ZONE = "Europe/Amsterdam"


@pytest.mark.parametrize(
    ("local", "offset"),
    [("2024-03-04T09:00:00", "+01:00"), ("2024-07-01T09:00:00", "+02:00")],
)
def test_naive_draw_time_is_read_as_local_time(amsterdam, nurse, case, local, offset):
    """DRF makes a naive datetime aware in the installation's zone: accepted, stored as that
    wall-clock time with the offset of that date (winter +01:00, summer +02:00)."""
    drawn = datetime.datetime.fromisoformat(local)
    body = {
        **_base("samples", case),
        "drawn_at": local,
        "last_dose_at": (drawn - datetime.timedelta(hours=12)).isoformat(),
    }

    response = nurse.post(f"{API}/samples/", body, format="json")

    assert response.status_code == 201, response.json()
    sample = response.json()
    assert sample["drawn_at"] == f"{local}{offset}"
    assert sample["hours_after_dose"] == 12
    stored = Sample.objects.get(pk=sample["id"])
    assert stored.drawn_at == local_datetime(drawn.strftime("%Y-%m-%d %H:%M"))


@pytest.mark.parametrize(
    "local",
    [
        pytest.param("2024-03-31T02:30:00", id="skipped-by-the-clocks"),
        pytest.param("2024-10-27T02:30:00", id="happened-twice"),
    ],
)
def test_naive_draw_time_without_one_local_instant_is_refused(amsterdam, nurse, case, local):
    """On the nights the clocks change, a wall-clock time in the hour that was skipped (spring)
    or lived twice (autumn) names no single instant: the hours after the dose would be off by
    one without anyone noticing. Such a time needs its offset."""
    body = {**_base("samples", case), "drawn_at": local}
    before = _counts()

    response = nurse.post(f"{API}/samples/", body, format="json")

    assert response.status_code == 400, (
        f"naive {local} was accepted as {response.json().get('drawn_at')}"
    )
    assert "drawn_at" in response.json()
    assert _counts() == before


def test_draw_time_with_an_explicit_offset_keeps_its_instant(nurse, case):
    body = {
        **_base("samples", case),
        "drawn_at": "2024-03-04T08:00:00Z",
        "last_dose_at": "2024-03-03T20:00:00Z",
    }

    response = nurse.post(f"{API}/samples/", body, format="json")

    assert response.status_code == 201, response.json()
    stored = Sample.objects.get(pk=response.json()["id"])
    assert stored.drawn_at == datetime.datetime(2024, 3, 4, 8, 0, tzinfo=datetime.UTC)


# The database refuses what the services refuse --------------------------------------------------


def _fields(model: type[models.Model], case: dict[str, Any]) -> dict[str, Any]:
    """Valid column values for a direct ORM insert of one row of `model`."""
    treatment = case["treatment"]
    if model is Patient:
        return {
            "study_number": "TDM-DB01",
            "site": case["patient"].site,
            "sex": "F",
            "birth_year": 1960,
            "tumour": "hepatocellular carcinoma",
        }
    if model is AdverseEvent:
        return {"treatment": treatment, "term": "Fatigue", "grade": 1, "onset": "2024-02-01"}
    if model is DoseRegimen:
        return {
            "treatment": treatment,
            "effective_from": datetime.date(2024, 3, 4),
            "daily_dose_mg": Decimal(800),
            "administrations_per_day": 2,
            "split_mg": [400, 400],
            "reason": "tdm_advice",
        }
    if model is Sample:
        return {
            "treatment": treatment,
            "drawn_at": local_datetime("2024-03-04 09:00"),
            "last_dose_at": local_datetime("2024-03-03 21:00"),
            "concentration": Decimal(3000),
            "status": "resulted",
        }
    if model is Reminder:
        return {"treatment": treatment, "due_date": datetime.date(2024, 3, 4), "kind": "upcoming"}
    raise AssertionError(model)


DATABASE_RULES: dict[str, tuple[type[models.Model], dict[str, Any]]] = {
    "AE grade 0": (AdverseEvent, {"grade": 0}),
    "AE grade 6": (AdverseEvent, {"grade": 6}),
    "negative daily dose": (DoseRegimen, {"daily_dose_mg": Decimal(-200)}),
    "0 administrations a day": (DoseRegimen, {"administrations_per_day": 0}),
    "5 administrations a day": (DoseRegimen, {"administrations_per_day": 5}),
    "second regimen on the same day": (
        DoseRegimen,
        {"effective_from": datetime.date(2024, 1, 8)},  # the start regimen's day
    ),
    "negative concentration": (Sample, {"concentration": Decimal(-1)}),
    "sex Q": (Patient, {"sex": "Q"}),
    "duplicate study number": (Patient, {"study_number": "TDM-A001"}),
}


@pytest.mark.parametrize("model", [Patient, AdverseEvent, DoseRegimen, Sample, Reminder])
def test_direct_insert_of_valid_values_succeeds(case, model):
    """The refusals below come from the rule each one breaks, not from a missing column."""
    row = model.objects.create(**_fields(model, case))

    assert model.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize("label", list(DATABASE_RULES))
def test_database_refuses_direct_insert(case, label):
    model, changes = DATABASE_RULES[label]
    before = model.objects.count()

    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.create(**{**_fields(model, case), **changes})

    assert model.objects.count() == before


def test_database_refuses_a_second_reminder_for_the_same_date_and_kind(case):
    Reminder.objects.create(**_fields(Reminder, case))
    other_kind = Reminder.objects.create(**{**_fields(Reminder, case), "kind": "overdue"})

    with pytest.raises(IntegrityError), transaction.atomic():
        Reminder.objects.create(**_fields(Reminder, case))

    assert Reminder.objects.count() == 2
    assert other_kind.pk is not None


# The audit trail is append-only -----------------------------------------------------------------


@pytest.fixture
def audit_event(case) -> AuditEvent:
    return AuditEvent.objects.filter(model="cases.patient").get()


def _unchanged(event: AuditEvent) -> None:
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.action, stored.detail, stored.actor_username) == ("create", "", "nurse_a")


def test_audit_event_save_on_an_existing_row_is_refused(audit_event):
    audit_event.detail = "edited afterwards"

    with pytest.raises(AuditTrailIsAppendOnly):
        audit_event.save()

    _unchanged(audit_event)


def test_audit_event_delete_is_refused(audit_event):
    with pytest.raises(AuditTrailIsAppendOnly):
        audit_event.delete()

    _unchanged(audit_event)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda: AuditEvent.objects.update(detail="x"), id="manager.update"),
        pytest.param(
            lambda: AuditEvent.objects.filter(action="create").update(detail="x"),
            id="queryset.update",
        ),
        pytest.param(lambda: AuditEvent.objects.all().delete(), id="queryset.delete"),
        pytest.param(lambda: AuditEvent.objects.filter(pk__gt=0).delete(), id="filter.delete"),
        pytest.param(
            lambda: AuditEvent.objects.bulk_update(
                [AuditEvent(pk=AuditEvent.objects.earliest("id").pk, detail="x")], ["detail"]
            ),
            id="bulk_update",
        ),
    ],
)
def test_audit_trail_bulk_changes_are_refused(audit_event, change):
    count = AuditEvent.objects.count()

    with pytest.raises(AuditTrailIsAppendOnly), transaction.atomic():
        change()

    assert AuditEvent.objects.count() == count
    _unchanged(audit_event)


def test_deleting_the_actor_does_not_erase_their_trail(staff, audit_event):
    with pytest.raises(ProtectedError), transaction.atomic():
        get_user_model().objects.filter(pk=staff["nurse_a"].pk).delete()

    _unchanged(audit_event)


@pytest.mark.parametrize("vendor", [connection.vendor])
def test_raw_sql_against_the_audit_trail(audit_event, vendor):
    """On PostgreSQL a trigger refuses UPDATE and DELETE from any client. SQLite has no such
    trigger: there the model layer above is the only guard, and this test pins that down."""
    update = "UPDATE cases_auditevent SET detail = 'tampered' WHERE id = %s"
    delete = "DELETE FROM cases_auditevent WHERE id = %s"
    if vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'cases_auditevent'::regclass "
                "AND NOT tgisinternal"
            )
            assert ("cases_auditevent_append_only",) in cursor.fetchall()
        for statement in (update, delete):
            with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
                cur.execute(statement, [audit_event.pk])
        _unchanged(audit_event)
    else:
        assert vendor == "sqlite"
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'cases_auditevent'"
            )
            assert cursor.fetchall() == []
            cursor.execute(update, [audit_event.pk])
            assert cursor.rowcount == 1
        assert AuditEvent.objects.get(pk=audit_event.pk).detail == "tampered"
