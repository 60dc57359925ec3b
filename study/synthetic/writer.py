"""Writing many rows at once: ids handed out before the rows exist, then one set-based write per
table and batch.

The generator links its records before any is written (a sample to its treatment, an advice to
the dose it prescribed), so every row gets its primary key when it is made: `Ids` reserves
them from the table's sequence on PostgreSQL (`nextval` over `generate_series`, so concurrent
writers never collide) and after the table's highest id elsewhere.

A row is a `Row` of column values by field attname (`treatment_id`, not `treatment`), or an
unsaved model instance; a field a `Row` leaves out gets the model field's default. Saving model
instances would double the time of a run (a Django model's `__init__` and `get_db_prep_save`
on every field, about 130 µs a row), so
`Writer.insert` only converts what the database driver cannot take as it is: JSON to text, and
on SQLite aware datetimes to the backend's own format. It writes with `COPY … FROM STDIN`
through psycopg on PostgreSQL, with one `executemany` INSERT per batch elsewhere; the
timestamps go in as given (no `auto_now_add` replaces them).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from types import SimpleNamespace

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

Row = SimpleNamespace

# Ids are reserved in blocks that double from the first to the largest, so a table that gets a
# handful of rows (the sites) leaves no large gap in its sequence.
FIRST_ID_BLOCK = 64
LARGEST_ID_BLOCK = 20_000
INSERT_BATCH = 2_000


class Ids:
    """Primary keys for new rows of each model, reserved in blocks."""

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self._free: dict[type[models.Model], list[int]] = defaultdict(list)
        self._block: dict[type[models.Model], int] = defaultdict(lambda: FIRST_ID_BLOCK)
        self._next_after_max: dict[type[models.Model], int] = {}

    def next(self, model: type[models.Model]) -> int:
        free = self._free[model]
        if not free:
            block = self._block[model]
            free.extend(reversed(self._reserve(model, block)))
            self._block[model] = min(2 * block, LARGEST_ID_BLOCK)
        return free.pop()

    def _reserve(self, model: type[models.Model], count: int) -> list[int]:
        table, column = model._meta.db_table, model._meta.pk.column
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                    [table, column, count],
                )
                return [row[0] for row in cursor.fetchall()]
            if model not in self._next_after_max:
                quote = self.connection.ops.quote_name
                cursor.execute(f"SELECT MAX({quote(column)}) FROM {quote(table)}")  # noqa: S608 - names from the model
                self._next_after_max[model] = (cursor.fetchone()[0] or 0) + 1
        first = self._next_after_max[model]
        self._next_after_max[model] = first + count
        return list(range(first, first + count))


class Writer:
    """Writes rows that already carry their primary keys; counts what it wrote per model."""

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.written: Counter[str] = Counter()
        self._columns: dict[type[models.Model], list[tuple[str, Callable | None, object]]] = {}

    def _plan(self, model: type[models.Model]) -> list[tuple[str, Callable | None, object]]:
        """Per column: the attname, the conversion its values need, the converted default."""
        if model not in self._columns:
            plan = []
            for field in model._meta.concrete_fields:
                convert: Callable | None = None
                if isinstance(field, models.JSONField):
                    convert = partial(json.dumps, cls=field.encoder)
                elif isinstance(field, models.DateTimeField):
                    convert = self.connection.ops.adapt_datetimefield_value
                elif isinstance(field, models.FileField):
                    convert = str  # a model instance's FieldFile: its name
                default = field.get_default()
                plan.append(
                    (
                        field.attname,
                        convert,
                        convert(default) if convert and default is not None else default,
                    )
                )
            self._columns[model] = plan
        return self._columns[model]

    def insert(self, model: type[models.Model], rows: Sequence[Row]) -> None:
        if not rows:
            return
        plan = self._plan(model)
        missing = object()

        def values(row: Row) -> list:
            given = row.__dict__
            out = []
            for attname, convert, default in plan:
                value = given.get(attname, missing)
                if value is missing:
                    out.append(default)
                elif convert is not None and value is not None:
                    out.append(convert(value))
                else:
                    out.append(value)
            return out

        quote = self.connection.ops.quote_name
        table = quote(model._meta.db_table)
        columns = ", ".join(quote(field.column) for field in model._meta.concrete_fields)
        if self.connection.vendor == "postgresql":
            self._copy(f"COPY {table} ({columns}) FROM STDIN", map(values, rows))
        else:
            placeholders = ", ".join(["%s"] * len(plan))
            statement = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608 - names from the model
            self._insert(statement, map(values, rows))
        self.written[model._meta.label] += len(rows)

    def _copy(self, statement: str, rows: Iterable[list]) -> None:
        # psycopg's own cursor: its errors become Django's (IntegrityError, …) as a query's do.
        with (
            self.connection.wrap_database_errors,
            self.connection.cursor() as cursor,
            cursor.cursor.copy(statement) as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def _insert(self, statement: str, rows: Iterable[list]) -> None:
        batch: list[list] = []
        with self.connection.cursor() as cursor:
            for row in rows:
                batch.append(row)
                if len(batch) == INSERT_BATCH:
                    cursor.executemany(statement, batch)
                    batch.clear()
            if batch:
                cursor.executemany(statement, batch)
