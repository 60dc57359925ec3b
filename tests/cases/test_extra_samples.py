"""Extra samples (docs/sampling-schedule.md §12): asked for on a day that can still be due, by a
nurse, pharmacist or physician of the site, audited; a due date of kind `extra` in the schedule,
fulfilled like the others; and the page that asks for one."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from cases import clinical, services
from cases.models import AuditEvent, ExtraDueDate, Treatment
from tests.factories import PatientFactory, SampleFactory, TreatmentFactory

pytestmark = pytest.mark.django_db


def days(n: int) -> datetime.date:
    return timezone.localdate() + datetime.timedelta(days=n)


@pytest.fixture
def treatment(staff) -> Treatment:
    """Sorafenib from 20 days ago: regular dates in 8, 36 and 64 days."""
    nurse = staff["nurse_a"]
    patient = PatientFactory(actor=nurse, study_number="TDM-X1", responsible_nurse=nurse)
    return TreatmentFactory(actor=nurse, patient=patient, start_date=days(-20))


def ask(staff, treatment, day, reason="re-sample in 2 weeks", who="pharmacist_a"):
    return services.extra_due_date_create(
        actor=staff[who], treatment=treatment, date=day, reason=reason
    )


def date_errors(staff, treatment, day, **kwargs) -> list[str]:
    with pytest.raises(ValidationError) as error:
        ask(staff, treatment, day, **kwargs)
    return error.value.message_dict["date"]


def schedule_of(treatment: Treatment, until: datetime.date) -> list[tuple]:
    reloaded = Treatment.objects.get(pk=treatment.pk)
    return [
        (row["date"], row["kind"], row["reason"])
        for row in clinical.treatment_schedule(reloaded, until=until)
    ]


# The service -----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["nurse_a", "pharmacist_a", "physician_a"])
def test_a_clinician_of_the_site_asks_for_an_extra_sample(staff, treatment, who):
    extra = ask(staff, treatment, days(14), who=who)

    assert (extra.date, extra.reason, extra.created_by) == (
        days(14),
        "re-sample in 2 weeks",
        staff[who],
    )
    assert schedule_of(treatment, days(40)) == [
        (days(8), "regular", ""),
        (days(14), "extra", "re-sample in 2 weeks"),
        (days(36), "regular", ""),
    ]
    event = AuditEvent.objects.get(model="cases.extraduedate", object_id=str(extra.pk))
    assert event.action == AuditEvent.Action.CREATE
    assert event.actor == staff[who]
    assert event.after["date"] == days(14).isoformat()
    assert event.after["reason"] == "re-sample in 2 weeks"


def test_the_data_manager_may_not(staff, treatment):
    with pytest.raises(PermissionDenied):
        ask(staff, treatment, days(14), who="datamanager_a")
    assert not ExtraDueDate.objects.exists()


def test_a_nurse_of_another_site_may_not(staff, treatment):
    with pytest.raises(ValidationError) as error:
        ask(staff, treatment, days(14), who="nurse_b")
    assert "treatment" in error.value.message_dict


@pytest.mark.parametrize("reason", ["", "   "])
def test_the_reason_is_required(staff, treatment, reason):
    with pytest.raises(ValidationError) as error:
        ask(staff, treatment, days(14), reason=reason)
    assert error.value.message_dict == {"reason": ["Say why the extra sample is needed."]}


def test_the_reason_is_stored_without_surrounding_spaces(staff, treatment):
    assert ask(staff, treatment, days(14), reason="  re-sample  ").reason == "re-sample"


def test_a_reason_longer_than_200_characters_is_refused(staff, treatment):
    with pytest.raises(ValidationError) as error:
        ask(staff, treatment, days(14), reason="x" * 201)
    assert "reason" in error.value.message_dict


def test_today_is_allowed_yesterday_is_not(staff, treatment):
    assert ask(staff, treatment, days(0)).date == days(0)
    assert date_errors(staff, treatment, days(-1)) == [
        f"Ask for today ({days(0).isoformat()}) or a later day."
    ]


def test_at_most_a_year_ahead(staff, treatment):
    assert ask(staff, treatment, days(365)).date == days(365)
    (message,) = date_errors(staff, treatment, days(366))
    assert message.startswith("Plan at most a year ahead")


def test_not_before_a_future_start(staff):
    patient = PatientFactory(actor=staff["nurse_a"])
    planned = TreatmentFactory(actor=staff["nurse_a"], patient=patient, start_date=days(10))
    assert date_errors(staff, planned, days(9)) == [
        f"The treatment starts on {days(10).isoformat()}."
    ]
    assert ask(staff, planned, days(10)).date == days(10)


def test_not_from_the_stop_date_on(staff, treatment):
    services.treatment_stop(
        actor=staff["physician_a"], treatment=treatment, stop_date=days(20), reason="progression"
    )
    assert ask(staff, treatment, days(19)).date == days(19)
    assert date_errors(staff, treatment, days(20)) == [
        f"The treatment stops on {days(20).isoformat()}: nothing is due then."
    ]


def test_not_inside_a_known_interruption(staff, treatment):
    for day, dose, reason in ((days(10), 0, "interruption"), (days(20), 400, "resume")):
        services.dose_regimen_create(
            actor=staff["physician_a"],
            treatment=treatment,
            effective_from=day,
            daily_dose_mg=Decimal(dose),
            administrations_per_day=2,
            reason=reason,
        )
    assert ask(staff, treatment, days(9)).date == days(9)
    for day in (days(10), days(19)):
        assert date_errors(staff, treatment, day) == [
            "The treatment is interrupted on that day: a sample then says nothing of the dose."
        ]
    assert ask(staff, treatment, days(20)).date == days(20)


def test_an_interruption_decided_later_drops_the_date_from_the_schedule(staff, treatment):
    ask(staff, treatment, days(14))
    services.dose_regimen_create(
        actor=staff["physician_a"],
        treatment=treatment,
        effective_from=days(12),
        daily_dose_mg=Decimal(0),
        administrations_per_day=2,
        reason="interruption",
    )
    assert schedule_of(treatment, days(40)) == [(days(8), "regular", "")]
    assert ExtraDueDate.objects.filter(date=days(14)).exists()


def test_one_extra_sample_a_day(staff, treatment):
    ask(staff, treatment, days(14))
    assert date_errors(staff, treatment, days(14), who="nurse_a") == [
        f"An extra sample is already asked for on {days(14).isoformat()}."
    ]
    assert ExtraDueDate.objects.count() == 1


def test_not_on_a_day_already_due(staff, treatment):
    assert date_errors(staff, treatment, days(8)) == [
        f"A regular sample is already due on {days(8).isoformat()}; choose another day if a "
        "further sample is needed."
    ]


def test_a_sample_within_7_days_fulfils_it(staff, treatment):
    extra = ask(staff, treatment, days(0))
    drawn = timezone.localtime() - datetime.timedelta(minutes=30)
    sample = SampleFactory(
        actor=staff["nurse_a"], treatment=treatment, drawn_at=drawn, concentration=None
    )

    reloaded = Treatment.objects.get(pk=treatment.pk)
    rows = {row["date"]: row for row in clinical.treatment_schedule(reloaded, until=days(40))}
    assert rows[extra.date]["fulfilled_by"] == sample.pk
    # Eight days before the regular date: too far for it, which stays open.
    assert rows[days(8)]["fulfilled_by"] is None


# The page --------------------------------------------------------------------------------------


def test_the_page_asks_for_a_date_and_a_reason(client, staff, treatment):
    client.force_login(staff["nurse_a"])

    response = client.get(f"/treatments/{treatment.pk}/extra-samples/new/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Ask for an extra sample of sorafenib" in html
    assert f'value="{days(14).isoformat()}"' in html
    assert 'name="reason"' in html


def test_posting_the_page_asks_for_it_and_goes_back_to_the_treatment(client, staff, treatment):
    client.force_login(staff["physician_a"])

    response = client.post(
        f"/treatments/{treatment.pk}/extra-samples/new/",
        {"date": days(14).isoformat(), "reason": "re-sample after the rejected advice"},
        follow=True,
    )

    assert response.redirect_chain == [(f"/treatments/{treatment.pk}/", 302)]
    assert f"Extra sample due on {days(14).isoformat()}." in response.content.decode()
    extra = ExtraDueDate.objects.get()
    assert (extra.treatment, extra.reason) == (treatment, "re-sample after the rejected advice")
    assert {"date": days(14), "kind": "extra"} in [
        {"date": row["date"], "kind": row["kind"]} for row in response.context["schedule"]
    ]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"date": "", "reason": "re-sample"}, "date", "This field is required."),
        ({"date": "soon", "reason": "re-sample"}, "date", "Enter a valid date."),
        ({"date": "DAY(-1)", "reason": "re-sample"}, "date", "or a later day."),
        ({"date": "DAY(8)", "reason": "re-sample"}, "date", "A regular sample is already due"),
        ({"date": "DAY(14)", "reason": ""}, "reason", "Say why the extra sample is needed."),
        ({"date": "DAY(14)", "reason": "   "}, "reason", "Say why the extra sample is needed."),
    ],
)
def test_a_refused_request_is_shown_beside_its_field(
    client, staff, treatment, data, field, message
):
    client.force_login(staff["nurse_a"])
    for key, value in data.items():
        if value.startswith("DAY("):
            data[key] = days(int(value[4:-1])).isoformat()

    response = client.post(f"/treatments/{treatment.pk}/extra-samples/new/", data)

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert f'id="id_{field}-error"' in response.content.decode()
    assert not ExtraDueDate.objects.exists()


def test_the_page_is_forbidden_to_the_data_manager(client, staff, treatment):
    client.force_login(staff["datamanager_a"])
    url = f"/treatments/{treatment.pk}/extra-samples/new/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"date": days(14).isoformat(), "reason": "x"}).status_code == 403
    assert not ExtraDueDate.objects.exists()


def test_another_sites_treatment_is_not_found(client, staff, treatment):
    client.force_login(staff["nurse_b"])
    assert client.get(f"/treatments/{treatment.pk}/extra-samples/new/").status_code == 404


def test_the_treatment_page_offers_and_shows_the_extra_sample(client, staff):
    today = timezone.localdate()
    patient = PatientFactory(actor=staff["nurse_a"])
    treatment = TreatmentFactory(
        actor=staff["nurse_a"], patient=patient, start_date=today - datetime.timedelta(days=30)
    )
    services.extra_due_date_create(
        actor=staff["physician_a"],
        treatment=treatment,
        date=today + datetime.timedelta(days=10),
        reason="re-sample after an unusable draw",
    )
    client.force_login(staff["nurse_a"])

    page = client.get(f"/treatments/{treatment.pk}/").content.decode()

    assert f'href="/treatments/{treatment.pk}/extra-samples/new/"' in page
    assert "extra: re-sample after an unusable draw" in page
    client.force_login(staff["datamanager_a"])
    assert "/extra-samples/new/" not in client.get(f"/treatments/{treatment.pk}/").content.decode()
