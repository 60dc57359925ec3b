"""The columns of the study tables: their types, and how values are written as text.

Shared by every table of `study.tables` and by the data dictionary.
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
class Table:
    """One exported table: its columns and how to read its rows from the database.

    `queryset` gives every row the table exports; `read` turns (a part of) it into rows.
    """

    name: str
    description: str
    columns: tuple[Column, ...]
    queryset: Callable[[], QuerySet]
    read: Callable[[QuerySet, Pseudonymiser], Iterator[Row]]

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


STUDY_NUMBER = Column(
    "study_number",
    "text",
    "The patient's study number; with a pseudonymisation key, its keyed pseudonym "
    "(P + 16 hex digits), the same in every table and format of one export.",
)
TREATMENT_ID = Column("treatment_id", "integer", "The treatment (treatments.treatment_id).")
