"""`import_cohort` (docs/cohort-format.md §2–§3): validation of every record, all-or-nothing
import through the services, advice as if logged live, decisions without regimens, idempotency
by study number."""

from __future__ import annotations

import copy
import datetime
import io
import json
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from advice.models import Advice
from cases.models import AdverseEvent, AuditEvent, DoseRegimen, Patient, Sample, Site, Treatment
from reports import tasks as report_tasks
from study.cohort import (
    CohortError,
    CohortInvalid,
    import_cohort,
    validate_cohort,
)
from study.cohort.bulk import CohortWriter

ROOT = Path(__file__).resolve().parents[2]
VALID_FILE = Path(__file__).parent / "data" / "cohort_valid.json"


def valid_document() -> dict:
    return json.loads(VALID_FILE.read_text(encoding="utf-8"))


def row_counts() -> dict[str, int]:
    """Rows of every model of the clinical app, the audit trail included."""
    return {
        model._meta.label: model.objects.count()
        for model in apps.get_app_config("cases").get_models()
    }


def run_import(path: Path) -> tuple[str, str, int]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_cohort", str(path), stdout=out, stderr=err)
    except SystemExit as exit_:
        return out.getvalue(), err.getvalue(), exit_.code
    return out.getvalue(), err.getvalue(), 0


def write(tmp_path: Path, document: object, name: str = "cohort.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def sorafenib_samples() -> list[Sample]:
    return list(
        Sample.objects.filter(treatment__patient__study_number="TDM-0001").order_by("drawn_at")
    )


# A valid file -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_hand_written_file_is_valid():
    assert validate_cohort(valid_document()) == []


@pytest.mark.django_db
def test_import_creates_every_record_as_the_services_store_it():
    result = import_cohort(valid_document())

    assert result.imported == ("TDM-0001", "TDM-0002", "TDM-0003")
    assert result.unchanged == ()
    assert result.sites_created == ("SITE1", "SITE2")
    assert Site.objects.get(code="SITE2").name == "Hospital Two"
    assert Patient.objects.count() == 3
    assert Treatment.objects.count() == 3
    assert DoseRegimen.objects.count() == 9
    assert Sample.objects.count() == 7
    assert AdverseEvent.objects.count() == 5

    first = Patient.objects.get(study_number="TDM-0001")
    assert (first.site.code, first.sex, first.birth_year) == ("SITE1", "M", 1950)
    # Identifying fields are accepted on import (and never exported).
    assert (first.name, first.record_number) == ("Johannes Testpersoon", "MRN-778812")
    imatinib = Treatment.objects.get(patient__study_number="TDM-0002")
    assert (imatinib.drug.name, imatinib.drug.indication) == ("imatinib", "gist")
    assert imatinib.stop_date == datetime.date(2020, 6, 30)
    assert imatinib.stop_reason == "progressive disease"
    off_label = DoseRegimen.objects.get(treatment__drug__name="axitinib", daily_dose_mg=12)
    assert off_label.off_label
    assert off_label.split_mg == [6, 6]
    other = AdverseEvent.objects.get(term="Nervous system disorders - Other, specify")
    assert other.other_specify.startswith("tingling")
    # Every record has its audit event, as the services write it.
    assert AuditEvent.objects.filter(model="cases.sample").count() == 7
    assert AuditEvent.objects.filter(model="cases.doseregimen").count() == 9


@pytest.mark.django_db
def test_ctrough_is_computed_as_if_logged_live():
    import_cohort(valid_document())
    at_trough, off_trough, below_lloq = sorafenib_samples()

    # docs/clinical-rules.md §2.3: Ctrough = C × 0.5^((tau − t) / t½), sorafenib t½ 36 h,
    # BID so tau 12 h.
    assert at_trough.hours_after_dose == Decimal("12.17")
    assert at_trough.method == "measured"
    assert float(at_trough.estimated_ctrough_ng_ml) == pytest.approx(
        2100 * 0.5 ** ((12 - 12 - 1 / 6) / 36), abs=0.01
    )
    assert off_trough.hours_after_dose == 16
    assert off_trough.method == "extrapolated"
    assert float(off_trough.estimated_ctrough_ng_ml) == pytest.approx(
        2870 * 0.5 ** ((12 - 16) / 36), abs=0.01
    )
    assert below_lloq.evaluable is False
    assert below_lloq.not_evaluable_reasons == ["below_lloq"]
    assert below_lloq.estimated_ctrough_ng_ml is None
    micrograms = Sample.objects.get(unit="µg/mL")
    assert micrograms.concentration_ng_ml == 1320
    # The dose at each draw comes from the file's dose history.
    assert [s.daily_dose_mg for s in sorafenib_samples()] == [400, 600, 400]


@pytest.mark.django_db
def test_decisions_set_the_advice_state_and_create_no_regimen():
    import_cohort(valid_document())
    accepted, rejected, open_advice = (
        Advice.objects.get(sample=sample) for sample in sorafenib_samples()
    )

    assert (accepted.action, accepted.state) == ("continue_step_up", "accepted")
    assert accepted.decided_by is None
    assert accepted.decided_at is not None
    assert (rejected.state, rejected.rejection_reason) == (
        "rejected",
        "patient prefers to stay on the current dose",
    )
    assert (open_advice.action, open_advice.state) == ("resample", "draft")
    # A decided advice is never superseded by the next sample's advice; undecided ones are.
    imatinib_states = list(
        Advice.objects.filter(treatment__drug__name="imatinib", kind="sample")
        .order_by("sample__drawn_at")
        .values_list("action", "state")
    )
    assert imatinib_states == [
        ("increase", "superseded"),
        ("continue", "superseded"),
        ("continue", "draft"),
    ]
    assert Advice.objects.get(treatment__drug__name="axitinib", kind="sample").action == "no_target"
    # The accepted advice changed nothing in the prescription: the dose history is the file's.
    assert not DoseRegimen.objects.filter(advice__isnull=False).exists()
    history = DoseRegimen.objects.filter(treatment__patient__study_number="TDM-0001")
    assert [(r.effective_from.isoformat(), r.daily_dose_mg, r.reason) for r in history] == [
        ("2019-03-04", 400, "start"),
        ("2019-04-15", 600, "tdm_advice"),
        ("2019-05-21", 0, "interruption"),
        ("2019-06-03", 400, "resume"),
    ]
    decision_events = AuditEvent.objects.filter(detail="imported decision").order_by("pk")
    assert [(e.action, e.object_id, e.actor_id) for e in decision_events] == [
        ("accept", str(accepted.pk), None),
        ("reject", str(rejected.pk), None),
    ]


@pytest.mark.django_db
def test_toxicity_advice_is_computed_for_imported_adverse_events():
    import_cohort(valid_document())
    actions = dict(
        Advice.objects.filter(kind="toxicity").values_list("adverse_event__term", "action")
    )
    assert actions["Palmar-plantar erythrodysesthesia syndrome"] == "interrupt_then_reduce"
    assert actions["Hypertension"] == "reassess"
    assert actions["Fatigue"] == "continue"


@pytest.mark.django_db
def test_the_reports_of_imported_open_advice_are_left_to_the_backlog_sweep(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True) as queued:
        import_cohort(valid_document())

    # Nothing per record on the broker: a large import would put thousands of messages there.
    assert queued == []
    assert Advice.objects.count() == 12
    assert not Advice.objects.exclude(report_sha256="").exists()
    Advice.objects.update(updated_at=timezone.now() - datetime.timedelta(minutes=5))
    assert (
        report_tasks.sweep_report_backlog()["reports"]
        == Advice.objects.filter(state="draft").count()
    )
    for advice in Advice.objects.all():
        # Open advice gets its report; imported decisions carry no signature to render.
        assert bool(advice.report_sha256) == (advice.state == "draft")
        assert advice.signed_report_sha256 == ""


# Idempotency --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_importing_the_same_file_twice_changes_nothing(tmp_path):
    path = write(tmp_path, valid_document())
    out, err, code = run_import(path)
    assert (out.splitlines()[0], err, code) == ("3 patients imported, 0 unchanged", "", 0)
    counts = row_counts()

    out, err, code = run_import(path)

    assert (out.strip(), err, code) == ("0 patients imported, 3 unchanged", "", 0)
    assert row_counts() == counts
    assert counts["cases.AuditEvent"] > 0


@pytest.mark.django_db
def test_a_file_with_new_and_known_patients_imports_only_the_new():
    document = valid_document()
    first_two = copy.deepcopy(document)
    first_two["patients"] = first_two["patients"][:2]
    import_cohort(first_two)

    result = import_cohort(document)

    assert result.imported == ("TDM-0003",)
    assert result.unchanged == ("TDM-0001", "TDM-0002")
    assert result.sites_created == ()
    assert Patient.objects.count() == 3


@pytest.mark.django_db
def test_a_known_study_number_with_other_content_is_an_error_and_nothing_changes():
    import_cohort(valid_document())
    counts = row_counts()
    document = valid_document()
    document["patients"][1]["sex"] = "X"
    document["patients"][0]["treatments"][0]["samples"][1]["concentration"] = 2900
    document["patients"][0]["treatments"][0]["adverse_events"].pop()
    document["patients"][2]["name"] = "Someone Else"

    errors = validate_cohort(document)

    assert [error.path for error in errors] == [
        "patients[0].treatments[0].samples[1].concentration",
        "patients[0].treatments[0].adverse_events",
        "patients[1].sex",
        "patients[2].name",
    ]
    assert "2870 there" in errors[0].message
    assert "the file has 1, the patient already in the database 2" in errors[1].message
    # The stored name is not shown: it identifies the patient.
    assert "Johannes" not in str(errors)
    assert "Someone Else" not in str(errors)
    with pytest.raises(CohortInvalid):
        import_cohort(document)
    assert row_counts() == counts


@pytest.mark.django_db
def test_a_known_site_code_with_another_name_is_an_error():
    Site.objects.create(code="SITE2", name="Another Hospital")
    errors = validate_cohort(valid_document())
    assert errors == [
        CohortError(
            "sites[1].name", "site SITE2 exists here as 'Another Hospital', not 'Hospital Two'"
        )
    ]


@pytest.mark.django_db
def test_patients_may_belong_to_a_site_already_here_without_listing_it():
    Site.objects.create(code="SITE2", name="Hospital Two")
    document = valid_document()
    document["sites"] = document["sites"][:1]
    result = import_cohort(document)
    assert result.sites_created == ("SITE1",)
    assert Patient.objects.get(study_number="TDM-0003").site.code == "SITE2"


# Bad files ----------------------------------------------------------------------------------------


def three_bad_records() -> dict:
    document = valid_document()
    document["patients"][0]["treatments"][0]["drug"] = "wonderinib"
    document["patients"][1]["treatments"][0]["adverse_events"][0]["grade"] = 7
    sample = document["patients"][2]["treatments"][0]["samples"][0]
    sample["last_dose_at"] = "2021-05-31T09:00:00+02:00"
    return document


@pytest.mark.django_db
def test_every_bad_record_is_reported_with_its_path(tmp_path):
    errors = validate_cohort(three_bad_records())
    assert [error.path for error in errors] == [
        "patients[0].treatments[0].drug",
        "patients[1].treatments[0].adverse_events[0].grade",
        "patients[2].treatments[0].samples[0].last_dose_at",
    ]
    assert "unknown drug 'wonderinib'" in errors[0].message


@pytest.mark.django_db
def test_the_command_exits_2_with_every_error_and_writes_nothing(tmp_path):
    import_cohort({"format": "etdm-cohort/1", "sites": [], "patients": []})
    Site.objects.create(code="OTHER", name="Other Hospital")
    counts = row_counts()

    out, err, code = run_import(write(tmp_path, three_bad_records()))

    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "patients[0].treatments[0].drug: unknown drug 'wonderinib': not in this installation's "
        "catalogue",
        "patients[1].treatments[0].adverse_events[0].grade: must be a whole number from 1 to 5, "
        "not 7",
        "patients[2].treatments[0].samples[0].last_dose_at: is after the sample was drawn",
    ]
    assert row_counts() == counts


@pytest.mark.django_db
def test_a_patient_registered_while_the_file_is_imported_undoes_all_of_it(monkeypatch):
    """The checks read the database before anything is written; a patient registered in
    between (by hand, or by a second import of the same file) stops the whole import."""
    counts = row_counts()
    finish = CohortWriter.finish

    def register_the_third_patient_first(writer):
        site = Site.objects.get(code="SITE1")
        Patient.objects.create(site=site, study_number="TDM-0003", sex="F", birth_year=1960)
        finish(writer)

    monkeypatch.setattr(CohortWriter, "finish", register_the_third_patient_first)
    with pytest.raises(CohortInvalid) as invalid:
        import_cohort(valid_document())
    assert [error.path for error in invalid.value.errors] == ["patients"]
    assert "import the file again" in invalid.value.errors[0].message
    assert row_counts() == counts
    assert not Site.objects.exists()


def _first_sample(document: dict) -> dict:
    return document["patients"][0]["treatments"][0]["samples"][0]


@pytest.mark.django_db
def test_two_samples_within_30_minutes_are_one_sample_entered_twice():
    document = valid_document()
    samples = document["patients"][0]["treatments"][0]["samples"]
    samples.append(dict(samples[0], drawn_at="2019-04-01T09:35:00+02:00"))
    samples.append(dict(samples[0], drawn_at="2019-04-01T09:45:00+02:00"))

    errors = validate_cohort(document)

    # Every pair is reported, not only the first the services would have met.
    assert errors == [
        CohortError(
            "patients[0].treatments[0].samples[3].drawn_at",
            "samples[0] was drawn within 30 minutes of this one: it is the same sample",
        ),
        CohortError(
            "patients[0].treatments[0].samples[4].drawn_at",
            "samples[3] was drawn within 30 minutes of this one: it is the same sample",
        ),
    ]


@pytest.mark.django_db
def test_a_long_dose_gap_and_an_implausible_value_need_their_confirmation():
    document = valid_document()
    sample = _first_sample(document)
    sample["last_dose_at"] = "2019-03-20T21:00:00+01:00"
    sample["concentration"] = 250000

    errors = {error.path: error.message for error in validate_cohort(document)}

    path = "patients[0].treatments[0].samples[0]"
    assert set(errors) == {f"{path}.last_dose_at", f"{path}.concentration"}
    assert "days before the draw" in errors[f"{path}.last_dose_at"]
    assert "outside the plausible range of sorafenib" in errors[f"{path}.concentration"]

    sample["confirmed_implausible"] = True
    import_cohort(document)
    stored = Sample.objects.get(drawn_at=datetime.datetime(2019, 4, 1, 7, 10, tzinfo=datetime.UTC))
    assert stored.confirmed_implausible
    assert stored.evaluable is False


@pytest.mark.django_db
def test_a_confirmation_the_sample_does_not_need_is_not_stored():
    document = valid_document()
    _first_sample(document)["confirmed_implausible"] = True

    import_cohort(document)

    assert not Sample.objects.filter(confirmed_implausible=True).exists()


@pytest.mark.django_db
def test_a_dose_planned_more_than_a_year_ahead_is_refused_as_when_entered():
    document = valid_document()
    doses = document["patients"][2]["treatments"][0]["doses"]
    far = (timezone.localdate() + datetime.timedelta(days=400)).isoformat()
    doses.append(dict(doses[-1], **{"from": far, "daily_dose_mg": 10, "reason": "step_up"}))

    errors = validate_cohort(document)

    assert [error.path for error in errors] == ["patients[2].treatments[0].doses[3].from"]
    assert "Plan at most a year ahead" in errors[0].message


@pytest.mark.django_db
def test_an_unreadable_file_is_one_line_and_exit_2(tmp_path):
    _, err, code = run_import(tmp_path / "missing.json")
    assert code == 2
    assert len(err.splitlines()) == 1
    assert err.startswith("file: cannot read")


def test_invalid_json_is_one_line_and_exit_2_without_traceback():
    result = subprocess.run(
        [sys.executable, "manage.py", "import_cohort", "-"],
        cwd=ROOT,
        input='{"format": "etdm-cohort/1", "patients": [',
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == ["file: not valid JSON (line 1, column 42)"]


# One rule per case: the mutation of the valid file and the single error it must give. -------------

P0 = "patients[0]"
T0 = "patients[0].treatments[0]"  # sorafenib, from 2019-03-04
T1 = "patients[1].treatments[0]"  # imatinib gist, 2020-01-06 to 2020-06-30


def patient(document: dict, index: int) -> dict:
    return document["patients"][index]


def treatment(document: dict, index: int) -> dict:
    return document["patients"][index]["treatments"][0]


def sample_during_interruption(document: dict) -> None:
    treatment(document, 0)["samples"].append(
        {
            "drawn_at": "2019-05-27T09:00:00+02:00",
            "last_dose_at": "2019-05-20T21:00:00+02:00",
            "concentration": 800,
            "unit": "ng/mL",
            "below_lloq": False,
        }
    )
    treatment(document, 0)["decisions"].append(
        {"sample_drawn_at": "2019-05-27T09:00:00+02:00", "decision": "accepted", "reason": None}
    )


def future_draw(document: dict) -> None:
    tomorrow = timezone.localtime() + datetime.timedelta(days=1)
    treatment(document, 1)["stop_date"] = None
    treatment(document, 1)["samples"][2]["drawn_at"] = tomorrow.isoformat()


BAD_RECORDS: list[tuple[str, Callable[[dict], object], str, str]] = [
    ("format", lambda d: d.update(format="etdm-cohort/2"), "format", "must be one of"),
    ("unknown key", lambda d: patient(d, 0).update(colour="red"), f"{P0}.colour", "unknown field"),
    ("missing key", lambda d: patient(d, 0).pop("tumour"), f"{P0}.tumour", "is required"),
    ("sex", lambda d: patient(d, 0).update(sex="male"), f"{P0}.sex", "must be one of M, F, X"),
    ("birth year", lambda d: patient(d, 0).update(birth_year=1850), f"{P0}.birth_year", "1900"),
    (
        "born after the start",
        lambda d: patient(d, 0).update(birth_year=2020),
        f"{T0}.start_date",
        "birth year",
    ),
    (
        "study number twice",
        lambda d: patient(d, 1).update(study_number="TDM-0001"),
        "patients[1].study_number",
        "also the study number of patients[0]",
    ),
    (
        "study number format",
        lambda d: patient(d, 0).update(study_number="TDM 0001"),
        f"{P0}.study_number",
        "letters, digits",
    ),
    ("unknown site", lambda d: patient(d, 0).update(site="SITE9"), f"{P0}.site", "unknown site"),
    (
        "record number twice at a site",
        lambda d: patient(d, 1).update(record_number="MRN-778812"),
        "patients[1].record_number",
        "already that of patients[0]",
    ),
    (
        "indication required",
        lambda d: treatment(d, 1).update(indication=None),
        f"{T1}.indication",
        "is required for imatinib; use one of cml, gist",
    ),
    (
        "indication not defined",
        lambda d: treatment(d, 0).update(indication="gist"),
        f"{T0}.indication",
        "no indication variants",
    ),
    (
        "stop before start",
        lambda d: treatment(d, 1).update(stop_date="2019-12-31"),
        f"{T1}.stop_date",
        "before the start date",
    ),
    (
        "first dose not the start",
        lambda d: treatment(d, 0)["doses"][0].update(reason="step_up"),
        f"{T0}.doses[0].reason",
        "reason start",
    ),
    (
        "first dose not on the start date",
        lambda d: treatment(d, 0)["doses"][0].update({"from": "2019-03-05"}),
        f"{T0}.doses[0].from",
        "start date",
    ),
    (
        "doses out of order",
        lambda d: treatment(d, 0)["doses"][2].update({"from": "2019-04-01"}),
        f"{T0}.doses[2].from",
        "after the previous dose",
    ),
    (
        "dose not a catalogue level",
        lambda d: treatment(d, 0)["doses"][1].update(daily_dose_mg=500),
        f"{T0}.doses[1].daily_dose_mg",
        "not a dose level of sorafenib",
    ),
    (
        "negative dose",
        lambda d: treatment(d, 0)["doses"][1].update(daily_dose_mg=-200),
        f"{T0}.doses[1].daily_dose_mg",
        "cannot be negative",
    ),
    (
        "more digits than stored",
        lambda d: treatment(d, 0)["doses"][1].update(daily_dose_mg=600.125),
        f"{T0}.doses[1].daily_dose_mg",
        "2 decimal places",
    ),
    (
        "administrations",
        lambda d: treatment(d, 0)["doses"][1].update(administrations_per_day=5),
        f"{T0}.doses[1].administrations_per_day",
        "from 1 to 4",
    ),
    (
        "zero that is no interruption",
        lambda d: treatment(d, 0)["doses"][2].update(reason="toxicity"),
        f"{T0}.doses[2].reason",
        "interruption",
    ),
    (
        "dose reason",
        lambda d: treatment(d, 0)["doses"][1].update(reason="advice"),
        f"{T0}.doses[1].reason",
        "must be one of start, step_up, tdm_advice",
    ),
    (
        "dose after the stop",
        lambda d: treatment(d, 1)["doses"][1].update({"from": "2020-06-30"}),
        f"{T1}.doses[1].from",
        "on or after the stop date",
    ),
    (
        "unit",
        lambda d: treatment(d, 0)["samples"][0].update(unit="mmol/L"),
        f"{T0}.samples[0].unit",
        "unknown unit",
    ),
    (
        "negative concentration",
        lambda d: treatment(d, 1)["samples"][0].update(concentration=-1),
        f"{T1}.samples[0].concentration",
        "negative",
    ),
    (
        "zero without below LLOQ",
        lambda d: treatment(d, 1)["samples"][0].update(concentration=0),
        f"{T1}.samples[0].concentration",
        "below_lloq true",
    ),
    (
        "no time zone",
        lambda d: treatment(d, 1)["samples"][0].update(drawn_at="2020-02-03T10:00:00"),
        f"{T1}.samples[0].drawn_at",
        "time zone",
    ),
    (
        "drawn before the start",
        lambda d: treatment(d, 1)["samples"][0].update(
            drawn_at="2020-01-05T10:00:00+01:00", last_dose_at=None
        ),
        f"{T1}.samples[0].drawn_at",
        "before the treatment started",
    ),
    (
        "drawn after the stop",
        lambda d: treatment(d, 1).update(stop_date="2020-05-10"),
        f"{T1}.samples[2].drawn_at",
        "after the treatment stopped",
    ),
    ("drawn in the future", future_draw, f"{T1}.samples[2].drawn_at", "in the future"),
    (
        "two samples at one moment",
        lambda d: treatment(d, 1)["samples"][1].update(treatment(d, 1)["samples"][0]),
        f"{T1}.samples[1].drawn_at",
        "samples[0] was drawn at the same moment",
    ),
    (
        "unknown CTCAE term",
        lambda d: treatment(d, 0)["adverse_events"][0].update(term="Tiredness"),
        f"{T0}.adverse_events[0].term",
        "not a CTCAE v5.0 term",
    ),
    (
        "grade the term does not define",
        lambda d: treatment(d, 0)["adverse_events"][0].update(grade=4),
        f"{T0}.adverse_events[0].grade",
        "Fatigue has no grade 4",
    ),
    (
        "resolved before onset",
        lambda d: treatment(d, 0)["adverse_events"][1].update(resolved="2019-05-19"),
        f"{T0}.adverse_events[1].resolved",
        "before the onset",
    ),
    (
        "onset before the start",
        lambda d: treatment(d, 0)["adverse_events"][0].update(onset="2019-03-01"),
        f"{T0}.adverse_events[0].onset",
        "before the treatment started",
    ),
    (
        "AE action",
        lambda d: treatment(d, 0)["adverse_events"][0].update(action="paused"),
        f"{T0}.adverse_events[0].action",
        "must be one of none, interrupted, reduced, discontinued",
    ),
    (
        "free text on a specific term",
        lambda d: treatment(d, 0)["adverse_events"][0].update(other_specify="tired"),
        f"{T0}.adverse_events[0].other_specify",
        "only for an 'Other, specify' term",
    ),
    (
        "decision without its sample",
        lambda d: treatment(d, 0)["decisions"][0].update(
            sample_drawn_at="2019-04-01T09:15:00+02:00"
        ),
        f"{T0}.decisions[0].sample_drawn_at",
        "no sample of this treatment was drawn then",
    ),
    (
        "rejection without a reason",
        lambda d: treatment(d, 0)["decisions"][1].update(reason=None),
        f"{T0}.decisions[1].reason",
        "needs its reason",
    ),
    (
        "decision on a sample without result",
        lambda d: treatment(d, 0)["samples"][0].update(concentration=None, unit=None),
        f"{T0}.decisions[0].sample_drawn_at",
        "no result",
    ),
    (
        "decision on a sample during an interruption",
        sample_during_interruption,
        f"{T0}.decisions[2].sample_drawn_at",
        "during an interruption",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mutate", "path", "fragment"),
    [case[1:] for case in BAD_RECORDS],
    ids=[case[0] for case in BAD_RECORDS],
)
def test_each_bad_record_gives_one_error_at_its_path(mutate, path, fragment):
    document = valid_document()
    mutate(document)
    errors = validate_cohort(document)
    assert [error.path for error in errors] == [path], errors
    assert fragment in errors[0].message


@pytest.mark.django_db
def test_an_off_label_dose_needs_its_reason():
    document = valid_document()
    del treatment(document, 2)["doses"][2]["off_label_reason"]
    [error] = validate_cohort(document)
    assert error.path == "patients[2].treatments[0].doses[2].daily_dose_mg"
    assert "confirm it as off-label with a reason" in error.message


@pytest.mark.django_db
def test_not_a_json_object():
    assert validate_cohort([]) == [CohortError("document", "must be a JSON object")]


@pytest.mark.django_db
def test_a_sample_awaiting_its_result_and_a_stop_without_reason_are_imported():
    """What an export writes (no stop reason, a drawn sample without result) imports again."""
    document = valid_document()
    treatment(document, 1)["stop_reason"] = None
    treatment(document, 1)["samples"][2].update(concentration=None, unit=None)
    import_cohort(document)
    stopped = Treatment.objects.get(drug__name="imatinib")
    assert stopped.stop_reason == "not stated in the cohort file"
    awaiting = Sample.objects.get(drawn_at="2020-05-11T09:00:00+02:00")
    assert awaiting.status == "drawn"
    assert not awaiting.advice.exists()


def with_sunitinib(document: dict, sample: dict) -> dict:
    """The file with a fourth patient on sunitinib (4/2 schedule), one sample."""
    document["patients"].append(
        {
            "study_number": "TDM-0004",
            "site": "SITE2",
            "sex": "F",
            "birth_year": 1966,
            "tumour": "renal cell carcinoma",
            "treatments": [
                {
                    "drug": "sunitinib",
                    "indication": "intermittent",
                    "start_date": "2022-03-07",
                    "doses": [
                        {
                            "from": "2022-03-07",
                            "daily_dose_mg": 50,
                            "administrations_per_day": 1,
                            "reason": "start",
                        }
                    ],
                    "samples": [sample],
                }
            ],
        }
    )
    return document


SUNITINIB_SAMPLE = {
    "drawn_at": "2022-03-28T09:00:00+02:00",
    "last_dose_at": "2022-03-27T09:00:00+02:00",
    "concentration": 42.75,
    "unit": "ng/mL",
    "below_lloq": False,
    "analytes": {"sunitinib": 30.5, "SU12662": 12.25},
}


@pytest.mark.django_db
def test_per_analyte_results_are_imported_with_their_sum():
    import_cohort(with_sunitinib(valid_document(), dict(SUNITINIB_SAMPLE)))
    sample = Sample.objects.get(treatment__drug__name="sunitinib")
    assert sample.concentration_ng_ml == Decimal("42.75")
    assert sample.analytes == {"sunitinib": 30.5, "SU12662": 12.25}


@pytest.mark.django_db
def test_per_analyte_results_must_add_up_to_the_concentration():
    document = with_sunitinib(valid_document(), {**SUNITINIB_SAMPLE, "concentration": 40})
    [error] = validate_cohort(document)
    assert error.path == "patients[3].treatments[0].samples[0].concentration"
    assert "their sum in ng/mL (42.75 ng/mL)" in error.message


# Values of the wrong kind: as strict as JSON, every one reported in the format's wording. --------

MALFORMED_VALUES: list[tuple[str, Callable[[dict], object], str, str]] = [
    (
        "number as text",
        lambda d: treatment(d, 0)["doses"][1].update(daily_dose_mg="600"),
        f"{T0}.doses[1].daily_dose_mg",
        "must be a number, not '600'",
    ),
    (
        "analyte as text",
        lambda d: treatment(d, 0)["samples"][0].update(analytes={"sorafenib": "2100"}),
        f"{T0}.samples[0].analytes.sorafenib",
        "must be a number, not '2100'",
    ),
    (
        "infinite number",
        lambda d: treatment(d, 0)["samples"][0].update(concentration=float("inf")),
        f"{T0}.samples[0].concentration",
        "must be a finite number, not inf",
    ),
    (
        "true for a whole number",
        lambda d: treatment(d, 0)["adverse_events"][0].update(grade=True),
        f"{T0}.adverse_events[0].grade",
        "must be a whole number from 1 to 5, not True",
    ),
    (
        "float for a whole number",
        lambda d: treatment(d, 0)["doses"][1].update(administrations_per_day=2.0),
        f"{T0}.doses[1].administrations_per_day",
        "must be a whole number from 1 to 4, not 2.0",
    ),
    (
        "decimal for a whole number",
        lambda d: treatment(d, 0)["doses"][1].update(administrations_per_day=Decimal(2)),
        f"{T0}.doses[1].administrations_per_day",
        "must be a whole number from 1 to 4, not Decimal('2')",
    ),
    (
        "1 for true",
        lambda d: treatment(d, 0)["adverse_events"][0].update(related=1),
        f"{T0}.adverse_events[0].related",
        "must be true or false, not 1",
    ),
    (
        "text for a flag",
        lambda d: treatment(d, 0)["samples"][0].update(below_lloq="false"),
        f"{T0}.samples[0].below_lloq",
        "must be true or false, not 'false'",
    ),
    (
        "null for a required text",
        lambda d: patient(d, 0).update(tumour=None),
        f"{P0}.tumour",
        "must be a non-empty string, not None",
    ),
    (
        "number for an optional text",
        lambda d: patient(d, 0).update(tumour_code=22),
        f"{P0}.tumour_code",
        "must be a string or null, not 22",
    ),
    (
        "text too long",
        lambda d: patient(d, 0).update(tumour="x" * 201),
        f"{P0}.tumour",
        "must be at most 200 characters",
    ),
    (
        "null for a required date",
        lambda d: treatment(d, 0).update(start_date=None),
        f"{T0}.start_date",
        "must be a date as YYYY-MM-DD, not None",
    ),
    (
        "a Unix timestamp for a date",
        lambda d: treatment(d, 0)["adverse_events"][0].update(onset=1553040000),
        f"{T0}.adverse_events[0].onset",
        "must be a date as YYYY-MM-DD, not 1553040000",
    ),
    (
        "a day that does not exist",
        lambda d: treatment(d, 0)["adverse_events"][0].update(onset="2019-02-30"),
        f"{T0}.adverse_events[0].onset",
        "'2019-02-30' is not a valid date",
    ),
    (
        "a timestamp as text for a date and time",
        lambda d: treatment(d, 0)["samples"][0].update(drawn_at="1554102600"),
        f"{T0}.samples[0].drawn_at",
        "must be an ISO-8601 date and time (e.g. 2024-03-01T09:10:00+01:00), not '1554102600'",
    ),
    (
        "a list where an object goes",
        lambda d: treatment(d, 0)["samples"].__setitem__(0, []),
        f"{T0}.samples[0]",
        "must be a JSON object",
    ),
    (
        "an object where a list goes",
        lambda d: treatment(d, 0).update(doses={}),
        f"{T0}.doses",
        "must be a list",
    ),
    (
        "null for a required list",
        lambda d: patient(d, 0).update(treatments=None),
        f"{P0}.treatments",
        "must be a list",
    ),
    (
        "a required list left out",
        lambda d: d.pop("patients"),
        "patients",
        "is required",
    ),
    (
        "a list for the analytes",
        lambda d: treatment(d, 0)["samples"][0].update(analytes=[2100]),
        f"{T0}.samples[0].analytes",
        "must be an object of analyte name → concentration in ng/mL",
    ),
    (
        "unknown key in a nested object",
        lambda d: treatment(d, 0)["samples"][0].update(below_LLOQ=True),
        f"{T0}.samples[0].below_LLOQ",
        "unknown field; expected one of drawn_at, last_dose_at, concentration, unit, below_lloq, "
        "confirmed_implausible, analytes",
    ),
    (
        "unknown key at the top",
        lambda d: d.update(version=2),
        "version",
        "unknown field; expected one of format, exported_at, sites, patients",
    ),
    (
        "site code",
        lambda d: d["sites"].append({"code": "site3", "name": "Hospital Three"}),
        "sites[2].code",
        "Use 1–20 capital letters, digits, '-' or '_' (e.g. AMC or SITE1).",
    ),
    (
        "study number not a string",
        lambda d: patient(d, 0).update(study_number=1),
        f"{P0}.study_number",
        "must be a string, not 1",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("mutate", "path", "message"),
    [case[1:] for case in MALFORMED_VALUES],
    ids=[case[0] for case in MALFORMED_VALUES],
)
def test_each_malformed_value_gives_one_error_in_the_format_s_wording(mutate, path, message):
    document = valid_document()
    mutate(document)
    assert validate_cohort(document) == [CohortError(path, message)]


@pytest.mark.django_db
def test_a_birth_year_after_this_year_names_the_range():
    document = valid_document()
    this_year = timezone.localdate().year
    patient(document, 0).update(birth_year=this_year + 1)
    assert validate_cohort(document) == [
        CohortError(
            f"{P0}.birth_year",
            f"must be a whole number from 1900 to {this_year}, not {this_year + 1}",
        )
    ]


@pytest.mark.django_db
def test_every_malformed_value_of_a_document_is_reported_in_document_order():
    document = valid_document()
    document["format"] = None
    patient(document, 0).update(sex=None, birth_year="1950")
    treatment(document, 0)["samples"][0].update(unit=5, below_lloq="no")
    treatment(document, 1)["adverse_events"][0]["grade"] = 2.5
    patient(document, 2).update(colour="red")

    assert [error.path for error in validate_cohort(document)] == [
        "format",
        f"{P0}.sex",
        f"{P0}.birth_year",
        f"{T0}.samples[0].unit",
        f"{T0}.samples[0].below_lloq",
        f"{T1}.adverse_events[0].grade",
        "patients[2].colour",
    ]


@pytest.mark.django_db
def test_a_malformed_site_does_not_hide_the_database_checks_of_the_others():
    Site.objects.create(code="SITE2", name="Another Hospital")
    document = valid_document()
    document["sites"][0]["colour"] = "red"
    document["patients"] = []
    assert validate_cohort(document) == [
        CohortError("sites[0].colour", "unknown field; expected one of code, name"),
        CohortError(
            "sites[1].name", "site SITE2 exists here as 'Another Hospital', not 'Hospital Two'"
        ),
    ]


@pytest.mark.django_db
def test_numbers_parsed_as_decimals_are_checked_as_written():
    """The command reads JSON numbers with fractions as Decimal: the digits are the file's."""
    text = json.dumps(valid_document()).replace(
        '"daily_dose_mg": 600,', '"daily_dose_mg": 600.125,', 1
    )
    errors = validate_cohort(json.loads(text, parse_float=Decimal))
    assert errors == [
        CohortError(f"{T0}.doses[1].daily_dose_mg", "must have at most 2 decimal places")
    ]
    trailing_zeros = text.replace('"daily_dose_mg": 600.125,', '"daily_dose_mg": 600.000,')
    assert validate_cohort(json.loads(trailing_zeros, parse_float=Decimal)) == []


# Who imported -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_names_the_operating_system_user_in_the_audit_trail(tmp_path, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "labops")

    _, err, code = run_import(write(tmp_path, valid_document()))

    assert code == 0, err
    events = AuditEvent.objects.exclude(actor_username="system")
    assert events.exists()
    assert set(events.values_list("actor_username", flat=True)) == {"os:labops"}


@pytest.mark.django_db
def test_the_command_names_the_actor_given(tmp_path, staff):
    path = write(tmp_path, valid_document())
    out, err = io.StringIO(), io.StringIO()

    call_command("import_cohort", str(path), "--actor", "datamanager_a", stdout=out, stderr=err)

    events = AuditEvent.objects.exclude(actor_username="system")
    assert set(events.values_list("actor__username", flat=True)) == {"datamanager_a"}


@pytest.mark.django_db
def test_an_unknown_actor_is_refused_before_anything_is_read(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command(
            "import_cohort", str(write(tmp_path, valid_document())), "--actor", "nobody",
            stdout=out, stderr=err,
        )  # fmt: skip

    assert exit_.value.code == 2
    assert "actor: no active user 'nobody'" in err.getvalue()
    assert not Patient.objects.exists()
