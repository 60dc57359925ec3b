"""Standing test data: two sites, one user per role at each, and an outsider's view of both.

`site_a` users must never see `site_b` records and the other way round; every access test is
written from both sides.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from cases import roles
from cases.models import Drug, Site
from tests import factories

# Imported from here by many tests: the factories module holds them.
from tests.factories import DEMO_PASSWORD as DEMO_PASSWORD
from tests.factories import local_datetime as local_datetime


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def site_a(db) -> Site:
    return factories.SiteFactory(code="SITEA", name="Hospital A")


@pytest.fixture
def site_b(db) -> Site:
    return factories.SiteFactory(code="SITEB", name="Hospital B")


def make_user(username: str, role: str, *sites: Site, superuser: bool = False):
    return factories.UserFactory(username=username, role=role, sites=sites, superuser=superuser)


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
    return factories.sorafenib()


@pytest.fixture
def case_at(staff):
    """`case_at("a")` registers a sorafenib patient at that site (600 mg/day BID from
    2024-01-08) with a trough sample of 2870 ng/mL and, unless told not to, a Fatigue grade 2:
    the factories' standard case, written by the site's nurse."""

    def build(site_letter: str, study_number: str | None = None, *, adverse_event: bool = True):
        nurse = staff[f"nurse_{site_letter}"]
        letter = site_letter.upper()
        patient = factories.PatientFactory(
            actor=nurse,
            site=nurse.site_memberships.get().site,
            study_number=study_number or f"TDM-{letter}001",
            name=f"Patient {letter}",
            record_number=f"MRN-{study_number or letter}-1",
            treating_physician=staff[f"physician_{site_letter}"],
            responsible_nurse=nurse,
        )
        treatment = factories.TreatmentFactory(actor=nurse, patient=patient)
        sample = factories.SampleFactory(actor=nurse, treatment=treatment)
        event = (
            factories.AdverseEventFactory(actor=nurse, treatment=treatment)
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
