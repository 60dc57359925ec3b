"""The Celery app `tdm_site` (`celery -A tdm_site worker|beat`); configuration lives in settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tdm_site.settings")

app = Celery("tdm_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
