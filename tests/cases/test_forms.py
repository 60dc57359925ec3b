"""Wrong input on every form: the message appears next to the field it is about (linked with
`aria-describedby`), the answer is 400, never 500, and nothing at all is saved."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from advice.models import Advice
from cases.models import AdverseEvent, AuditEvent, DoseRegimen, Drug, Patient, Sample, Treatment
from tests.factories import SampleFactory, TreatmentFactory, local_datetime
from tests.pages import field_error

pytestmark = pytest.mark.django_db

SAMPLE_OK = {
    "drawn_at": "2024-03-04T09:00",
    "last_dose_at": "2024-03-03T21:00",
    "concentration": "3100",
    "unit": "ng/mL",
}
TREATMENT_OK = {"start_date": "2024-06-03", "daily_dose_mg": "400", "administrations_per_day": "2"}
DOSE_OK = {
    "effective_from": "2024-03-04",
    "daily_dose_mg": "800",
    "administrations_per_day": "2",
    "reason": "step_up",
}
EVENT_OK = {
    "term": "Diarrhea",
    "grade": "2",
    "onset": "2024-02-10",
    "related": "yes",
    "action": "none",
}


def _tomorrow_at_nine() -> str:
    return f"{timezone.localdate() + datetime.timedelta(days=1):%Y-%m-%d}T09:00"


def _counts() -> dict[str, int]:
    models = (Patient, Treatment, DoseRegimen, Sample, AdverseEvent, Advice, AuditEvent)
    return {model.__name__: model.objects.count() for model in models}


@pytest.fixture
def case(case_at, staff):
    built = case_at("a")
    built["drawn"] = SampleFactory(
        actor=staff["nurse_a"],
        treatment=built["treatment"],
        drawn_at=local_datetime("2024-03-04 09:00"),
        last_dose_at=local_datetime("2024-03-03 21:00"),
        concentration=None,
    )
    return built


def _submit(client, user, url, data):
    client.force_login(user)
    before = _counts()
    response = client.post(url, data)
    assert response.status_code == 400, response.status_code
    assert _counts() == before, "something was saved"
    return response.content.decode()


# Samples ----------------------------------------------------------------------------------------

SAMPLE_CASES = [
    ("negative", {"concentration": "-5"}, "id_concentration", "cannot be negative"),
    ("letters", {"concentration": "abc"}, "id_concentration", "Enter a number"),
    ("decimal comma", {"concentration": "12,5"}, "id_concentration", "decimal point"),
    ("zero", {"concentration": "0"}, "id_concentration", "below the limit of quantification"),
    ("too many digits", {"concentration": "1" * 20}, "id_concentration", "no more than"),
    ("future", {"drawn_at": None}, "id_drawn_at", "The draw time is in the future."),
    ("before start", {"drawn_at": "2023-12-01T09:00"}, "id_drawn_at", "before the treatment"),
    ("garbage time", {"drawn_at": "yesterday"}, "id_drawn_at", "Enter a valid date/time."),
    ("year typo", {"drawn_at": "20224-03-04T09:00"}, "id_drawn_at", "valid date/time"),
    ("missing draw", {"drawn_at": ""}, "id_drawn_at", "required"),
    (
        "last dose after draw",
        {"last_dose_at": "2024-03-04T10:00"},
        "id_last_dose_at",
        "cannot be taken after the draw",
    ),
    ("unit", {"unit": "kg"}, "id_unit", "Select a valid choice"),
]


@pytest.mark.parametrize(
    ("change", "field_id", "message"),
    [case[1:] for case in SAMPLE_CASES],
    ids=[case[0] for case in SAMPLE_CASES],
)
def test_sample_form(client, staff, case, change, field_id, message):
    data = SAMPLE_OK | change
    if data["drawn_at"] is None:
        data["drawn_at"] = _tomorrow_at_nine()
    html = _submit(
        client, staff["nurse_a"], f"/treatments/{case['treatment'].pk}/samples/new/", data
    )
    assert message in field_error(html, field_id)


def test_sample_time_the_clocks_skip_is_refused(client, staff, case, settings):
    settings.TIME_ZONE = "Europe/Amsterdam"
    data = SAMPLE_OK | {"drawn_at": "2024-03-31T02:30", "last_dose_at": ""}
    html = _submit(
        client, staff["nurse_a"], f"/treatments/{case['treatment'].pk}/samples/new/", data
    )
    assert "the clocks change" in field_error(html, "id_drawn_at")


def test_sunitinib_analytes_need_each_other(client, staff, case):
    sunitinib = Drug.objects.get(name="sunitinib", indication="continuous")
    treatment = TreatmentFactory(
        actor=staff["nurse_a"],
        patient=case["patient"],
        drug=sunitinib,
        start_date=datetime.date(2024, 1, 8),
        daily_dose_mg=Decimal("37.5"),
        administrations_per_day=1,
    )
    url = f"/treatments/{treatment.pk}/samples/new/"
    html = _submit(
        client, staff["nurse_a"], url, SAMPLE_OK | {"concentration": "", "analyte_0": "30"}
    )
    assert "Give both analytes" in field_error(html, "id_analyte_1")
    both = SAMPLE_OK | {"concentration": "42", "analyte_0": "30", "analyte_1": "12"}
    html = _submit(client, staff["nurse_a"], url, both)
    assert "not both" in field_error(html, "id_concentration")


RESULT_CASES = [
    ("empty", {"concentration": ""}, "id_concentration", "Give the result"),
    ("negative", {"concentration": "-1"}, "id_concentration", "cannot be negative"),
    ("letters", {"concentration": "lots"}, "id_concentration", "Enter a number"),
    ("unit", {"concentration": "3", "unit": "mmol"}, "id_unit", "Select a valid choice"),
]


@pytest.mark.parametrize(
    ("data", "field_id", "message"),
    [case[1:] for case in RESULT_CASES],
    ids=[case[0] for case in RESULT_CASES],
)
def test_sample_result_form(client, staff, case, data, field_id, message):
    html = _submit(
        client, staff["nurse_a"], f"/samples/{case['drawn'].pk}/result/", {"unit": "ng/mL"} | data
    )
    assert message in field_error(html, field_id)


def test_cancel_without_reason(client, staff, case):
    html = _submit(
        client, staff["nurse_a"], f"/samples/{case['sample'].pk}/cancel/", {"reason": " "}
    )
    assert "Say why the sample is cancelled." in field_error(html, "id_reason")


# Patients ---------------------------------------------------------------------------------------


@pytest.fixture
def patient_data(site_a, staff):
    return {
        "site": str(site_a.pk),
        "study_number": "TDM-0200",
        "sex": "M",
        "birth_year": "1955",
        "tumour": "melanoma",
        "treating_physician": str(staff["physician_a"].pk),
        "responsible_nurse": str(staff["nurse_a"].pk),
    }


def test_duplicate_study_number(client, staff, case, patient_data):
    data = patient_data | {"study_number": case["patient"].study_number}
    html = _submit(client, staff["nurse_a"], "/patients/new/", data)
    assert "already exists" in field_error(html, "id_study_number")


def test_duplicate_study_number_of_another_site_is_refused_too(
    client, staff, case_at, patient_data
):
    case_at("b", "TDM-B777")
    html = _submit(
        client, staff["nurse_a"], "/patients/new/", patient_data | {"study_number": "TDM-B777"}
    )
    assert "already exists" in field_error(html, "id_study_number")


PATIENT_CASES = [
    ("birth year letters", {"birth_year": "19x0"}, "id_birth_year", "four digits"),
    ("birth year future", {"birth_year": "2999"}, "id_birth_year", "in the future"),
    ("birth year 1800", {"birth_year": "1800"}, "id_birth_year", "greater than or equal to 1900"),
    ("study number spaces", {"study_number": "TDM 1"}, "id_study_number", "letters, digits"),
    ("sex", {"sex": "Q"}, "id_sex", "Select a valid choice"),
    ("no tumour", {"tumour": ""}, "id_tumour", "required"),
]


@pytest.mark.parametrize(
    ("change", "field_id", "message"),
    [case[1:] for case in PATIENT_CASES],
    ids=[case[0] for case in PATIENT_CASES],
)
def test_patient_form(client, staff, patient_data, change, field_id, message):
    html = _submit(client, staff["nurse_a"], "/patients/new/", patient_data | change)
    assert message in field_error(html, field_id)


def test_patient_form_refuses_another_sites_site_and_staff(client, staff, site_b, patient_data):
    data = patient_data | {
        "site": str(site_b.pk),
        "treating_physician": str(staff["physician_b"].pk),
    }
    html = _submit(client, staff["nurse_a"], "/patients/new/", data)
    assert "Select a valid choice" in field_error(html, "id_site")
    assert "Select a valid choice" in field_error(html, "id_treating_physician")


# Treatments and doses ---------------------------------------------------------------------------


def _treatment_cases(sorafenib_pk: int, imatinib_pk: int):
    return [
        ("unknown drug", {"drug": "999999"}, "id_drug", "Unknown drug"),
        ("drug text", {"drug": "sorafenib"}, "id_drug", "Unknown drug"),
        (
            "not a level",
            {"daily_dose_mg": "", "off_label_dose_mg": "500"},
            "id_off_label_dose_mg",
            "is not a dose level of sorafenib",
        ),
        ("tampered level", {"daily_dose_mg": "700"}, "id_daily_dose_mg", "is not a dose level"),
        (
            "off-label without reason",
            {"daily_dose_mg": "", "off_label_confirmed": "on", "off_label_dose_mg": "500"},
            "id_off_label_reason",
            "Give the reason",
        ),
        (
            "off-label without dose",
            {"daily_dose_mg": "", "off_label_confirmed": "on", "off_label_reason": "x"},
            "id_off_label_dose_mg",
            "Give the off-label daily dose.",
        ),
        (
            "level and off-label",
            {"off_label_dose_mg": "500"},
            "id_off_label_dose_mg",
            "not both",
        ),
        ("no dose", {"daily_dose_mg": ""}, "id_daily_dose_mg", "Choose the daily dose."),
        ("dose letters", {"daily_dose_mg": "four"}, "id_daily_dose_mg", "Enter a number"),
        (
            "administrations 5",
            {"administrations_per_day": "5"},
            "id_administrations_per_day",
            "1 to 4",
        ),
        (
            "administrations 0",
            {"administrations_per_day": "0"},
            "id_administrations_per_day",
            "1 to 4",
        ),
        (
            "above largest single dose",
            {"drug": str(imatinib_pk), "daily_dose_mg": "800", "administrations_per_day": "1"},
            "id_administrations_per_day",
            "largest single dose",
        ),
        (
            "before birth",
            {"start_date": "1940-01-01"},
            "id_start_date",
            "before the patient was born",
        ),
        ("no such day", {"start_date": "2024-02-30"}, "id_start_date", "Enter a valid date."),
        ("year typo", {"start_date": "20224-02-03"}, "id_start_date", "Enter a valid date."),
        ("year out of range", {"start_date": "2999-01-01"}, "id_start_date", "between 1900"),
    ]


@pytest.mark.parametrize("index", range(16))
def test_treatment_form(client, staff, case, sorafenib, index):
    imatinib = Drug.objects.get(name="imatinib", indication="gist")
    _, change, field_id, message = _treatment_cases(sorafenib.pk, imatinib.pk)[index]
    data = TREATMENT_OK | {"drug": str(sorafenib.pk)} | change
    url = f"/patients/{case['patient'].pk}/treatments/new/"
    html = _submit(client, staff["nurse_a"], url, data)
    assert message in field_error(html, field_id)


DOSE_CASES = [
    ("before start", {"effective_from": "2023-12-01"}, "id_effective_from", "before the start"),
    ("same day as start", {"effective_from": "2024-01-08"}, "id_effective_from", "already has"),
    ("zero for step-up", {"daily_dose_mg": "0"}, "id_reason", "0 mg/day is an interruption"),
    ("interruption with dose", {"reason": "interruption"}, "id_reason", "interruption"),
    ("reason start", {"reason": "start"}, "id_reason", "Select a valid choice"),
    ("administrations 5", {"administrations_per_day": "5"}, "id_administrations_per_day", "1 to 4"),
    (
        "not a level",
        {"daily_dose_mg": "", "off_label_dose_mg": "900"},
        "id_off_label_dose_mg",
        "is not a dose level",
    ),
    (
        "negative off-label",
        {"daily_dose_mg": "", "off_label_dose_mg": "-200"},
        "id_off_label_dose_mg",
        "negative",
    ),
]


@pytest.mark.parametrize(
    ("change", "field_id", "message"),
    [case[1:] for case in DOSE_CASES],
    ids=[case[0] for case in DOSE_CASES],
)
def test_dose_change_form(client, staff, case, change, field_id, message):
    url = f"/treatments/{case['treatment'].pk}/dose/"
    html = _submit(client, staff["physician_a"], url, DOSE_OK | change)
    assert message in field_error(html, field_id)


def test_stop_form(client, staff, case):
    url = f"/treatments/{case['treatment'].pk}/stop/"
    html = _submit(client, staff["nurse_a"], url, {"stop_date": "2024-05-01", "stop_reason": ""})
    assert "Say why the treatment stops." in field_error(html, "id_stop_reason")
    html = _submit(client, staff["nurse_a"], url, {"stop_date": "2023-05-01", "stop_reason": "x"})
    assert "cannot stop before it started" in field_error(html, "id_stop_date")


# Adverse events ---------------------------------------------------------------------------------

EVENT_CASES = [
    ("grade 0", {"grade": "0"}, "id_grade", "1 to 5"),
    ("grade 6", {"grade": "6"}, "id_grade", "1 to 5"),
    ("grade the term lacks", {"term": "Fatigue", "grade": "4"}, "id_grade", "grades 1, 2, 3 only"),
    ("grade letters", {"grade": "two"}, "id_grade", "Enter a whole number."),
    ("no grade", {"grade": ""}, "id_grade", "Choose the grade."),
    ("unknown term", {"term": "Headache-ish"}, "id_term", "is not a CTCAE v5.0 term"),
    ("onset future", {"onset": "2999-01-01"}, "id_onset", "between 1900"),
    ("onset before start", {"onset": "2023-12-01"}, "id_onset", "before the treatment started"),
    ("resolved before onset", {"resolved": "2024-02-01"}, "id_resolved", "before its onset"),
    ("related", {"related": "maybe"}, "id_related", "Select a valid choice"),
    ("action", {"action": "prayed"}, "id_action", "Select a valid choice"),
    (
        "other specify without text",
        {"term": "Gastrointestinal disorders - Other, specify", "grade": "1"},
        "id_other_specify",
        "Describe the event",
    ),
]


@pytest.mark.parametrize(
    ("change", "field_id", "message"),
    [case[1:] for case in EVENT_CASES],
    ids=[case[0] for case in EVENT_CASES],
)
def test_adverse_event_form(client, staff, case, change, field_id, message):
    url = f"/treatments/{case['treatment'].pk}/adverse-events/new/"
    html = _submit(client, staff["nurse_a"], url, EVENT_OK | change)
    assert message in field_error(html, field_id)


def test_onset_tomorrow_is_in_the_future(client, staff, case):
    url = f"/treatments/{case['treatment'].pk}/adverse-events/new/"
    tomorrow = f"{timezone.localdate() + datetime.timedelta(days=1):%Y-%m-%d}"
    html = _submit(client, staff["nurse_a"], url, EVENT_OK | {"onset": tomorrow})
    assert "in the future" in field_error(html, "id_onset")


def test_grade_choices_after_an_error_are_those_of_the_term(client, staff, case):
    url = f"/treatments/{case['treatment'].pk}/adverse-events/new/"
    html = _submit(client, staff["nurse_a"], url, EVENT_OK | {"term": "Fatigue", "grade": "4"})
    assert 'name="grade" value="3"' in html
    assert 'name="grade" value="4"' not in html


@pytest.mark.parametrize(
    ("resolved", "message"),
    [("2024-01-01", "before its onset"), ("2999-01-01", "between 1900"), ("soon", "valid date")],
)
def test_resolve_form(client, staff, case, resolved, message):
    url = f"/adverse-events/{case['event'].pk}/resolve/"
    html = _submit(client, staff["nurse_a"], url, {"resolved": resolved})
    assert message in field_error(html, "id_resolved")
