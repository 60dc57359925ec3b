"""A sample already on record is refused as a duplicate, naming the other one
(docs/clinical-rules.md §1.2): within 30 minutes of a live sample of the treatment, or with a lab
accession number used at the site. Service, API, pages, and two entries racing (PostgreSQL)."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection

from cases import roles, services
from cases.errors import DuplicateSample
from cases.models import AuditEvent, Sample
from tests.conftest import api_client_for, make_user
from tests.factories import PatientFactory, SampleFactory, TreatmentFactory, local_datetime

pytestmark = pytest.mark.django_db

FIRST = "2024-03-04 09:00"


@pytest.fixture
def nurse(staff):
    return staff["nurse_a"]


@pytest.fixture
def treatment(nurse, site_a):
    return TreatmentFactory(actor=nurse, patient__site=site_a)


@pytest.fixture
def first(nurse, treatment):
    return SampleFactory(
        actor=nurse, treatment=treatment, drawn_at=local_datetime(FIRST), lab_accession="L-77"
    )


def again(nurse, treatment, drawn_at, **fields):
    return SampleFactory(actor=nurse, treatment=treatment, drawn_at=drawn_at, **fields)


def minutes(delta: int) -> datetime.datetime:
    return local_datetime(FIRST) + datetime.timedelta(minutes=delta)


@pytest.mark.parametrize("delta", [0, 30, -30, 12])
def test_a_sample_within_30_minutes_of_another_is_refused(nurse, treatment, first, delta):
    with pytest.raises(DuplicateSample) as refused:
        again(nurse, treatment, minutes(delta))

    assert refused.value.conflicting_sample == first.pk
    assert f"Sample {first.pk} of this treatment was drawn at 2024-03-04 09:00" in str(
        refused.value
    )
    assert Sample.objects.filter(treatment=treatment).count() == 1


@pytest.mark.parametrize("delta", [31, -31])
def test_a_sample_more_than_30_minutes_away_is_another_sample(nurse, treatment, first, delta):
    assert again(nurse, treatment, minutes(delta)).pk != first.pk


def test_a_cancelled_sample_is_no_duplicate(nurse, treatment, first):
    services.sample_cancel(actor=nurse, sample=first, reason="logged on the wrong patient")

    retyped = again(nurse, treatment, minutes(0), lab_accession="L-77")

    assert retyped.status == Sample.Status.RESULTED


def test_the_same_time_on_another_treatment_is_no_duplicate(nurse, site_a, first, sorafenib):
    other = TreatmentFactory(actor=nurse, patient__site=site_a)

    assert again(nurse, other, minutes(0)).treatment == other


@pytest.mark.parametrize("accession", ["L-77", " l-77 ", "l-77"])
def test_an_accession_number_used_at_the_site_is_refused(nurse, site_a, first, accession):
    other = TreatmentFactory(actor=nurse, patient__site=site_a)

    with pytest.raises(DuplicateSample) as refused:
        again(nurse, other, minutes(600), lab_accession=accession)

    assert refused.value.conflicting_sample == first.pk
    assert "Lab accession number" in str(refused.value)
    assert first.treatment.patient.study_number in str(refused.value)


def test_an_accession_number_of_another_site_is_free(staff, first, site_b):
    nurse_b = staff["nurse_b"]
    elsewhere = TreatmentFactory(actor=nurse_b, patient=PatientFactory(actor=nurse_b, site=site_b))

    assert again(nurse_b, elsewhere, minutes(0), lab_accession="L-77").lab_accession == "L-77"


def test_samples_without_an_accession_number_never_clash_on_it(nurse, site_a, treatment):
    other = TreatmentFactory(actor=nurse, patient__site=site_a)
    again(nurse, treatment, minutes(0))

    assert again(nurse, other, minutes(0)).lab_accession == ""


def test_the_api_answers_409_naming_the_other_sample(api, treatment, first):
    before = AuditEvent.objects.count()

    answer = api("nurse_a").post(
        "/api/v1/samples/",
        {
            "treatment": treatment.pk,
            "drawn_at": "2024-03-04T09:20:00+01:00",
            "last_dose_at": "2024-03-03T21:00:00+01:00",
            "concentration": 2870,
        },
        format="json",
    )

    assert answer.status_code == 409
    assert answer.json()["conflicting_sample"] == first.pk
    assert "within 30 minutes" in answer.json()["detail"]
    assert Sample.objects.count() == 1
    assert AuditEvent.objects.count() == before


def test_the_api_answers_409_for_a_used_accession_number(api, site_a, nurse, first):
    other = TreatmentFactory(actor=nurse, patient__site=site_a)

    answer = api("nurse_a").post(
        "/api/v1/samples/",
        {"treatment": other.pk, "drawn_at": "2024-03-05T09:00:00+01:00", "lab_accession": "L-77"},
        format="json",
    )

    assert answer.status_code == 409
    assert answer.json() == {"detail": answer.json()["detail"], "conflicting_sample": first.pk}


def test_the_page_names_the_other_sample_with_a_link(client, nurse, treatment, first):
    client.force_login(nurse)

    answer = client.post(
        f"/treatments/{treatment.pk}/samples/new/",
        {
            "drawn_at": "2024-03-04T09:10",
            "last_dose_at": "2024-03-03T21:10",
            "concentration": "2870",
            "unit": "ng/mL",
        },
    )

    page = answer.content.decode()
    assert answer.status_code == 409
    assert "this sample is already on record" in page
    assert f"Sample {first.pk} of this treatment" in page
    assert f'href="/samples/{first.pk}/"' in page
    assert Sample.objects.count() == 1


def test_the_preview_names_the_other_sample_before_saving(client, nurse, treatment, first):
    client.force_login(nurse)

    preview = client.post(
        f"/treatments/{treatment.pk}/samples/preview/",
        {"drawn_at": "2024-03-04T08:45", "unit": "ng/mL", "lab_accession": "x"},
    )

    assert preview.status_code == 200
    assert f'href="/samples/{first.pk}/"' in preview.content.decode()


# Two entries at once ----------------------------------------------------------------------------


def _post_together(users, bodies) -> list[int]:
    barrier = threading.Barrier(len(users))
    statuses: list[int] = []

    def post(user, body):
        client = api_client_for(user)
        try:
            barrier.wait(timeout=10)
            statuses.append(client.post("/api/v1/samples/", body, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=pair) for pair in zip(users, bodies, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(statuses)


@pytest.fixture
def two_nurses(staff, site_a):
    return [staff["nurse_a"], make_user("nurse_a2", roles.NURSE, site_a)]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_entries_of_one_sample_at_once_one_is_refused(postgresql, two_nurses, site_a):
    treatment = TreatmentFactory(actor=two_nurses[0], patient__site=site_a)
    body = {
        "treatment": treatment.pk,
        "drawn_at": "2024-03-04T09:00:00+01:00",
        "last_dose_at": "2024-03-03T21:00:00+01:00",
        "concentration": 2870,
    }

    statuses = _post_together(two_nurses, [body, {**body, "drawn_at": "2024-03-04T09:05:00+01:00"}])

    assert statuses == [201, 409]
    assert Sample.objects.filter(treatment=treatment).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_samples_with_one_accession_number_at_once_one_is_refused(
    postgresql, two_nurses, site_a
):
    bodies = [
        {
            "treatment": TreatmentFactory(actor=nurse, patient__site=site_a).pk,
            "drawn_at": "2024-03-04T09:00:00+01:00",
            "lab_accession": "Q1",
        }
        for nurse in two_nurses
    ]

    statuses = _post_together(two_nurses, bodies)

    assert statuses == [201, 409]
    assert Sample.objects.filter(lab_accession="Q1").count() == 1
