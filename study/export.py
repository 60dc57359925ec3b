"""Writing a pseudonymised study export (docs/data-dictionary.md) in one of four formats.

- `csv`: one zip holding one CSV file per table of `study.tables` and `dictionary.csv`
  (table, column, type, unit, description). UTF-8 without byte-order mark, comma-separated,
  a header row, empty cell = no value; booleans `true`/`false`, dates `YYYY-MM-DD`, times
  ISO 8601 with their UTC offset, decimals with a point and no exponent.
- `xlsx`: one sheet per table plus a `dictionary` sheet (`study.xlsx`). Numbers are numeric
  cells, dates and times date cells (Excel has no time zones: the local wall-clock time as
  recorded), booleans boolean cells.
- `json`: the cohort format of docs/cohort-format.md (`study.cohort`).
- `fhir`: FHIR R4 as newline-delimited JSON, one Bundle per patient per line (`.ndjson`,
  the bulk-data convention): a reader takes one patient at a time, as the writer does.

Text cells that start with `=`, `+`, `-`, `@`, a tab or a carriage return would be read as
formulas by spreadsheet programs (CSV injection); in CSV and XLSX they get a leading `'`.
Numbers are never prefixed: a negative number stays a number.

On PostgreSQL the CSV tables are written by the database itself: each table is one
`COPY (SELECT …) TO STDOUT WITH (FORMAT csv, HEADER)` whose SELECT formats every cell as
`csv_cell` does (the columns' SQL, `study.columns`), streamed block by block into its zip
member, so the bytes are those of the Python path, which writes them on SQLite. Pseudonyms are
keyed HMACs, which PostgreSQL cannot compute without pgcrypto: with a key they are computed
once per patient here and copied into a temporary table that the SELECTs join. The XLSX sheets
are written the same way: each SELECT makes one `<row>` of sheet XML a line (`study.xlsx`).

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
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from django.db import connection
from django.utils import timezone
from psycopg.pq import TransactionStatus

from cases.models import Patient
from study import cohort, fhir, xlsx
from study.columns import Column, Table
from study.pseudonym import Pseudonymiser
from study.tables import TABLES
from study.xlsx import FORMULA_PREFIXES, QUOTE, neutralise

FORMATS = ("csv", "xlsx", "json", "fhir")
DICTIONARY_COLUMNS = ("table", "column", "type", "unit", "description")
# Progress is reported every this many rows (or patients): often enough for a smooth bar,
# rarely enough to cost nothing.
PROGRESS_EVERY = 1000
HASH_BLOCK_BYTES = 1 << 20
# zlib's fastest level: three times the speed of its default for a file about a third larger;
# the CSV files inside are the same.
ZIP_LEVEL = 1
# Bytes of CSV gathered from COPY before each write into the zip member.
COPY_WRITE_BYTES = 1 << 20
# Sheet rows written in Python gathered before each write into the zip member.
SHEET_ROWS_PER_WRITE = 1000
# Patients whose pseudonyms are computed and copied to PostgreSQL per round trip.
PSEUDONYM_PAGE = 10_000
PSEUDONYMS_TABLE = "study_export_pseudonyms"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ExportSummary:
    """What was written: the format, the file, the rows per table and the file's SHA-256."""

    format: str
    path: Path
    rows: dict[str, int]
    sha256: str


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

    def add(self, rows: int) -> None:
        """Rows written in one go (a table copied by PostgreSQL), reported once."""
        self.done += rows
        if self.progress is not None:
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
        self.counts = {name: count for name, (count, _) in extents.items()}
        self.last_ids = {name: last_id for name, (_, last_id) in extents.items()}
        self.counter = _Counter(sum(count for count, _ in extents.values()), progress)

    def rows(self, table: Table, pseudonymiser: Pseudonymiser) -> Iterator[tuple]:
        for row in table.rows(pseudonymiser, up_to_id=self.last_ids[table.name]):
            self.counter.step()
            yield row


def copies_in_sql() -> bool:
    """Whether the CSV tables are written by the database (PostgreSQL's COPY)."""
    return connection.vendor == "postgresql"


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# Each SQL cell is the text `csv_cell` writes for the value of `expression`, or NULL for an
# empty cell: COPY writes NULL as nothing, as the csv module writes "" (and an empty text
# would be written `""`).
def _text_sql(expression: str) -> str:
    prefixes = ", ".join(
        _sql_text(prefix) if prefix.isprintable() else f"chr({ord(prefix)})"
        for prefix in FORMULA_PREFIXES
    )
    return (
        f"CASE WHEN left({expression}, 1) IN ({prefixes}) THEN {_sql_text(QUOTE)} || {expression} "
        f"ELSE NULLIF({expression}, '') END"
    )


def _local_sql(expression: str, offset: str) -> str:
    """The local wall-clock time of the moment `expression`, moved by `offset` whole days."""
    return f"({expression} AT TIME ZONE current_setting('TimeZone') + {offset} * INTERVAL '1 day')"


def _moment_sql(expression: str, offset: str) -> str:
    # `moment_text` then `isoformat()`: the local wall-clock time moved by whole days, with
    # microseconds only when there are some, and the UTC offset of the moment itself (the
    # COPY runs in the installation's time zone, `_in_local_time`).
    shifted = _local_sql(expression, offset)
    return (
        f"""replace(to_char({shifted}, 'YYYY-MM-DD"T"HH24:MI:SS.US'), '.000000', '') """
        f"|| to_char({expression}, 'TZH:TZM')"
    )


def _cell_sql(column: Column, expression: str, offset: str) -> str:
    if column.type == "boolean":
        return f"CASE WHEN {expression} THEN 'true' WHEN NOT {expression} THEN 'false' END"
    if column.type == "decimal":
        return f"trim_scale({expression})"
    if column.type == "date":
        return f"to_char({expression} + {offset}, 'YYYY-MM-DD')"
    if column.type == "datetime":
        return _moment_sql(expression, offset)
    if column.type == "integer":
        return expression
    return _text_sql(expression)


def _placed(expression: str, pseudonym: str, offset: str) -> str:
    return expression.replace("{pseudonym}", pseudonym).replace("{offset}", offset)


def table_copy_sql(table: Table, *, up_to_id: int, pseudonym: str, offset: str, join: str) -> str:
    """The COPY statement writing `table` as CSV (its rows with ids up to `up_to_id`).

    `pseudonym` and `offset` are the SQL of patient `pt`'s exported study number and date
    shift, `join` what the FROM clause needs for them.
    """
    cells = ", ".join(
        f'{_cell_sql(column, _placed(expression, pseudonym, offset), offset)} AS "{column.name}"'
        for column, expression in zip(table.columns, table.expressions(), strict=True)
    )
    return (
        f"COPY (SELECT {cells} FROM {table.source}{join} "  # noqa: S608 - SQL of study.tables
        f"WHERE ({table.where}) AND t.id <= {int(up_to_id)} ORDER BY t.id) "
        "TO STDOUT WITH (FORMAT csv, HEADER)"
    )


def _sheet_value_sql(column: Column, expression: str, offset: str) -> str:
    if column.type == "date":
        return f"({expression} + {offset})"
    if column.type == "datetime":
        return _local_sql(expression, offset)
    return expression


def sheet_copy_sql(table: Table, *, up_to_id: int, pseudonym: str, offset: str, join: str) -> str:
    """The COPY statement writing `table`'s rows as sheet XML, one `<row>` a line from row 2
    on (`xlsx.sheet_sql`); the arguments are those of `table_copy_sql`. CSV with a quote and a
    delimiter that XML cannot hold leaves the lines as they are, but for quoting those holding
    a line break (`_copy_rows`)."""
    values = ", ".join(
        f"{_sheet_value_sql(column, _placed(expression, pseudonym, offset), offset)} AS v{index}"
        for index, (column, expression) in enumerate(
            zip(table.columns, table.expressions(), strict=True)
        )
    )
    source = (
        f"SELECT (row_number() OVER (ORDER BY t.id) + 1)::text AS n, "  # noqa: S608 - study.tables
        f"t.id AS row_id, {values} FROM {table.source}{join} "
        f"WHERE ({table.where}) AND t.id <= {int(up_to_id)} ORDER BY t.id"
    )
    return (
        f"COPY ({xlsx.sheet_sql([column.type for column in table.columns], source)}) "
        f"TO STDOUT WITH (FORMAT csv, QUOTE {xlsx.COPY_QUOTE_SQL}, "
        f"DELIMITER {xlsx.COPY_DELIMITER_SQL})"
    )


@contextmanager
def _pseudonyms_in_sql(cursor, pseudonymiser: Pseudonymiser) -> Iterator[tuple[str, str, str]]:
    """The SQL of patient `pt`'s exported study number and date shift, and the join they
    need: without a key the stored values; with one a temporary table of every patient's
    pseudonym and offset, computed here a page of patients at a time."""
    if pseudonymiser.key is None:
        yield "pt.study_number", "0", ""
        return
    cursor.execute(
        f"CREATE TEMPORARY TABLE {PSEUDONYMS_TABLE} "
        "(patient_id bigint PRIMARY KEY, pseudonym text NOT NULL, offset_days integer NOT NULL)"
    )
    try:
        last_id = 0
        while page := list(
            Patient.objects.filter(id__gt=last_id)
            .order_by("id")
            .values_list("id", "study_number")[:PSEUDONYM_PAGE]
        ):
            with cursor.copy(f"COPY {PSEUDONYMS_TABLE} FROM STDIN") as copy:
                for patient_id, study_number in page:
                    copy.write_row(
                        (
                            patient_id,
                            pseudonymiser.study_number(study_number),
                            pseudonymiser.offset_days(study_number),
                        )
                    )
            last_id = page[-1][0]
        cursor.execute(f"ANALYZE {PSEUDONYMS_TABLE}")
        join = f" JOIN {PSEUDONYMS_TABLE} ps ON ps.patient_id = pt.id"
        yield "ps.pseudonym", "ps.offset_days", join
    finally:
        # In a failed transaction the table goes with the rollback.
        if connection.connection.info.transaction_status != TransactionStatus.INERROR:
            cursor.execute(f"DROP TABLE IF EXISTS {PSEUDONYMS_TABLE}")


@contextmanager
def _in_local_time(cursor) -> Iterator[None]:
    """The session in the installation's time zone while a COPY writes local times; Django's
    (UTC) afterwards, before anything else uses the connection."""
    cursor.execute("SELECT current_setting('TimeZone')")
    (previous,) = cursor.fetchone()
    cursor.execute(
        "SELECT set_config('TimeZone', %s, false)", [timezone.get_current_timezone_name()]
    )
    try:
        yield
    finally:
        if connection.connection.info.transaction_status != TransactionStatus.INERROR:
            cursor.execute("SELECT set_config('TimeZone', %s, false)", [previous])


def _copy_table(cursor, statement: str, member) -> int:
    """Stream one COPY into the zip member; returns the rows written.

    COPY hands over one row per block, ended by a line feed; the csv module (like RFC 4180)
    ends rows with CR LF, so each block's last byte is replaced. A line feed inside a quoted
    cell stays, as the csv module leaves it.
    """
    pending = bytearray()
    with cursor.copy(statement) as copy:
        for block in copy:
            pending += block[:-1]
            pending += b"\r\n"
            if len(pending) >= COPY_WRITE_BYTES:
                member.write(pending)
                pending.clear()
    member.write(pending)
    return cursor.rowcount


def _copy_rows(cursor, statement: str, member) -> int:
    """Stream one COPY of sheet rows (`sheet_copy_sql`) into the zip member; returns the rows
    written. A row holding a line break comes quoted: the quotes go."""
    pending = bytearray()
    with cursor.copy(statement) as copy:
        for block in copy:
            if block[0] == xlsx.COPY_QUOTE:
                pending += block[1:-2]
                pending += b"\n"
            else:
                pending += block
            if len(pending) >= COPY_WRITE_BYTES:
                member.write(pending)
                pending.clear()
    member.write(pending)
    return cursor.rowcount


def _copy_tables(
    pseudonymiser: Pseudonymiser,
    tables: _Tables,
    statement_sql: Callable[..., str],
    copy: Callable[[Any, Table, str], int],
) -> dict[str, int]:
    """Every table copied by PostgreSQL: `copy(cursor, table, statement)` runs the COPY of
    `statement_sql` (`table_copy_sql`, `sheet_copy_sql`) and returns the rows written."""
    rows = {}
    connection.ensure_connection()
    with (
        connection.connection.cursor() as cursor,
        _pseudonyms_in_sql(cursor, pseudonymiser) as (pseudonym, offset, join),
    ):
        for table in TABLES:
            statement = statement_sql(
                table,
                up_to_id=tables.last_ids[table.name],
                pseudonym=pseudonym,
                offset=offset,
                join=join,
            )
            with _in_local_time(cursor):
                rows[table.name] = copy(cursor, table, statement)
            # Told once per table: the progress callback may use the connection, which a
            # running COPY holds.
            tables.counter.add(rows[table.name])
    return rows


def _write_table_csv(member, table: Table, pseudonymiser: Pseudonymiser, tables: _Tables) -> int:
    before = tables.counter.done
    with io.TextIOWrapper(member, encoding="utf-8", newline="") as text:
        writer = csv.writer(text)
        writer.writerow(column.name for column in table.columns)
        for row in tables.rows(table, pseudonymiser):
            writer.writerow(
                csv_cell(column, value) for column, value in zip(table.columns, row, strict=True)
            )
    return tables.counter.done - before


def _write_tables_csv(archive, pseudonymiser: Pseudonymiser, tables: _Tables) -> dict[str, int]:
    if not copies_in_sql():
        rows = {}
        for table in TABLES:
            with archive.open(f"{table.name}.csv", "w") as member:
                rows[table.name] = _write_table_csv(member, table, pseudonymiser, tables)
        return rows

    def copy(cursor, table: Table, statement: str) -> int:
        with archive.open(f"{table.name}.csv", "w") as member:
            return _copy_table(cursor, statement, member)

    return _copy_tables(pseudonymiser, tables, table_copy_sql, copy)


def _write_csv(target: Path, pseudonymiser: Pseudonymiser, tables: _Tables) -> dict[str, int]:
    with zipfile.ZipFile(
        target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL
    ) as archive:
        rows = _write_tables_csv(archive, pseudonymiser, tables)
        with (
            archive.open("dictionary.csv", "w") as raw,
            io.TextIOWrapper(raw, encoding="utf-8", newline="") as text,
        ):
            writer = csv.writer(text)
            writer.writerow(DICTIONARY_COLUMNS)
            writer.writerows(_dictionary_rows())
    return rows


def _sheet_rows(member, rows: Iterable[Sequence], types: Sequence[str]) -> None:
    cells = xlsx.python_cells(types)
    pending: list[str] = []
    for number, row in enumerate(rows, start=2):
        pending.append(xlsx.row_xml(number, cells, row))
        if len(pending) == SHEET_ROWS_PER_WRITE:
            member.write("".join(pending).encode())
            pending.clear()
    member.write("".join(pending).encode())


def _write_xlsx(target: Path, pseudonymiser: Pseudonymiser, tables: _Tables) -> dict[str, int]:
    with zipfile.ZipFile(
        target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=ZIP_LEVEL
    ) as archive:
        workbook = xlsx.Workbook(archive, [*(table.name for table in TABLES), "dictionary"])

        def sheet(table: Table):
            return workbook.sheet(
                [column.name for column in table.columns],
                cells=tables.counts[table.name] * len(table.columns),
            )

        if copies_in_sql():

            def copy(cursor, table: Table, statement: str) -> int:
                with sheet(table) as member:
                    return _copy_rows(cursor, statement, member)

            rows = _copy_tables(pseudonymiser, tables, sheet_copy_sql, copy)
        else:
            rows = {}
            for table in TABLES:
                before = tables.counter.done
                with sheet(table) as member:
                    _sheet_rows(
                        member,
                        tables.rows(table, pseudonymiser),
                        [column.type for column in table.columns],
                    )
                rows[table.name] = tables.counter.done - before
        with workbook.sheet(DICTIONARY_COLUMNS) as member:
            _sheet_rows(member, _dictionary_rows(), ["text"] * len(DICTIONARY_COLUMNS))
    return rows


# orjson writes the bytes of `json.dumps(ensure_ascii=False, separators=(",", ":"))` except for
# floats below 1e-4 in magnitude (`1e-7` for `1e-07`, `0.00001` for `1e-05`) and non-finite
# ones (`null` for NaN and Infinity). A line that may hold such a float, or that orjson refuses
# (an integer beyond 64 bits, a key that is not a string, a float subclass), is encoded by json
# instead: the file's bytes do not depend on which encoder wrote a line. (orjson also writes
# UUIDs and enums, which json refuses; a Bundle holds neither.)
_ORJSON_NEGATIVE_EXPONENT = re.compile(rb"e-[0-9]+[,\]}\n]")
# Dates and dataclasses are refused as json refuses them, not written in orjson's form.
_ORJSON_OPTIONS = (
    orjson.OPT_APPEND_NEWLINE | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
# Output buffer of the FHIR file: a Bundle line is some kilobytes, written many at a time.
NDJSON_BUFFER_BYTES = 1 << 20


def ndjson_line(document: Any) -> bytes:
    """`document` as one compact UTF-8 JSON line ending in a line feed, byte for byte what
    `json.dumps(document, ensure_ascii=False, separators=(",", ":"))` gives for any document
    json can write."""
    try:
        line = orjson.dumps(document, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        pass
    else:
        if (
            b"null" not in line
            and b"0.0000" not in line
            and not _ORJSON_NEGATIVE_EXPONENT.search(line)
        ):
            return line
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return (text + "\n").encode("utf-8")


def _write_fhir(
    target: Path, pseudonymiser: Pseudonymiser, progress: Progress | None
) -> dict[str, int]:
    counter = _Counter(fhir.patient_count(), progress)
    with target.open("wb", buffering=NDJSON_BUFFER_BYTES) as out:
        for bundle in fhir.patient_bundles(pseudonymiser):
            out.write(ndjson_line(bundle))
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
