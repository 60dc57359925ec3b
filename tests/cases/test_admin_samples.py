"""Adding a sample in the admin: the same validation and computation as the API."""

import pytest

from cases.models import AuditEvent, Sample

pytestmark = pytest.mark.django_db


def form_data(treatment, **overrides):
    data = {
        "treatment": treatment.pk,
        "drawn_at_0": "2024-03-04",
        "drawn_at_1": "09:00",
        "last_dose_at_0": "2024-03-03",
        "last_dose_at_1": "21:00",
        "concentration": "3100",
        "unit": "ng/mL",
        "lab_accession": "LAB-1",
    }
    data.update(overrides)
    return data


def test_admin_adds_a_computed_audited_sample(client, staff, case_at):
    treatment = case_at("a", adverse_event=False)["treatment"]
    client.force_login(staff["admin"])
    response = client.post("/admin/cases/sample/add/", form_data(treatment))
    assert response.status_code == 302, response.content.decode()[:3000]
    sample = Sample.objects.get(lab_accession="LAB-1")
    assert sample.hours_after_dose == 12
    assert sample.estimated_ctrough_ng_ml == 3100
    assert sample.method == "measured"
    assert sample.evaluable is True
    assert AuditEvent.objects.filter(model="cases.sample", object_id=str(sample.pk)).exists()


def test_admin_shows_the_services_errors_by_the_field(client, staff, case_at):
    treatment = case_at("a", adverse_event=False)["treatment"]
    client.force_login(staff["admin"])
    before = Sample.objects.count()
    response = client.post(
        "/admin/cases/sample/add/",
        form_data(treatment, last_dose_at_0="2024-03-04", last_dose_at_1="10:00"),
    )
    assert response.status_code == 200
    assert "The last dose cannot be taken after the draw." in response.content.decode()
    assert Sample.objects.count() == before


def test_stored_samples_are_read_only_in_the_admin(client, staff, case_at):
    sample = case_at("a", adverse_event=False)["sample"]
    client.force_login(staff["admin"])
    response = client.post(f"/admin/cases/sample/{sample.pk}/change/", {"concentration": "1"})
    assert response.status_code == 403
    sample.refresh_from_db()
    assert sample.concentration == 2870


def test_a_duplicate_sample_in_the_admin_is_refused_naming_the_other_one(client, staff, case_at):
    treatment = case_at("a", adverse_event=False)["treatment"]
    client.force_login(staff["admin"])
    client.post("/admin/cases/sample/add/", form_data(treatment))
    first = Sample.objects.get(lab_accession="LAB-1")

    response = client.post(
        "/admin/cases/sample/add/", form_data(treatment, drawn_at_1="09:20", lab_accession="LAB-2")
    )

    assert response.status_code == 200
    assert f"Sample {first.pk} of this treatment was drawn at" in response.content.decode()
    assert not Sample.objects.filter(lab_accession="LAB-2").exists()
