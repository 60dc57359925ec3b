"""Sampling reminders (docs/sampling-schedule.md §9): upcoming at −7 days, overdue at +3, never
twice, none while interrupted or stopped, none for a date before the treatment was entered in
eTDM; told in one digest per nurse and day, in the application and by e-mail."""

import datetime
import re
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases import roles, services
from cases.models import Drug, Patient, Site, Treatment
from cases.selectors import build_worklist
from notifications import services as notify
from notifications.models import Notification, Reminder
from tests.conftest import local_datetime, make_user
from tests.factories import PatientFactory, TreatmentFactory

# case_at: sorafenib from 2024-01-08 (Monday); due dates 2024-02-05 (fulfilled by the sample of
# that day), 2024-03-04, 2024-04-01, then every 12 weeks.
START = datetime.date(2024, 1, 8)
WEEK_8 = datetime.date(2024, 3, 4)


def reminders():
    return sorted(Reminder.objects.values_list("due_date", "kind"))


def register_on(treatment: Treatment, day: datetime.date) -> None:
    """Backdate the day the treatment was entered in eTDM."""
    moment = timezone.make_aware(datetime.datetime.combine(day, datetime.time(9)))
    Treatment.objects.filter(pk=treatment.pk).update(created_at=moment)


def reminded_before(treatment: Treatment, due_date: datetime.date) -> None:
    """Both reminders of the due date, sent on an earlier run."""
    for kind in ("upcoming", "overdue"):
        Reminder.objects.create(
            treatment=treatment, due_date=due_date, kind=kind, sent_at=timezone.now()
        )


@pytest.fixture
def registered_case(case_at):
    """`case_at`, entered in eTDM on the day the treatment started."""

    def build(*args, **kwargs):
        case = case_at(*args, **kwargs)
        register_on(case["treatment"], START)
        return case

    return build


@pytest.fixture
def register(staff):
    """`register("a", "TDM-A002", start)`: a patient of the site's nurse on a drug (sorafenib
    unless told), entered in eTDM on `registered` (default: the start)."""

    def build(site, study_number, start, *, drug=None, registered=None, nurse=True):
        actor = staff[f"nurse_{site}"]
        patient = PatientFactory(
            actor=actor,
            site=Site.objects.get(code=f"SITE{site.upper()}"),
            study_number=study_number,
            responsible_nurse=actor if nurse else None,
        )
        drug = drug or Drug.objects.get(name="sorafenib")
        treatment = TreatmentFactory(
            actor=actor,
            patient=patient,
            drug=drug,
            start_date=start,
            daily_dose_mg=drug.standard_daily_dose_mg,
            administrations_per_day=drug.administrations_per_day,
        )
        if registered is not False:
            register_on(treatment, registered or start)
        return treatment

    return build


@pytest.mark.django_db
def test_upcoming_seven_days_before_and_overdue_three_days_after(registered_case, staff):
    registered_case("a")
    notify.sample_reminders(today=WEEK_8 - datetime.timedelta(days=8))
    assert reminders() == []
    notify.sample_reminders(today=WEEK_8 - datetime.timedelta(days=7))
    assert reminders() == [(WEEK_8, "upcoming")]
    notify.sample_reminders(today=WEEK_8 + datetime.timedelta(days=2))
    assert reminders() == [(WEEK_8, "upcoming")]
    notify.sample_reminders(today=WEEK_8 + datetime.timedelta(days=3))
    assert reminders() == [(WEEK_8, "overdue"), (WEEK_8, "upcoming")]
    nurse = staff["nurse_a"]
    assert set(Reminder.objects.values_list("recipient", flat=True)) == {nurse.pk}
    digests = Notification.objects.filter(recipient=nurse).order_by("digest_date")
    assert [(d.kind, d.digest_date) for d in digests] == [
        ("sample_digest", WEEK_8 - datetime.timedelta(days=7)),
        ("sample_digest", WEEK_8 + datetime.timedelta(days=3)),
    ]
    assert [[r.kind for r in d.reminders.all()] for d in digests] == [["upcoming"], ["overdue"]]


@pytest.mark.django_db
def test_running_twice_sends_each_reminder_once(
    registered_case, django_capture_on_commit_callbacks
):
    registered_case("a")
    today = WEEK_8 - datetime.timedelta(days=7)
    with django_capture_on_commit_callbacks(execute=True):
        first = notify.sample_reminders(today=today)
    with django_capture_on_commit_callbacks(execute=True):
        second = notify.sample_reminders(today=today)
    assert first == {"date": "2024-02-26", "reminders": 1, "nurses_told": 1}
    assert second == {"date": "2024-02-26", "reminders": 0, "nurses_told": 0}
    assert Reminder.objects.count() == 1
    assert Notification.objects.count() == 1
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["nurse_a@hospital.test"]
    assert "2024-03-04" in mail.outbox[0].body
    assert mail.outbox[0].body.endswith("/worklist/")


@pytest.mark.django_db
def test_a_fulfilled_date_gets_no_overdue_reminder(registered_case, staff):
    case = registered_case("a")
    services.sample_record(
        actor=staff["nurse_a"],
        treatment=case["treatment"],
        drawn_at=local_datetime("2024-03-08 09:00"),
        last_dose_at=local_datetime("2024-03-07 21:00"),
        concentration=Decimal(3000),
    )
    notify.sample_reminders(today=WEEK_8 + datetime.timedelta(days=3))
    assert (WEEK_8, "overdue") not in reminders()


@pytest.mark.django_db
def test_interrupted_or_stopped_treatments_get_none(registered_case, staff):
    interrupted = registered_case("a")["treatment"]
    services.dose_regimen_create(
        actor=staff["physician_a"],
        treatment=interrupted,
        effective_from=datetime.date(2024, 2, 20),
        daily_dose_mg=Decimal(0),
        administrations_per_day=2,
        reason="interruption",
    )
    stopped = registered_case("b")["treatment"]
    services.treatment_stop(
        actor=staff["physician_b"],
        treatment=stopped,
        stop_date=datetime.date(2024, 2, 20),
        reason="progression",
    )
    for day in range(0, 40):
        notify.sample_reminders(today=datetime.date(2024, 2, 20) + datetime.timedelta(days=day))
    assert Reminder.objects.count() == 0


@pytest.mark.django_db
def test_a_date_missed_before_an_interruption_is_not_reminded_of_during_it(register, staff):
    # Due 2024-02-05 without a sample; interrupted from 2024-02-07 (before the overdue day).
    treatment = register("a", "TDM-A002", START)
    services.dose_regimen_create(
        actor=staff["physician_a"],
        treatment=treatment,
        effective_from=datetime.date(2024, 2, 7),
        daily_dose_mg=Decimal(0),
        administrations_per_day=2,
        reason="interruption",
    )
    for day in range(0, 20):
        notify.sample_reminders(today=datetime.date(2024, 2, 7) + datetime.timedelta(days=day))
    assert (datetime.date(2024, 2, 5), "overdue") not in reminders()


@pytest.mark.django_db
def test_without_a_responsible_nurse_every_nurse_of_the_site_is_told(
    registered_case, staff, site_a, django_capture_on_commit_callbacks
):
    second = make_user("nurse_a2", roles.NURSE, site_a)
    case = registered_case("a")
    Patient.objects.filter(pk=case["patient"].pk).update(responsible_nurse=None)
    with django_capture_on_commit_callbacks(execute=True):
        notify.sample_reminders(today=WEEK_8 - datetime.timedelta(days=7))
    reminder = Reminder.objects.get()
    assert reminder.recipient is None
    told = reminder.notifications.values_list("recipient__username", flat=True)
    assert sorted(told) == ["nurse_a", "nurse_a2"]
    assert sorted(address for message in mail.outbox for address in message.to) == [
        "nurse_a2@hospital.test",
        "nurse_a@hospital.test",
    ]
    assert second.notifications.get().kind == "sample_digest"


@pytest.mark.django_db
def test_one_digest_per_nurse_lists_the_days_reminders_and_counts_the_others(
    registered_case, register, staff, django_capture_on_commit_callbacks
):
    registered_case("a")  # TDM-A001: due Mon 2024-03-04
    imatinib = Drug.objects.get(name="imatinib", indication="gist")
    register("a", "TDM-A002", datetime.date(2024, 2, 6), drug=imatinib)  # due Tue 03-05
    # Due Thu 2024-02-08 (never sampled) and Thu 03-07.
    register("a", "TDM-A003", datetime.date(2024, 1, 11))
    # Due 2024-02-19 and reminded of before: open, but not news today.
    reminded_before(
        register("a", "TDM-A004", datetime.date(2024, 1, 22)), datetime.date(2024, 2, 19)
    )
    registered_case("b")  # TDM-B001 of the other site's nurse, due 03-04

    with django_capture_on_commit_callbacks(execute=True):
        run = notify.sample_reminders(today=WEEK_8)

    assert run == {"date": "2024-03-04", "reminders": 5, "nurses_told": 2}
    assert Counter(address for message in mail.outbox for address in message.to) == {
        "nurse_a@hospital.test": 1,
        "nurse_b@hospital.test": 1,
    }
    digest = Notification.objects.get(recipient=staff["nurse_a"])
    assert digest.kind == "sample_digest"
    assert digest.link == "/worklist/"
    assert digest.reminders.count() == 4
    assert digest.subject == "eTDM: 3 samples due soon and 1 overdue (2024-03-04)"
    assert digest.body.splitlines() == [
        "Sampling reminders of Mon 2024-03-04.",
        "",
        "Due soon:",
        "- TDM-A001: sorafenib sample due today (Mon 2024-03-04).",
        "- TDM-A002: imatinib sample due tomorrow (Tue 2024-03-05).",
        "- TDM-A003: sorafenib sample due in 3 days (Thu 2024-03-07).",
        "",
        "Overdue, no sample drawn since 7 days before the due date:",
        "- TDM-A003: sorafenib sample was due on Thu 2024-02-08, 25 days ago.",
        "",
        "1 other due date is open for your patients: see the worklist.",
        "A sample drawn from 7 days before to 7 days after its due date counts for it.",
    ]
    (message,) = [m for m in mail.outbox if m.to == ["nurse_a@hospital.test"]]
    assert message.subject == digest.subject
    assert "due in 0 days" not in message.body
    assert "an imatinib" not in message.body
    assert "a imatinib" not in message.body
    other = Notification.objects.get(recipient=staff["nurse_b"])
    assert other.subject == "eTDM: 1 sample due soon (2024-03-04)"
    assert "No other due date is open for your patients." in other.body


@pytest.mark.django_db
def test_an_overdue_sample_still_in_its_window_says_until_when_it_counts(registered_case):
    registered_case("a")
    notify.sample_reminders(today=WEEK_8 + datetime.timedelta(days=3))
    digest = Notification.objects.get()
    assert digest.subject == "eTDM: 1 sample overdue (2024-03-07)"
    assert (
        "- TDM-A001: sorafenib sample was due on Mon 2024-03-04, 3 days ago; a sample drawn by "
        "Mon 2024-03-11 still counts." in digest.body.splitlines()
    )


@pytest.mark.django_db
def test_a_reminder_of_a_second_run_that_day_joins_the_days_digest_without_a_second_email(
    registered_case, register, staff, django_capture_on_commit_callbacks
):
    registered_case("a")
    today = WEEK_8 - datetime.timedelta(days=7)
    with django_capture_on_commit_callbacks(execute=True):
        notify.sample_reminders(today=today)
    notify.mark_read(staff["nurse_a"])
    # Entered after the morning run, due in 5 days; the scan is run again by hand.
    register("a", "TDM-A002", datetime.date(2024, 1, 6), registered=today)
    with django_capture_on_commit_callbacks(execute=True):
        again = notify.sample_reminders(today=today)

    assert again["reminders"] == 1
    digest = Notification.objects.get()
    assert digest.reminders.count() == 2
    assert digest.read_at is None
    assert "TDM-A002: sorafenib sample due in 5 days" in digest.body
    assert digest.subject == "eTDM: 2 samples due soon (2024-02-26)"
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_an_extra_due_date_is_reminded_of_like_any_other(registered_case, staff):
    treatment = registered_case("a")["treatment"]
    services.extra_due_date_create(
        actor=staff["pharmacist_a"],
        treatment=treatment,
        date=datetime.date(2024, 2, 19),
        reason="re-sample in 2 weeks",
        today=datetime.date(2024, 2, 5),
    )
    notify.sample_reminders(today=datetime.date(2024, 2, 12))
    assert reminders() == [(datetime.date(2024, 2, 19), "upcoming")]
    notify.sample_reminders(today=datetime.date(2024, 2, 22))
    assert (datetime.date(2024, 2, 19), "overdue") in reminders()


@pytest.mark.django_db
def test_the_digest_opens_the_worklist(client, registered_case, staff):
    registered_case("a")
    notify.sample_reminders(today=WEEK_8 - datetime.timedelta(days=7))
    digest = Notification.objects.get()
    client.force_login(staff["nurse_a"])

    listing = client.get("/notifications/").content.decode()
    opened = client.post(f"/notifications/{digest.pk}/open/", {"go": "1"})

    assert digest.subject in listing
    assert "samples to take" in listing
    assert opened["Location"] == "/worklist/"


@pytest.mark.django_db
def test_backdated_treatments_registered_today_send_nothing_for_their_past(
    register, staff, site_a, django_capture_on_commit_callbacks
):
    """The reported story: a nurse enters a ward's running treatments, started months ago. The
    first run reminds of nothing before today and sends her one e-mail at most."""
    make_user("nurse_a2", roles.NURSE, site_a)
    today = timezone.localdate()
    for number in range(12):
        # Due 252 days after the start (today − 48) and, next, 336 days after it (in 36 days).
        register(
            "a", f"TDM-OLD{number:02d}", today - datetime.timedelta(days=300), registered=False
        )
    for number in range(3):
        # Due 78 days ago, and in 6 days: worth a reminder. The last has no responsible nurse.
        register(
            "a",
            f"TDM-SOON{number}",
            today - datetime.timedelta(days=330),
            registered=False,
            nurse=number < 2,
        )
    register("b", "TDM-B-OLD", today - datetime.timedelta(days=300), registered=False)

    with django_capture_on_commit_callbacks(execute=True):
        first = notify.sample_reminders(today=today)
    with django_capture_on_commit_callbacks(execute=True):
        second = notify.sample_reminders(today=today)

    assert not Reminder.objects.filter(due_date__lt=today).exists()
    assert reminders() == [(today + datetime.timedelta(days=6), "upcoming")] * 3
    assert first["reminders"] == 3
    assert second["reminders"] == 0
    recipients = Counter(address for message in mail.outbox for address in message.to)
    assert recipients == {"nurse_a@hospital.test": 1, "nurse_a2@hospital.test": 1}
    assert Notification.objects.count() == 2
    digest = Notification.objects.get(recipient=staff["nurse_a"])
    assert digest.subject == f"eTDM: 3 samples due soon ({today:%Y-%m-%d})"
    # The fifteen dates missed before registration are open on her worklist, not news.
    assert "15 other due dates are open for your patients: see the worklist." in digest.body
    work = build_worklist(staff["nurse_a"])
    assert [row.treatment.patient.study_number for row in work.before_registration] == [
        *(f"TDM-SOON{number}" for number in range(3)),
        *(f"TDM-OLD{number:02d}" for number in range(12)),
    ]
    assert list(work.overdue) == []


@pytest.mark.django_db
def test_queries_do_not_grow_with_the_number_of_patients(
    registered_case, django_assert_max_num_queries
):
    registered_case("a", "TDM-1")
    today = WEEK_8 - datetime.timedelta(days=7)

    with CaptureQueriesContext(connection) as quiet:
        notify.sample_reminders(today=today - datetime.timedelta(days=1))
    with CaptureQueriesContext(connection) as one:
        notify.sample_reminders(today=today)
    for number in range(2, 12):
        registered_case("a", f"TDM-{number}")
    with django_assert_max_num_queries(len(quiet.captured_queries)):
        notify.sample_reminders(today=today - datetime.timedelta(days=1))
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert notify.sample_reminders(today=today)["reminders"] == 10


@pytest.mark.django_db
def test_overdue_runs_do_not_grow_with_the_number_of_patients_either(
    registered_case, register, staff, django_assert_max_num_queries
):
    # Overdue and upcoming reminders, a patient without a responsible nurse and open dates
    # counted for the digest, at one and at eleven treatments.
    registered_case("a", "TDM-1")
    late = WEEK_8 + datetime.timedelta(days=3)
    with CaptureQueriesContext(connection) as one:
        assert notify.sample_reminders(today=late)["reminders"] == 1
    for number in range(2, 12):
        registered_case("a", f"TDM-{number}")
    register("a", "TDM-SOON", late - datetime.timedelta(days=25), nurse=False)
    with django_assert_max_num_queries(len(one.captured_queries)):
        run = notify.sample_reminders(today=late + datetime.timedelta(days=1))
    assert run == {"date": "2024-03-08", "reminders": 11, "nurses_told": 1}
    digest = Notification.objects.get(recipient=staff["nurse_a"], digest_date=run["date"])
    assert digest.subject == "eTDM: 1 sample due soon and 10 overdue (2024-03-08)"
    # TDM-1's overdue date, told yesterday, is still open.
    assert "1 other due date is open for your patients: see the worklist." in digest.body


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_runs_send_each_reminder_once(postgresql, registered_case):
    registered_case("a")
    today = WEEK_8 - datetime.timedelta(days=7)
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait(timeout=10)
            notify.sample_reminders(today=today)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert reminders() == [(WEEK_8, "upcoming")]
    assert Notification.objects.count() == 1
    assert Notification.objects.get().reminders.count() == 1


@pytest.mark.django_db
def test_the_count_of_other_dates_reads_her_patients_and_the_unassigned_ones_of_her_site(
    registered_case, register, staff, site_a
):
    registered_case("a")  # TDM-A001 of nurse_a: due Mon 2024-03-04, reminded today
    colleague = make_user("nurse_a2", roles.NURSE, site_a)
    # Due 2024-02-19 and reminded of before: open, not news today.
    of_colleague = register("a", "TDM-A005", datetime.date(2024, 1, 22))
    Patient.objects.filter(pk=of_colleague.patient_id).update(responsible_nurse=colleague)
    unassigned = register("a", "TDM-A006", datetime.date(2024, 1, 22), nurse=False)
    for treatment in (of_colleague, unassigned):
        reminded_before(treatment, datetime.date(2024, 2, 19))

    assert notify.sample_reminders(today=WEEK_8)["nurses_told"] == 1

    digest = Notification.objects.get(recipient=staff["nurse_a"])
    assert "1 other due date is open for your patients: see the worklist." in digest.body
    assert not colleague.notifications.exists()


@pytest.mark.django_db
def test_the_count_of_other_dates_is_her_worklist_less_what_the_digest_lists(
    register, staff, site_a
):
    """The digest counts each treatment's open dates from its latest past date alone; the
    worklist finds the date still overdue among all past ones: both say the same."""
    today = timezone.localdate()
    day = datetime.timedelta(days=1)
    # Registered at the start: its past dates were reminded of, the latest is still overdue.
    register("a", "TDM-LONG", today - 300 * day)
    # Entered today: its dates before registration are open, not reminded of.
    register("a", "TDM-LATE", today - 330 * day, registered=today)
    # Its latest past date (week 12, 20 days ago) is cleared by a sample drawn after its window.
    sampled = register("a", "TDM-DRAWN", today - 104 * day)
    services.sample_record(
        actor=staff["nurse_a"],
        treatment=sampled,
        drawn_at=timezone.make_aware(datetime.datetime.combine(today - 10 * day, datetime.time(9))),
        last_dose_at=timezone.make_aware(
            datetime.datetime.combine(today - 11 * day, datetime.time(21))
        ),
        concentration=Decimal(3000),
    )
    interrupted = register("a", "TDM-PAUSE", today - 200 * day)
    services.dose_regimen_create(
        actor=staff["physician_a"],
        treatment=interrupted,
        effective_from=today - 30 * day,
        daily_dose_mg=Decimal(0),
        administrations_per_day=2,
        reason="interruption",
    )
    stopped = register("a", "TDM-STOP", today - 150 * day)
    services.treatment_stop(
        actor=staff["physician_a"],
        treatment=stopped,
        stop_date=today - 5 * day,
        reason="progression",
    )
    register("a", "TDM-NONE", today - 330 * day, nurse=False)
    register("b", "TDM-OTHER", today - 300 * day)

    notify.sample_reminders(today=today)

    nurse = staff["nurse_a"]
    digest = Notification.objects.get(recipient=nurse)
    work = build_worklist(nurse)
    open_dates = {
        (row.treatment.pk, row.due_date)
        for section in (work.overdue, work.before_registration, work.due_soon)
        for row in section
    }
    listed = set(digest.reminders.values_list("treatment_id", "due_date"))
    others = len(open_dates - listed)
    told = re.search(r"^(\d+) other due dates? (is|are) open", digest.body, re.MULTILINE)
    assert others >= 1
    assert int(told.group(1)) == others
