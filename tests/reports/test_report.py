"""The advice report: its wording, the PDF's contents, byte stability, and how it looks."""

from __future__ import annotations

import hashlib
import io
import os
from contextlib import closing
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pypdfium2
import pytest
import time_machine
from PIL import ImageStat
from pypdf import PdfReader

from advice.engine.case import AdverseEventInput
from reports.render import render_pdf, write_pdf_atomically
from reports.report import (
    DosePeriod,
    PlotPoint,
    ReportData,
    Signature,
    format_regimen,
    report_context,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
PATIENT_NAME = "Johanna van Leeuwen"
RECORD_NUMBER = "MRN-7730215"


def at(text: str) -> datetime:
    """An Amsterdam wall-clock time from 'YYYY-MM-DD HH:MM'."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=AMSTERDAM)


def sorafenib_report(**changes) -> ReportData:
    """The study's worked example: 600 mg/day BID, Ctrough 2870 ng/mL → increase to 800."""
    data = ReportData(
        site_name="Hospital A",
        site_code="SITEA",
        study_number="TDM-0001",
        patient_name=PATIENT_NAME,
        record_number=RECORD_NUMBER,
        birth_year=1958,
        sex="F",
        tumour="hepatocellular carcinoma",
        drug_label="sorafenib",
        analyte="parent",
        unit="ng/mL",
        target_ng_ml=Decimal(3750),
        upper_threshold_ng_ml=None,
        mean_exposure=Decimal(3750),
        metric="cmin",
        evidence_level="exploratory",
        target_basis="mean_exposure",
        current_daily_dose_mg=Decimal(600),
        current_administrations_per_day=2,
        current_split_mg=(Decimal(400), Decimal(200)),
        drawn_at=at("2024-02-05 09:00"),
        last_dose_at=at("2024-02-04 21:00"),
        hours_after_dose=Decimal("12.00"),
        measured_value=Decimal(2870),
        measured_unit="ng/mL",
        below_lloq=False,
        ctrough_ng_ml=Decimal("2870.00"),
        method="measured",
        evaluable=True,
        reasons=(),
        action="increase",
        proposed_daily_dose_mg=Decimal(800),
        proposed_administrations_per_day=2,
        proposed_split_mg=(Decimal(400), Decimal(400)),
        predicted_ctrough_ng_ml=Decimal("3826.67"),
        warnings=("nonlinear_absorption",),
        checks=("adherence", "drug_interactions"),
        text=(
            "Estimated Ctrough 2870 ng/mL is below the target of 3750 ng/mL without "
            "treatment-related toxicity of grade 2 or higher. Increase sorafenib from "
            "600 mg/day to 800 mg/day (400 mg + 400 mg); predicted Ctrough 3827 ng/mL "
            "(exposure may rise less than proportionally)."
        ),
        provisional=False,
        computed_text=None,
        kind="sample",
        state="draft",
        advice_id=42,
        generated_at=at("2024-02-05 10:15"),
        time_zone="Europe/Amsterdam",
        released_by=None,
        released_at=None,
        points=(
            PlotPoint(
                drawn_at=at("2023-11-06 08:45"),
                ctrough_ng_ml=Decimal("4410.00"),
                measured_ng_ml=Decimal(4520),
                daily_dose_mg=Decimal(800),
                evaluable=True,
                is_current=False,
            ),
            PlotPoint(
                drawn_at=at("2023-12-18 10:30"),
                ctrough_ng_ml=None,
                measured_ng_ml=Decimal(1980),
                daily_dose_mg=Decimal(600),
                evaluable=False,
                is_current=False,
            ),
            PlotPoint(
                drawn_at=at("2024-01-08 09:10"),
                ctrough_ng_ml=Decimal("3020.00"),
                measured_ng_ml=Decimal(3050),
                daily_dose_mg=Decimal(600),
                evaluable=True,
                is_current=False,
            ),
            PlotPoint(
                drawn_at=at("2024-02-05 09:00"),
                ctrough_ng_ml=Decimal("2870.00"),
                measured_ng_ml=Decimal(2870),
                daily_dose_mg=Decimal(600),
                evaluable=True,
                is_current=True,
            ),
        ),
        doses=(
            DosePeriod(effective_from=date(2023, 10, 9), daily_dose_mg=Decimal(800)),
            DosePeriod(effective_from=date(2023, 11, 20), daily_dose_mg=Decimal(600)),
        ),
        adverse_events=(
            AdverseEventInput(
                term="Fatigue", grade=1, onset=date(2024, 1, 20), resolved=None, related=True
            ),
            AdverseEventInput(
                term="Palmar-plantar erythrodysesthesia syndrome",
                grade=1,
                onset=date(2023, 11, 14),
                resolved=None,
                related=True,
            ),
        ),
        signature=None,
    )
    return replace(data, **changes)


def accepted_signature() -> Signature:
    return Signature(
        printed_name="Dr. Pieter Bakker",
        signed_at=at("2024-02-06 14:32"),
        time_zone="Europe/Amsterdam",
        meaning="accepted",
        reason="",
        checks_confirmed=("adherence", "drug_interactions"),
        effective_date=date(2024, 2, 7),
        action="increase",
        states_prescription=True,
    )


def pdf_text(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    # Line breaks fall wherever the layout wraps; the assertions read the text as one line.
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.fixture(scope="module")
def draft_pdf() -> bytes:
    return render_pdf(sorafenib_report())


# --- context ----------------------------------------------------------------------------


def test_context_formats_the_worked_example_for_print():
    context = report_context(sorafenib_report())

    assert context["copy_label"] == "Clinical copy"
    assert context["state_label"] == "DRAFT — not released"
    assert context["drug"]["current_regimen"] == "600 mg/day = 400 mg + 200 mg (twice daily)"
    assert context["sample"]["drawn_at"] == "5 Feb 2024 09:00 CET"
    assert context["sample"]["last_dose_at"] == "4 Feb 2024 21:00 CET"
    assert context["sample"]["hours_after_dose"] == "12 h"
    assert context["sample"]["ctrough"] == "2870 ng/mL"
    assert context["sample"]["method"] == "measured at trough"
    assert context["target"]["target"] == "Ctrough ≥ 3750 ng/mL"
    assert context["advice"]["action"] == "Increase dose"
    assert context["advice"]["proposed_regimen"] == "800 mg/day = 400 mg + 400 mg (twice daily)"
    assert context["advice"]["predicted_ctrough"] == "3827 ng/mL (linear estimate)"
    assert context["advice"]["warnings"] == ["Exposure may rise less than proportionally"]
    assert context["advice"]["checks"] == [
        "Confirm the patient takes every dose as prescribed",
        "Check co-medication (and food) for interactions",
    ]
    assert context["plot_svg"].startswith("<svg")


def test_context_shows_times_in_summer_time_with_its_zone():
    context = report_context(sorafenib_report(drawn_at=at("2024-07-01 08:30")))

    assert context["sample"]["drawn_at"] == "1 Jul 2024 08:30 CEST"


def test_context_keeps_the_judged_precision_of_the_estimate():
    # A Ctrough just short of the target must not be printed as the target itself.
    context = report_context(sorafenib_report(ctrough_ng_ml=Decimal("3749.50")))

    assert context["sample"]["ctrough"] == "3749.5 ng/mL"


@pytest.mark.parametrize(
    ("daily", "administrations", "split", "expected"),
    [
        ("400", 1, ("400",), "400 mg/day (once daily)"),
        ("1000", 2, ("600", "400"), "1000 mg/day = 600 mg + 400 mg (twice daily)"),
        ("37.5", 1, ("37.5",), "37.5 mg/day (once daily)"),
        ("0", 2, (), "0 mg/day (treatment interrupted)"),
    ],
)
def test_regimen_wording(daily, administrations, split, expected):
    parts = tuple(Decimal(part) for part in split)
    assert format_regimen(Decimal(daily), administrations, parts) == expected


# --- PDF contents -----------------------------------------------------------------------


def test_pdf_holds_the_clinical_facts(draft_pdf):
    text = pdf_text(draft_pdf)

    for expected in (
        "Hospital A",
        "Clinical copy",
        "TDM-0001",
        PATIENT_NAME,
        RECORD_NUMBER,
        "sorafenib",
        "600 mg/day = 400 mg + 200 mg (twice daily)",
        "5 Feb 2024 09:00 CET",
        "4 Feb 2024 21:00 CET",
        "12 h",
        "2870 ng/mL",
        "measured at trough",
        "Ctrough ≥ 3750 ng/mL",
        "exploratory",
        "population mean exposure",
        "Increase dose",
        "800 mg/day = 400 mg + 400 mg (twice daily)",
        "3827 ng/mL",
        "Exposure may rise less than proportionally",
        "Confirm the patient takes every dose as prescribed",
        "Check co-medication (and food) for interactions",
        "Fatigue",
        "Grade 1",
        "DRAFT — not released",
        "Accepted",
        "Rejected",
    ):
        assert expected in text, expected


def test_pseudonymised_copy_carries_no_name_or_record_number():
    content = render_pdf(sorafenib_report(patient_name=None, record_number=None))
    text = pdf_text(content)
    metadata = " ".join(str(value) for value in PdfReader(io.BytesIO(content)).metadata.values())

    assert "Pseudonymised copy" in text
    assert "TDM-0001" in text
    for identifying in (PATIENT_NAME, "Leeuwen", RECORD_NUMBER, "7730215"):
        assert identifying not in text
        assert identifying not in metadata
        assert identifying.encode() not in content
        assert identifying.encode("utf-16-be") not in content


def test_same_data_gives_identical_bytes(draft_pdf):
    again = render_pdf(sorafenib_report())

    assert hashlib.sha256(again).hexdigest() == hashlib.sha256(draft_pdf).hexdigest()


def test_rendering_does_not_depend_on_the_clock(draft_pdf):
    # Embedded fonts carry a timestamp unless rendering pins it.
    with time_machine.travel(datetime(2031, 6, 1, 12, 0, tzinfo=AMSTERDAM), tick=False):
        later = render_pdf(sorafenib_report())

    assert later == draft_pdf


def test_signed_report_carries_the_decision():
    text = pdf_text(
        render_pdf(
            sorafenib_report(
                state="accepted",
                released_by="Anna de Vries",
                released_at=at("2024-02-05 11:20"),
                signature=accepted_signature(),
            )
        )
    )

    assert "Accepted by the physician" in text
    assert "Dr. Pieter Bakker" in text
    assert "6 Feb 2024 14:32 CET (Europe/Amsterdam)" in text
    assert "accepted" in text
    assert "Prescription The new dose takes effect on 7 Feb 2024" in text
    assert "Released by Anna de Vries on 5 Feb 2024 11:20 CET" in text


def test_rejected_report_carries_the_reason():
    signature = replace(
        accepted_signature(),
        meaning="rejected",
        reason="Patient reports grade 2 diarrhoea since yesterday",
        checks_confirmed=(),
        effective_date=None,
        states_prescription=False,
    )
    text = pdf_text(render_pdf(sorafenib_report(state="rejected", signature=signature)))

    assert "rejected" in text
    assert "Patient reports grade 2 diarrhoea since yesterday" in text
    assert "Prescription" not in text


@pytest.mark.parametrize(
    ("action", "effective_date", "states_prescription", "prescription"),
    [
        ("increase", date(2024, 2, 7), True, "The new dose takes effect on 7 Feb 2024"),
        # An accepted advice that changed nothing says so instead of naming a date.
        ("continue", None, True, "No dose change"),
        ("increase", None, True, "No dose change"),
        (
            "interrupt_then_reduce",
            date(2024, 2, 7),
            True,
            "The treatment is interrupted from 7 Feb 2024",
        ),
        ("discontinue", date(2024, 2, 7), True, "The treatment stops on 7 Feb 2024"),
        # A decision imported with a cohort states no prescription of its own.
        ("increase", None, False, None),
    ],
)
def test_the_signature_states_what_the_acceptance_prescribed(
    action, effective_date, states_prescription, prescription
):
    signature = replace(
        accepted_signature(),
        action=action,
        effective_date=effective_date,
        states_prescription=states_prescription,
    )

    context = report_context(sorafenib_report(state="accepted", signature=signature))

    assert context["signature"]["prescription"] == prescription


def test_a_signed_report_without_a_dose_change_says_no_dose_change():
    signature = replace(accepted_signature(), action="continue", effective_date=None)
    text = pdf_text(render_pdf(sorafenib_report(state="accepted", signature=signature)))

    assert "Prescription No dose change" in text
    assert "takes effect" not in text


def test_a_withdrawn_advice_report_says_so():
    context = report_context(sorafenib_report(state="withdrawn"))

    assert context["state_label"] == "WITHDRAWN by the pharmacist"
    assert context["state_is_warning"] is True


def test_edited_advice_shows_the_computed_original_beside_it():
    data = sorafenib_report(
        text="Increase sorafenib to 800 mg/day (400 mg twice daily) after the holiday.",
        computed_text=sorafenib_report().text,
    )
    text = pdf_text(render_pdf(data))

    assert "after the holiday" in text
    assert "Originally computed advice" in text
    assert "without treatment-related toxicity" in text


def test_provisional_advice_is_marked():
    text = pdf_text(render_pdf(sorafenib_report(provisional=True, warnings=("not_steady_state",))))

    assert "PROVISIONAL" in text
    assert "Drawn less than 5 half-lives after the start" in text


def test_auc_drug_report_says_it_has_no_ctrough_target():
    data = sorafenib_report(
        drug_label="axitinib",
        unit="ng*h/mL",
        metric="auc",
        target_ng_ml=Decimal(300),
        mean_exposure=Decimal(375),
        target_basis="threshold",
        evidence_level="promising",
        action="no_target",
        proposed_daily_dose_mg=Decimal(600),
        proposed_split_mg=(Decimal(400), Decimal(200)),
        predicted_ctrough_ng_ml=None,
        warnings=(),
        checks=(),
    )
    text = pdf_text(render_pdf(data))

    assert "AUC ≥ 300 ng·h/mL — no Ctrough target" in text
    assert "No dose advice (drug monitored by AUC)" in text


def test_toxicity_advice_without_a_sample_renders():
    data = sorafenib_report(
        kind="toxicity",
        drawn_at=None,
        last_dose_at=None,
        hours_after_dose=None,
        measured_value=None,
        ctrough_ng_ml=None,
        method=None,
        evaluable=None,
        action="interrupt_then_reduce",
        proposed_daily_dose_mg=Decimal(400),
        proposed_split_mg=(Decimal(200), Decimal(200)),
        predicted_ctrough_ng_ml=None,
        warnings=(),
        checks=(),
        adverse_events=(
            AdverseEventInput(
                term="Diarrhea", grade=3, onset=date(2024, 2, 4), resolved=None, related=True
            ),
        ),
    )
    text = pdf_text(render_pdf(data))

    assert "ADVICE ON TOXICITY" in text
    assert "Interrupt until grade ≤ 1, resume one level lower" in text
    assert "not based on a sample" in text


# --- appearance -------------------------------------------------------------------------


def test_report_fits_on_one_page_and_its_plot_is_drawn(draft_pdf):
    ARTIFACTS.mkdir(exist_ok=True)
    scale = 2  # 144 dpi: the plot's 7 pt labels stay readable when the image is opened
    with closing(pypdfium2.PdfDocument(draft_pdf)) as document:
        page = document[0]
        image = page.render(scale=scale).to_pil().convert("L")
        image.save(ARTIFACTS / "advice_report_page1.png")
        # The plot lies between its heading and the next section's heading.
        top = _heading_top(page, "CTROUGH OVER TIME")
        bottom = _heading_top(page, "ACTIVE ADVERSE EVENTS")
        height = page.get_height()
        pages = len(document)
    plot = image.crop((0, int((height - top) * scale), image.width, int((height - bottom) * scale)))
    plot.save(ARTIFACTS / "advice_report_plot.png")
    non_white = sum(plot.histogram()[:200]) / (plot.width * plot.height)

    assert pages == 1
    assert plot.height > 150 * scale
    assert non_white > 0.02
    assert ImageStat.Stat(plot).stddev[0] > 20


def _heading_top(page: pypdfium2.PdfPage, heading: str) -> float:
    """The top edge (PDF points from the bottom) of the first run of `heading` on the page."""
    text_page = page.get_textpage()
    searcher = text_page.search(heading, match_case=False)
    found = searcher.get_next()
    assert found is not None, heading
    first_char, _count = found
    _left, _bottom, _right, char_top = text_page.get_charbox(first_char)
    return char_top


# --- storing ----------------------------------------------------------------------------


def test_write_pdf_atomically_stores_the_bytes_and_returns_their_sha256(tmp_path, draft_pdf):
    path = tmp_path / "advice-42.pdf"

    digest = write_pdf_atomically(draft_pdf, path)

    assert path.read_bytes() == draft_pdf
    assert digest == hashlib.sha256(draft_pdf).hexdigest()
    assert [entry.name for entry in tmp_path.iterdir()] == ["advice-42.pdf"]


@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_write_pdf_atomically_leaves_no_partial_file(tmp_path, monkeypatch, failing):
    path = tmp_path / "advice-42.pdf"
    path.write_bytes(b"%PDF- the earlier report")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OSError, match="disk full"):
        write_pdf_atomically(b"%PDF- the new report", path)

    assert path.read_bytes() == b"%PDF- the earlier report"
    assert [entry.name for entry in tmp_path.iterdir()] == ["advice-42.pdf"]


def test_write_pdf_atomically_creates_nothing_when_the_first_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "advice-42.pdf"

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        write_pdf_atomically(b"%PDF- the new report", path)

    assert list(tmp_path.iterdir()) == []
