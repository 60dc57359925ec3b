"""The nurse worklist: overdue, due before registration, due this week (extra samples too),
drawn without a result; scoped to the user's sites, filterable (site, drug, nurse, due window),
sortable, a page at a time with the total, and a fixed number of queries however many patients
there are."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from cases import roles, services
from cases.models import Drug, Patient, Site, Treatment
from cases.selectors import build_worklist
from cases.views import worklist as worklist_view
from tests.conftest import make_user
from tests.factories import DoseRegimenFactory, PatientFactory, SampleFactory, TreatmentFactory

pytestmark = pytest.mark.django_db

# Session, user, roles with sites and permissions, unread count, the site, nurse and drug
# choices, and the worklist's own: a count and a page for each of its four sections.
QUERY_BUDGET = 15


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
    assert len(work.overdue) == 1
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


@pytest.mark.parametrize(
    "query",
    [{"site": "abc"}, {"site": "99999"}, {"drug": "aspirin"}, {"window": "9"}, {"sort": "x"}],
)
def test_bad_filters_are_reported_not_500(client, staff, ward, query):
    client.force_login(staff["nurse_a"])

    response = client.get("/worklist/", query)

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()


def test_a_refused_filter_is_named_and_the_others_still_apply(client, staff, ward):
    # A bookmark naming a nurse of another site, with a drug that is still right.
    client.force_login(staff["pharmacist_a"])

    html = client.get(
        "/worklist/", {"drug": "imatinib", "nurse": staff["nurse_b"].pk, "window": "30"}
    ).content.decode()

    assert "Select a valid choice" in html
    assert "TDM-DUE" in html
    assert "TDM-OVERDUE" not in html
    assert "Due in the next 30 days" in html


@pytest.mark.parametrize("page", ["99999", "-1", "abc", "1e9", ""])
def test_a_far_or_odd_page_number_shows_a_page_not_an_error(
    client, staff, register, monkeypatch, page
):
    monkeypatch.setattr(worklist_view, "PAGE_SIZE", 2)
    for number in range(3):
        register("a", f"TDM-O{number}", started_days_ago=30)
    client.force_login(staff["nurse_a"])

    response = client.get("/worklist/", {"overdue_page": page, "awaiting_page": page})

    assert response.status_code == 200
    shown = response.context["pages"]["overdue"]["page"]
    assert shown.number == (2 if page in ("99999", "-1") else 1)


def test_nurse_cannot_filter_on_another_site(client, staff, ward):
    client.force_login(staff["nurse_a"])

    html = client.get("/worklist/", {"site": Site.objects.get(code="SITEB").pk}).content.decode()

    assert "Select a valid choice" in html
    assert "TDM-ELSEWHERE" not in html


def test_queries_do_not_grow_with_the_number_of_patients(
    client, staff, register, django_assert_max_num_queries, monkeypatch
):
    monkeypatch.setattr(worklist_view, "PAGE_SIZE", 4)
    client.force_login(staff["nurse_a"])

    def add(number: int) -> None:
        # Overdue (due 2 days ago), due in 3 days (an extra sample), before registration, and
        # a sample waiting for its result: every section has rows.
        overdue = register("a", f"TDM-Q{number:02d}", started_days_ago=30)
        SampleFactory(
            actor=staff["nurse_a"], treatment=overdue, drawn_at=moment(10), concentration=None
        )
        services.extra_due_date_create(
            actor=staff["nurse_a"], treatment=overdue, date=days_ago(-3), reason="re-sample"
        )
        register("a", f"TDM-L{number:02d}", started_days_ago=92, registered_today=True)

    add(0)
    with django_assert_max_num_queries(QUERY_BUDGET):
        assert client.get("/worklist/").status_code == 200
    for number in range(1, 10):
        add(number)
    with django_assert_max_num_queries(QUERY_BUDGET):
        html = client.get("/worklist/").content.decode()
    assert "Page 1 of 3" in html
    assert "TDM-Q03" in html
    assert "TDM-Q04" not in html


def test_each_section_pages_on_its_own_with_its_total(client, staff, register, monkeypatch):
    monkeypatch.setattr(worklist_view, "PAGE_SIZE", 2)
    for number in range(5):
        register("a", f"TDM-O{number}", started_days_ago=30)
    register("a", "TDM-DUE", started_days_ago=25)
    client.force_login(staff["nurse_a"])

    first = client.get("/worklist/").content.decode()
    last = client.get("/worklist/", {"overdue_page": 3, "sort": "patient"}).content.decode()

    overdue = first.split('id="overdue"')[1].split("<h2")[0]
    assert '<span class="badge bad">5</span>' in overdue
    assert "Page 1 of 3" in overdue
    assert "TDM-O0" in overdue
    assert "TDM-O1" in overdue
    assert "TDM-O2" not in overdue
    assert "overdue_page=2" in overdue
    assert "TDM-DUE" in first.split('id="due"')[1]
    overdue = last.split('id="overdue"')[1].split("<h2")[0]
    assert "Page 3 of 3" in overdue
    assert "TDM-O4" in overdue
    assert "TDM-O3" not in overdue
    # The link back keeps the order and the other filters.
    assert "sort=patient&amp;overdue_page=2" in overdue


def test_worklist_sorts_by_due_date_patient_or_drug(staff, register):
    imatinib = Drug.objects.get(name="imatinib", indication="gist")
    register("a", "TDM-C", started_days_ago=33)  # due 5 days ago
    register("a", "TDM-A", started_days_ago=29, drug=imatinib)  # due 1 day ago
    register("a", "TDM-B", started_days_ago=31)  # due 3 days ago
    nurse = staff["nurse_a"]

    assert numbers(build_worklist(nurse).overdue) == ["TDM-C", "TDM-B", "TDM-A"]
    assert numbers(build_worklist(nurse, sort="patient").overdue) == ["TDM-A", "TDM-B", "TDM-C"]
    assert numbers(build_worklist(nurse, sort="drug").overdue) == ["TDM-A", "TDM-C", "TDM-B"]


def test_the_due_window_chooses_how_far_ahead_the_worklist_looks(client, staff, register):
    register("a", "TDM-OVERDUE", started_days_ago=30)
    register("a", "TDM-IN-3", started_days_ago=25)  # due in 3 days
    register("a", "TDM-IN-20", started_days_ago=8)  # due in 20 days
    nurse = staff["nurse_a"]

    assert numbers(build_worklist(nurse).due_soon) == ["TDM-IN-3"]
    # TDM-OVERDUE is due again 56 days after its start, in 26 days.
    assert numbers(build_worklist(nurse, window="30").due_soon) == [
        "TDM-IN-3",
        "TDM-IN-20",
        "TDM-OVERDUE",
    ]
    only_overdue = build_worklist(nurse, window="overdue")
    assert numbers(only_overdue.overdue) == ["TDM-OVERDUE"]
    assert list(only_overdue.due_soon) == []
    client.force_login(nurse)
    html = client.get("/worklist/", {"window": "30"}).content.decode()
    assert "Due in the next 30 days" in html
    assert "TDM-IN-20" in html
    html = client.get("/worklist/", {"window": "overdue"}).content.decode()
    assert 'id="due"' not in html
    assert "TDM-IN-3" not in html


def test_the_nurse_filter_shows_her_patients_and_her_sites_unassigned_ones(
    client, staff, register, site_a
):
    second = make_user("nurse_a2", roles.NURSE, site_a)
    register("a", "TDM-HERS", started_days_ago=30)
    theirs = register("a", "TDM-THEIRS", started_days_ago=30)
    Patient.objects.filter(pk=theirs.patient_id).update(responsible_nurse=second)
    nobodys = register("a", "TDM-NOBODYS", started_days_ago=30)
    Patient.objects.filter(pk=nobodys.patient_id).update(responsible_nurse=None)
    pharmacist = staff["pharmacist_a"]

    assert numbers(build_worklist(pharmacist, nurse=staff["nurse_a"]).overdue) == [
        "TDM-HERS",
        "TDM-NOBODYS",
    ]
    assert numbers(build_worklist(pharmacist, nurse=second).overdue) == [
        "TDM-NOBODYS",
        "TDM-THEIRS",
    ]
    client.force_login(pharmacist)
    html = client.get("/worklist/", {"nurse": second.pk}).content.decode()
    assert "TDM-THEIRS" in html
    assert "TDM-HERS" not in html
    assert client.get("/worklist/", {"nurse": staff["nurse_b"].pk}).status_code == 200
    assert (
        "Select a valid choice"
        in client.get("/worklist/", {"nurse": staff["nurse_b"].pk}).content.decode()
    )


def test_nurse_home_summarises_the_worklist(client, staff, ward):
    client.force_login(staff["nurse_a"])

    html = client.get("/").content.decode()

    assert "Samples to collect" in html
    assert "TDM-OVERDUE" in html
    assert "overdue 2 d" in html
