"""`python manage.py send_reminders [--date YYYY-MM-DD]` (docs/sampling-schedule.md §9): the
daily scan once, as beat runs it, JSON on stdout; a bad date is one line and exit code 2."""

import datetime
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from cases.models import Treatment
from notifications import tasks
from notifications.models import Reminder
from tdm_site.periodic import beat_schedule
from tests.conftest import local_datetime

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> dict:
    out = io.StringIO()
    call_command("send_reminders", *args, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture
def registered(case_at):
    """case_at("a"), entered in eTDM when it started: due 2024-03-04, no sample near it."""
    case = case_at("a")
    Treatment.objects.filter(pk=case["treatment"].pk).update(
        created_at=local_datetime("2024-01-08 09:00")
    )
    return case


@pytest.mark.django_db
def test_a_missed_day_is_run_again_once(registered, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = run("--date", "2024-02-26")
    with django_capture_on_commit_callbacks(execute=True):
        second = run("--date", "2024-02-26")

    assert first == {"date": "2024-02-26", "reminders": 1, "nurses_told": 1}
    assert second == {"date": "2024-02-26", "reminders": 0, "nurses_told": 0}
    assert list(Reminder.objects.values_list("due_date", "kind")) == [
        (datetime.date(2024, 3, 4), "upcoming")
    ]
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_without_a_date_it_scans_today():
    assert run() == {"date": timezone.localdate().isoformat(), "reminders": 0, "nurses_told": 0}


@pytest.mark.django_db
def test_it_runs_the_periodic_task(monkeypatch):
    """The command and beat run one function: the task beat's schedule names."""
    days = []
    task = tasks.send_sample_reminders
    monkeypatch.setattr(task, "run", lambda day=None: days.append(day) or {"date": day})

    assert run("--date", "2024-02-26") == {"date": "2024-02-26"}
    assert days == ["2024-02-26"]
    assert beat_schedule()["send-sample-reminders"]["task"] == task.name


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("2024-02-30", "--date: '2024-02-30' is not a valid date"),
        ("26-02-2024", "--date: must be a date as YYYY-MM-DD, not '26-02-2024'"),
        ("", "--date: must be a date as YYYY-MM-DD, not ''"),
    ],
)
def test_a_malformed_date_names_the_option(date, message):
    with pytest.raises(CommandError) as raised:
        call_command("send_reminders", "--date", date)
    assert raised.value.returncode == 2
    assert str(raised.value) == message


def test_a_future_date_is_refused():
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    with pytest.raises(CommandError) as raised:
        call_command("send_reminders", "--date", tomorrow.isoformat())
    assert raised.value.returncode == 2
    assert str(raised.value).startswith(f"--date: {tomorrow.isoformat()} is after today")


def test_a_bad_date_is_one_line_on_stderr_without_a_traceback():
    result = subprocess.run(
        [sys.executable, "manage.py", "send_reminders", "--date", "2024-13-01"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "CommandError: --date: '2024-13-01' is not a valid date"
    ]
