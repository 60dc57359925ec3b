"""The cohort file's patients written by PostgreSQL (docs/cohort-format.md §4).

One query per batch of patients builds each patient's document as the text `json.dumps` gives
for `exporter.patient_json`: the same keys in the same order, strings escaped by `to_json`
(which, like `ensure_ascii=False`, leaves non-ASCII characters as they are), decimals as
`json_number` writes them, dates moved by the patient's offset and times in the installation's
time zone. Building the documents in Python, value by value, was most of the export's time.

Pseudonyms and offsets are keyed HMACs: they come from the `Pseudonymiser`, with each batch's
patient ids, as arrays. A patient with an analyte whose value `json_number` could write
otherwise than its decimal text (not a number, below 1e-4, from 1e15 on, or more than 15
significant digits: a float's repr differs there) gets no text, and is written in Python.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from django.db import connection
from django.utils import timezone
from psycopg.pq import TransactionStatus

from advice.models import Advice
from cases.models import AdverseEvent, DoseRegimen, Drug, Patient, Sample, Site, Treatment
from study.cohort.records import EXPORTED_SAMPLE_STATES, WITHHELD

DECIDED = (Advice.State.ACCEPTED, Advice.State.REJECTED)


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in(values: Sequence[str]) -> str:
    return ", ".join(_text(str(value)) for value in values)


def _string(expression: str) -> str:
    return f"coalesce(to_json({expression})::text, 'null')"


def _key(name: str) -> str:
    return _text(f'"{name}": ')


def _number(expression: str) -> str:
    # Decimal columns hold at most 14 digits and 4 places: their text is `json_number`'s.
    return f"coalesce(trim_scale({expression})::text, 'null')"


def _boolean(expression: str) -> str:
    return f"CASE WHEN {expression} THEN 'true' ELSE 'false' END"


def _day(expression: str) -> str:
    return f"coalesce(to_json(to_char({expression} + b.shift, 'YYYY-MM-DD'))::text, 'null')"


def _moment(expression: str) -> str:
    # `isoformat()` of the local time moved by whole days: microseconds only when there are
    # some, and the UTC offset of the moment itself (the session is in the installation's zone).
    shifted = (
        f"({expression} AT TIME ZONE current_setting('TimeZone') + b.shift * INTERVAL '1 day')"
    )
    text = (
        f"""replace(to_char({shifted}, 'YYYY-MM-DD"T"HH24:MI:SS.US'), '.000000', '') """
        f"|| to_char({expression}, 'TZH:TZM')"
    )
    return f"""coalesce('"' || {text} || '"', 'null')"""


def _object(*members: str) -> str:
    """`members` are SQL texts each of one `"key": value` (or '' for a member left out)."""
    return "'{' || " + " || ".join(members) + " || '}'"


def _member(name: str, value: str, *, first: bool = False) -> str:
    return ("" if first else "', ' || ") + f"{_key(name)} || {value}"


def _optional(condition: str, name: str, value: str) -> str:
    return f"(CASE WHEN {condition} THEN {_member(name, value)} ELSE '' END)"


_WITHHELD = _text(json.dumps(WITHHELD, ensure_ascii=False))


def _list(element: str, source: str, order: str) -> str:
    elements = f"(SELECT string_agg({element}, ', ' ORDER BY {order}) {source})"
    return f"'[' || coalesce({elements}, '') || ']'"


_DOSE = _object(
    _member("from", _day("d.effective_from"), first=True),
    _member("daily_dose_mg", _number("d.daily_dose_mg")),
    _member("administrations_per_day", "d.administrations_per_day::text"),
    _member("reason", _string("d.reason")),
    _optional("d.off_label_reason <> ''", "off_label_reason", _WITHHELD),
    _optional(
        f"d.status <> {_text(DoseRegimen.Status.ACTIVE)}",
        "status",
        _string("d.status") + " || " + _member("status_reason", _WITHHELD),
    ),
)

_ANALYTES = _object(
    "(SELECT string_agg(to_json(a.key)::text || ': ' || trim_scale(a.value::numeric)::text, "
    """', ' ORDER BY a.key COLLATE "C") FROM jsonb_each(s.analytes) a)"""
)

_SAMPLE = _object(
    _member("drawn_at", _moment("s.drawn_at"), first=True),
    _member("last_dose_at", _moment("s.last_dose_at")),
    _member("concentration", _number("s.concentration")),
    _member("unit", "CASE WHEN s.concentration IS NULL THEN 'null' ELSE to_json(s.unit)::text END"),
    _member("below_lloq", _boolean("s.below_lloq")),
    _optional("s.confirmed_implausible", "confirmed_implausible", "'true'"),
    _optional("s.analytes <> '{}'::jsonb", "analytes", _ANALYTES),
)

_ADVERSE_EVENT = _object(
    _member("term", _string("e.term"), first=True),
    _member("grade", "e.grade::text"),
    _member("onset", _day("e.onset")),
    _member("resolved", _day("e.resolved")),
    _member("related", _boolean("e.related")),
    _member("action", _string("e.action")),
)

_DECISION = _object(
    _member("sample_drawn_at", _moment("ds.drawn_at"), first=True),
    _member("decision", _string("v.state")),
    _member(
        "reason",
        f"CASE WHEN v.state = 'rejected' THEN {_WITHHELD} ELSE 'null' END",
    ),
)

_SAMPLES_WHERE = f"s.status IN ({_in(EXPORTED_SAMPLE_STATES)})"

_TREATMENT = _object(
    _member("drug", _string("dr.name"), first=True),
    _member("indication", _string("NULLIF(dr.indication, '')")),
    _member("start_date", _day("t.start_date")),
    _member("stop_date", _day("t.stop_date")),
    _member("stop_reason", "'null'"),
    _optional("t.overlap_reason <> ''", "overlap_reason", _WITHHELD),
    _member(
        "doses",
        _list(
            _DOSE,
            f"FROM {DoseRegimen._meta.db_table} d WHERE d.treatment_id = t.id",
            "d.effective_from, d.id",
        ),
    ),
    _member(
        "samples",
        _list(
            _SAMPLE,
            f"FROM {Sample._meta.db_table} s WHERE s.treatment_id = t.id AND {_SAMPLES_WHERE}",
            "s.drawn_at, s.id",
        ),
    ),
    _member(
        "adverse_events",
        _list(
            _ADVERSE_EVENT,
            f"FROM {AdverseEvent._meta.db_table} e "
            "WHERE e.treatment_id = t.id AND NOT e.entered_in_error",
            "e.onset, e.id",
        ),
    ),
    _member(
        "decisions",
        _list(
            _DECISION,
            f"FROM {Advice._meta.db_table} v "
            f"JOIN {Sample._meta.db_table} ds ON ds.id = v.sample_id "
            f"WHERE v.treatment_id = t.id AND v.kind = {_text(Advice.Kind.SAMPLE)} "
            f"AND v.state IN ({_in(DECIDED)}) "
            f"AND ds.status IN ({_in(EXPORTED_SAMPLE_STATES)})",
            "ds.drawn_at, v.id",
        ),
    ),
)

_PATIENT = _object(
    _member("study_number", "to_json(b.pseudonym)::text", first=True),
    _member("site", _string("st.code")),
    _member("sex", _string("pt.sex")),
    _member("birth_year", "extract(year FROM make_date(pt.birth_year, 7, 2) + b.shift)::text"),
    _member("tumour", _string("pt.tumour")),
    _optional("pt.tumour_code <> ''", "tumour_code", _string("pt.tumour_code")),
    _member(
        "treatments",
        _list(
            _TREATMENT,
            f"FROM {Treatment._meta.db_table} t JOIN {Drug._meta.db_table} dr "
            "ON dr.id = t.drug_id WHERE t.patient_id = pt.id",
            "t.start_date, t.id",
        ),
    ),
)

# An analyte value whose decimal text is exactly what `json_number` writes for it.
_PLAIN_ANALYTE = (
    "jsonb_typeof(a.value) = 'number' AND (a.value::numeric = 0 OR "
    "(abs(a.value::numeric) >= 0.0001 AND abs(a.value::numeric) < 1e15 AND "
    "length(replace(ltrim(trim_scale(abs(a.value::numeric))::text, '0.'), '.', '')) <= 15))"
)

_IN_PYTHON = (
    "EXISTS (SELECT 1 FROM "  # noqa: S608 - fixed SQL
    f"{Treatment._meta.db_table} t JOIN {Sample._meta.db_table} s ON s.treatment_id = t.id "
    f"WHERE t.patient_id = pt.id AND {_SAMPLES_WHERE} AND (s.analytes IS NULL "
    "OR jsonb_typeof(s.analytes) <> 'object' OR EXISTS (SELECT 1 FROM "
    f"jsonb_each(s.analytes) a WHERE NOT ({_PLAIN_ANALYTE}))))"
)

PATIENTS_SQL = (
    f"SELECT b.id, CASE WHEN {_IN_PYTHON} THEN NULL ELSE {_PATIENT} END "  # noqa: S608
    "FROM unnest(%s::bigint[], %s::text[], %s::integer[]) WITH ORDINALITY "
    "AS b(id, pseudonym, shift, position) "
    f"JOIN {Patient._meta.db_table} pt ON pt.id = b.id "
    f"JOIN {Site._meta.db_table} st ON st.id = pt.site_id "
    "ORDER BY b.position"
)


def writes_in_sql() -> bool:
    return connection.vendor == "postgresql"


def patient_documents(batch: Sequence[tuple[str, int, int]]) -> Iterator[tuple[int, str | None]]:
    """(id, document text) of each patient of `batch` (pseudonym, id, date offset) that still
    exists, in the batch's order; the text is None for a patient to be written in Python."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('TimeZone')")
        (previous,) = cursor.fetchone()
        cursor.execute(
            "SELECT set_config('TimeZone', %s, false)", [timezone.get_current_timezone_name()]
        )
        try:
            cursor.execute(
                PATIENTS_SQL,
                [
                    [pk for _, pk, _ in batch],
                    [pseudonym for pseudonym, _, _ in batch],
                    [offset for _, _, offset in batch],
                ],
            )
            rows = cursor.fetchall()
        finally:
            if connection.connection.info.transaction_status != TransactionStatus.INERROR:
                cursor.execute("SELECT set_config('TimeZone', %s, false)", [previous])
    yield from rows
