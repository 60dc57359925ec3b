"""The `advise` and `schedule` commands (docs/clinical-rules.md §11, docs/sampling-schedule.md
§11): JSON in, JSON out, exit 2 on bad input."""

import copy
import datetime
import io
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from cases.models import Drug

ROOT = Path(__file__).resolve().parents[2]
LAST_DOSE = datetime.datetime(2024, 2, 29, 8, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))

SORAFENIB_CASE = {
    "drug": "sorafenib",
    "indication": None,
    "phase": "maintenance",
    "regimen": {"daily_dose_mg": 600, "administrations_per_day": 2},
    "treatment_start": "2023-10-02",
    "last_dose_change": "2024-01-01",
    "sample": {
        "drawn_at": "2024-03-01T09:00:00+01:00",
        "last_dose_at": "2024-02-29T21:00:00+01:00",
        "concentration": 2870,
        "unit": "ng/mL",
        "below_lloq": False,
    },
    "adverse_events": [],
}


def run_command(name: str, payload: object, tmp_path: Path) -> dict:
    source = tmp_path / "input.json"
    source.write_text(json.dumps(payload))
    out = io.StringIO()
    call_command(name, str(source), stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_sorafenib_example_of_the_spec(tmp_path):
    advice = run_command("advise", SORAFENIB_CASE, tmp_path)
    assert advice["action"] == "increase"
    assert advice["evaluable"] is True
    assert advice["reasons"] == []
    assert advice["hours_after_dose"] == 12
    assert advice["ctrough_ng_ml"] == 2870
    assert advice["method"] == "measured"
    assert advice["target_ng_ml"] == 3750
    assert advice["current_daily_dose_mg"] == 600
    assert advice["proposed_daily_dose_mg"] == 800
    assert advice["proposed_split_mg"] == [400, 400]
    assert advice["predicted_ctrough_ng_ml"] == pytest.approx(3826.67)
    assert advice["warnings"] == ["nonlinear_absorption"]
    assert advice["checks"] == ["adherence", "drug_interactions"]
    assert "800 mg/day" in advice["text"]
    assert "3750 ng/mL" in advice["text"]


@pytest.mark.django_db
def test_advise_uses_the_installations_catalogue(tmp_path):
    Drug.objects.filter(name="sorafenib").update(target_ng_ml=Decimal(2500))
    advice = run_command("advise", SORAFENIB_CASE, tmp_path)
    assert advice["target_ng_ml"] == 2500
    assert advice["action"] == "continue"


@pytest.mark.django_db
def test_every_catalogue_row_runs_through_advise(tmp_path):
    for drug in Drug.objects.all():
        facts = drug.facts()
        case = copy.deepcopy(SORAFENIB_CASE)
        tau_h = 24 // facts.administrations_per_day
        case.update(
            drug=facts.drug,
            indication=facts.indication,
            regimen={
                "daily_dose_mg": float(facts.standard_daily_dose_mg),
                "administrations_per_day": facts.administrations_per_day,
            },
            treatment_start="2024-02-12",
            last_dose_change="2024-02-12",
        )
        # Drawn exactly one dosing interval after the last dose: a true trough.
        case["sample"]["last_dose_at"] = LAST_DOSE.isoformat()
        case["sample"]["drawn_at"] = (LAST_DOSE + datetime.timedelta(hours=tau_h)).isoformat()
        case["sample"]["concentration"] = float(facts.mean_exposure or 100)
        advice = run_command("advise", case, tmp_path)
        assert advice["action"], facts.label
        if facts.metric == "auc":
            assert advice["action"] == "no_target"
        elif facts.cycle_on_days is None:
            assert advice["evaluable"] is True, (facts.label, advice["reasons"])
            assert advice["method"] == "measured"


def _broken(path: str, value: object) -> dict:
    case = copy.deepcopy(SORAFENIB_CASE)
    *parents, last = path.split(".")
    target = case
    for part in parents:
        target = target[part]
    target[last] = value
    return case


MALFORMED = [
    pytest.param(_broken("drug", "aspirin"), "drug", id="unknown drug"),
    pytest.param(
        {**_broken("drug", "imatinib"), "indication": None}, "indication", id="no indication"
    ),
    pytest.param(_broken("sample.unit", "mmol"), "sample.unit", id="unit mmol"),
    pytest.param(
        _broken("sample.drawn_at", "2024-03-01T09:00:00"), "sample.drawn_at", id="naive time"
    ),
    pytest.param(
        {
            **SORAFENIB_CASE,
            "adverse_events": [
                {
                    "term": "Fatigue",
                    "grade": 7,
                    "onset": "2024-02-01",
                    "resolved": None,
                    "related": True,
                }
            ],
        },
        "adverse_events[0].grade",
        id="grade 7",
    ),
    pytest.param(_broken("sample.concentration", -5), "sample.concentration", id="negative"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("case", "field"), MALFORMED)
def test_malformed_advice_case_exits_2_naming_the_field(tmp_path, case, field):
    with pytest.raises(CommandError) as raised:
        run_command("advise", case, tmp_path)
    assert raised.value.returncode == 2
    assert str(raised.value).startswith(f"{field}:")


def test_schedule_command_follows_spec_6(tmp_path):
    due = run_command(
        "schedule",
        {
            "start": "2024-01-08",
            "dose_changes": ["2024-02-12"],
            "interruptions": [["2024-06-01", "2024-06-15"]],
            "stop": None,
            "until": "2024-12-31",
        },
        tmp_path,
    )
    assert due == {
        "due": [
            {"date": "2024-02-05", "kind": "regular"},
            # 2024-03-04 (week 8) lies 7 days before the post-change date: dropped.
            {"date": "2024-03-11", "kind": "post_change"},
            {"date": "2024-04-01", "kind": "regular"},
            {"date": "2024-06-24", "kind": "regular"},
            {"date": "2024-07-13", "kind": "post_change"},
            {"date": "2024-09-16", "kind": "regular"},
            {"date": "2024-12-09", "kind": "regular"},
        ]
    }


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"start": "2024-01-08"', "input"),
        (
            '{"start": "2024-01-08", "dose_changes": ["2024-13-01"], "interruptions": [], '
            '"stop": null, "until": "2024-12-31"}',
            "dose_changes[0]",
        ),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_code_2(text, field):
    result = subprocess.run(
        [sys.executable, "manage.py", "schedule", "-"],
        cwd=ROOT,
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"{field}:" in lines[0]
    assert "Traceback" not in result.stderr
