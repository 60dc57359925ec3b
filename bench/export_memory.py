"""Peak memory and time of each study export format on a large synthetic cohort.

    DATABASE_URL=postgres://... .venv/bin/python bench/export_memory.py --samples 100000

Fills the (migrated) database given by DATABASE_URL with a synthetic cohort of about five
samples per treatment, written with `bulk_create` (no services, no advice engine: only the
volume and shape of the rows matter here), unless a bench cohort of that size is already there.
Then runs each export in a child process of its own, which reports its peak resident set size
(VmHWM, so Linux only) and its time. A child that only starts Django and imports the exporters
is the baseline; on PostgreSQL, `COPY (SELECT …) TO STDOUT` of the rows of every table a format
carries is its floor, the least that export can cost. Prints a table and exits 1 if an export's
peak exceeds the limit (default 200 MB). Not part of the test suite: see bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

# Run as a script: its folder is first on the import path.
from common import FLOOR_TABLES, copy_tables, peak_rss_mb, run_json_child, setup_django

SITE_CODE = "BENCH"
FORMATS = ("csv", "xlsx", "json", "fhir")
EXTENSION = {"csv": "zip", "xlsx": "xlsx", "json": "json", "fhir": "ndjson"}
# The floor of each format: COPY of the stored columns of the rows of every table it carries
# (`bench.common.FLOOR_TABLES`).
FLOOR = {"csv": "copy", "xlsx": "copy", "json": "copy", "fhir": "copy-fhir"}
BATCH = 5000
# Samples per treatment are drawn from 3 to 7 (mean 5, as in the DPOG-TDM cohort); one patient
# in five has a second treatment.
SAMPLES_PER_TREATMENT = (3, 7)
SECOND_TREATMENT_SHARE = 0.2
TUMOURS = (
    "hepatocellular carcinoma", "renal cell carcinoma", "gastrointestinal stromal tumour",
    "non-small cell lung cancer", "chronic myeloid leukaemia", "melanoma", "breast cancer",
)  # fmt: skip
AE_TERMS = (
    ("Fatigue", "10016256"), ("Diarrhea", "10012727"), ("Hypertension", "10020772"),
    ("Nausea", "10028813"), ("Anemia", "10002272"),
)  # fmt: skip
ADVICE_STATES = (
    ("accepted", 0.45), ("rejected", 0.05), ("superseded", 0.2), ("released", 0.1),
    ("draft", 0.2),
)  # fmt: skip
CHANGE_REASONS = ("tdm_advice", "toxicity", "step_up")
ACTIONS = ("continue", "increase", "continue_step_up", "reduce", "resample", "stop_step_up")


# The synthetic cohort ---------------------------------------------------------------------------


def _flush(model, rows: list) -> list:
    created = model.objects.bulk_create(rows, batch_size=BATCH)
    rows.clear()
    return created


def seed(samples_wanted: int, rng: random.Random) -> None:
    from django.db import transaction
    from django.utils import timezone

    from advice.models import Advice
    from cases.models import AdverseEvent, DoseRegimen, Drug, Patient, Sample, Site, Treatment

    drugs = list(Drug.objects.filter(metric="cmin", target_ng_ml__isnull=False))
    if not drugs:
        raise SystemExit("the drug catalogue is empty: run `manage.py migrate` first")
    site = Site.objects.create(code=SITE_CODE, name="Synthetic benchmark cohort")
    zone = timezone.get_current_timezone()
    samples_made = 0
    patient_number = 0
    while samples_made < samples_wanted:
        with transaction.atomic():
            patients = []
            for _ in range(1000):
                patient_number += 1
                patients.append(
                    Patient(
                        study_number=f"BENCH-{patient_number:07d}",
                        site=site,
                        sex=rng.choice("MFX"),
                        birth_year=rng.randint(1930, 1985),
                        tumour=rng.choice(TUMOURS),
                    )
                )
            patients = _flush(Patient, patients)
            treatments = []
            for patient in patients:
                for _ in range(2 if rng.random() < SECOND_TREATMENT_SHARE else 1):
                    treatments.append(
                        Treatment(
                            patient=patient,
                            drug=rng.choice(drugs),
                            start_date=datetime.date(2019, 1, 7)
                            + datetime.timedelta(days=rng.randint(0, 1500)),
                        )
                    )
            treatments = _flush(Treatment, treatments)
            regimens, sample_rows, events = [], [], []
            for treatment in treatments:
                levels = [Decimal(level) for level in treatment.drug.dose_levels_mg.split(";")]
                level = rng.randrange(len(levels))
                day = treatment.start_date
                for index in range(rng.randint(1, 5)):
                    level = max(0, min(len(levels) - 1, level + rng.choice((-1, 1))))
                    regimens.append(
                        DoseRegimen(
                            treatment=treatment,
                            effective_from=day,
                            daily_dose_mg=levels[level],
                            administrations_per_day=treatment.drug.administrations_per_day,
                            split_mg=[float(levels[level])],
                            reason="start"
                            if index == 0
                            else rng.choice(("tdm_advice", "toxicity")),
                        )
                    )
                    day += datetime.timedelta(days=rng.randint(28, 120))
                target = treatment.drug.target_ng_ml
                for week in range(rng.randint(*SAMPLES_PER_TREATMENT)):
                    if samples_made >= samples_wanted:
                        break
                    samples_made += 1
                    drawn = datetime.datetime.combine(
                        treatment.start_date + datetime.timedelta(weeks=4 * (week + 1)),
                        datetime.time(9, rng.randint(0, 59)),
                        tzinfo=zone,
                    )
                    hours = Decimal(rng.randint(200, 2600)) / 100
                    level_ng_ml = (target * Decimal(rng.lognormvariate(0, 0.4))).quantize(
                        Decimal("0.01")
                    )
                    cancelled = rng.random() < 0.03
                    sample_rows.append(
                        Sample(
                            treatment=treatment,
                            status="cancelled" if cancelled else "resulted",
                            cancel_reason="synthetic" if cancelled else "",
                            drawn_at=drawn,
                            last_dose_at=drawn - datetime.timedelta(hours=float(hours)),
                            daily_dose_mg=levels[level],
                            administrations_per_day=treatment.drug.administrations_per_day,
                            concentration=level_ng_ml,
                            concentration_ng_ml=level_ng_ml,
                            hours_after_dose=hours,
                            estimated_ctrough_ng_ml=level_ng_ml,
                            method=rng.choice(("measured", "extrapolated")),
                            evaluable=rng.random() < 0.85,
                            not_evaluable_reasons=[],
                            warnings=[],
                        )
                    )
                for _ in range(rng.choice((0, 1, 1, 2, 3))):
                    term, meddra_code = rng.choice(AE_TERMS)
                    events.append(
                        AdverseEvent(
                            treatment=treatment,
                            term=term,
                            meddra_code=meddra_code,
                            grade=rng.choice((1, 1, 2, 2, 3)),
                            onset=treatment.start_date
                            + datetime.timedelta(days=rng.randint(5, 200)),
                            related=rng.random() < 0.8,
                        )
                    )
            _flush(DoseRegimen, regimens)
            _flush(AdverseEvent, events)
            advice = []
            for sample in _flush(Sample, sample_rows):
                if sample.status != "resulted":
                    continue
                state = rng.choices([s for s, _ in ADVICE_STATES], [w for _, w in ADVICE_STATES])[0]
                advice.append(
                    Advice(
                        treatment_id=sample.treatment_id,
                        kind="sample",
                        sample=sample,
                        state=state,
                        inputs={"synthetic": True},
                        computed={"synthetic": True},
                        action=rng.choice(ACTIONS),
                        evaluable=sample.evaluable,
                        ctrough_ng_ml=sample.estimated_ctrough_ng_ml,
                        current_daily_dose_mg=sample.daily_dose_mg,
                        proposed_daily_dose_mg=sample.daily_dose_mg,
                        proposed_administrations_per_day=sample.administrations_per_day,
                        proposed_split_mg=[float(sample.daily_dose_mg)],
                        text="synthetic advice",
                        rejection_reason="synthetic" if state == "rejected" else "",
                    )
                )
            _flush(Advice, advice)
        print(f"  {samples_made} samples", file=sys.stderr, end="\r")
    print(file=sys.stderr)


def cohort_size() -> dict[str, int]:
    from advice.models import Advice
    from cases.models import AdverseEvent, DoseRegimen, Patient, Sample, Treatment

    return {
        "patients": Patient.objects.count(),
        "treatments": Treatment.objects.count(),
        "doses": DoseRegimen.objects.count(),
        "samples": Sample.objects.count(),
        "advice": Advice.objects.count(),
        "adverse_events": AdverseEvent.objects.count(),
    }


# The child processes ----------------------------------------------------------------------------


def child(task: str, out: Path) -> None:
    """Run one measured task and print what it did as JSON on stdout."""
    setup_django("tdm_site.settings")
    from study.export import write_export
    from study.pseudonym import Pseudonymiser

    started = time.perf_counter()
    if task == "baseline":
        rows = {}
    elif task == "copy":
        rows = copy_tables(out, FLOOR_TABLES["csv"])
    elif task == "copy-fhir":
        rows = copy_tables(out, FLOOR_TABLES["fhir"])
    else:
        rows = write_export(task, out, pseudonymiser=Pseudonymiser()).rows
    seconds = time.perf_counter() - started
    size = out.stat().st_size if out.exists() else 0
    print(json.dumps({"seconds": seconds, "rows": rows, "bytes": size, "peak_mb": peak_rss_mb()}))


def measure(task: str, folder: Path) -> dict:
    out = folder / f"export.{EXTENSION.get(task, 'csv')}"
    result = run_json_child([__file__, "--child", task, "--out", str(out)])
    out.unlink(missing_ok=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--limit-mb", type=float, default=200.0)
    parser.add_argument("--seed", type=int, default=20240108)
    parser.add_argument(
        "--formats", default=",".join(FORMATS), help="comma-separated formats to measure"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.child, options.out)
        return 0

    setup_django("tdm_site.settings")
    from django.db import connection

    from cases.models import Sample, Site

    if Site.objects.filter(code=SITE_CODE).exists():
        existing = Sample.objects.count()
        if existing != options.samples:
            print(
                f"the database already holds a bench cohort of {existing} samples; "
                f"use a fresh database for {options.samples}",
                file=sys.stderr,
            )
            return 2
        print(f"reusing the bench cohort already in the database ({existing} samples)")
    else:
        started = time.perf_counter()
        seed(options.samples, random.Random(options.seed))
        print(f"created the bench cohort in {time.perf_counter() - started:.0f} s")
    size = cohort_size()
    print("cohort: " + ", ".join(f"{name} {count}" for name, count in size.items()))
    print(f"database: {connection.vendor}")

    formats = [fmt for fmt in options.formats.split(",") if fmt]
    tasks = ["baseline", *formats]
    if connection.vendor == "postgresql":
        tasks.extend(dict.fromkeys(FLOOR[fmt] for fmt in formats))
    connection.close()
    results = {}
    with tempfile.TemporaryDirectory(prefix="etdm-bench-") as folder:
        for task in tasks:
            results[task] = measure(task, Path(folder))
    print()
    print(f"{'task':<10} {'seconds':>8} {'file MB':>8} {'peak RSS MB':>12} {'× floor':>8}")
    for task, result in results.items():
        floor = results.get(FLOOR.get(task, ""))
        ratio = f"{result['seconds'] / floor['seconds']:>8.1f}" if floor else ""
        print(
            f"{task:<10} {result['seconds']:>8.2f} {result['bytes'] / 1e6:>8.1f} "
            f"{result['peak_mb']:>12.1f} {ratio}"
        )
    over = [task for task in formats if results[task]["peak_mb"] > options.limit_mb]
    if over:
        print(f"over the {options.limit_mb:.0f} MB limit: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
