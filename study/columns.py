"""The columns of the study tables: their types, and how values are written as text.

Shared by every table of `study.tables` and by the data dictionary. A column names once what
it exports and how (`Form`): the rows of every format read it with `.values_list()`, and on
PostgreSQL the CSV export lets the database select, format and write the same cells (`COPY …
TO STDOUT`, docs/data-dictionary.md "How the files are written"); the `*_sql` helpers below
write the lists of the same cells as the `*_text` helpers do in Python.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Expression, Max, QuerySet
from django.utils import timezone

from study.pseudonym import Pseudonymiser

COLUMN_TYPES = ("integer", "decimal", "date", "datetime", "text", "boolean")
# Rows fetched per round trip: large enough to keep the query count low, small enough that
# a chunk of the widest table stays well under a megabyte.
CHUNK_ROWS = 2000
LIST_SEPARATOR = ";"

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Form:
    """How a stored value becomes the exported one, written once in Python (the rows of every
    format) and once in PostgreSQL's SQL (the CSV tables copied by the database): `python`
    takes the pseudonymiser, the patient's recorded study number and the value; `sql` the SQL
    of the value. Dates and times have none: their type moves them by the patient's offset."""

    python: Callable[[Pseudonymiser, str, Any], Any]
    sql: Callable[[str], str]


@dataclass(frozen=True)
class Column:
    """One exported column: `type` is one of COLUMN_TYPES, `unit` empty when it has none.

    `field` is what the column exports, as `.values_list()` reads it: a field path of the
    table's model (the column's name when empty; `{patient}` stands for the path to the
    patient) or an expression. `sql` is the same value in the SQL of the table's `source`
    (`t.` and the field when empty), `form` what the export makes of it.
    """

    name: str
    type: str
    description: str
    unit: str = ""
    field: str | Expression = ""
    sql: str = ""
    form: Form | None = None

    def stored_sql(self) -> str:
        """The SQL of the stored value, before the export's form and formatting."""
        return self.sql or f"t.{self.field or self.name}"


@dataclass(frozen=True)
class Table:
    """One exported table: its columns and how to read its rows from the database.

    `queryset` gives every row the table exports; `patient` is the field path from its model
    to the patient. `source` is the same rows' FROM clause in SQL, for the CSV export that
    PostgreSQL writes: the table's own rows are `t`, their patient `pt`; `where` keeps the
    rows the table exports.
    """

    name: str
    description: str
    columns: tuple[Column, ...]
    queryset: Callable[[], QuerySet]
    patient: str
    source: str
    where: str = "TRUE"

    def extent(self) -> tuple[int, int]:
        """How many rows there are now and the highest id among them (0 when none)."""
        found = self.queryset().aggregate(count=Count("id"), last_id=Max("id"))
        return found["count"], found["last_id"] or 0

    def rows(self, pseudonymiser: Pseudonymiser, *, up_to_id: int) -> Iterator[Row]:
        """The rows with ids up to `up_to_id`, in id order, a chunk at a time."""
        return self.read(self.queryset().filter(id__lte=up_to_id), pseudonymiser)

    def read(self, queryset: QuerySet, pseudonymiser: Pseudonymiser) -> Iterator[Row]:
        """The exported rows of (a part of) `queryset`, in id order."""
        fields = [self._field(column) for column in self.columns]
        cells = [_python_cell(column) for column in self.columns]
        for study_number, *values in (
            queryset.order_by("id")
            .values_list(self._field(STUDY_NUMBER), *fields)
            .iterator(chunk_size=CHUNK_ROWS)
        ):
            yield tuple(
                cell(pseudonymiser, study_number, value)
                for cell, value in zip(cells, values, strict=True)
            )

    def expressions(self) -> list[str]:
        """The SQL of every column's value before the export formats it by type;
        `{pseudonym}` stands for the patient's exported study number and `{offset}` for the
        patient's date shift in days."""
        return [
            column.form.sql(column.stored_sql()) if column.form else column.stored_sql()
            for column in self.columns
        ]

    def _field(self, column: Column) -> str | Expression:
        if isinstance(column.field, str):
            return (column.field or column.name).replace("{patient}", self.patient)
        return column.field


def _python_cell(column: Column) -> Callable[[Pseudonymiser, str, Any], Any]:
    if column.type == "date":
        return lambda p, study_number, value: p.date(study_number, value)
    if column.type == "datetime":
        return lambda p, study_number, value: moment_text(p, study_number, value)
    if column.form is not None:
        return column.form.python
    return lambda p, study_number, value: value


def moment_text(
    pseudonymiser: Pseudonymiser, study_number: str, value: datetime.datetime | None
) -> datetime.datetime | None:
    # Local wall-clock time with its UTC offset, as the clinic recorded it, then shifted.
    if value is None:
        return None
    return pseudonymiser.datetime(study_number, timezone.localtime(value))


def codes_text(values: Sequence[str] | None) -> str:
    return LIST_SEPARATOR.join(values or ())


def number_text(value: int | float | Decimal) -> str:
    return format(Decimal(str(value)).normalize(), "f")


def numbers_text(values: Sequence[int | float] | None) -> str:
    return LIST_SEPARATOR.join(number_text(value) for value in values or ())


def analytes_text(values: dict[str, int | float] | None) -> str:
    return LIST_SEPARATOR.join(
        f"{name}={number_text(value)}" for name, value in (values or {}).items()
    )


# Most lists are empty: comparing with the empty JSON value spares the subquery.
def codes_sql(expression: str) -> str:
    """`codes_text` of a JSON list of strings; NULL for none."""
    return (
        f"CASE WHEN {expression} = '[]' THEN NULL ELSE "  # noqa: S608 - a column of study.tables
        f"(SELECT string_agg(code, '{LIST_SEPARATOR}' ORDER BY position) "
        f"FROM jsonb_array_elements_text({expression}) WITH ORDINALITY AS c(code, position)) END"
    )


def numbers_sql(expression: str) -> str:
    """`numbers_text` of a JSON list of numbers; NULL for none."""
    # One dose per administration is the usual split: no subquery for it.
    return (
        f"CASE WHEN {expression} = '[]' THEN NULL "  # noqa: S608 - a column of study.tables
        f"WHEN jsonb_array_length({expression}) = 1 "
        f"THEN trim_scale(({expression} ->> 0)::numeric)::text ELSE "
        f"(SELECT string_agg(trim_scale(number::numeric)::text, '{LIST_SEPARATOR}' "
        f"ORDER BY position) "
        f"FROM jsonb_array_elements_text({expression}) WITH ORDINALITY AS n(number, position)) END"
    )


def analytes_sql(expression: str) -> str:
    """`analytes_text` of a JSON object of numbers, in the object's own key order (the one
    PostgreSQL stores and hands to Python); NULL for none."""
    return (
        f"CASE WHEN {expression} = '{{}}' THEN NULL ELSE "  # noqa: S608 - a column of study.tables
        f"(SELECT string_agg(name || '=' || trim_scale(number::numeric)::text, "
        f"'{LIST_SEPARATOR}' ORDER BY position) "
        f"FROM jsonb_each_text({expression}) WITH ORDINALITY AS a(name, number, position)) END"
    )


CODES = Form(lambda p, study_number, value: codes_text(value), codes_sql)
NUMBERS = Form(lambda p, study_number, value: numbers_text(value), numbers_sql)
ANALYTES = Form(lambda p, study_number, value: analytes_text(value), analytes_sql)
PSEUDONYM = Form(
    lambda p, study_number, value: p.study_number(study_number), lambda _: "{pseudonym}"
)

STUDY_NUMBER = Column(
    "study_number",
    "text",
    "The patient's study number; with a pseudonymisation key, its keyed pseudonym "
    "(P + 16 hex digits), the same in every table and format of one export.",
    field="{patient}study_number",
    sql="pt.study_number",
    form=PSEUDONYM,
)
TREATMENT_ID = Column("treatment_id", "integer", "The treatment (treatments.treatment_id).")
