"""The study summary (docs/study-outcomes.md) from records made through the services, as the
clinic makes them. Every expected figure is worked out by hand in the comments, from the cohort
below."""

import datetime
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from advice import services as advice_services
from advice import tasks
from advice.models import Advice
from cases import services
from cases.models import DoseRegimen, Drug, Sample
from study.summary import UnknownDrug, study_summary, study_summary_by_drug
from tests.factories import (
    DEMO_PASSWORD,
    AdverseEventFactory,
    DoseRegimenFactory,
    PatientFactory,
    SampleFactory,
    TreatmentFactory,
    local_datetime,
)

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
D = datetime.date.fromisoformat
AS_OF = D("2024-06-30")
BOTH_CHECKS = ["adherence", "drug_interactions"]

# The cohort (built by the `cohort` fixture). Every sample is drawn at 09:00 exactly one dosing
# interval after the last dose (21:00 the evening before for BID, 09:00 the day before for QD),
# so its Ctrough is the measured value itself, unless said otherwise.
#
# P1  TDM-A001, site A, sorafenib (target 3750, standard 800 mg/day), from 8 Jan 2024 at 400.
#     5 Feb  2000  advice continue_step_up → released, accepted: 600 from 12 Feb (tdm_advice) I1
#     11 Mar 3000
#     18 Mar 800 mg/day (tdm_advice, entered with the dose history)                           I2
#     15 Apr 3500
#     13 May 5200 drawn 2 h after the dose: not evaluable (before_min_time)
#     10 Jun 4000
#     I1: samples after 12 Feb and before 18 Mar: 3000 < 3750 → not successful.
#     I2: samples after 18 Mar, no later change: 3500 and 4000 (13 May not evaluable),
#         median 3750 = target, no toxicity change → successful.
#     RDI to 30 Jun: 400 × 35 (8 Jan–11 Feb) + 600 × 35 (12 Feb–17 Mar) + 800 × 105
#         (18 Mar–30 Jun) = 119000 mg of 800 × 175 = 140000 mg → 0.85.
#
# P2  TDM-B001, site B, sorafenib from 8 Jan 2024 at 800.
#     AEs: Fatigue G2 (20 Jan–20 Feb), Diarrhea G2 (25 Jan–25 Feb), Anemia G3 not related (22 Jan).
#     5 Feb  2500  advice no_escalation_toxicity: worst active related grade 2, Diarrhea and
#                  Fatigue tie → Diarrhea (first by name). Superseded unsigned by the next result.
#     4 Mar  3000  advice increase → released, rejected by the physician
#     2 Apr  2800  advice increase → released, accepted: 1000 from 8 Apr (tdm_advice)       I3
#     29 Apr 4200
#     2 May  Palmar-plantar erythrodysesthesia syndrome G3 (resolved 20 May)
#     3 May  interruption (0 mg); 6 May 800 mg/day (toxicity) = 28 days after 8 Apr
#     3 Jun  3900
#     stopped 17 Jun
#     I3: samples after 8 Apr and before 3 May (the interruption): 4200 ≥ 3750, but 800 on
#         6 May is a toxicity change below the 1000 before the interruption, on day 28 →
#         not successful.
#     RDI up to the stop (16 Jun is the last treatment day): 800 × 91 (8 Jan–7 Apr) + 1000 × 25
#         (8 Apr–2 May) + 0 × 3 (3–5 May) + 800 × 42 (6 May–16 Jun) = 131400 mg of
#         800 × 161 = 128800 mg → 657/644 = 1.020186…
#
# P3  TDM-A002, site A, pazopanib (target 20000, standard 800 mg/day QD), from 5 Feb 2024 at 800.
#     AEs: Fatigue G1 (15 Feb), Hypertension G2 (20 Feb–1 May), Nausea G2 (8 May).
#     4 Mar  15000 advice no_escalation_toxicity (Hypertension) → released, accepted
#     8 Apr  21000 advice continue
#     6 May  drawn, no result yet: not a sample
#     13 May 18000 advice no_escalation_toxicity (Nausea), then the sample is cancelled: neither
#                  the sample nor its Nausea reason counts
#     RDI: 800 mg/day every day → 1.
#
# P4  TDM-B002, site B, axitinib (AUC target, standard 10 mg/day), from 4 Mar 2024 at 10.
#     8 Apr  25 ng/mL (evaluable by docs/clinical-rules.md §2.1, but an AUC drug: never an
#            evaluable Ctrough)
#     15 Apr 14 mg/day (tdm_advice)                                                            I4
#     13 May 40 ng/mL
#     stopped 31 May
#     I4: no evaluable Ctrough after it → not successful.
#     RDI: 10 × 42 (4 Mar–14 Apr) + 14 × 46 (15 Apr–30 May) = 1064 mg of 10 × 88 = 880 mg
#         → 133/110 = 1.209090…

ALL_DRUGS = {
    "patients": 4,
    # P1, P2, P3; P4's axitinib values are no Ctrough values.
    "evaluable_patients": 3,
    # P1 5 + P2 5 + P3 2 (the drawn and the cancelled one are not samples) + P4 2.
    "samples": 14,
    # P1 4 (not 13 May) + P2 5 + P3 2.
    "evaluable_samples": 11,
    # [2, 2, 5, 5], h = 3p: q1 h 0.75 → 2; median h 1.5 → 2 + 0.5 · 3 = 3.5; q3 h 2.25 → 5.
    "samples_per_patient": {"median": 3.5, "q1": 2, "q3": 5},
    # 2000 2500 2800 3000 3000 3500 3900 4000 4200 15000 21000 (n = 11, h = 10p):
    # q1 h 2.5 → 2800 + 0.5 · 200 = 2900; median h 5 → 3500; q3 h 7.5 → 4000 + 0.5 · 200 = 4100.
    "ctrough_ng_ml": {"median": 3500, "q1": 2900, "q3": 4100},
    # Below their own target: P1 2000 3000 3500, P2 2500 3000 2800, P3 15000 = 7 of 11 = 63.6 %.
    "samples_below_target_pct": 63.6,
    "patients_with_sample_below_target": 3,
    # I1, I2 (P1), I3 (P2), I4 (P4); only I2 succeeded.
    "patients_with_tdm_intervention": 3,
    "tdm_interventions": 4,
    "successful_interventions": 1,
    "patients_with_successful_intervention": 1,
    "advice_rejected": 1,
    "no_escalation_reasons": {"Diarrhea": 1, "Hypertension": 1},
    # [0.85, 1, 1.020186, 1.209091], h = 3p: q1 h 0.75 → 0.85 + 0.75 · 0.15 = 0.9625 → 0.963;
    # median h 1.5 → 1 + 0.5 · 0.020186 = 1.010093 → 1.01;
    # q3 h 2.25 → 1.020186 + 0.25 · 0.188905 = 1.067413 → 1.067.
    "relative_dose_intensity": {"median": 1.01, "q1": 0.963, "q3": 1.067},
}

SORAFENIB = {
    "patients": 2,
    "evaluable_patients": 2,
    "samples": 10,
    "evaluable_samples": 9,
    "samples_per_patient": {"median": 5, "q1": 5, "q3": 5},
    # 2000 2500 2800 3000 3000 3500 3900 4000 4200 (n = 9, h = 8p = 2, 4, 6): the order
    # statistics 2800, 3000 and 3900.
    "ctrough_ng_ml": {"median": 3000, "q1": 2800, "q3": 3900},
    # 6 of 9 = 66.67 %.
    "samples_below_target_pct": 66.7,
    "patients_with_sample_below_target": 2,
    "patients_with_tdm_intervention": 2,
    "tdm_interventions": 3,
    "successful_interventions": 1,
    "patients_with_successful_intervention": 1,
    "advice_rejected": 1,
    "no_escalation_reasons": {"Diarrhea": 1},
    # [0.85, 1.020186], difference 0.170186: q1 0.85 + 0.25 · 0.170186 = 0.892547 → 0.893;
    # median 0.935093 → 0.935; q3 0.85 + 0.75 · 0.170186 = 0.977640 → 0.978.
    "relative_dose_intensity": {"median": 0.935, "q1": 0.893, "q3": 0.978},
}

PAZOPANIB = {
    "patients": 1,
    "evaluable_patients": 1,
    "samples": 2,
    "evaluable_samples": 2,
    "samples_per_patient": {"median": 2, "q1": 2, "q3": 2},
    # [15000, 21000]: q1 15000 + 0.25 · 6000 = 16500; median 18000; q3 19500.
    "ctrough_ng_ml": {"median": 18000, "q1": 16500, "q3": 19500},
    # 15000 < 20000, 21000 is not: 1 of 2.
    "samples_below_target_pct": 50.0,
    "patients_with_sample_below_target": 1,
    "patients_with_tdm_intervention": 0,
    "tdm_interventions": 0,
    "successful_interventions": 0,
    "patients_with_successful_intervention": 0,
    "advice_rejected": 0,
    "no_escalation_reasons": {"Hypertension": 1},
    "relative_dose_intensity": {"median": 1, "q1": 1, "q3": 1},
}

AXITINIB = {
    "patients": 1,
    "evaluable_patients": 0,
    "samples": 2,
    "evaluable_samples": 0,
    "samples_per_patient": {"median": 2, "q1": 2, "q3": 2},
    "ctrough_ng_ml": {"median": None, "q1": None, "q3": None},
    "samples_below_target_pct": None,
    "patients_with_sample_below_target": 0,
    "patients_with_tdm_intervention": 1,
    "tdm_interventions": 1,
    "successful_interventions": 0,
    "patients_with_successful_intervention": 0,
    "advice_rejected": 0,
    "no_escalation_reasons": {},
    # 1.209090… → 1.209.
    "relative_dose_intensity": {"median": 1.209, "q1": 1.209, "q3": 1.209},
}


class Clinic:
    """What the nurses, pharmacists and physicians of both sites do, through the services."""

    def __init__(self, staff):
        self.staff = staff

    def register(self, site, study_number, drug, indication, start, daily_dose_mg, per_day):
        nurse = self.staff[f"nurse_{site}"]
        patient = PatientFactory(
            actor=nurse,
            site=nurse.site_memberships.get().site,
            study_number=study_number,
            treating_physician=self.staff[f"physician_{site}"],
            responsible_nurse=nurse,
        )
        return TreatmentFactory(
            actor=nurse,
            patient=patient,
            drug=Drug.objects.get(name=drug, indication=indication),
            start_date=D(start),
            daily_dose_mg=Decimal(daily_dose_mg),
            administrations_per_day=per_day,
        )

    def sample(self, site, treatment, drawn, last_dose, value):
        """Log a sample and run the advice task its result queues (in this process, without
        the report rendering that follows it: the summary does not read reports)."""
        sample = SampleFactory(
            actor=self.staff[f"nurse_{site}"],
            treatment=treatment,
            drawn_at=local_datetime(drawn),
            last_dose_at=local_datetime(last_dose),
            concentration=Decimal(value) if value is not None else None,
        )
        if sample.status == Sample.Status.RESULTED:
            tasks.compute_sample_advice(sample.pk)
        return sample

    def adverse_event(self, site, treatment, term, grade, onset, *, related=True):
        return AdverseEventFactory(
            actor=self.staff[f"nurse_{site}"],
            treatment=treatment,
            term=term,
            grade=grade,
            onset=D(onset),
            related=related,
        )

    def resolve(self, site, event, day):
        services.adverse_event_resolve(
            actor=self.staff[f"nurse_{site}"], event=event, resolved=D(day)
        )

    def dose(self, site, treatment, day, daily_dose_mg, per_day, reason):
        DoseRegimenFactory(
            actor=self.staff[f"physician_{site}"],
            treatment=treatment,
            effective_from=D(day),
            daily_dose_mg=Decimal(daily_dose_mg),
            administrations_per_day=per_day,
            reason=reason,
        )

    def release(self, site, sample) -> Advice:
        advice = Advice.objects.get(sample=sample)
        return advice_services.advice_release(actor=self.staff[f"pharmacist_{site}"], advice=advice)

    def accept(self, site, advice, *, signed_on, effective, checks=()):
        advice_services.advice_accept(
            actor=self.staff[f"physician_{site}"],
            advice=advice,
            password=DEMO_PASSWORD,
            effective_date=D(effective) if effective else None,
            checks_confirmed=list(checks),
            today=D(signed_on),
        )

    def reject(self, site, advice, reason):
        advice_services.advice_reject(
            actor=self.staff[f"physician_{site}"],
            advice=advice,
            password=DEMO_PASSWORD,
            reason=reason,
        )

    def stop(self, site, treatment, day, reason):
        services.treatment_stop(
            actor=self.staff[f"physician_{site}"],
            treatment=treatment,
            stop_date=D(day),
            reason=reason,
        )


@pytest.fixture
def clinic(staff):
    return Clinic(staff)


@pytest.fixture
def cohort(clinic):
    """The four patients of the comment at the top, in the order things happened to each."""
    c = clinic
    p1 = c.register("a", "TDM-A001", "sorafenib", "", "2024-01-08", 400, 2)
    first = c.sample("a", p1, "2024-02-05 09:00", "2024-02-04 21:00", "2000")
    advice = c.release("a", first)
    assert advice.action == "continue_step_up"
    c.accept("a", advice, signed_on="2024-02-06", effective="2024-02-12", checks=BOTH_CHECKS)
    c.sample("a", p1, "2024-03-11 09:00", "2024-03-10 21:00", "3000")
    c.dose("a", p1, "2024-03-18", 800, 2, DoseRegimen.Reason.TDM_ADVICE)
    c.sample("a", p1, "2024-04-15 09:00", "2024-04-14 21:00", "3500")
    too_early = c.sample("a", p1, "2024-05-13 09:00", "2024-05-13 07:00", "5200")
    c.sample("a", p1, "2024-06-10 09:00", "2024-06-09 21:00", "4000")

    p2 = c.register("b", "TDM-B001", "sorafenib", "", "2024-01-08", 800, 2)
    fatigue = c.adverse_event("b", p2, "Fatigue", 2, "2024-01-20")
    diarrhea = c.adverse_event("b", p2, "Diarrhea", 2, "2024-01-25")
    c.adverse_event("b", p2, "Anemia", 3, "2024-01-22", related=False)
    no_escalation = c.sample("b", p2, "2024-02-05 09:00", "2024-02-04 21:00", "2500")
    c.resolve("b", fatigue, "2024-02-20")
    c.resolve("b", diarrhea, "2024-02-25")
    rejected = c.release("b", c.sample("b", p2, "2024-03-04 09:00", "2024-03-03 21:00", "3000"))
    c.reject("b", rejected, "Patient wants to wait for the next scan before any change.")
    advice = c.release("b", c.sample("b", p2, "2024-04-02 09:00", "2024-04-01 21:00", "2800"))
    c.accept("b", advice, signed_on="2024-04-03", effective="2024-04-08", checks=BOTH_CHECKS)
    c.sample("b", p2, "2024-04-29 09:00", "2024-04-28 21:00", "4200")
    skin = c.adverse_event("b", p2, "Palmar-plantar erythrodysesthesia syndrome", 3, "2024-05-02")
    c.dose("b", p2, "2024-05-03", 0, 2, DoseRegimen.Reason.INTERRUPTION)
    c.dose("b", p2, "2024-05-06", 800, 2, DoseRegimen.Reason.TOXICITY)
    c.resolve("b", skin, "2024-05-20")
    c.sample("b", p2, "2024-06-03 09:00", "2024-06-02 21:00", "3900")
    c.stop("b", p2, "2024-06-17", "progressive disease")

    p3 = c.register("a", "TDM-A002", "pazopanib", "", "2024-02-05", 800, 1)
    c.adverse_event("a", p3, "Fatigue", 1, "2024-02-15")
    hypertension = c.adverse_event("a", p3, "Hypertension", 2, "2024-02-20")
    advice = c.release("a", c.sample("a", p3, "2024-03-04 09:00", "2024-03-03 09:00", "15000"))
    c.accept("a", advice, signed_on="2024-03-05", effective=None)
    c.sample("a", p3, "2024-04-08 09:00", "2024-04-07 09:00", "21000")
    c.resolve("a", hypertension, "2024-05-01")
    c.adverse_event("a", p3, "Nausea", 2, "2024-05-08")
    awaiting_result = c.sample("a", p3, "2024-05-06 09:00", "2024-05-05 09:00", None)
    cancelled = c.sample("a", p3, "2024-05-13 09:00", "2024-05-12 09:00", "18000")
    services.sample_cancel(actor=c.staff["nurse_a"], sample=cancelled, reason="haemolysed")

    p4 = c.register("b", "TDM-B002", "axitinib", "", "2024-03-04", 10, 2)
    auc_sample = c.sample("b", p4, "2024-04-08 09:00", "2024-04-07 21:00", "25")
    c.dose("b", p4, "2024-04-15", 14, 2, DoseRegimen.Reason.TDM_ADVICE)
    c.sample("b", p4, "2024-05-13 09:00", "2024-05-12 21:00", "40")
    c.stop("b", p4, "2024-05-31", "toxicity")

    return {
        "too_early": too_early,
        "no_escalation": no_escalation,
        "rejected": rejected,
        "awaiting_result": awaiting_result,
        "cancelled": cancelled,
        "auc_sample": auc_sample,
    }


def test_the_cohort_is_what_the_comment_says(cohort):
    """The records behind the hand-worked figures, as the services and the engine made them."""
    for record in cohort.values():
        record.refresh_from_db()
    assert cohort["too_early"].evaluable is False
    assert cohort["awaiting_result"].status == Sample.Status.DRAWN
    assert cohort["cancelled"].status == Sample.Status.CANCELLED
    # The engine estimates the AUC drug's sample; the study never counts it as a Ctrough.
    assert Advice.objects.get(sample=cohort["auc_sample"]).action == "no_target"
    no_escalation = Advice.objects.get(sample=cohort["no_escalation"])
    assert (no_escalation.action, no_escalation.state) == ("no_escalation_toxicity", "superseded")
    assert Advice.objects.get(sample=cohort["cancelled"]).action == "no_escalation_toxicity"
    assert cohort["rejected"].state == Advice.State.REJECTED
    interventions = DoseRegimen.objects.filter(reason=DoseRegimen.Reason.TDM_ADVICE)
    assert [
        (regimen.effective_from, hasattr(regimen, "advice"))
        for regimen in interventions.order_by("effective_from")
    ] == [
        (D("2024-02-12"), True),  # I1, from the accepted advice
        (D("2024-03-18"), False),  # I2, entered with the dose history
        (D("2024-04-08"), True),  # I3, from the accepted advice
        (D("2024-04-15"), False),  # I4
    ]


def test_summary_of_all_drugs(cohort):
    assert study_summary(as_of=AS_OF) == ALL_DRUGS


def test_summary_of_sorafenib(cohort):
    assert study_summary(drug="sorafenib", as_of=AS_OF) == SORAFENIB


def test_summary_by_drug_for_the_dashboard(cohort):
    summaries = study_summary_by_drug(as_of=AS_OF)

    assert list(summaries) == ["axitinib", "pazopanib", "sorafenib", "overall"]
    assert summaries == {
        "axitinib": AXITINIB,
        "pazopanib": PAZOPANIB,
        "sorafenib": SORAFENIB,
        "overall": ALL_DRUGS,
    }


def test_the_summary_is_json(cohort):
    assert json.loads(json.dumps(study_summary(as_of=AS_OF))) == ALL_DRUGS


def test_a_drug_without_patients_has_an_empty_summary(cohort):
    summary = study_summary(drug="imatinib", as_of=AS_OF)

    assert summary["patients"] == 0
    assert summary["ctrough_ng_ml"] == {"median": None, "q1": None, "q3": None}


def test_an_unknown_drug_is_an_error():
    with pytest.raises(UnknownDrug):
        study_summary(drug="aspirin")


def add_patient(staff, case_at, number: int) -> None:
    """A sorafenib patient with a sample, a Fatigue grade 2 and a no_escalation_toxicity advice
    on the sample, and a TDM dose change."""
    case = case_at("a", f"TDM-Q{number:03d}")
    tasks.compute_sample_advice(case["sample"].pk)
    DoseRegimenFactory(
        actor=staff["physician_a"],
        treatment=case["treatment"],
        effective_from=D("2024-02-12"),
        daily_dose_mg=Decimal(800),
        administrations_per_day=2,
        reason=DoseRegimen.Reason.TDM_ADVICE,
    )


def test_the_number_of_queries_does_not_grow_with_the_cohort(
    staff, case_at, django_assert_max_num_queries
):
    add_patient(staff, case_at, 1)
    with django_assert_max_num_queries(4):
        one = study_summary(as_of=AS_OF)
    with django_assert_max_num_queries(5):
        study_summary(drug="sorafenib", as_of=AS_OF)
    for number in range(2, 9):
        add_patient(staff, case_at, number)
    with django_assert_max_num_queries(4):
        eight = study_summary(as_of=AS_OF)
    with django_assert_max_num_queries(5):
        study_summary(drug="sorafenib", as_of=AS_OF)
    with django_assert_max_num_queries(4):
        study_summary_by_drug(as_of=AS_OF)

    assert (one["patients"], eight["patients"]) == (1, 8)
    assert eight["no_escalation_reasons"] == {"Fatigue": 8}
    assert eight["tdm_interventions"] == 8


# The command (docs/study-outcomes.md §1) -------------------------------------------------------


def run_summary(*arguments: str) -> str:
    out = io.StringIO()
    call_command("study_summary", *arguments, stdout=out)
    return out.getvalue()


def test_command_prints_the_json_of_a_drug(cohort):
    printed = run_summary("--drug", "Sorafenib", "--as-of", "2024-06-30", "--json")
    assert json.loads(printed) == SORAFENIB


def test_command_prints_the_json_of_all_drugs(cohort):
    assert json.loads(run_summary("--as-of", "2024-06-30", "--json")) == ALL_DRUGS


def test_command_prints_a_table_without_json(cohort):
    lines = run_summary("--as-of", "2024-06-30").splitlines()

    assert lines[0] == "Study summary: all drugs (relative dose intensity up to 2024-06-30)"
    rows = {line[:42].strip(): line[42:] for line in lines[1:]}
    assert rows["patients"] == "4"
    assert rows["Ctrough ng/mL, median (IQR)"] == "3500 (2900–4100)"
    assert rows["evaluable samples below target"] == "63.6 %"
    assert rows["TDM interventions"] == "4"
    assert rows["relative dose intensity, median (IQR)"] == "1.01 (0.963–1.067)"
    assert rows["Diarrhea"] == "1"
    assert rows["Hypertension"] == "1"


@pytest.mark.parametrize(
    ("arguments", "option"),
    [
        (["--drug", "aspirin"], "--drug"),
        (["--as-of", "30-06-2024"], "--as-of"),
        (["--as-of", "2024-02-30"], "--as-of"),
    ],
)
def test_command_refuses_bad_options_with_exit_code_2(arguments, option):
    with pytest.raises(CommandError) as raised:
        run_summary(*arguments, "--json")

    assert raised.value.returncode == 2
    assert str(raised.value).startswith(f"{option}: ")


def test_command_error_is_one_line_on_stderr():
    result = subprocess.run(
        [sys.executable, "manage.py", "study_summary", "--as-of", "June 30", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "--as-of:" in lines[0]
