"""The CSV export opens in pandas with the types its data dictionary declares
(docs/data-dictionary.md; the data is for SPSS and R); every non-empty cell converts."""

from __future__ import annotations

import datetime
import io
import zipfile
from decimal import Decimal

import pandas as pd
import pytest

from cases import services
from cases.models import DoseRegimen
from study.export import write_export
from study.pseudonym import Pseudonymiser

pytestmark = pytest.mark.django_db

READ_AS = {"integer": "Int64", "decimal": "Float64", "boolean": "boolean", "text": "string"}


def test_every_table_reads_with_the_dictionarys_types(case_at, staff, tmp_path):
    case = case_at("a")
    case_at("b", adverse_event=False)
    services.dose_regimen_create(
        actor=staff["nurse_a"],
        treatment=case["treatment"],
        effective_from=datetime.date(2024, 2, 12),
        daily_dose_mg=Decimal(800),
        administrations_per_day=2,
        reason=DoseRegimen.Reason.STEP_UP,
    )
    path = tmp_path / "study.zip"
    write_export("csv", path, pseudonymiser=Pseudonymiser())
    archive = zipfile.ZipFile(path)
    dictionary = pd.read_csv(io.BytesIO(archive.read("dictionary.csv")), dtype="string")
    tables = {}
    for table, columns in dictionary.groupby("table"):
        types = dict(zip(columns["column"], columns["type"], strict=True))
        member = next(name for name in archive.namelist() if name.startswith(f"{table}."))
        raw = pd.read_csv(io.BytesIO(archive.read(member)), dtype="string", keep_default_na=False)
        assert list(raw.columns) == list(columns["column"])
        typed = pd.read_csv(
            io.BytesIO(archive.read(member)),
            dtype={c: READ_AS[t] for c, t in types.items() if t in READ_AS},
            true_values=["true"],
            false_values=["false"],
        )
        for column, kind in types.items():
            if kind == "date":
                typed[column] = pd.to_datetime(typed[column], format="%Y-%m-%d")
            elif kind == "datetime":
                typed[column] = pd.to_datetime(typed[column], format="ISO8601", utc=True)
            # A cell that held text must not have become missing in the conversion.
            assert (typed[column].isna() == (raw[column] == "")).all(), (table, column)
        tables[table] = typed
    samples = tables["samples"]
    assert samples["concentration_ng_ml"].tolist() == [2870.0, 2870.0]
    assert samples["evaluable"].tolist() == [True, True]
    assert str(samples["drawn_at"].dt.tz) == "UTC"
    doses = tables["doses"]
    assert sorted(doses["daily_dose_mg"].tolist()) == [600.0, 600.0, 800.0]
    assert tables["patients"]["birth_year"].tolist() == [1960, 1960]
