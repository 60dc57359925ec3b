"""The FHIR R4 export: one Bundle per patient per line, every resource valid R4 (parsed back
with fhir.resources.R4B) and every code from the value set it is bound to. The library does
not check code values, so the allowed sets are spelled out here from the R4 specification."""

from __future__ import annotations

import datetime
import json
import math
import re
import uuid
from decimal import Decimal

import pytest
from fhir.resources.R4B.bundle import Bundle

from cases import services
from cases.models import DoseRegimen, Patient
from study.export import ndjson_line, write_export
from study.fhir import (
    AdverseEventRecord,
    DoseRecord,
    PatientRecord,
    TreatmentRecord,
    patient_bundle,
    patient_records,
    uuid5_urn,
)
from study.pseudonym import Pseudonymiser
from tests.factories import (
    AdverseEventFactory,
    DoseRegimenFactory,
    PatientFactory,
    SampleFactory,
    local_datetime,
)

UCUM = "http://unitsofmeasure.org"
AE_GRADE = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/ae-grade"
AE_RESOLVE_DATE = "http://hl7.org/fhir/uv/ae-research-backport-ig/StructureDefinition/resolve-date"
NCI_THESAURUS = "http://ncicb.nci.nih.gov/xml/owl/EVS/Thesaurus.owl"
# Value set adverse-event-clinical-research-grades (HL7 Terminology).
NCI_GRADE = {1: "C41338", 2: "C41339", 3: "C41340", 4: "C41337", 5: "C48275"}
SEVERITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-severity"
OUTCOME_SYSTEM = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
MEDDRA = "https://www.meddra.org"
TDM = "https://etdm.invalid/fhir/CodeSystem/tdm"

# Required bindings of R4.
ADMINISTRATIVE_GENDER = {"male", "female", "other", "unknown"}
MEDICATION_STATEMENT_STATUS = {
    "active", "completed", "entered-in-error", "intended", "stopped", "on-hold", "unknown",
    "not-taken",
}  # fmt: skip
OBSERVATION_STATUS = {
    "registered", "preliminary", "final", "amended", "corrected", "cancelled",
    "entered-in-error", "unknown",
}  # fmt: skip
AE_ACTUALITY = {"actual", "potential"}
AE_SEVERITY = {"mild", "moderate", "severe"}
AE_OUTCOME = {"resolved", "recovering", "ongoing", "resolvedWithSequelae", "fatal", "unknown"}
UNITS_OF_TIME = {"s", "min", "h", "d", "wk", "mo", "a"}
QUANTITY_COMPARATOR = {"<", "<=", ">=", ">"}
UCUM_CODES_USED = {"mg", "d", "h", "ng/mL"}


@pytest.fixture
def cohort(db, case_at, staff, site_a):
    """TDM-F001: sorafenib with a step-up, an interruption and a resume; resulted samples
    (trough, below LLOQ, no last dose), a drawn one; AEs of grades 1–3, one unrelated.
    TDM-B001: stopped after a grade 5 event. TDM-F003: sex X, ICD-10 coded, no treatment."""
    nurse = staff["nurse_a"]
    case = case_at("a", "TDM-F001")
    treatment = case["treatment"]
    for day, dose, reason in [
        (datetime.date(2024, 2, 12), 800, DoseRegimen.Reason.STEP_UP),
        (datetime.date(2024, 3, 1), 0, DoseRegimen.Reason.INTERRUPTION),
        (datetime.date(2024, 3, 15), 600, DoseRegimen.Reason.RESUME),
    ]:
        DoseRegimenFactory(
            actor=nurse,
            treatment=treatment,
            effective_from=day,
            daily_dose_mg=Decimal(dose),
            administrations_per_day=2,
            reason=reason,
        )
    for drawn, last_dose, concentration in [
        ("2024-03-20 09:00", "2024-03-19 21:00", None),
        ("2024-03-25 09:00", None, Decimal(3000)),
        ("2024-03-27 09:00", None, None),
    ]:
        SampleFactory(
            actor=nurse,
            treatment=treatment,
            drawn_at=local_datetime(drawn),
            last_dose_at=local_datetime(last_dose) if last_dose else None,
            concentration=concentration,
            below_lloq=drawn == "2024-03-20 09:00",
        )
    AdverseEventFactory(
        actor=nurse,
        treatment=treatment,
        term="Hypertension",
        grade=3,
        onset=datetime.date(2024, 2, 20),
        resolved=datetime.date(2024, 3, 5),
        action="interrupted",
    )
    AdverseEventFactory(
        actor=nurse,
        treatment=treatment,
        term="Diarrhea",
        grade=1,
        onset=datetime.date(2024, 3, 18),
        related=False,
    )
    stopped = case_at("b", adverse_event=False)
    AdverseEventFactory(
        actor=staff["nurse_b"],
        treatment=stopped["treatment"],
        term="Anemia",
        grade=5,
        onset=datetime.date(2024, 2, 20),
    )
    services.treatment_stop(
        actor=staff["nurse_b"],
        treatment=stopped["treatment"],
        stop_date=datetime.date(2024, 2, 20),
        reason="died",
    )
    PatientFactory(
        actor=nurse,
        site=site_a,
        study_number="TDM-F003",
        sex="X",
        birth_year=1949,
        tumour="hepatocellular carcinoma",
        tumour_code="C22.0",
    )
    return case


def export_bundles(tmp_path, pseudonymiser=None) -> dict[str, Bundle]:
    folder = tmp_path / "exports"
    folder.mkdir(exist_ok=True)
    summary = write_export(
        "fhir", folder / "study.ndjson", pseudonymiser=pseudonymiser or Pseudonymiser()
    )
    lines = summary.path.read_text(encoding="utf-8").splitlines()
    assert summary.rows == {"patients": len(lines)}
    bundles = [Bundle.model_validate_json(line) for line in lines]
    return {bundle.entry[0].resource.identifier[0].value: bundle for bundle in bundles}


def resources(bundle: Bundle, resource_type: str) -> list:
    return [
        entry.resource
        for entry in bundle.entry
        if entry.resource.get_resource_type() == resource_type
    ]


def codes(concept, system: str) -> list[str]:
    return [coding.code for coding in concept.coding or () if coding.system == system]


def test_one_valid_collection_bundle_per_patient_whose_references_resolve(cohort, tmp_path):
    bundles = export_bundles(tmp_path)
    assert sorted(bundles) == ["TDM-B001", "TDM-F001", "TDM-F003"]
    for bundle in bundles.values():
        assert bundle.type == "collection"
        urls = [entry.fullUrl for entry in bundle.entry]
        assert len(set(urls)) == len(urls)
        assert all(re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", url) for url in urls)
        references = re.findall(r'"reference":"([^"]+)"', bundle.model_dump_json())
        assert references
        assert set(references) <= set(urls)
    kinds = [entry.resource.get_resource_type() for entry in bundles["TDM-F001"].entry]
    assert (
        kinds
        == ["Patient", "Condition"]
        + ["MedicationStatement"] * 4
        + ["Observation"] * 3
        + ["AdverseEvent"] * 3
    )


def test_every_code_is_from_its_value_set(cohort, tmp_path):
    for bundle in export_bundles(tmp_path).values():
        (patient,) = resources(bundle, "Patient")
        assert patient.gender in ADMINISTRATIVE_GENDER
        for statement in resources(bundle, "MedicationStatement"):
            assert statement.status in MEDICATION_STATEMENT_STATUS
            for dosage in statement.dosage or ():
                assert dosage.timing.repeat.periodUnit in UNITS_OF_TIME
        for observation in resources(bundle, "Observation"):
            assert observation.status in OBSERVATION_STATUS
            assert observation.status == "final"
            if observation.valueQuantity and observation.valueQuantity.comparator:
                assert observation.valueQuantity.comparator in QUANTITY_COMPARATOR
        for event in resources(bundle, "AdverseEvent"):
            assert event.actuality in AE_ACTUALITY
            assert codes(event.severity, SEVERITY_SYSTEM)[0] in AE_SEVERITY
            assert codes(event.outcome, OUTCOME_SYSTEM)[0] in AE_OUTCOME
            (grade,) = [ext for ext in event.extension if ext.url == AE_GRADE]
            assert codes(grade.valueCodeableConcept, NCI_THESAURUS)[0] in NCI_GRADE.values()
        json_text = bundle.model_dump_json()
        for system, code in re.findall(r'"system":"([^"]+)","code":"([^"]+)"', json_text):
            if system == UCUM:
                assert code in UCUM_CODES_USED


def test_patient_is_known_by_study_number_and_birth_year_only(cohort, tmp_path):
    bundles = export_bundles(tmp_path)
    patient = resources(bundles["TDM-F001"], "Patient")[0]
    assert [(i.system, i.value) for i in patient.identifier] == [
        ("https://etdm.invalid/fhir/sid/study-number", "TDM-F001")
    ]
    assert patient.name is None
    assert patient.gender == "female"
    assert patient.birthDate == "1960"
    assert patient.managingOrganization.identifier.value == "SITEA"
    other = resources(bundles["TDM-F003"], "Patient")[0]
    assert other.gender == "unknown"
    assert other.birthDate == "1949"
    (condition,) = resources(bundles["TDM-F003"], "Condition")
    assert condition.code.text == "hepatocellular carcinoma"
    assert codes(condition.code, "http://hl7.org/fhir/sid/icd-10") == ["C22.0"]


def test_medication_statements_follow_the_dose_history(cohort, tmp_path):
    statements = resources(export_bundles(tmp_path)["TDM-F001"], "MedicationStatement")
    summary = [
        (
            s.effectivePeriod.start,
            s.effectivePeriod.end,
            s.status,
            s.dosage[0].doseAndRate[0].rateRatio.numerator.value if s.dosage else None,
            s.extension[0].valueCode,
        )
        for s in statements
    ]
    assert summary == [
        (datetime.date(2024, 1, 8), datetime.date(2024, 2, 11), "completed", 600, "start"),
        (datetime.date(2024, 2, 12), datetime.date(2024, 2, 29), "completed", 800, "step_up"),
        (datetime.date(2024, 3, 1), datetime.date(2024, 3, 14), "not-taken", None, "interruption"),
        (datetime.date(2024, 3, 15), None, "active", 600, "resume"),
    ]
    first, step_up = statements[0].dosage[0], statements[1].dosage[0]
    assert first.text == "600 mg/day in 2 administration(s) (400 + 200 mg)"
    assert (first.timing.repeat.frequency, first.timing.repeat.period) == (2, 1)
    assert first.doseAndRate[0].doseQuantity is None
    assert step_up.doseAndRate[0].doseQuantity.value == 400
    assert step_up.doseAndRate[0].rateRatio.denominator.code == "d"
    drug = statements[0].medicationCodeableConcept
    assert drug.text == "sorafenib"
    assert codes(drug, "https://etdm.invalid/fhir/CodeSystem/drug") == ["sorafenib"]


def test_a_stopped_treatment_ends_at_its_stop_date(cohort, tmp_path):
    (statement,) = resources(export_bundles(tmp_path)["TDM-B001"], "MedicationStatement")
    assert statement.status == "stopped"
    assert statement.effectivePeriod.end == datetime.date(2024, 2, 20)


def component(observation, code: str):
    return [c for c in observation.component or () if codes(c.code, TDM) == [code]]


def test_observations_carry_the_level_and_the_ctrough_estimate(cohort, tmp_path):
    observations = resources(export_bundles(tmp_path)["TDM-F001"], "Observation")
    # The drawn sample without a result has no observation.
    assert [o.effectiveDateTime for o in observations] == [
        local_datetime("2024-02-05 09:00"),
        local_datetime("2024-03-20 09:00"),
        local_datetime("2024-03-25 09:00"),
    ]
    trough, below_lloq, no_last_dose = observations
    value = trough.valueQuantity
    assert (value.value, value.unit, value.system, value.code) == (2870, "ng/mL", UCUM, "ng/mL")
    assert trough.code.text == "sorafenib concentration in plasma"
    assert component(trough, "estimated-ctrough")[0].valueQuantity.value == 2870
    hours = component(trough, "hours-after-dose")[0].valueQuantity
    assert (hours.value, hours.code) == (12, "h")
    assert component(trough, "evaluable")[0].valueBoolean is True
    method = component(trough, "ctrough-method")[0].valueCodeableConcept
    assert codes(method, TDM) == ["measured"]

    assert below_lloq.valueQuantity is None
    assert below_lloq.interpretation[0].coding[0].code == "<"
    assert component(below_lloq, "evaluable")[0].valueBoolean is False

    assert component(no_last_dose, "evaluable")[0].valueBoolean is False
    reasons = [
        c.valueCodeableConcept.coding[0].code
        for c in component(no_last_dose, "not-evaluable-reason")
    ]
    assert "last_dose_missing" in reasons
    assert component(no_last_dose, "estimated-ctrough") == []


def test_adverse_events_carry_term_meddra_code_grade_and_severity(cohort, tmp_path):
    bundles = export_bundles(tmp_path)
    events = {
        event.event.text: event
        for bundle in bundles.values()
        for event in resources(bundle, "AdverseEvent")
    }
    expected = {
        # term: grade, severity, outcome, resolved
        "Fatigue": (2, "moderate", "ongoing", None),
        "Hypertension": (3, "severe", "resolved", datetime.date(2024, 3, 5)),
        "Diarrhea": (1, "mild", "ongoing", None),
        "Anemia": (5, "severe", "fatal", None),
    }
    assert set(events) == set(expected)
    for term, (grade, severity, outcome, resolved) in expected.items():
        event = events[term]
        (grade_extension,) = [ext for ext in event.extension if ext.url == AE_GRADE]
        assert codes(grade_extension.valueCodeableConcept, NCI_THESAURUS) == [NCI_GRADE[grade]]
        assert codes(event.severity, SEVERITY_SYSTEM) == [severity]
        assert codes(event.outcome, OUTCOME_SYSTEM) == [outcome]
        resolve = [ext.valueDateTime for ext in event.extension if ext.url == AE_RESOLVE_DATE]
        assert resolve == ([resolved] if resolved else [])
        assert event.actuality == "actual"
    assert codes(events["Fatigue"].event, MEDDRA) == ["10016256"]
    assert events["Hypertension"].date == datetime.date(2024, 2, 20)


def test_a_related_event_names_the_regimen_taken_at_onset(cohort, tmp_path):
    bundle = export_bundles(tmp_path)["TDM-F001"]
    url_of = {id(entry.resource): entry.fullUrl for entry in bundle.entry}
    statements = resources(bundle, "MedicationStatement")
    events = {event.event.text: event for event in resources(bundle, "AdverseEvent")}
    # Hypertension began on 2024-02-20, during the 800 mg/day regimen.
    (suspect,) = events["Hypertension"].suspectEntity
    assert suspect.instance.reference == url_of[id(statements[1])]
    assert events["Diarrhea"].suspectEntity is None


def test_with_a_key_the_study_number_is_pseudonymised_and_dates_shifted(cohort, tmp_path):
    pseudonymiser = Pseudonymiser(key=b"k" * 32)
    bundles = export_bundles(tmp_path, pseudonymiser)
    pseudonym = pseudonymiser.study_number("TDM-F001")
    assert pseudonym in bundles
    days = pseudonymiser.offset_days("TDM-F001")
    bundle = bundles[pseudonym]
    assert "TDM-F001" not in bundle.model_dump_json()
    first = resources(bundle, "MedicationStatement")[0]
    assert first.effectivePeriod.start == datetime.date(2024, 1, 8) + datetime.timedelta(days)
    observation = resources(bundle, "Observation")[0]
    assert observation.effectiveDateTime == pseudonymiser.datetime(
        "TDM-F001", local_datetime("2024-02-05 09:00")
    )


def test_lines_are_the_json_the_r4b_models_write(cohort, tmp_path):
    """Each line reads back as exactly what it holds: no value was coerced on validation."""
    summary = write_export("fhir", tmp_path / "study.ndjson", pseudonymiser=Pseudonymiser())
    for line in summary.path.read_text(encoding="utf-8").splitlines():
        assert json.loads(Bundle.model_validate_json(line).model_dump_json()) == json.loads(line)


def test_the_same_data_gives_the_same_bytes(cohort, tmp_path):
    first = write_export("fhir", tmp_path / "one.ndjson", pseudonymiser=Pseudonymiser())
    second = write_export("fhir", tmp_path / "two.ndjson", pseudonymiser=Pseudonymiser())
    assert first.sha256 == second.sha256


@pytest.mark.parametrize(
    ("grade", "severity", "nci_code"),
    [
        (1, "mild", "C41338"),
        (2, "moderate", "C41339"),
        (3, "severe", "C41340"),
        (4, "severe", "C41337"),
        (5, "severe", "C48275"),
    ],
)
def test_each_ctcae_grade_maps_to_an_r4_severity(grade, severity, nci_code):
    dose = DoseRecord(
        dose_id=1,
        effective_from=datetime.date(2024, 1, 1),
        daily_dose_mg=Decimal(400),
        administrations_per_day=1,
        split_mg=(Decimal(400),),
        reason="start",
    )
    event = AdverseEventRecord(
        adverse_event_id=1,
        term="Anemia",
        meddra_code="",
        grade=grade,
        onset=datetime.date(2024, 1, 10),
        resolved=None,
        related=True,
        action="none",
    )
    record = PatientRecord(
        study_number="TDM-X",
        site="SITEA",
        sex="M",
        birth_year=1950,
        tumour="renal cell carcinoma",
        tumour_code="",
        treatments=(
            TreatmentRecord(
                drug="pazopanib",
                indication="",
                stop_date=None,
                doses=(dose,),
                samples=(),
                adverse_events=(event,),
            ),
        ),
    )
    (resource,) = resources(Bundle.model_validate(patient_bundle(record)), "AdverseEvent")
    assert codes(resource.severity, SEVERITY_SYSTEM) == [severity]
    assert codes(resource.extension[0].valueCodeableConcept, NCI_THESAURUS) == [nci_code]
    # The MedDRA code comes from ctcae_v5.csv when the record has none.
    assert codes(resource.event, MEDDRA) == ["10002272"]
    assert resource.event.coding[0].version == "20.1"


def test_full_urls_are_the_uuid5_of_their_names_in_the_local_namespace():
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, "https://etdm.invalid/fhir")
    names = [
        f"{number}/{kind}/{row_id}"
        for number in ("TDM-F001", "P0123456789ABCDEF", "TDM-é€😀")
        for kind in ("Patient", "Condition", "MedicationStatement", "Observation")
        for row_id in range(0, 3000, 7)
    ]
    for name in names:
        assert uuid5_urn(name) == f"urn:uuid:{uuid.uuid5(namespace, name)}"


def as_json_dumps_writes_it(document) -> bytes:
    return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


@pytest.mark.parametrize(
    "document",
    [
        # Floats below 1e-4 and non-finite ones, which orjson writes in other forms.
        {"value": 1e-05},
        [8.13488616383777e-05, 1e-07, 5.1e-09, 1e-10, 5e-324, -2e-06],
        {"a": {"b": [math.nan, math.inf, -math.inf]}},
        [0.0001, 0.00012, 1e15, 1e16, 1.7976931348623157e308, -0.0, 0.1 + 0.2, 133.33333333333334],
        # Integers beyond 64 bits and keys that are not strings, which orjson refuses.
        {"n": 2**64, "m": -(2**63) - 1},
        {1: "one", None: "none", 2.5: "two and a half", False: "false"},
        # Text escapes, and the non-ASCII characters written as they are.
        {"text": 'é€😀 \u2028\u2029 \x00\x01\x1f\x7f \b\f\n\r\t "quoted" \\ / e-5, 0.0000 null'},
        {"nested": [(1, 2), [], {}, None, True, False, "1e-5]"]},
    ],
)
def test_a_line_holds_the_bytes_json_dumps_writes(document):
    assert ndjson_line(document) == as_json_dumps_writes_it(document)


def test_the_file_holds_each_bundle_as_json_dumps_writes_it(cohort, tmp_path):
    """Dose splits below 1e-4 mg and text with escapes and non-ASCII letters in the file."""
    DoseRegimen.objects.filter(administrations_per_day=2).update(split_mg=[1e-05, 1e-05])
    Patient.objects.update(tumour='carcinome hépatocellulaire\t"x" \u2028 \x01')
    summary = write_export("fhir", tmp_path / "study.ndjson", pseudonymiser=Pseudonymiser())
    expected = b"".join(
        as_json_dumps_writes_it(patient_bundle(record, validate=False))
        for record in patient_records(Pseudonymiser())
    )
    assert b'"doseQuantity":{"value":1e-05,' in expected
    assert summary.path.read_bytes() == expected
