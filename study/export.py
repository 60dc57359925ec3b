"""Writing a pseudonymised study export (docs/data-dictionary.md) in one of four formats.

- `csv`: one zip holding one CSV file per table of `study.tables` and `dictionary.csv`
  (table, column, type, unit, description). UTF-8 without byte-order mark, comma-separated,
  a header row, empty cell = no value; booleans `true`/`false`, dates `YYYY-MM-DD`, times
  ISO 8601 with their UTC offset, decimals with a point and no exponent.
- `xlsx`: one sheet per table plus a `dictionary` sheet, written with openpyxl's write-only
  mode. Numbers are numeric cells, dates and times date cells (Excel has no time zones: the
  local wall-clock time as recorded), booleans boolean cells.
- `json`: the cohort format of docs/cohort-format.md (`study.cohort`).
- `fhir`: FHIR R4 as newline-delimited JSON, one Bundle per patient per line (`.ndjson`,
  the bulk-data convention): a reader takes one patient at a time, as the writer does.

Text cells that start with `=`, `+`, `-`, `@`, a tab or a carriage return would be read as
formulas by spreadsheet programs (CSV injection); in CSV and XLSX they get a leading `'`.
Numbers are never prefixed: a negative number stays a number.

Every format is streamed to a temporary file in the target folder and moved into place at the
end, so a reader never sees half a file and memory does not grow with the cohort. The file is
readable by its owner only: it is study data.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

from advice.engine.case_input import json_number
from study import cohort, fhir
from study.columns import Column, Table
from study.pseudonym import Pseudonymiser
from study.tables import TABLES

FORMATS = ("csv", "xlsx", "json", "fhir")
DICTIONARY_COLUMNS = ("table", "column", "type", "unit", "description")
# OWASP's list of characters that make a spreadsheet cell a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Progress is reported every this many rows (or patients): often enough for a smooth bar,
# rarely enough to cost nothing.
PROGRESS_EVERY = 1000
HASH_BLOCK_BYTES = 1 << 20

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportSummary:
    """What was written: the format, the file, the rows per table and the file's SHA-256."""

    format: str
    path: Path
    rows: dict[str, int]
    sha256: str


def neutralise(text: str) -> str:
    """A text cell as spreadsheets must see it: a formula-like start gets a leading `'`."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_cell(column: Column, value: Any) -> str:
    if value is None:
        return ""
    if column.type == "boolean":
        return "true" if value else "false"
    if column.type == "decimal":
        return format(Decimal(value).normalize(), "f")
    if column.type in ("date", "datetime"):
        return value.isoformat()
    if column.type == "integer":
        return str(value)
    return neutralise(str(value))


def xlsx_cell(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if column.type == "decimal":
        return json_number(Decimal(value))
    if column.type == "datetime":
        return value.replace(tzinfo=None)
    if column.type == "text":
        # openpyxl refuses control characters that XML 1.0 cannot carry.
        return neutralise(ILLEGAL_CHARACTERS_RE.sub("", str(value)))
    return value


def _dictionary_rows() -> Iterator[tuple[str, str, str, str, str]]:
    for table in TABLES:
        for column in table.columns:
            yield table.name, column.name, column.type, column.unit, column.description


class _Counter:
    """Counts written rows across tables and reports progress every PROGRESS_EVERY of them."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = total
        self.done = 0
        self.progress = progress

    def step(self) -> None:
        self.done += 1
        if self.progress is not None and self.done % PROGRESS_EVERY == 0:
            self.progress(self.done, max(self.total, self.done))

    def finish(self) -> None:
        if self.progress is not None:
            self.progress(self.done, max(self.total, self.done))


class _Tables:
    """The tables as they stood when the export started: a row added meanwhile is left out,
    so no row refers to one that another table does not hold. (No transaction is held open
    for this: the caller's progress reports must commit while the export runs.)"""

    def __init__(self, progress: Progress | None) -> None:
        extents = {table.name: table.extent() for table in TABLES}
        self.last_ids = {name: last_id for name, (_, last_id) in extents.items()}
        self.counter = _Counter(sum(count for count, _ in extents.values()), progress)

    def rows(self, table: Table, pseudonymiser: Pseudonymiser) -> Iterator[tuple]:
        for row in table.rows(pseudonymiser, up_to_id=self.last_ids[table.name]):
            self.counter.step()
            yield row


def _write_csv(target: Path, pseudonymiser: Pseudonymiser, tables: _Tables) -> dict[str, int]:
    rows: dict[str, int] = {}
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for table in TABLES:
            before = tables.counter.done
            with (
                archive.open(f"{table.name}.csv", "w") as raw,
                io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
            ):
                writer = csv.writer(text)
                writer.writerow(column.name for column in table.columns)
                for row in tables.rows(table, pseudonymiser):
                    writer.writerow(
                        csv_cell(column, value)
                        for column, value in zip(table.columns, row, strict=True)
                    )
            rows[table.name] = tables.counter.done - before
        with (
            archive.open("dictionary.csv", "w") as raw,
            io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
        ):
            writer = csv.writer(text)
            writer.writerow(DICTIONARY_COLUMNS)
            writer.writerows(_dictionary_rows())
    return rows


def _header(sheet, names) -> list[WriteOnlyCell]:
    bold = Font(bold=True)
    cells = []
    for name in names:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        cells.append(cell)
    return cells


def _write_xlsx(target: Path, pseudonymiser: Pseudonymiser, tables: _Tables) -> dict[str, int]:
    rows: dict[str, int] = {}
    workbook = Workbook(write_only=True)
    for table in TABLES:
        sheet = workbook.create_sheet(table.name)
        sheet.freeze_panes = "A2"
        sheet.append(_header(sheet, (column.name for column in table.columns)))
        before = tables.counter.done
        for row in tables.rows(table, pseudonymiser):
            sheet.append(
                [xlsx_cell(column, value) for column, value in zip(table.columns, row, strict=True)]
            )
        rows[table.name] = tables.counter.done - before
    sheet = workbook.create_sheet("dictionary")
    sheet.freeze_panes = "A2"
    sheet.append(_header(sheet, DICTIONARY_COLUMNS))
    for entry in _dictionary_rows():
        sheet.append([neutralise(value) for value in entry])
    workbook.save(target)
    return rows


def _write_fhir(
    target: Path, pseudonymiser: Pseudonymiser, progress: Progress | None
) -> dict[str, int]:
    counter = _Counter(fhir.patient_count(), progress)
    with target.open("w", encoding="utf-8", newline="\n") as out:
        for bundle in fhir.patient_bundles(pseudonymiser):
            out.write(json.dumps(bundle, ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
            counter.step()
    counter.finish()
    return {"patients": counter.done}


def _seal(path: Path) -> str:
    """The file's SHA-256, after making sure its bytes are on disk: the rename that follows
    must not publish a file whose content a crash could still lose."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(HASH_BLOCK_BYTES):
            digest.update(block)
        os.fsync(handle.fileno())
    return digest.hexdigest()


def write_export(
    fmt: str,
    path: Path,
    *,
    pseudonymiser: Pseudonymiser,
    progress: Progress | None = None,
) -> ExportSummary:
    """Write the export to `path` (replaced atomically) and describe what was written.

    `progress(done, total)` is called now and then with rows (csv, xlsx) or patients (json,
    fhir) written so far and the total counted at the start.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    path = Path(path)
    handle, temporary_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".part"
    )
    os.close(handle)
    temporary = Path(temporary_name)
    try:
        if fmt in ("csv", "xlsx"):
            tables = _Tables(progress)
            writer = _write_csv if fmt == "csv" else _write_xlsx
            rows = writer(temporary, pseudonymiser, tables)
            tables.counter.finish()
        elif fmt == "json":
            patients = cohort.write_cohort_json(
                temporary, pseudonymiser=pseudonymiser, progress=progress
            )
            rows = {"patients": patients}
        else:
            rows = _write_fhir(temporary, pseudonymiser, progress)
        sha256 = _seal(temporary)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return ExportSummary(format=fmt, path=path, rows=rows, sha256=sha256)
