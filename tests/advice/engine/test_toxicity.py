"""docs/clinical-rules.md §6 (Bolondi et al., Future Oncol 2015, table 5): advice on logging an
adverse event."""

from datetime import date
from decimal import Decimal

import pytest

from advice.engine.case import Regimen
from advice.engine.case_input import toxicity_advice_to_json
from advice.engine.catalogue import read_catalogue
from advice.engine.toxicity import occurrence_number, toxicity_action, toxicity_advice

DRUGS = {facts.label: facts for facts in read_catalogue()}
D = Decimal
SORAFENIB_800_BID = Regimen(daily_dose_mg=D("800"), administrations_per_day=2)


@pytest.mark.parametrize(
    ("grade", "occurrence", "no_improvement", "action"),
    [
        (1, 1, False, "continue"),
        (1, 5, False, "continue"),
        (1, 1, True, "continue"),
        (2, 1, False, "reassess"),
        (2, 1, True, "interrupt_then_reduce"),
        (2, 2, False, "interrupt_then_reduce"),
        (2, 3, False, "interrupt_then_reduce"),
        (2, 3, True, "interrupt_then_reduce"),
        (2, 4, False, "discontinue"),
        (2, 4, True, "discontinue"),
        (2, 6, False, "discontinue"),
        (3, 1, False, "interrupt_then_reduce"),
        (3, 2, False, "interrupt_then_reduce"),
        (3, 2, True, "interrupt_then_reduce"),
        (3, 3, False, "discontinue"),
        (3, 4, False, "discontinue"),
        (4, 1, False, "interrupt"),
        (4, 3, False, "interrupt"),
        (5, 1, False, "discontinue"),
    ],
)
def test_table_5(grade, occurrence, no_improvement, action):
    assert toxicity_action(grade, occurrence, no_improvement_7_days=no_improvement) == action
    advice = toxicity_advice(
        term="Palmar-plantar erythrodysesthesia syndrome",
        grade=grade,
        occurrence=occurrence,
        no_improvement_7_days=no_improvement,
        regimen=SORAFENIB_800_BID,
        drug=DRUGS["sorafenib"],
    )
    assert advice.action == action


@pytest.mark.parametrize(("grade", "occurrence"), [(0, 1), (6, 1), (2, 0)])
def test_impossible_grade_or_occurrence(grade, occurrence):
    with pytest.raises(ValueError, match="must be"):
        toxicity_action(grade, occurrence)


def test_interrupt_then_reduce_resumes_one_level_lower_and_recommends_measuring():
    advice = toxicity_advice(
        term="Palmar-plantar erythrodysesthesia syndrome",
        grade=3,
        occurrence=1,
        regimen=SORAFENIB_800_BID,
        drug=DRUGS["sorafenib"],
    )
    assert advice.action == "interrupt_then_reduce"
    assert advice.resume_daily_dose_mg == D("600")
    assert advice.resume_split_mg == (D("400"), D("200"))
    assert advice.resume_administrations_per_day == 2
    assert advice.measure_ctrough is True
    assert advice.warnings == ()
    assert advice.text == (
        "Palmar-plantar erythrodysesthesia syndrome grade 3 (first occurrence): interrupt "
        "sorafenib until the toxicity has resolved to grade 0-1, then resume one dose level "
        "lower at 600 mg/day (400 mg + 200 mg). Measure Ctrough 4 weeks after resuming: it "
        "tells toxicity from high exposure apart from toxicity despite low exposure."
    )


@pytest.mark.parametrize(
    ("label", "daily", "administrations", "resume", "split", "used"),
    [
        ("sorafenib", "600", 2, "400", ("200", "200"), 2),
        ("sorafenib", "400", 2, "200", ("200",), 1),
        ("sorafenib", "500", 2, "400", ("200", "200"), 2),
        ("imatinib (gist)", "800", 2, "600", ("300", "300"), 2),
        ("sunitinib (intermittent)", "50", 1, "37.5", ("37.5",), 1),
        ("gefitinib", "500", 1, "250", ("250",), 1),
    ],
)
def test_resume_dose(label, daily, administrations, resume, split, used):
    advice = toxicity_advice(
        term="Diarrhea",
        grade=2,
        occurrence=2,
        regimen=Regimen(daily_dose_mg=D(daily), administrations_per_day=administrations),
        drug=DRUGS[label],
    )
    assert advice.resume_daily_dose_mg == D(resume)
    assert advice.resume_split_mg == tuple(D(part) for part in split)
    assert advice.resume_administrations_per_day == used
    assert ("administrations_changed" in advice.warnings) is (used != administrations)


def test_no_lower_level_leaves_the_resume_dose_to_the_physician():
    advice = toxicity_advice(
        term="Diarrhea",
        grade=3,
        occurrence=1,
        regimen=Regimen(daily_dose_mg=D("250"), administrations_per_day=1),
        drug=DRUGS["gefitinib"],
    )
    assert advice.action == "interrupt_then_reduce"
    assert advice.resume_daily_dose_mg is None
    assert advice.resume_split_mg == ()
    assert advice.warnings == ("below_lowest_level",)
    assert advice.measure_ctrough is False
    assert "250 mg/day is not above the lowest dose level (250 mg/day)" in advice.text


@pytest.mark.parametrize(
    ("grade", "occurrence", "no_improvement", "text"),
    [
        (
            1,
            1,
            False,
            "Fatigue grade 1 (first occurrence): continue sorafenib 800 mg/day "
            "(400 mg + 400 mg) and treat the symptoms.",
        ),
        (
            2,
            1,
            False,
            "Fatigue grade 2 (first occurrence): continue sorafenib 800 mg/day "
            "(400 mg + 400 mg) with supportive treatment and re-assess in 7 days; without "
            "improvement, interrupt until grade 0-1 and resume one dose level lower.",
        ),
        (
            2,
            1,
            True,
            "Fatigue grade 2 (first occurrence) without improvement within 7 days: "
            "interrupt sorafenib",
        ),
        (2, 4, False, "Fatigue grade 2 (fourth occurrence): discontinue sorafenib."),
        (3, 3, False, "Fatigue grade 3 (third occurrence): discontinue sorafenib."),
    ],
)
def test_texts(grade, occurrence, no_improvement, text):
    advice = toxicity_advice(
        term="Fatigue",
        grade=grade,
        occurrence=occurrence,
        no_improvement_7_days=no_improvement,
        regimen=SORAFENIB_800_BID,
        drug=DRUGS["sorafenib"],
    )
    assert advice.text.startswith(text)
    assert advice.resume_daily_dose_mg == (
        D("600") if advice.action == "interrupt_then_reduce" else None
    )


def test_grade_4_interrupts_and_leaves_discontinuation_to_the_physician():
    advice = toxicity_advice(
        term="Hypertension",
        grade=4,
        occurrence=1,
        regimen=SORAFENIB_800_BID,
        drug=DRUGS["sorafenib"],
    )
    assert advice.action == "interrupt"
    assert advice.resume_daily_dose_mg is None
    assert advice.text == (
        "Hypertension grade 4 (first occurrence): interrupt sorafenib; the physician decides "
        "whether to discontinue. If sorafenib is resumed at a lower dose, measure Ctrough 4 "
        "weeks after resuming."
    )


@pytest.mark.parametrize("related", [True, False])
def test_grade_5_ends_the_treatment(related):
    advice = toxicity_advice(
        term="Hepatic failure",
        grade=5,
        occurrence=1,
        regimen=SORAFENIB_800_BID,
        drug=DRUGS["sorafenib"],
        related=related,
    )
    assert advice.action == "discontinue"
    assert advice.text == (
        "Hepatic failure grade 5 (first occurrence), fatal: sorafenib is discontinued; record "
        "the treatment as stopped."
    )


def test_unrelated_event_modifies_no_dose():
    advice = toxicity_advice(
        term="Fall",
        grade=3,
        occurrence=1,
        regimen=SORAFENIB_800_BID,
        drug=DRUGS["sorafenib"],
        related=False,
    )
    assert advice.action == "continue"
    assert advice.resume_daily_dose_mg is None
    assert "not related to sorafenib" in advice.text


@pytest.mark.parametrize(
    ("term", "onset", "others", "occurrence"),
    [
        ("Diarrhea", date(2024, 3, 1), [], 1),
        (
            "Diarrhea",
            date(2024, 3, 1),
            [("Diarrhea", date(2024, 1, 5)), ("Fatigue", date(2024, 1, 6))],
            2,
        ),
        # same term ignoring case; an earlier record on the same day counts; later ones do not.
        (
            "Diarrhea",
            date(2024, 3, 1),
            [
                ("diarrhea", date(2024, 1, 5)),
                ("Diarrhea", date(2024, 2, 5)),
                ("Diarrhea", date(2024, 3, 1)),
                ("Diarrhea", date(2024, 4, 1)),
            ],
            4,
        ),
    ],
)
def test_occurrence_number(term, onset, others, occurrence):
    assert occurrence_number(term, onset, others) == occurrence


def test_toxicity_advice_as_json():
    advice = toxicity_advice(
        term="Diarrhea",
        grade=2,
        occurrence=2,
        regimen=Regimen(daily_dose_mg=D("50"), administrations_per_day=1),
        drug=DRUGS["sunitinib (intermittent)"],
    )
    output = toxicity_advice_to_json(advice)
    assert output == {
        "action": "interrupt_then_reduce",
        "term": "Diarrhea",
        "grade": 2,
        "occurrence": 2,
        "current_daily_dose_mg": 50,
        "resume_daily_dose_mg": 37.5,
        "resume_administrations_per_day": 1,
        "resume_split_mg": [37.5],
        "warnings": [],
        "measure_ctrough": True,
        "text": advice.text,
    }


# --- defaults, messages and the full texts --------------------------------------------------


def test_a_first_grade_2_event_is_reassessed_unless_no_improvement_is_reported():
    assert toxicity_action(2, 1) == "reassess"


@pytest.mark.parametrize(
    ("grade", "occurrence", "message"),
    [
        (0, 1, "^grade must be between 1 and 5$"),
        (6, 1, "^grade must be between 1 and 5$"),
        (2, 0, "^occurrence must be 1 or more$"),
    ],
)
def test_an_impossible_grade_or_occurrence_is_refused_naming_it(grade, occurrence, message):
    with pytest.raises(ValueError, match=message):
        toxicity_action(grade, occurrence)


@pytest.mark.parametrize(
    ("occurrence", "words"),
    [
        (5, "fifth"),
        (6, "6th"),
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (23, "23rd"),
        (24, "24th"),
        (101, "101st"),
        (111, "111th"),
    ],
)
def test_the_occurrence_is_written_as_an_english_ordinal(occurrence, words):
    advice = toxicity_advice(
        term="Fatigue",
        grade=1,
        occurrence=occurrence,
        regimen=SORAFENIB_800_BID,
        drug=DRUGS["sorafenib"],
    )
    assert advice.text.startswith(f"Fatigue grade 1 ({words} occurrence): continue sorafenib")


def test_an_unrelated_event_text_leaves_the_decision_to_the_physician():
    advice = toxicity_advice(
        term="Fall",
        grade=3,
        occurrence=1,
        regimen=SORAFENIB_800_BID,
        drug=DRUGS["sorafenib"],
        related=False,
    )
    assert advice.text == (
        "Fall grade 3 (first occurrence) is recorded as not related to sorafenib: no dose "
        "modification by the toxicity rules; continue sorafenib 800 mg/day (400 mg + 400 mg) "
        "unless the physician decides otherwise."
    )


def test_no_lower_level_text_asks_the_physician_to_resume_or_discontinue():
    advice = toxicity_advice(
        term="Diarrhea",
        grade=3,
        occurrence=1,
        regimen=Regimen(daily_dose_mg=D("250"), administrations_per_day=1),
        drug=DRUGS["gefitinib"],
    )
    assert advice.text == (
        "Diarrhea grade 3 (first occurrence): interrupt gefitinib until the toxicity has resolved "
        "to grade 0-1. 250 mg/day is not above the lowest dose level (250 mg/day): the physician "
        "decides whether to resume at this dose or discontinue."
    )


def test_a_resume_dose_given_once_daily_instead_of_twice_says_so():
    # sorafenib 400 mg/day twice daily, one level lower is one 200 mg tablet a day.
    advice = toxicity_advice(
        term="Diarrhea",
        grade=3,
        occurrence=1,
        regimen=Regimen(daily_dose_mg=D("400"), administrations_per_day=2),
        drug=DRUGS["sorafenib"],
    )
    assert "then resume one dose level lower at 200 mg/day (once daily instead of twice " in (
        advice.text
    )
