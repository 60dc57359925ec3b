"""The columns of the study tables: their types, and how values are written as text.

Shared by every table of `study.tables` and by the data dictionary. A table can also say how
PostgreSQL selects its rows (`Select`): the CSV export then lets PostgreSQL format and write
them (`COPY … TO STDOUT`, docs/data-dictionary.md "How the files are written"); the `*_sql`
helpers below write the lists of the same cells as the `*_text` helpers do in Python.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, QuerySet
from django.utils import timezone

from study.pseudonym import Pseudonymiser

COLUMN_TYPES = ("integer", "decimal", "date", "datetime", "text", "boolean")
# Rows fetched per round trip: large enough to keep the query count low, small enough that
# a chunk of the widest table stays well under a megabyte.
CHUNK_ROWS = 2000
LIST_SEPARATOR = ";"

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Column:
    """One exported column: `type` is one of COLUMN_TYPES, `unit` empty when it has none."""

    name: str
    type: str
    description: str
    unit: str = ""


@dataclass(frozen=True)
class Select:
    """A table's rows in PostgreSQL's SQL, before the cells are formatted by their type.

    `expressions` has one SQL expression per column, giving the stored value (the lists already
    joined by `;`); `{pseudonym}` stands for the patient's exported study number and
    `{offset}` for the patient's date shift in days, which the export adds to every date and
    time. `source` is the FROM clause: the table's own rows are `t`, their patient `pt`.
    `where` keeps the rows the table exports.
    """

    expressions: tuple[str, ...]
    source: str
    where: str = "TRUE"


@dataclass(frozen=True)
class Table:
    """One exported table: its columns and how to read its rows from the database.

    `queryset` gives every row the table exports; `read` turns (a part of) it into rows;
    `select`, when given, selects the same rows in SQL.
    """

    name: str
    description: str
    columns: tuple[Column, ...]
    queryset: Callable[[], QuerySet]
    read: Callable[[QuerySet, Pseudonymiser], Iterator[Row]]
    select: Select | None = None

    def extent(self) -> tuple[int, int]:
        """How many rows there are now and the highest id among them (0 when none)."""
        found = self.queryset().aggregate(count=Count("id"), last_id=Max("id"))
        return found["count"], found["last_id"] or 0

    def rows(self, pseudonymiser: Pseudonymiser, *, up_to_id: int) -> Iterator[Row]:
        """The rows with ids up to `up_to_id`, in id order, a chunk at a time."""
        return self.read(self.queryset().filter(id__lte=up_to_id), pseudonymiser)


def stream_rows(queryset: QuerySet, *fields: Any) -> Iterator[tuple[Any, ...]]:
    return queryset.order_by("id").values_list(*fields).iterator(chunk_size=CHUNK_ROWS)


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


STUDY_NUMBER = Column(
    "study_number",
    "text",
    "The patient's study number; with a pseudonymisation key, its keyed pseudonym "
    "(P + 16 hex digits), the same in every table and format of one export.",
)
TREATMENT_ID = Column("treatment_id", "integer", "The treatment (treatments.treatment_id).")
