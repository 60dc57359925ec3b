"""Beat's schedule names real tasks (docs/architecture.md, "Background work"): every entry is a
task the worker has registered, so no periodic message goes to a name nobody consumes."""

from __future__ import annotations

from celery.schedules import crontab

from tdm_site.celery import app
from tdm_site.periodic import beat_schedule


def test_every_scheduled_task_is_registered_with_the_worker():
    app.loader.import_default_modules()
    schedule = beat_schedule()
    assert {entry["task"] for entry in schedule.values()} <= set(app.tasks)
    assert app.conf.beat_schedule == schedule


def test_the_daily_scans_run_at_the_configured_hour_and_the_sweeps_every_minute(settings):
    settings.TDM_REMINDER_HOUR_UTC = 5
    schedule = beat_schedule()
    reminders = schedule["send-sample-reminders"]
    assert reminders["task"] == "notifications.tasks.send_sample_reminders"
    assert reminders["schedule"] == crontab(hour=5, minute=0)
    assert schedule["renotify-unsigned-advice"]["schedule"] == crontab(hour=5, minute=15)
    sweeps = {name: entry for name, entry in schedule.items() if name.endswith("backlog-sweep")}
    assert {entry["task"] for entry in sweeps.values()} == {
        "advice.tasks.sweep_advice_backlog",
        "reports.tasks.sweep_report_backlog",
        "notifications.tasks.email_notifications",
    }
    assert {entry["schedule"] for entry in sweeps.values()} == {60.0}
