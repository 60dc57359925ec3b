"""Every list and detail page and API endpoint answers in a bounded number of queries,
whatever the number of rows (docs/access.md, "Per request").

Each address is read at two sizes of the same records with the same bound: a query per row
would pass the small size and fail the large one.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from advice import services as advice_services
from advice.models import Advice
from cases import clinical, services
from cases.models import DoseRegimen, Sample
from tests import factories
from tests.advice import stories

SIZES = [1, 30]


def records(staff, n: int) -> dict[str, object]:
    """`n` patients with draft advice, `n` with released advice, and one busy treatment with
    `n` more samples, `n` dose changes not yet in effect, `n` adverse events, `n` extra samples
    asked for and a drawn sample corrected `n` times."""
    nurse = staff["nurse_a"]
    drafts, released = [], []
    for i in range(2 * n):
        treatment = stories.sorafenib_treatment(staff)
        sample = stories.trough_sample(staff, treatment, "3000")
        advice = advice_services.advice_create_for_sample(sample_id=sample.pk)
        if i < n:
            drafts.append(advice)
        else:
            released.append(stories.release(staff, advice))
    busy = drafts[0].treatment
    for i in range(n):
        earlier = stories.trough_sample(staff, busy, "2500", days_ago=2 + i)
        advice_services.advice_create_for_sample(sample_id=earlier.pk)
        factories.DoseRegimenFactory(
            actor=staff["physician_a"],
            treatment=busy,
            effective_from=stories.day(1 + i),
            daily_dose_mg=Decimal(600 if i % 2 else 400),
            reason=DoseRegimen.Reason.TOXICITY,
        )
        factories.AdverseEventFactory(
            actor=nurse, treatment=busy, onset=stories.day(-30) + datetime.timedelta(days=i)
        )
    due = {row.date for row in clinical.due_dates(busy, until=stories.day(200))}
    free_days = [stories.day(100 + i) for i in range(100) if stories.day(100 + i) not in due]
    for extra_day in free_days[:n]:
        services.extra_due_date_create(
            actor=nurse, treatment=busy, date=extra_day, reason="re-sample"
        )
    drawn_at = factories.local_datetime(f"{stories.day(-45):%Y-%m-%d} 09:00")
    drawn = factories.SampleFactory(
        actor=nurse, treatment=busy, drawn_at=drawn_at, concentration=None
    )
    for i in range(n):
        services.sample_correct(
            actor=nurse,
            sample=drawn,
            last_dose_at=factories.hours_before(drawn_at, 11 - i % 2),
            reason="last dose time misread",
        )
    return {"busy": busy, "draft": drafts[0], "released": released[0], "drawn": drawn}


def addresses(built) -> list[tuple[str, str, int]]:
    """(user, address, most queries) for every list and detail read. Each bound is what the
    address takes today: the session, the user, the user's roles, sites and permissions (one
    query, kept for the request), then the records."""
    busy = built["busy"]
    sample = Sample.objects.filter(treatment=busy).order_by("-drawn_at").first()
    regimen = busy.regimens.order_by("-effective_from").first()
    event = busy.adverse_events.first()
    draft, released = built["draft"], built["released"]
    return [
        ("nurse_a", "/api/v1/patients/", 5),
        ("nurse_a", f"/api/v1/patients/{busy.patient_id}/", 4),
        ("nurse_a", "/api/v1/treatments/", 6),
        ("nurse_a", f"/api/v1/treatments/{busy.pk}/", 4),
        ("nurse_a", "/api/v1/dose-regimens/", 5),
        ("nurse_a", f"/api/v1/dose-regimens/{regimen.pk}/", 4),
        ("nurse_a", "/api/v1/samples/", 5),
        ("nurse_a", f"/api/v1/samples/{sample.pk}/", 4),
        ("nurse_a", "/api/v1/adverse-events/", 5),
        ("nurse_a", f"/api/v1/adverse-events/{event.pk}/", 4),
        ("pharmacist_a", "/api/v1/advice/", 5),
        ("pharmacist_a", f"/api/v1/advice/{draft.pk}/", 4),
        ("pharmacist_a", "/advice/?state=draft", 9),
        ("physician_a", "/advice/?state=released", 9),
        ("pharmacist_a", f"/advice/{draft.pk}/", 7),
        ("physician_a", f"/advice/{released.pk}/", 9),
        ("nurse_a", "/patients/", 8),
        ("nurse_a", f"/patients/{busy.patient_id}/", 7),
        ("nurse_a", f"/treatments/{busy.pk}/", 13),
        ("nurse_a", f"/samples/{sample.pk}/", 7),
        ("nurse_a", f"/samples/{built['drawn'].pk}/", 7),
        ("nurse_a", f"/samples/{sample.pk}/correct/", 5),
        ("nurse_a", f"/treatments/{busy.pk}/extra-samples/new/", 6),
        ("physician_a", f"/regimens/{regimen.pk}/withdraw/", 5),
        ("nurse_a", f"/api/v1/treatments/{busy.pk}/extra-samples/", 6),
        ("nurse_a", f"/api/v1/treatments/{busy.pk}/schedule/", 7),
        ("datamanager_a", "/audit/", 7),
        ("physician_a", "/notifications/", 6),
    ]


@pytest.mark.parametrize("n", SIZES)
def test_every_read_takes_the_same_few_queries_whatever_the_rows(
    client, staff, n, django_assert_max_num_queries
):
    for user, address, most in addresses(records(staff, n)):
        client.force_login(staff[user])
        with django_assert_max_num_queries(most, info=address):
            response = client.get(address)
        assert response.status_code == 200, address


def test_a_membership_removed_mid_session_takes_effect_on_the_next_request(client, staff, case_at):
    patient = case_at("a")["patient"]
    nurse = staff["nurse_a"]
    client.force_login(nurse)
    assert client.get(f"/patients/{patient.pk}/").status_code == 200
    assert client.get(f"/api/v1/patients/{patient.pk}/").status_code == 200
    nurse.site_memberships.all().delete()
    assert client.get(f"/patients/{patient.pk}/").status_code == 404
    assert client.get(f"/api/v1/patients/{patient.pk}/").status_code == 404


def test_a_role_removed_mid_session_takes_effect_on_the_next_request(client, staff, case_at):
    case_at("a")
    pharmacist = staff["pharmacist_a"]
    client.force_login(pharmacist)
    assert client.get("/advice/?state=draft").status_code == 200
    pharmacist.groups.clear()
    assert client.get("/api/v1/advice/").status_code == 403


# The list pages: paged on the server with their total, sorted, filtered.


def patients_at_a(staff, count: int) -> list:
    return [
        factories.PatientFactory(actor=staff["nurse_a"], study_number=f"TDM-P{i:03d}")
        for i in range(count)
    ]


def test_the_patient_list_is_paged_with_its_total_and_agrees_with_the_home_page(client, staff):
    patients_at_a(staff, 53)
    client.force_login(staff["nurse_a"])
    second = client.get("/patients/", {"page": 2})
    html = second.content.decode()
    assert "Showing 51–53 of 53 patients" in html
    assert [row["patient"].study_number for row in second.context["rows"]] == [
        "TDM-P050", "TDM-P051", "TDM-P052",
    ]  # fmt: skip
    assert "53 patients visible to you" in client.get("/").content.decode()
    first = client.get("/patients/", {"sort": "-study_number", "site": "SITEA"}).content.decode()
    assert "Showing 1–50 of 53 patients" in first
    assert 'href="?sort=-study_number&amp;site=SITEA&amp;page=2">Next →' in first


def test_the_patient_list_sorts_by_its_columns_and_ignores_an_unknown_sort(client, staff):
    patients_at_a(staff, 3)
    client.force_login(staff["nurse_a"])

    def order(sort):
        response = client.get("/patients/", {"sort": sort})
        assert response.status_code == 200
        return [row["patient"].study_number for row in response.context["rows"]]

    assert order("-study_number") == ["TDM-P002", "TDM-P001", "TDM-P000"]
    assert order("-registered") == ["TDM-P002", "TDM-P001", "TDM-P000"]
    assert (
        order("study_number")
        == order("password")
        == order("-")
        == ["TDM-P000", "TDM-P001", "TDM-P002"]
    )


def test_the_patient_list_filters_by_site_and_drug(client, staff, case_at):
    case_at("a")
    case_at("b")
    lone = factories.PatientFactory(actor=staff["nurse_a"], study_number="TDM-LONE")
    client.force_login(staff["datamanager_a"])

    def listed(**filters):
        rows = client.get("/patients/", filters).context["rows"]
        return sorted(row["patient"].study_number for row in rows)

    assert listed(site="SITEB") == ["TDM-B001"]
    assert listed(drug="sorafenib") == ["TDM-A001", "TDM-B001"]
    assert listed(drug="sorafenib", site="SITEA") == ["TDM-A001"]
    assert lone.study_number in listed()
    assert listed(site="NOWHERE") == []


def test_the_advice_queue_is_paged_sorted_and_filtered(client, staff):
    made = []
    for concentration in ("3000", "1000", "2000"):
        treatment = stories.sorafenib_treatment(staff)
        sample = stories.trough_sample(staff, treatment, concentration)
        made.append(advice_services.advice_create_for_sample(sample_id=sample.pk))
    client.force_login(staff["pharmacist_a"])

    def listed(**params):
        response = client.get("/advice/", {"state": "draft", **params})
        assert response.status_code == 200
        return [row["advice"].pk for row in response.context["rows"]]

    by_ctrough = sorted(made, key=lambda advice: advice.ctrough_ng_ml)
    assert listed(sort="ctrough") == [advice.pk for advice in by_ctrough]
    assert listed(sort="-ctrough") == [advice.pk for advice in reversed(by_ctrough)]
    assert listed(sort="nonsense") == [advice.pk for advice in made]
    assert listed(kind=Advice.Kind.TOXICITY) == []
    assert listed(kind=Advice.Kind.SAMPLE, drug="sorafenib", site="SITEA") == listed()
    assert listed(site="SITEB") == listed(drug="imatinib") == []
    assert "Showing 1–3 of 3." in client.get("/advice/", {"state": "draft"}).content.decode()


def test_the_audit_viewer_sorts_by_its_columns(client, staff, case_at):
    case_at("a")
    client.force_login(staff["datamanager_a"])
    ascending = client.get("/audit/", {"sort": "at"}).context["rows"]
    descending = client.get("/audit/", {"sort": "bad"}).context["rows"]
    assert [r["event"].pk for r in ascending] == sorted(r["event"].pk for r in ascending)
    assert [r["event"].pk for r in descending] == sorted(
        (r["event"].pk for r in descending), reverse=True
    )
    by_model = [r["event"].model for r in client.get("/audit/", {"sort": "model"}).context["rows"]]
    assert by_model == sorted(by_model)
    assert "Showing 1–" in client.get("/audit/").content.decode()
