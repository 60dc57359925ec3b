"""The suite runs on the services it was configured for; under TDM_REQUIRE_SERVICES=1 (CI)
that must be the real PostgreSQL and Redis, and a missing service fails the run."""

import pytest
from celery import current_app
from django.conf import settings
from django.db import connection


@pytest.mark.django_db
def test_database_is_the_configured_one():
    expected = "postgresql" if settings.TDM_REQUIRE_SERVICES else None
    engine = settings.DATABASES["default"]["ENGINE"]
    assert connection.vendor == (expected or engine.rsplit(".", 1)[-1].replace("sqlite3", "sqlite"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone()[0] == 1
    if connection.vendor == "postgresql":
        assert connection.pg_version >= 150000


def test_broker_is_the_configured_one_and_answers():
    if settings.TDM_REQUIRE_SERVICES:
        assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert current_app.conf.broker_url == settings.CELERY_BROKER_URL
    with current_app.connection_for_write() as connection_:
        connection_.ensure_connection(max_retries=1)
        assert connection_.connected
