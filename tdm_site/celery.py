"""The Celery app `tdm_site` (`celery -A tdm_site worker|beat`); configuration lives in settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tdm_site.settings")

app = Celery("tdm_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule_periodic_work(sender: Celery, **kwargs: object) -> None:
    from tdm_site.periodic import beat_schedule

    sender.conf.beat_schedule = beat_schedule()
