"""The nurse worklist: overdue, due before registration, due this week (extra samples too),
drawn without a result; scoped to the user's sites, filterable, and a fixed number of queries
however many patients there are."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from cases import services
from cases.models import Drug, Site, Treatment
from cases.selectors import build_worklist
from tests.factories import DoseRegimenFactory, PatientFactory, SampleFactory, TreatmentFactory

pytestmark = pytest.mark.django_db

# Session and user, roles and sites, permissions, unread count, filter choices, and the worklist's
# own five: treatments, their regimens, their samples, their extra samples, samples awaiting a
# result.
QUERY_BUDGET = 14


def days_ago(days: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days)


def moment(days_back: int, hour: int = 9) -> datetime.datetime:
    day = days_ago(days_back)
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def register_on(treatment: Treatment, day: datetime.date) -> None:
    """Backdate the day the treatment was entered in eTDM."""
    moment = timezone.make_aware(datetime.datetime.combine(day, datetime.time(9)))
    Treatment.objects.filter(pk=treatment.pk).update(created_at=moment)


@pytest.fixture
def register(staff, sorafenib):
    """`register("a", "TDM-1", started_days_ago=30)` → a sorafenib treatment at that site,
    entered in eTDM on the day it started unless `registered_today`."""

    def build(
        site: str,
        study_number: str,
        *,
        started_days_ago: int,
        drug: Drug | None = None,
        registered_today: bool = False,
    ):
        nurse = staff[f"nurse_{site}"]
        patient = PatientFactory(
            actor=nurse,
            site=Site.objects.get(code=f"SITE{site.upper()}"),
            study_number=study_number,
            name=f"Name of {study_number}",
            responsible_nurse=nurse,
        )
        drug = drug or sorafenib
        treatment = TreatmentFactory(
            actor=nurse,
            patient=patient,
            drug=drug,
            start_date=days_ago(started_days_ago),
            daily_dose_mg=drug.standard_daily_dose_mg,
            administrations_per_day=drug.administrations_per_day,
        )
        if not registered_today:
            register_on(treatment, treatment.start_date)
        return treatment

    return build


@pytest.fixture
def ward(staff, register):
    """Treatments in every situation the worklist distinguishes (due dates are start + 28 d)."""
    nurse = staff["nurse_a"]
    overdue = register("a", "TDM-OVERDUE", started_days_ago=30)
    # Drawn 8 days before its due date (too early to count), and waiting for its result.
    SampleFactory(actor=nurse, treatment=overdue, drawn_at=moment(10), concentration=None)
    due = register(
        "a",
        "TDM-DUE",
        started_days_ago=25,
        drug=Drug.objects.get(name="imatinib", indication="gist"),
    )
    sampled = register("a", "TDM-SAMPLED", started_days_ago=30)
    SampleFactory(actor=nurse, treatment=sampled, drawn_at=moment(3), concentration=Decimal(3000))
    stopped = register("a", "TDM-STOPPED", started_days_ago=30)
    services.treatment_stop(
        actor=nurse, treatment=stopped, stop_date=days_ago(5), reason="progression"
    )
    paused = register("a", "TDM-PAUSED", started_days_ago=30)
    DoseRegimenFactory(
        actor=staff["physician_a"],
        treatment=paused,
        effective_from=days_ago(5),
        daily_dose_mg=Decimal(0),
        reason="interruption",
    )
    elsewhere = register("b", "TDM-ELSEWHERE", started_days_ago=25)
    return {"overdue": overdue, "due": due, "sampled": sampled, "elsewhere": elsewhere}


def numbers(rows) -> list[str]:
    return [row.treatment.patient.study_number for row in rows]


def test_worklist_sorts_treatments_into_overdue_and_due(staff, ward):
    work = build_worklist(staff["nurse_a"])

    assert numbers(work.overdue) == ["TDM-OVERDUE"]
    assert work.overdue[0].due_date == days_ago(2)
    assert work.overdue[0].days_overdue == 2
    assert numbers(work.due_soon) == ["TDM-DUE"]
    assert work.due_soon[0].due_date == days_ago(-3)
    assert [row.sample.treatment.patient.study_number for row in work.awaiting_result] == [
        "TDM-OVERDUE"
    ]


def test_older_missed_dates_give_way_to_the_latest(staff, register):
    # Due 28, 56 and 84 days after the start: 92 days in, only day 84 is reported.
    register("a", "TDM-LONG", started_days_ago=92)

    work = build_worklist(staff["nurse_a"])

    assert [(row.due_date, row.days_overdue) for row in work.overdue] == [(days_ago(8), 8)]


def test_a_date_missed_before_registration_is_listed_once_apart_from_overdue(
    client, staff, register
):
    # Entered today, started 92 days ago: due 64, 36 and 8 days ago; only the last is listed.
    register("a", "TDM-LATE", started_days_ago=92, registered_today=True)
    register("a", "TDM-OVERDUE", started_days_ago=30)

    work = build_worklist(staff["nurse_a"])
    client.force_login(staff["nurse_a"])
    html = client.get("/worklist/").content.decode()

    assert [
        (row.treatment.patient.study_number, row.due_date) for row in work.before_registration
    ] == [("TDM-LATE", days_ago(8))]
    assert numbers(work.overdue) == ["TDM-OVERDUE"]
    assert "Due before registration in eTDM" in html
    assert html.count("before registration</span>") == 1
    section = html.split('id="before-registration"')[1].split("<h2")[0]
    assert "TDM-LATE" in section
    assert "TDM-OVERDUE" not in section


def test_no_before_registration_section_when_there_is_nothing_in_it(client, staff, ward):
    client.force_login(staff["nurse_a"])
    assert "before registration" not in client.get("/worklist/").content.decode()


def test_an_extra_sample_is_due_on_the_worklist_with_its_reason(client, staff, register):
    treatment = register("a", "TDM-EXTRA", started_days_ago=10)
    services.extra_due_date_create(
        actor=staff["pharmacist_a"],
        treatment=treatment,
        date=days_ago(-2),
        reason="re-sample: the last level was drawn too early",
    )

    work = build_worklist(staff["nurse_a"])
    client.force_login(staff["nurse_a"])
    html = client.get("/worklist/").content.decode()

    assert [(row.due_date, row.kind, row.reason) for row in work.due_soon] == [
        (days_ago(-2), "extra", "re-sample: the last level was drawn too early")
    ]
    assert "extra: re-sample: the last level was drawn too early" in html
    assert "in 2 days" in html


def test_worklist_page_shows_names_and_links_to_act(client, staff, ward):
    client.force_login(staff["nurse_a"])

    html = client.get("/worklist/").content.decode()

    assert "Name of TDM-OVERDUE" in html
    assert f"/treatments/{ward['overdue'].pk}/samples/new/" in html
    assert f"/treatments/{ward['due'].pk}/samples/new/" in html
    assert "TDM-SAMPLED" not in html
    assert "TDM-STOPPED" not in html
    assert "TDM-PAUSED" not in html
    assert "TDM-ELSEWHERE" not in html
    assert "Enter result" in html


def test_worklist_filters_by_drug_and_site(client, staff, ward):
    client.force_login(staff["datamanager_a"])

    everything = client.get("/worklist/").content.decode()
    imatinib = client.get("/worklist/", {"drug": "imatinib"}).content.decode()
    site_b = client.get("/worklist/", {"site": Site.objects.get(code="SITEB").pk}).content.decode()

    assert "TDM-ELSEWHERE" in everything
    assert "TDM-OVERDUE" in everything
    assert "Name of TDM-OVERDUE" not in everything  # data managers see pseudonyms only
    assert "TDM-DUE" in imatinib
    assert "TDM-OVERDUE" not in imatinib
    assert "TDM-ELSEWHERE" in site_b
    assert "TDM-DUE" not in site_b


@pytest.mark.parametrize("query", [{"site": "abc"}, {"site": "99999"}, {"drug": "aspirin"}])
def test_bad_filters_are_reported_not_500(client, staff, ward, query):
    client.force_login(staff["nurse_a"])

    response = client.get("/worklist/", query)

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_nurse_cannot_filter_on_another_site(client, staff, ward):
    client.force_login(staff["nurse_a"])

    html = client.get("/worklist/", {"site": Site.objects.get(code="SITEB").pk}).content.decode()

    assert "Select a valid choice" in html
    assert "TDM-ELSEWHERE" not in html


def test_queries_do_not_grow_with_the_number_of_patients(
    client, staff, register, django_assert_max_num_queries
):
    client.force_login(staff["nurse_a"])
    for number in range(3):
        register("a", f"TDM-Q{number}", started_days_ago=30 + number)
    with django_assert_max_num_queries(QUERY_BUDGET):
        assert client.get("/worklist/").status_code == 200
    for number in range(3, 15):
        treatment = register("a", f"TDM-Q{number}", started_days_ago=30 + number)
        services.extra_due_date_create(
            actor=staff["nurse_a"], treatment=treatment, date=days_ago(-3), reason="re-sample"
        )
    with django_assert_max_num_queries(QUERY_BUDGET):
        html = client.get("/worklist/").content.decode()
    assert "TDM-Q14" in html


def test_nurse_home_summarises_the_worklist(client, staff, ward):
    client.force_login(staff["nurse_a"])

    html = client.get("/").content.decode()

    assert "Samples to collect" in html
    assert "TDM-OVERDUE" in html
    assert "overdue 2 d" in html
