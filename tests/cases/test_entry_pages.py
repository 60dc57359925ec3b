"""Data entry pages: each form saves through its service, and only those who may act see and
use it (another site's record is a 404, a role without the permission a 403)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from advice.models import Advice
from cases import clinical, services
from cases.models import (
    AdverseEvent,
    AuditEvent,
    DoseRegimen,
    Drug,
    Patient,
    Sample,
    Treatment,
)
from cases.services.samples import CORRECTION_DETAIL
from tests.conftest import local_datetime

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(case_at):
    return case_at("a")


def as_user(client, staff, name):
    client.force_login(staff[name])
    return client


def minutes_ago(minutes: int) -> datetime.datetime:
    return timezone.localtime() - datetime.timedelta(minutes=minutes)


def local_input(moment: datetime.datetime) -> str:
    """A datetime as a `datetime-local` input sends it."""
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


# Patients and treatments ------------------------------------------------------------------------


def test_nurse_registers_a_patient(client, staff, site_a):
    as_user(client, staff, "nurse_a")
    form = client.get("/patients/new/")
    assert form.status_code == 200
    assert 'name="study_number"' in form.content.decode()

    response = client.post(
        "/patients/new/",
        {
            "site": site_a.pk,
            "study_number": "TDM-0100",
            "name": "Anna de Wit",
            "record_number": "MRN-9",
            "sex": "F",
            "birth_year": "1961",
            "tumour": "renal cell carcinoma",
            "tumour_code": "C64",
            "treating_physician": staff["physician_a"].pk,
            "responsible_nurse": staff["nurse_a"].pk,
        },
    )

    patient = Patient.objects.get(study_number="TDM-0100")
    assert response.status_code == 302
    assert response["Location"] == f"/patients/{patient.pk}/"
    assert patient.site == site_a
    assert patient.treating_physician == staff["physician_a"]
    page = client.get(response["Location"]).content.decode()
    assert "Patient TDM-0100 registered." in page
    assert "Anna de Wit" in page


def test_patient_form_offers_only_the_users_own_site_and_colleagues(client, staff):
    html = as_user(client, staff, "nurse_a").get("/patients/new/").content.decode()
    assert "SITEA" in html
    assert "SITEB" not in html
    assert "Physician_A" in html
    assert "Physician_B" not in html


@pytest.mark.parametrize("name", ["pharmacist_a", "physician_a", "datamanager_a"])
def test_roles_that_do_not_register_patients_get_403(client, staff, site_a, name):
    as_user(client, staff, name)
    assert client.get("/patients/new/").status_code == 403
    response = client.post(
        "/patients/new/",
        {"site": site_a.pk, "study_number": "X-1", "sex": "F", "birth_year": "1960"},
    )
    assert response.status_code == 403
    assert not Patient.objects.filter(study_number="X-1").exists()


def _stop_first_course(case, staff) -> None:
    services.treatment_stop(
        actor=staff["physician_a"],
        treatment=case["treatment"],
        stop_date=datetime.date(2024, 5, 31),
        reason="progressive disease",
    )


def test_nurse_registers_a_treatment(client, staff, case, sorafenib):
    patient = case["patient"]
    _stop_first_course(case, staff)
    as_user(client, staff, "nurse_a")
    assert client.get(f"/patients/{patient.pk}/treatments/new/").status_code == 200

    response = client.post(
        f"/patients/{patient.pk}/treatments/new/",
        {
            "drug": sorafenib.pk,
            "start_date": "2024-06-03",
            "daily_dose_mg": "400",
            "administrations_per_day": "2",
        },
    )

    assert response.status_code == 302
    treatment = Treatment.objects.exclude(pk=case["treatment"].pk).get(patient=patient)
    assert response["Location"] == f"/treatments/{treatment.pk}/"
    regimen = treatment.regimens.get()
    assert regimen.daily_dose_mg == 400
    assert regimen.split_mg == [200, 200]
    assert not regimen.off_label


def test_confirmed_off_label_dose_is_registered_with_its_reason(client, staff, case, sorafenib):
    patient = case["patient"]
    _stop_first_course(case, staff)
    response = as_user(client, staff, "nurse_a").post(
        f"/patients/{patient.pk}/treatments/new/",
        {
            "drug": sorafenib.pk,
            "start_date": "2024-06-03",
            "administrations_per_day": "2",
            "off_label_confirmed": "on",
            "off_label_dose_mg": "500",
            "off_label_reason": "renal impairment, per oncologist",
        },
    )

    assert response.status_code == 302
    regimen = DoseRegimen.objects.get(treatment__patient=patient, daily_dose_mg=500)
    assert regimen.off_label
    assert regimen.off_label_reason == "renal impairment, per oncologist"


def test_dose_fields_follow_the_drug_chosen(client, staff):
    imatinib = Drug.objects.get(name="imatinib", indication="gist")
    html = as_user(client, staff, "nurse_a").get("/treatments/dose-fields/", {"drug": imatinib.pk})
    text = html.content.decode()
    assert html.status_code == 200
    for level in imatinib.facts().dose_levels_mg:
        assert f'value="{format(level.normalize(), "f")}"' in text
    assert 'value="400" selected' in text  # the standard dose is preselected
    for junk in ("abc", "", "999999"):
        assert client.get("/treatments/dose-fields/", {"drug": junk}).status_code == 200


def test_dose_change_and_interruption(client, staff, case):
    treatment = case["treatment"]
    as_user(client, staff, "physician_a")
    assert client.get(f"/treatments/{treatment.pk}/dose/").status_code == 200

    response = client.post(
        f"/treatments/{treatment.pk}/dose/",
        {
            "effective_from": "2024-03-04",
            "daily_dose_mg": "800",
            "administrations_per_day": "2",
            "reason": "step_up",
        },
    )
    assert response.status_code == 302
    pause = client.post(
        f"/treatments/{treatment.pk}/dose/",
        {
            "effective_from": "2024-04-01",
            "daily_dose_mg": "0",
            "administrations_per_day": "2",
            "reason": "interruption",
        },
    )
    assert pause.status_code == 302
    doses = list(
        treatment.regimens.order_by("effective_from").values_list("daily_dose_mg", "reason")
    )
    assert doses == [(600, "start"), (800, "step_up"), (0, "interruption")]


def test_stop_treatment(client, staff, case):
    treatment = case["treatment"]
    as_user(client, staff, "nurse_a")
    response = client.post(
        f"/treatments/{treatment.pk}/stop/",
        {"stop_date": "2024-05-01", "stop_reason": "progressive disease"},
    )
    assert response.status_code == 302
    treatment.refresh_from_db()
    assert treatment.stop_date == datetime.date(2024, 5, 1)
    html = client.get(f"/treatments/{treatment.pk}/").content.decode()
    assert "progressive disease" in html
    assert "Stop the treatment" not in html
    assert "Log a sample" not in html


def test_stopping_twice_is_refused_next_to_the_date(client, staff, case):
    treatment = case["treatment"]
    as_user(client, staff, "nurse_a")
    data = {"stop_date": "2024-05-01", "stop_reason": "progressive disease"}
    client.post(f"/treatments/{treatment.pk}/stop/", data)
    again = client.post(f"/treatments/{treatment.pk}/stop/", data)
    assert again.status_code == 400
    assert "already stopped" in again.content.decode()


# Samples ----------------------------------------------------------------------------------------


def test_nurse_logs_a_sample_with_its_result(
    client, staff, case, django_capture_on_commit_callbacks
):
    treatment = case["treatment"]
    as_user(client, staff, "nurse_a")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/treatments/{treatment.pk}/samples/new/",
            {
                "drawn_at": "2024-03-04T09:00",
                "last_dose_at": "2024-03-03T21:00",
                "concentration": "3100",
                "unit": "ng/mL",
                "lab_accession": "LAB-77",
            },
        )
    assert response.status_code == 302
    sample = treatment.samples.get(lab_accession="LAB-77")
    assert sample.drawn_at == local_datetime("2024-03-04 09:00")
    assert sample.status == Sample.Status.RESULTED
    assert sample.hours_after_dose == 12
    assert Advice.objects.filter(sample=sample).exists()
    page = client.get(response["Location"]).content.decode()
    assert "Sample logged with its result" in page


def test_preview_computes_like_saving_and_saves_nothing(client, staff, case):
    treatment = case["treatment"]
    before = Sample.objects.count()
    response = as_user(client, staff, "nurse_a").post(
        f"/treatments/{treatment.pk}/samples/preview/",
        {
            "drawn_at": "2024-03-04T09:00",
            "last_dose_at": "2024-03-03T21:00",
            "concentration": "3100",
            "unit": "ng/mL",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    built = services.sample_build(
        actor=staff["nurse_a"],
        treatment=treatment,
        drawn_at=local_datetime("2024-03-04 09:00"),
        last_dose_at=local_datetime("2024-03-03 21:00"),
        concentration=Decimal(3100),
    )
    assert f"{built.estimated_ctrough_ng_ml.normalize():f} ng/mL" in html
    assert "12 h" in html
    assert built.method in html
    assert Sample.objects.count() == before


def test_preview_shows_the_services_errors(client, staff, case):
    treatment = case["treatment"]
    future = local_input(timezone.now() + datetime.timedelta(days=2))
    response = as_user(client, staff, "nurse_a").post(
        f"/treatments/{treatment.pk}/samples/preview/",
        {"drawn_at": future, "concentration": "-3", "unit": "ng/mL"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "The draw time is in the future." in html
    assert "A concentration cannot be negative." in html


def test_preview_lists_missing_fields_without_calling_them_errors(client, staff, case):
    response = as_user(client, staff, "nurse_a").post(
        f"/treatments/{case['treatment'].pk}/samples/preview/",
        {"concentration": "12", "unit": "ng/mL"},
    )
    html = response.content.decode()
    assert "Still to fill in: Drawn at." in html
    assert "Not yet saveable" not in html


def test_sample_without_result_waits_for_it_and_result_is_entered(
    client, staff, case, django_capture_on_commit_callbacks
):
    treatment = case["treatment"]
    drawn = minutes_ago(90)
    as_user(client, staff, "nurse_a")
    response = client.post(
        f"/treatments/{treatment.pk}/samples/new/",
        {
            "drawn_at": local_input(drawn),
            "last_dose_at": local_input(drawn - datetime.timedelta(hours=12)),
            "unit": "ng/mL",
        },
    )
    assert response.status_code == 302
    sample = treatment.samples.get(status=Sample.Status.DRAWN)
    detail = client.get(f"/samples/{sample.pk}/").content.decode()
    assert "Enter the lab result" in detail

    with django_capture_on_commit_callbacks(execute=True):
        entered = client.post(
            f"/samples/{sample.pk}/result/", {"concentration": "2.9", "unit": "mg/L"}
        )

    assert entered.status_code == 302
    sample.refresh_from_db()
    assert sample.status == Sample.Status.RESULTED
    assert sample.concentration_ng_ml == 2900
    assert Advice.objects.filter(sample=sample).exists()


def test_result_for_a_sample_that_has_one_says_so(client, staff, case):
    sample = case["sample"]
    response = as_user(client, staff, "nurse_a").post(
        f"/samples/{sample.pk}/result/", {"concentration": "1", "unit": "ng/mL"}, follow=True
    )
    assert "Only a drawn sample awaits its result" in response.content.decode()


def test_cancel_sample_with_reason(client, staff, case, django_capture_on_commit_callbacks):
    sample = case["sample"]
    as_user(client, staff, "nurse_a")
    response = client.post(f"/samples/{sample.pk}/cancel/", {"reason": "wrong patient label"})
    assert response.status_code == 302
    sample.refresh_from_db()
    assert sample.status == Sample.Status.CANCELLED
    assert sample.cancel_reason == "wrong patient label"
    again = client.post(f"/samples/{sample.pk}/cancel/", {"reason": "again"}, follow=True)
    assert "already cancelled" in again.content.decode()


# Adverse events ---------------------------------------------------------------------------------


def test_nurse_logs_an_adverse_event(client, staff, case):
    treatment = case["treatment"]
    as_user(client, staff, "nurse_a")
    assert client.get(f"/treatments/{treatment.pk}/adverse-events/new/").status_code == 200
    response = client.post(
        f"/treatments/{treatment.pk}/adverse-events/new/",
        {
            "term": "diarrhea",
            "grade": "2",
            "onset": "2024-02-10",
            "related": "yes",
            "action": "none",
        },
    )
    assert response.status_code == 302
    event = treatment.adverse_events.get(term="Diarrhea")
    assert event.grade == 2
    assert event.related is True


def test_other_specify_term_takes_its_description(client, staff, case):
    treatment = case["treatment"]
    term = "Gastrointestinal disorders - Other, specify"
    as_user(client, staff, "nurse_a")
    grades = client.get("/ctcae/grades/", {"term": term}).content.decode()
    assert 'name="other_specify"' in grades
    assert 'type="hidden" name="other_specify"' not in grades
    response = client.post(
        f"/treatments/{treatment.pk}/adverse-events/new/",
        {
            "term": term,
            "other_specify": "oral mucosal bleeding",
            "grade": "1",
            "onset": "2024-02-10",
            "related": "no",
            "action": "none",
        },
    )
    assert response.status_code == 302
    event = treatment.adverse_events.get(term=term)
    assert event.other_specify == "oral mucosal bleeding"
    assert event.related is False


def test_term_search_suggests_matching_terms_first_by_prefix(client, staff):
    html = as_user(client, staff, "nurse_a").get("/ctcae/terms/", {"term": "fatig"})
    options = html.content.decode()
    assert options.index('value="Fatigue"') >= 0
    assert options.count("<option") <= 30
    assert client.get("/ctcae/terms/", {"term": ""}).content.decode().strip() == ""


def test_grades_of_a_term_are_only_those_it_defines_with_their_text(client, staff):
    html = as_user(client, staff, "nurse_a").get("/ctcae/grades/", {"term": "Fatigue"})
    text = html.content.decode()
    assert 'value="3"' in text
    assert 'value="4"' not in text
    assert "Fatigue not relieved by rest, limiting self care ADL" in text


def test_resolve_adverse_event(client, staff, case):
    event = case["event"]
    as_user(client, staff, "physician_a")
    assert "Mark resolved" in client.get(f"/adverse-events/{event.pk}/").content.decode()
    response = client.post(f"/adverse-events/{event.pk}/resolve/", {"resolved": "2024-02-20"})
    assert response.status_code == 302
    event.refresh_from_db()
    assert event.resolved == datetime.date(2024, 2, 20)
    assert "Mark resolved" not in client.get(f"/adverse-events/{event.pk}/").content.decode()


# Who may act ------------------------------------------------------------------------------------


def _action_urls(case) -> list[tuple[str, str, dict[str, str]]]:
    treatment, sample, event = case["treatment"], case["sample"], case["event"]
    return [
        ("get", f"/patients/{case['patient'].pk}/treatments/new/", {}),
        ("get", f"/treatments/{treatment.pk}/dose/", {}),
        ("get", f"/treatments/{treatment.pk}/stop/", {}),
        ("get", f"/treatments/{treatment.pk}/samples/new/", {}),
        ("post", f"/treatments/{treatment.pk}/samples/preview/", {}),
        ("get", f"/treatments/{treatment.pk}/adverse-events/new/", {}),
        ("post", f"/samples/{sample.pk}/result/", {"concentration": "1"}),
        ("post", f"/samples/{sample.pk}/cancel/", {"reason": "x"}),
        ("post", f"/adverse-events/{event.pk}/resolve/", {"resolved": "2024-02-20"}),
    ]


@pytest.mark.parametrize("name", ["nurse_b", "physician_b", "pharmacist_b"])
def test_other_sites_users_get_404_on_every_action(client, staff, case, name):
    as_user(client, staff, name)
    for method, url, data in _action_urls(case):
        assert getattr(client, method)(url, data).status_code == 404, url


@pytest.mark.parametrize("name", ["pharmacist_a", "datamanager_a", "datamanager_b"])
def test_roles_without_the_permission_get_403_and_nothing_changes(client, staff, case, name):
    as_user(client, staff, name)
    for method, url, data in _action_urls(case):
        assert getattr(client, method)(url, data).status_code == 403, url
    case["sample"].refresh_from_db()
    assert case["sample"].status == Sample.Status.RESULTED
    assert not AdverseEvent.objects.filter(resolved__isnull=False).exists()


def test_actions_are_offered_only_to_who_may_take_them(client, staff, case):
    url = f"/treatments/{case['treatment'].pk}/"
    nurse = as_user(client, staff, "nurse_a").get(url).content.decode()
    assert "Log a sample" in nurse
    assert "Change the dose" in nurse
    pharmacist = as_user(client, staff, "pharmacist_a").get(url).content.decode()
    assert "Log a sample" not in pharmacist
    assert "Change the dose" not in pharmacist
    physician = as_user(client, staff, "physician_a").get(url).content.decode()
    assert "Log a sample" not in physician
    assert "Change the dose" in physician
    assert "Log an adverse event" in physician


def test_anonymous_users_are_sent_to_log_in(client, case):
    for method, url, data in _action_urls(case):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/accounts/login/")


# Corrections from an old screen ------------------------------------------------------------------


def _correction_screen(client, sample, **changes) -> dict[str, str]:
    """What the correction page sends: the values it was opened with, then `changes`."""
    initial = client.get(f"/samples/{sample.pk}/correct/").context["form"].initial
    body = {
        "drawn_at": local_input(initial["drawn_at"]),
        "last_dose_at": local_input(initial["last_dose_at"]) if initial["last_dose_at"] else "",
        "concentration": str(initial["concentration"]),
        "unit": initial["unit"],
        "reason": "last dose read from the wrong day",
        "shown": initial["shown"],
    }
    body.update(changes)
    return body


def _corrections_of(sample) -> int:
    return AuditEvent.objects.filter(
        model="cases.sample", object_id=str(sample.pk), detail__startswith=CORRECTION_DETAIL
    ).count()


def test_a_correction_from_a_screen_opened_before_another_one_undoes_nothing(client, staff, case):
    sample = case["sample"]
    as_user(client, staff, "nurse_a")
    screen = _correction_screen(client, sample, last_dose_at="2024-02-04T20:00")
    services.sample_correct(
        actor=staff["pharmacist_a"],
        sample=sample,
        concentration=Decimal(3100),
        reason="transcription error",
    )

    answer = client.post(f"/samples/{sample.pk}/correct/", screen)

    assert answer.status_code == 409
    assert "the sample changed since this page was opened" in answer.content.decode()
    assert 'value="3100"' in answer.content.decode()
    sample.refresh_from_db()
    assert sample.concentration == 3100
    assert _corrections_of(sample) == 1


def test_a_correction_sent_twice_is_saved_once(client, staff, case):
    sample = case["sample"]
    as_user(client, staff, "nurse_a")
    screen = _correction_screen(client, sample, concentration="3100")

    first = client.post(f"/samples/{sample.pk}/correct/", screen)
    second = client.post(f"/samples/{sample.pk}/correct/", screen)

    assert first.status_code == 302
    assert second.status_code == 409
    assert _corrections_of(sample) == 1


def test_a_correction_of_a_sample_cancelled_meanwhile_is_refused(client, staff, case):
    sample = case["sample"]
    as_user(client, staff, "nurse_a")
    screen = _correction_screen(client, sample, concentration="3100")
    services.sample_cancel(actor=staff["nurse_a"], sample=sample, reason="wrong patient")

    answer = client.post(f"/samples/{sample.pk}/correct/", screen, follow=True)

    assert answer.redirect_chain == [(f"/samples/{sample.pk}/", 302)]
    assert "A cancelled sample cannot be corrected." in answer.content.decode()
    sample.refresh_from_db()
    assert (sample.status, sample.concentration) == (Sample.Status.CANCELLED, 2870)


def test_a_result_entered_meanwhile_makes_the_drawn_samples_screen_old(client, staff, case):
    drawn = services.sample_record(
        actor=staff["nurse_a"],
        treatment=case["treatment"],
        drawn_at=local_datetime("2024-03-04 09:00"),
        last_dose_at=local_datetime("2024-03-03 21:00"),
        concentration=None,
    )
    as_user(client, staff, "nurse_a")
    initial = client.get(f"/samples/{drawn.pk}/correct/").context["form"].initial
    services.sample_result(actor=staff["nurse_a"], sample=drawn, concentration=Decimal(2500))

    answer = client.post(
        f"/samples/{drawn.pk}/correct/",
        {
            "drawn_at": "2024-03-04T09:30",
            "last_dose_at": "2024-03-03T21:00",
            "reason": "drawn later than noted",
            "shown": initial["shown"],
        },
    )

    assert answer.status_code == 409
    drawn.refresh_from_db()
    assert drawn.drawn_at == local_datetime("2024-03-04 09:00")


# Extra samples -----------------------------------------------------------------------------------


def test_an_extra_sample_asked_for_twice_is_stored_once(client, staff, case):
    treatment = case["treatment"]
    as_user(client, staff, "pharmacist_a")
    soon = [timezone.localdate() + datetime.timedelta(days=days) for days in (15, 16)]
    due = {row.date for row in clinical.due_dates(treatment, until=soon[-1])}
    day = next(day for day in soon if day not in due)
    body = {"date": day.isoformat(), "reason": "re-sample: drawn too early"}
    url = f"/treatments/{treatment.pk}/extra-samples/new/"

    first = client.post(url, body)
    second = client.post(url, body)

    assert first.status_code == 302
    assert second.status_code == 400
    assert f"An extra sample is already asked for on {day.isoformat()}." in second.content.decode()
    assert treatment.extra_due_dates.count() == 1
