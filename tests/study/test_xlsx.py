"""The XLSX export's workbook (`study.xlsx`): cells of every type as spreadsheet readers see
them, valid XML in every part, and on PostgreSQL the same bytes from the database's SQL as
from Python."""

from __future__ import annotations

import datetime
import io
import random
import zipfile
from decimal import Decimal
from xml.etree import ElementTree

import pytest
from openpyxl import load_workbook
from openpyxl.utils.datetime import to_excel

from cases.models import Patient, Sample
from study import export as export_module
from study import xlsx
from study.export import write_export
from study.pseudonym import Pseudonymiser
from study.tables import TABLES

pytestmark = pytest.mark.django_db

AWARE = datetime.datetime(2024, 2, 5, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
TEXTS = [
    "<&>\"'",
    "bell\x07",
    "\x07=dropped first",
    "=1+1",
    "-2",
    "\tcmd",
    "\rreturn",
    "Patiënt",
    " padded ",
    "two\nlines",
    "back\\slash",
    "\x01\x02",
    "€ 😀",
    "",
    None,
]
DATE_FORMAT, DATETIME_FORMAT = "yyyy-mm-dd", "yyyy-mm-dd h:mm:ss"


def wall(*fields: int) -> datetime.datetime:
    """A local wall-clock time, as sheets hold them (no time zone)."""
    return datetime.datetime(*fields, tzinfo=datetime.UTC).replace(tzinfo=None)


def sheet_cell(tmp_path, column_type, value):
    path = tmp_path / "cell.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        workbook = xlsx.Workbook(archive, ["cells"])
        with workbook.sheet(["c"]) as member:
            member.write(xlsx.row_xml(2, xlsx.python_cells([column_type]), [value]).encode())
    return load_workbook(path)["cells"]["A2"]


@pytest.mark.parametrize(
    ("column_type", "value", "read", "data_type", "number_format"),
    [
        ("decimal", Decimal("-2.50"), -2.5, "n", "General"),
        ("decimal", Decimal("2870.0000"), 2870, "n", "General"),
        ("decimal", Decimal("0.0010"), 0.001, "n", "General"),
        ("decimal", Decimal("1234567890.1234"), 1234567890.1234, "n", "General"),
        ("integer", -3, -3, "n", "General"),
        ("boolean", False, False, "b", "General"),
        ("boolean", True, True, "b", "General"),
        ("date", datetime.date(2024, 1, 2), wall(2024, 1, 2), "d", DATE_FORMAT),
        ("datetime", AWARE, AWARE.replace(tzinfo=None), "d", DATETIME_FORMAT),
        (
            "datetime",
            wall(2024, 7, 1, 7, 5, 9, 123456),
            wall(2024, 7, 1, 7, 5, 9, 123000),
            "d",
            DATETIME_FORMAT,
        ),
        ("text", "<&>\"'", "<&>\"'", "s", "General"),
        ("text", '=HYPERLINK("x")', '\'=HYPERLINK("x")', "s", "General"),
        ("text", "-2", "'-2", "s", "General"),
        ("text", "\tcmd", "'\tcmd", "s", "General"),
        # XML 1.0 cannot carry most control characters: dropped, then the text neutralised.
        ("text", "bell\x07", "bell", "s", "General"),
        ("text", "\x07=1", "'=1", "s", "General"),
        ("text", "Patiënt", "Patiënt", "s", "General"),
        ("text", " padded ", " padded ", "s", "General"),
        ("text", "two\nlines", "two\nlines", "s", "General"),
        ("text", "", None, "n", "General"),
        ("text", None, None, "n", "General"),
        ("decimal", None, None, "n", "General"),
        ("datetime", None, None, "n", "General"),
    ],
)
def test_cells_read_back_with_their_type_and_format(
    tmp_path, column_type, value, read, data_type, number_format
):
    cell = sheet_cell(tmp_path, column_type, value)
    assert cell.value == read
    assert type(cell.value) is type(read)
    assert cell.data_type == data_type
    assert cell.number_format == number_format


def test_serials_are_the_doubles_spreadsheet_libraries_write():
    moments = [
        wall(2024, 2, 5, 9, 0),
        wall(2024, 1, 1, 0, 0, 21, 93750),
        wall(2031, 12, 31, 23, 59, 59, 999999),
        wall(1900, 2, 28, 12, 0),
        wall(1900, 3, 1, 6, 0),
    ]
    chance = random.Random(7)
    moments += [
        wall(2000, 1, 1) + datetime.timedelta(microseconds=chance.randrange(10**15))
        for _ in range(2000)
    ]
    for moment in moments:
        assert xlsx.datetime_serial(moment) == "%.16g" % to_excel(moment)  # noqa: UP031
        assert xlsx.date_serial(moment.date()) == "%.16g" % to_excel(moment.date())  # noqa: UP031


def every_part_parses(path) -> dict[str, ElementTree.Element]:
    with zipfile.ZipFile(path) as archive:
        return {
            name: ElementTree.fromstring(archive.read(name))  # noqa: S314 - written by the test
            for name in archive.namelist()
        }


def test_the_workbook_has_the_sheets_styles_and_frozen_header(case_at, tmp_path):
    case_at("a")
    summary = write_export("xlsx", tmp_path / "study.xlsx", pseudonymiser=Pseudonymiser())
    parts = every_part_parses(summary.path)
    assert "[Content_Types].xml" in parts
    assert [name for name in parts if name.startswith("xl/worksheets/")] == [
        f"xl/worksheets/sheet{number}.xml" for number in range(1, len(TABLES) + 2)
    ]
    workbook = load_workbook(summary.path)
    assert workbook.sheetnames == [*(table.name for table in TABLES), "dictionary"]
    for sheet in workbook:
        assert sheet.freeze_panes == "A2"
        assert all(cell.font.b for cell in sheet[1])
        assert not any(cell.font.b for row in sheet.iter_rows(min_row=2) for cell in row)


@pytest.fixture
def awkward_texts(case_at, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        a = case_at("a")
        case_at("b", adverse_event=False)
    Patient.objects.filter(pk=a["patient"].pk).update(
        tumour="Patiënt <&> \"'\x07 two\nlines\r\nand =1", tumour_code=""
    )
    Patient.objects.exclude(pk=a["patient"].pk).update(tumour="=cmd|' /C calc'!A0")
    Sample.objects.filter(pk=a["sample"].pk).update(
        drawn_at=datetime.datetime(2024, 7, 1, 7, 5, 9, 123456, tzinfo=datetime.UTC),
        last_dose_at=datetime.datetime(2024, 1, 1, 0, 0, 21, 93750, tzinfo=datetime.UTC),
        concentration=Decimal("81.4600"),
    )
    return a


@pytest.mark.parametrize("key", [None, b"k" * 32], ids=["no key", "key"])
def test_copy_writes_the_bytes_of_the_python_path(postgresql, awkward_texts, tmp_path, key):
    pseudonymiser = Pseudonymiser(key=key)
    copied = write_export("xlsx", tmp_path / "copy.xlsx", pseudonymiser=pseudonymiser)
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(export_module, "copies_in_sql", lambda: False)
        written = write_export("xlsx", tmp_path / "python.xlsx", pseudonymiser=pseudonymiser)
    assert copied.rows == written.rows

    def members(path):
        with zipfile.ZipFile(path) as archive:
            # The creation time aside.
            return {name: archive.read(name) for name in archive.namelist() if "core" not in name}

    assert members(copied.path) == members(written.path)
    every_part_parses(copied.path)
    patients = load_workbook(copied.path)["patients"]
    tumours = sorted(row[4] for row in patients.iter_rows(min_row=2, values_only=True))
    # The line break read back from a carriage return and line feed is one line feed, as XML
    # parsers read it.
    assert tumours == ["'=cmd|' /C calc'!A0", "Patiënt <&> \"' two\nlines\nand =1"]


SQL_VALUES = {
    "text": ("text", TEXTS),
    "integer": ("bigint", [0, -3, 2**40, None]),
    "decimal": (
        "numeric(14, 4)",
        [Decimal("81.46"), Decimal("-2.5"), Decimal("2870"), Decimal("0.0001"), Decimal(0), None],
    ),
    "boolean": ("boolean", [True, False, None]),
    "date": (
        "date",
        [
            datetime.date(1900, 1, 1),
            datetime.date(1900, 2, 28),
            datetime.date(1900, 3, 1),
            datetime.date(2024, 2, 29),
            None,
        ],
    ),
    "datetime": (
        "timestamp",
        [
            wall(1900, 2, 28, 12, 0),
            wall(2024, 1, 1, 0, 0, 21, 93750),
            wall(2024, 2, 5, 9, 0),
            wall(2031, 12, 31, 23, 59, 59, 999999),
            None,
            *(
                wall(2000, 1, 1)
                + datetime.timedelta(microseconds=random.Random(11).randrange(10**15))
                for _ in range(3000)
            ),
        ],
    ),
}


@pytest.mark.parametrize("column_type", list(SQL_VALUES))
def test_the_database_writes_the_cells_python_writes(postgresql, column_type):
    sql_type, values = SQL_VALUES[column_type]
    postgresql.ensure_connection()
    with postgresql.connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE xlsx_cells (i serial, v {sql_type})")
        with cursor.copy("COPY xlsx_cells (v) FROM STDIN") as copy:
            for value in values:
                copy.write_row((value,))
        source = (
            "SELECT (row_number() OVER (ORDER BY i) + 1)::text AS n, i AS row_id, v AS v0 "
            "FROM xlsx_cells"
        )
        statement = (
            f"COPY ({xlsx.sheet_sql([column_type], source)}) TO STDOUT WITH "
            f"(FORMAT csv, QUOTE {xlsx.COPY_QUOTE_SQL}, DELIMITER {xlsx.COPY_DELIMITER_SQL})"
        )
        member = io.BytesIO()
        assert export_module._copy_rows(cursor, statement, member) == len(values)
        cursor.execute("DROP TABLE xlsx_cells")
    cells = xlsx.python_cells([column_type])
    assert member.getvalue().decode() == "".join(
        xlsx.row_xml(number, cells, [value]) for number, value in enumerate(values, start=2)
    )
