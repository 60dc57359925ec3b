"""Standing test data: two sites, one user per role at each, and an outsider's view of both.

`site_a` users must never see `site_b` records and the other way round; every access test is
written from both sides.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from cases import roles, services
from cases.models import Drug, Site, SiteMembership

DEMO_PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def site_a(db) -> Site:
    return Site.objects.create(code="SITEA", name="Hospital A")


@pytest.fixture
def site_b(db) -> Site:
    return Site.objects.create(code="SITEB", name="Hospital B")


def make_user(username: str, role: str, *sites: Site, superuser: bool = False):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(
        username=username,
        password=DEMO_PASSWORD,
        email=f"{username}@hospital.test",
        first_name=username.title(),
        last_name="Tester",
        is_superuser=superuser,
        is_staff=superuser,
    )
    user.groups.add(Group.objects.get(name=role))
    for site in sites:
        SiteMembership.objects.create(user=user, site=site)
    return user


@pytest.fixture
def staff(site_a, site_b) -> dict[str, object]:
    """One user per role at each site: keys like `nurse_a`, `physician_b`; plus `admin`."""
    users = {}
    for role in (roles.NURSE, roles.PHARMACIST, roles.PHYSICIAN, roles.DATAMANAGER):
        users[f"{role}_a"] = make_user(f"{role}_a", role, site_a)
        users[f"{role}_b"] = make_user(f"{role}_b", role, site_b)
    users["admin"] = make_user("admin", roles.ADMIN, superuser=True)
    return users


def api_client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def api(staff):
    """`api("nurse_a")` is an API client logged in as that standing user."""
    return lambda name: api_client_for(staff[name])


@pytest.fixture
def sorafenib(db) -> Drug:
    return Drug.objects.get(name="sorafenib", indication="")


def local_datetime(text: str) -> datetime.datetime:
    """An aware datetime in the installation's time zone from 'YYYY-MM-DD HH:MM'."""
    naive = datetime.datetime.strptime(text, "%Y-%m-%d %H:%M")  # noqa: DTZ007 - made aware below
    return timezone.make_aware(naive)


@pytest.fixture
def case_at(staff, sorafenib):
    """`case_at("a")` registers a sorafenib patient at that site (600 mg/day BID from
    2024-01-08) with a trough sample of 2870 ng/mL and, unless told not to, a Fatigue grade 2."""

    def build(site_letter: str, study_number: str | None = None, *, adverse_event: bool = True):
        nurse = staff[f"nurse_{site_letter}"]
        site = nurse.site_memberships.get().site
        patient = services.patient_create(
            actor=nurse,
            site=site,
            study_number=study_number or f"TDM-{site_letter.upper()}001",
            sex="F",
            birth_year=1960,
            tumour="hepatocellular carcinoma",
            name=f"Patient {site_letter.upper()}",
            record_number=f"MRN-{study_number or site_letter.upper()}-1",
            treating_physician=staff[f"physician_{site_letter}"],
            responsible_nurse=nurse,
        )
        treatment = services.treatment_create(
            actor=nurse,
            patient=patient,
            drug=sorafenib,
            start_date=datetime.date(2024, 1, 8),
            daily_dose_mg=Decimal(600),
            administrations_per_day=2,
        )
        sample = services.sample_record(
            actor=nurse,
            treatment=treatment,
            drawn_at=local_datetime("2024-02-05 09:00"),
            last_dose_at=local_datetime("2024-02-04 21:00"),
            concentration=Decimal(2870),
        )
        event = (
            services.adverse_event_record(
                actor=nurse,
                treatment=treatment,
                term="Fatigue",
                grade=2,
                onset=datetime.date(2024, 1, 20),
            )
            if adverse_event
            else None
        )
        return {"patient": patient, "treatment": treatment, "sample": sample, "event": event}

    return build


@pytest.fixture(autouse=True)
def _tasks_run_in_process(request, settings, tmp_path):
    """Tasks run eagerly in the test process (a test that starts a real worker opts out with
    the `live_worker` marker); reports go to a fresh media folder per test."""
    from tdm_site.celery import app

    settings.MEDIA_ROOT = tmp_path / "media"
    eager = "live_worker" not in request.keywords
    previous = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = eager
    app.conf.task_eager_propagates = eager
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = previous


@pytest.fixture
def postgresql(db):
    """For tests of races or with other processes, which need a server database. Embedded
    runs on SQLite skip them; under TDM_REQUIRE_SERVICES=1 (CI) no PostgreSQL is a failure."""
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        if settings.TDM_REQUIRE_SERVICES:
            pytest.fail("TDM_REQUIRE_SERVICES=1 but the test database is not PostgreSQL")
        pytest.skip("needs PostgreSQL, shared with other processes (CI runs it there)")
    return connection
