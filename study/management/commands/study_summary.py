"""`python manage.py study_summary [--drug NAME] [--as-of YYYY-MM-DD] [--json]`.

The study figures of docs/study-outcomes.md for one drug or the whole cohort, computed by
`study.summary` exactly as the study dashboard shows them. `--json` prints the JSON document of
docs/study-outcomes.md §1; without it a short table for reading. A drug that is not in the catalogue
or a malformed date ends the command with exit code 2 and one line naming the option.
"""

import datetime
import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from advice.engine.case_input import parse_date
from advice.engine.errors import InputError
from study.summary import UnknownDrug, study_summary

BAD_INPUT_EXIT_CODE = 2
LABEL_WIDTH = 42

# The table's rows: JSON key and what it is called on screen.
COUNTS = (
    ("patients", "patients"),
    ("evaluable_patients", "evaluable patients"),
    ("samples", "samples"),
    ("evaluable_samples", "evaluable samples"),
)
DISTRIBUTIONS = (
    ("samples_per_patient", "samples per patient, median (IQR)"),
    ("ctrough_ng_ml", "Ctrough ng/mL, median (IQR)"),
)
OUTCOMES = (
    ("patients_with_sample_below_target", "patients with a sample below target"),
    ("patients_with_tdm_intervention", "patients with a TDM intervention"),
    ("tdm_interventions", "TDM interventions"),
    ("successful_interventions", "successful interventions"),
    ("patients_with_successful_intervention", "patients with a successful intervention"),
    ("advice_rejected", "advice rejected by the physician"),
)
NOT_AVAILABLE = "–"


class Command(BaseCommand):
    help = (
        "Print the study summary figures (docs/study-outcomes.md) for one drug or the whole cohort."
    )

    def add_arguments(self, parser):
        parser.add_argument("--drug", help="catalogue drug name (all its indications)")
        parser.add_argument(
            "--as-of",
            dest="as_of",
            help="YYYY-MM-DD: last day of the relative dose intensity (default today)",
        )
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="print the figures as JSON"
        )

    def handle(self, *args, drug: str | None, as_of: str | None, as_json: bool, **options):
        drug_name = drug.strip().lower() if drug is not None else None
        as_of_date = _parse_as_of(as_of) if as_of is not None else timezone.localdate()
        try:
            summary = study_summary(drug=drug_name, as_of=as_of_date)
        except UnknownDrug:
            raise CommandError(
                f"--drug: {drug!r} is not a drug of the catalogue", returncode=BAD_INPUT_EXIT_CODE
            ) from None
        if as_json:
            self.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
        else:
            self.stdout.write(_table(summary, drug_name, as_of_date))


def _parse_as_of(text: str) -> datetime.date:
    try:
        return parse_date(text, "--as-of")
    except InputError as error:
        raise CommandError(str(error), returncode=BAD_INPUT_EXIT_CODE) from None


def _number(value: object) -> str:
    return NOT_AVAILABLE if value is None else str(value)


def _distribution(figure: dict) -> str:
    if figure["median"] is None:
        return NOT_AVAILABLE
    return f"{figure['median']} ({figure['q1']}–{figure['q3']})"


def _row(label: str, value: str) -> str:
    return f"{label:<{LABEL_WIDTH}}{value}"


def _table(summary: dict, drug: str | None, as_of: datetime.date) -> str:
    lines = [
        f"Study summary: {drug or 'all drugs'} (relative dose intensity up to {as_of:%Y-%m-%d})"
    ]
    lines += [_row(label, _number(summary[key])) for key, label in COUNTS]
    lines += [_row(label, _distribution(summary[key])) for key, label in DISTRIBUTIONS]
    below = summary["samples_below_target_pct"]
    lines.append(
        _row("evaluable samples below target", NOT_AVAILABLE if below is None else f"{below} %")
    )
    lines += [_row(label, _number(summary[key])) for key, label in OUTCOMES]
    lines.append(
        _row(
            "relative dose intensity, median (IQR)",
            _distribution(summary["relative_dose_intensity"]),
        )
    )
    reasons = summary["no_escalation_reasons"]
    lines.append(_row("reasons for not escalating (patients)", "" if reasons else NOT_AVAILABLE))
    lines += [_row(f"  {term}", str(patients)) for term, patients in reasons.items()]
    return "\n".join(lines)
