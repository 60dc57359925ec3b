"""A drawn sample gets its lab result later; a sample entered in error is cancelled."""

import datetime
from decimal import Decimal

import pytest

from advice.models import Advice
from cases.models import AuditEvent, Sample
from tests.factories import SampleFactory, TreatmentFactory, local_datetime

pytestmark = pytest.mark.django_db


@pytest.fixture
def drawn(case_at, staff):
    treatment = case_at("a", adverse_event=False)["treatment"]
    return SampleFactory(
        actor=staff["nurse_a"],
        treatment=treatment,
        drawn_at=local_datetime("2024-03-04 09:00"),
        last_dose_at=local_datetime("2024-03-03 21:00"),
        concentration=None,
    )


def test_result_of_a_drawn_sample_is_computed_and_advised(
    api, drawn, django_capture_on_commit_callbacks
):
    assert drawn.status == Sample.Status.DRAWN
    assert drawn.estimated_ctrough_ng_ml is None
    with django_capture_on_commit_callbacks(execute=True):
        response = api("nurse_a").post(
            f"/api/v1/samples/{drawn.pk}/result/",
            {"concentration": "3.1", "unit": "mg/L"},
            format="json",
        )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "resulted"
    assert body["concentration_ng_ml"] == 3100
    assert body["ctrough_ng_ml"] == 3100
    assert body["method"] == "measured"
    assert Advice.objects.get(sample_id=drawn.pk).action == "continue_step_up"
    again = api("nurse_a").post(
        f"/api/v1/samples/{drawn.pk}/result/", {"concentration": 3100}, format="json"
    )
    assert again.status_code == 409


def test_result_needs_a_value_or_the_lloq_flag(api, drawn):
    response = api("nurse_a").post(f"/api/v1/samples/{drawn.pk}/result/", {}, format="json")
    assert response.status_code == 400
    assert "concentration" in response.json()
    drawn.refresh_from_db()
    assert drawn.status == Sample.Status.DRAWN


def test_result_of_another_sites_sample_is_not_found(api, drawn):
    response = api("nurse_b").post(
        f"/api/v1/samples/{drawn.pk}/result/", {"concentration": 3100}, format="json"
    )
    assert response.status_code == 404


def test_cancel_keeps_the_record_and_withdraws_open_advice(
    api, case_at, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a", adverse_event=False)
    sample = case["sample"]
    no_reason = api("nurse_a").post(f"/api/v1/samples/{sample.pk}/cancel/", {}, format="json")
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()
    response = api("nurse_a").post(
        f"/api/v1/samples/{sample.pk}/cancel/", {"reason": "wrong patient label"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert Advice.objects.get(sample=sample).state == Advice.State.SUPERSEDED
    assert AuditEvent.objects.filter(action="cancel", object_id=str(sample.pk)).exists()
    twice = api("nurse_a").post(
        f"/api/v1/samples/{sample.pk}/cancel/", {"reason": "again"}, format="json"
    )
    assert twice.status_code == 409
    assert Sample.objects.filter(pk=sample.pk).exists()


def test_analytes_are_summed_for_sunitinib(api, staff, site_a):
    from cases.models import Drug

    treatment = TreatmentFactory(
        actor=staff["nurse_a"],
        patient__site=site_a,
        drug=Drug.objects.get(name="sunitinib", indication="continuous"),
        start_date=datetime.date(2024, 1, 8),
        daily_dose_mg=Decimal("37.5"),
        administrations_per_day=1,
    )
    response = api("nurse_a").post(
        "/api/v1/samples/",
        {
            "treatment": treatment.pk,
            "drawn_at": "2024-02-05T09:00:00+01:00",
            "last_dose_at": "2024-02-04T09:00:00+01:00",
            "analytes": {"sunitinib": "30.5", "SU12662": "12.25"},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["concentration_ng_ml"] == 42.75
    assert response.json()["ctrough_ng_ml"] == 42.75


def test_an_nmol_per_litre_result_is_stored_to_the_columns_precision(api, case_at):
    treatment = case_at("a", adverse_event=False)["treatment"]
    response = api("nurse_a").post(
        "/api/v1/samples/",
        {
            "treatment": treatment.pk,
            "drawn_at": "2024-03-04T09:00:00+01:00",
            "last_dose_at": "2024-03-03T21:00:00+01:00",
            "concentration": "10000",
            "unit": "nmol/L",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    # 10000 nmol/L × 464.8 g/mol / 1000 = 4648 ng/mL (sorafenib)
    assert response.json()["concentration_ng_ml"] == 4648
    odd = api("nurse_a").post(
        "/api/v1/samples/",
        {
            "treatment": treatment.pk,
            "drawn_at": "2024-03-05T09:00:00+01:00",
            "last_dose_at": "2024-03-04T21:00:00+01:00",
            "concentration": "12345.6789",
            "unit": "nmol/L",
        },
        format="json",
    )
    assert odd.status_code == 201, odd.json()
    # 12345.6789 × 0.4648 = 5738.27155… → 5738.2716 ng/mL
    assert odd.json()["concentration_ng_ml"] == 5738.2716
