"""Sampling reminders (docs/sampling-schedule.md §9): upcoming at −7 days, overdue at +3, never
twice, none while interrupted or stopped, e-mail and in-app to the responsible nurse."""

import datetime
import threading
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection

from cases import services
from notifications import services as notify
from notifications.models import Notification, Reminder
from tests.conftest import local_datetime

# case_at: sorafenib from 2024-01-08 (Monday); due dates 2024-02-05 (fulfilled by the sample of
# that day), 2024-03-04, 2024-04-01, then every 12 weeks.
WEEK_8 = datetime.date(2024, 3, 4)


def reminders():
    return sorted(Reminder.objects.values_list("due_date", "kind"))


@pytest.mark.django_db
def test_upcoming_seven_days_before_and_overdue_three_days_after(case_at, staff):
    case_at("a")
    notify.sample_reminders(today=WEEK_8 - datetime.timedelta(days=8))
    assert reminders() == []
    notify.sample_reminders(today=WEEK_8 - datetime.timedelta(days=7))
    assert reminders() == [(WEEK_8, "upcoming")]
    notify.sample_reminders(today=WEEK_8 + datetime.timedelta(days=2))
    assert reminders() == [(WEEK_8, "upcoming")]
    notify.sample_reminders(today=WEEK_8 + datetime.timedelta(days=3))
    assert reminders() == [(WEEK_8, "overdue"), (WEEK_8, "upcoming")]
    nurse = staff["nurse_a"]
    assert set(Reminder.objects.values_list("recipient", flat=True)) == {nurse.pk}
    kinds = Notification.objects.filter(recipient=nurse).values_list("kind", flat=True)
    assert sorted(kinds) == ["sample_overdue", "sample_upcoming"]


@pytest.mark.django_db
def test_running_twice_sends_each_reminder_once(case_at, django_capture_on_commit_callbacks):
    case_at("a")
    today = WEEK_8 - datetime.timedelta(days=7)
    with django_capture_on_commit_callbacks(execute=True):
        first = notify.sample_reminders(today=today)
    with django_capture_on_commit_callbacks(execute=True):
        second = notify.sample_reminders(today=today)
    assert (first, second) == (1, 0)
    assert Reminder.objects.count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["nurse_a@hospital.test"]
    assert "2024-03-04" in mail.outbox[0].subject


@pytest.mark.django_db
def test_a_fulfilled_date_gets_no_overdue_reminder(case_at, staff):
    case = case_at("a")
    services.sample_record(
        actor=staff["nurse_a"],
        treatment=case["treatment"],
        drawn_at=local_datetime("2024-03-08 09:00"),
        last_dose_at=local_datetime("2024-03-07 21:00"),
        concentration=Decimal(3000),
    )
    notify.sample_reminders(today=WEEK_8 + datetime.timedelta(days=3))
    assert (WEEK_8, "overdue") not in reminders()


@pytest.mark.django_db
def test_interrupted_or_stopped_treatments_get_none(case_at, staff):
    interrupted = case_at("a")["treatment"]
    services.dose_regimen_create(
        actor=staff["physician_a"],
        treatment=interrupted,
        effective_from=datetime.date(2024, 2, 20),
        daily_dose_mg=Decimal(0),
        administrations_per_day=2,
        reason="interruption",
    )
    stopped = case_at("b")["treatment"]
    services.treatment_stop(
        actor=staff["physician_b"],
        treatment=stopped,
        stop_date=datetime.date(2024, 2, 20),
        reason="progression",
    )
    for day in range(0, 40):
        notify.sample_reminders(today=datetime.date(2024, 2, 20) + datetime.timedelta(days=day))
    assert Reminder.objects.count() == 0


@pytest.mark.django_db
def test_without_a_responsible_nurse_every_nurse_of_the_site_is_told(case_at, staff):
    from cases.models import Patient

    case = case_at("a")
    Patient.objects.filter(pk=case["patient"].pk).update(responsible_nurse=None)
    notify.sample_reminders(today=WEEK_8 - datetime.timedelta(days=7))
    reminder = Reminder.objects.get()
    assert reminder.recipient is None
    assert list(reminder.notifications.values_list("recipient__username", flat=True)) == ["nurse_a"]


@pytest.mark.django_db
def test_queries_do_not_grow_with_the_number_of_patients(
    case_at, django_assert_max_num_queries, staff
):
    case_at("a", "TDM-1")
    today = WEEK_8 - datetime.timedelta(days=7)
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        notify.sample_reminders(today=today - datetime.timedelta(days=1))
    for number in range(2, 12):
        case_at("a", f"TDM-{number}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        notify.sample_reminders(today=today - datetime.timedelta(days=1))


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_runs_send_each_reminder_once(postgresql, case_at):
    case_at("a")
    today = WEEK_8 - datetime.timedelta(days=7)
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait(timeout=10)
            notify.sample_reminders(today=today)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert reminders() == [(WEEK_8, "upcoming")]
    assert Notification.objects.count() == 1
