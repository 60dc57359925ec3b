"""The stored due dates (docs/sampling-schedule.md §13) always equal the pure schedule: after
every kind of write through the services, after the daily extension of the horizon, after the
rebuild command and after the migration that first filled them."""

from __future__ import annotations

import datetime
import importlib
import io
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cases import clinical, services
from cases.errors import DuplicateSample, StateConflict
from cases.models import DoseRegimen, DueDate, DueDateHorizon, Sample, Site, Treatment
from cases.services import due_dates as stored
from notifications import tasks
from tests.factories import PatientFactory, TreatmentFactory, sorafenib

pytestmark = pytest.mark.django_db

DAY = datetime.timedelta(days=1)
# What a service may answer instead of writing; the stored rows must stay right then too.
REFUSALS = (ValidationError, StateConflict, DuplicateSample, PermissionDenied)


def today() -> datetime.date:
    return timezone.localdate()


def at_nine(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(9)))


def today_so_far() -> datetime.datetime:
    """Nine this morning, or now if it is not nine yet: a draw time today, never ahead."""
    return min(at_nine(today()), timezone.now())


def stored_rows(treatment: Treatment) -> list[tuple[datetime.date, str, int | None]]:
    return list(
        DueDate.objects.filter(treatment=treatment)
        .order_by("date")
        .values_list("date", "kind", "fulfilled_by_id")
    )


def assert_stored_is_pure(treatment: Treatment) -> None:
    """The stored rows equal the schedule page's pure schedule up to the stored horizon, which
    lies two years after today (or after the start, if later)."""
    reloaded = Treatment.objects.get(pk=treatment.pk)
    horizon = DueDateHorizon.objects.get(treatment=reloaded).until
    assert horizon == max(today(), reloaded.start_date) + stored.HORIZON
    pure = clinical.treatment_schedule(reloaded, until=horizon)
    assert stored_rows(reloaded) == [
        (row["date"], row["kind"], row["fulfilled_by"]) for row in pure
    ]
    assert all(
        row.window_opens == row.date - 7 * DAY for row in DueDate.objects.filter(treatment=reloaded)
    )
    assert current_untils(reloaded) == expected_current_untils(
        [row["date"] for row in pure], reloaded.stop_date
    )


def current_untils(treatment: Treatment) -> list[datetime.date | None]:
    return list(
        DueDate.objects.filter(treatment=treatment)
        .order_by("date")
        .values_list("current_until", flat=True)
    )


def expected_current_untils(
    dates: list[datetime.date], stop: datetime.date | None
) -> list[datetime.date | None]:
    """Each date is its treatment's current one up to the next date's day, and never on or
    after the stop day."""
    last_on_drug = stop - DAY if stop is not None else None
    return [
        min(filter(None, (next_day, last_on_drug)), default=None)
        for next_day in [*dates[1:], None][: len(dates)]
    ]


def register(staff, study_number: str, start: datetime.date) -> Treatment:
    nurse = staff["nurse_a"]
    patient = PatientFactory(
        actor=nurse, site=Site.objects.get(code="SITEA"), study_number=study_number
    )
    return TreatmentFactory(
        actor=nurse, patient=patient, start_date=start, daily_dose_mg=Decimal(800)
    )


# One write of any kind, drawn with its arguments; `run` applies it through the services.
WRITES = st.one_of(
    st.tuples(st.just("dose"), st.integers(1, 420), st.sampled_from([0, 400, 600, 800])),
    st.tuples(st.just("stop"), st.integers(0, 420)),
    st.tuples(st.just("withdraw"), st.integers(0, 5)),
    st.tuples(st.just("in_error"), st.integers(0, 5)),
    st.tuples(st.just("withdraw_from"), st.integers(1, 420)),
    st.tuples(st.just("sample"), st.integers(0, 400), st.booleans()),
    st.tuples(st.just("result"), st.integers(0, 5)),
    st.tuples(st.just("cancel"), st.integers(0, 5)),
    st.tuples(st.just("correct"), st.integers(0, 5), st.integers(-10, 10)),
    st.tuples(st.just("recompute"), st.integers(0, 5)),
    st.tuples(st.just("extra"), st.integers(0, 365)),
)


def _pick(rows, index: int):
    rows = list(rows)
    return rows[index % len(rows)] if rows else None


def run(write: tuple, treatment: Treatment, staff) -> None:
    kind, *args = write
    physician, nurse = staff["physician_a"], staff["nurse_a"]
    start = treatment.start_date
    regimens = DoseRegimen.objects.filter(
        treatment=treatment, status=DoseRegimen.Status.ACTIVE
    ).exclude(reason=DoseRegimen.Reason.START)
    samples = Sample.objects.filter(treatment=treatment).order_by("pk")
    if kind == "dose":
        offset, dose = args
        services.dose_regimen_create(
            actor=physician,
            treatment=treatment,
            effective_from=start + offset * DAY,
            daily_dose_mg=Decimal(dose),
            administrations_per_day=2,
            reason=DoseRegimen.Reason.INTERRUPTION if dose == 0 else DoseRegimen.Reason.OTHER,
        )
    elif kind == "stop":
        services.treatment_stop(
            actor=physician, treatment=treatment, stop_date=start + args[0] * DAY, reason="other"
        )
    elif kind in ("withdraw", "in_error"):
        regimen = _pick(regimens, args[0])
        if regimen is not None:
            write_status = (
                services.dose_regimen_withdraw
                if kind == "withdraw"
                else services.dose_regimen_mark_in_error
            )
            write_status(actor=physician, regimen=regimen, reason="entered for the wrong patient")
    elif kind == "withdraw_from":
        with transaction.atomic():
            services.dose_regimens_withdraw_from(
                actor=physician,
                treatment=treatment,
                first_day=start + args[0] * DAY,
                reason="superseded",
            )
    elif kind == "sample":
        offset, resulted = args
        drawn_on = min(start + offset * DAY, today())
        services.sample_record(
            actor=nurse,
            treatment=treatment,
            drawn_at=at_nine(drawn_on),
            last_dose_at=at_nine(drawn_on) - datetime.timedelta(hours=12),
            concentration=Decimal(3000) if resulted else None,
        )
    elif kind == "result":
        sample = _pick(samples.filter(status=Sample.Status.DRAWN), args[0])
        if sample is not None:
            services.sample_result(actor=nurse, sample=sample, concentration=Decimal(2500))
    elif kind == "cancel":
        sample = _pick(samples, args[0])
        if sample is not None:
            services.sample_cancel(actor=nurse, sample=sample, reason="not drawn after all")
    elif kind == "correct":
        index, days = args
        sample = _pick(samples, index)
        if sample is not None:
            drawn_at = min(sample.drawn_at + days * DAY, today_so_far())
            services.sample_correct(
                actor=nurse,
                sample=sample,
                reason="wrong day",
                drawn_at=drawn_at,
                last_dose_at=drawn_at - datetime.timedelta(hours=12),
            )
    elif kind == "recompute":
        sample = _pick(samples, args[0])
        if sample is not None:
            with transaction.atomic():
                services.sample_recompute(actor=physician, sample=sample, reason="checked")
    else:
        services.extra_due_date_create(
            actor=nurse, treatment=treatment, date=today() + args[0] * DAY, reason="re-sample"
        )


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(started_days_ago=st.integers(0, 400), writes=st.lists(WRITES, min_size=1, max_size=10))
def test_the_stored_due_dates_equal_the_pure_schedule_after_every_write(
    staff, started_days_ago, writes
):
    with transaction.atomic():
        treatment = register(staff, "TDM-H1", today() - started_days_ago * DAY)
        assert_stored_is_pure(treatment)
        for write in writes:
            try:
                run(write, Treatment.objects.get(pk=treatment.pk), staff)
                event(f"{write[0]}: done")
            except REFUSALS:
                event(f"{write[0]}: refused")
            assert_stored_is_pure(treatment)
        # Each example starts from the same database.
        transaction.set_rollback(True)


@pytest.mark.parametrize(
    ("write", "stores"),
    [
        (("dose", 110, 400), 1),
        (("stop", 105), 1),  # withdraws the regimen from today + 20 as it stops
        (("withdraw", 1), 1),
        (("in_error", 0), 1),  # recomputes the samples drawn since
        (("withdraw_from", 115), 1),
        (("sample", 95, True), 1),
        (("result", 0), 0),
        (("cancel", 0), 1),
        (("correct", 0, -2), 1),
        (("recompute", 0), 0),
        (("extra", 3), 1),
    ],
)
def test_every_write_stores_the_due_dates_once(staff, monkeypatch, write, stores):
    treatment = register(staff, "TDM-O1", today() - 100 * DAY)
    run(("dose", 50, 600), treatment, staff)
    run(("dose", 120, 400), treatment, staff)
    run(("sample", 60, True), treatment, staff)
    run(("sample", 70, False), treatment, staff)
    calls: list[list[int]] = []
    store = stored._store

    def counted(treatments, **kwargs):
        calls.append([t.pk for t in treatments])
        return store(treatments, **kwargs)

    monkeypatch.setattr(stored, "_store", counted)
    run(write, Treatment.objects.get(pk=treatment.pk), staff)
    assert calls == [[treatment.pk]] * stores
    assert_stored_is_pure(treatment)


def test_a_sample_fulfils_the_due_date_it_was_drawn_for_until_corrected_or_cancelled(staff):
    treatment = register(staff, "TDM-F1", today() - 40 * DAY)  # due 12 days ago, then in 16
    due = today() - 12 * DAY

    def sample_on(days_ago: int) -> Sample:
        return services.sample_record(
            actor=staff["nurse_a"],
            treatment=treatment,
            drawn_at=at_nine(today() - days_ago * DAY),
            last_dose_at=None,
            concentration=Decimal(3000),
        )

    first = sample_on(10)
    assert stored_rows(treatment)[0] == (due, "regular", first.pk)
    services.sample_correct(
        actor=staff["nurse_a"], sample=first, reason="wrong day", drawn_at=today_so_far()
    )
    assert stored_rows(treatment)[0] == (due, "regular", None)
    second = sample_on(11)
    assert stored_rows(treatment)[0] == (due, "regular", second.pk)
    services.sample_cancel(actor=staff["nurse_a"], sample=second, reason="lost in transport")
    assert stored_rows(treatment)[0] == (due, "regular", None)
    assert_stored_is_pure(treatment)


def test_the_daily_task_extends_the_horizon_of_treatments_nobody_wrote_to(staff):
    running = register(staff, "TDM-E1", today() - 500 * DAY)
    stopped = register(staff, "TDM-E2", today() - 500 * DAY)
    services.treatment_stop(
        actor=staff["physician_a"], treatment=stopped, stop_date=today() - 100 * DAY, reason="other"
    )
    never_stored = register(staff, "TDM-E3", today() - 200 * DAY)
    # As if written a year and a half ago: stored up to half a year from now.
    half_a_year = today() + 180 * DAY
    DueDate.objects.filter(treatment=running, date__gt=half_a_year).delete()
    DueDateHorizon.objects.filter(treatment__in=[running, stopped]).update(until=half_a_year)
    DueDate.objects.filter(treatment=never_stored).delete()
    DueDateHorizon.objects.filter(treatment=never_stored).delete()
    stopped_rows = stored_rows(stopped)

    tasks.send_sample_reminders()

    assert_stored_is_pure(running)
    assert_stored_is_pure(never_stored)
    # Stopped before its horizon: every date it can have is stored already.
    assert DueDateHorizon.objects.get(treatment=stopped).until == half_a_year
    assert stored_rows(stopped) == stopped_rows
    assert services.due_dates_extend(today=today()) == {"treatments": 0, "rows_written": 0}


def test_rebuild_due_dates_restores_every_treatment_and_reports(staff):
    treatments = [register(staff, f"TDM-R{number}", today() - 300 * DAY) for number in range(3)]
    DueDate.objects.filter(treatment=treatments[0]).delete()
    DueDate.objects.filter(treatment=treatments[1]).update(kind="extra")
    out, err = io.StringIO(), io.StringIO()

    call_command("rebuild_due_dates", stdout=out, stderr=err)

    summary = json.loads(out.getvalue())
    assert summary["treatments"] == 3
    assert summary["rows_written"] == len(stored_rows(treatments[0])) * 2
    assert "3 treatments stored" in err.getvalue()
    for treatment in treatments:
        assert_stored_is_pure(treatment)
    again = io.StringIO()
    call_command("rebuild_due_dates", stdout=again, stderr=io.StringIO())
    assert json.loads(again.getvalue()) == {"treatments": 3, "rows_written": 0}


def test_the_migration_fills_the_due_dates_of_existing_treatments(staff):
    treatment = register(staff, "TDM-M1", today() - 300 * DAY)
    services.extra_due_date_create(
        actor=staff["nurse_a"], treatment=treatment, date=today() + 3 * DAY, reason="re-sample"
    )
    services.sample_record(
        actor=staff["nurse_a"],
        treatment=treatment,
        drawn_at=at_nine(today() - 300 * DAY + 27 * DAY),
        last_dose_at=None,
        concentration=Decimal(3000),
    )
    expected = stored_rows(treatment)
    DueDate.objects.all().delete()
    DueDateHorizon.objects.all().delete()
    importlib.import_module("cases.migrations.0005_stored_due_dates").store_due_dates(apps, None)
    # The later migration that added `current_until` fills it in from the stored rows.
    importlib.import_module("cases.migrations.0008_due_date_current_until").fill_current_until(
        apps, SimpleNamespace(connection=connection)
    )

    assert stored_rows(treatment) == expected
    assert expected[0][2] is not None
    assert ("extra" in {kind for _, kind, _ in expected}) is True
    assert_stored_is_pure(treatment)


def test_the_drug_catalogue_sorafenib_takes_the_doses_the_writes_use():
    # The random writes prescribe 0, 400, 600 and 800 mg/day in two administrations.
    levels = sorafenib().facts().dose_levels_mg
    assert {Decimal(400), Decimal(600), Decimal(800)} <= set(levels)
