"""An XLSX workbook written as a stream: the package's fixed parts, then one sheet after the
other, each sheet's rows written as XML as they come.

An XLSX file is a zip of XML parts (ECMA-376 / ISO 29500): the workbook and its sheet list,
the styles, a theme and one `sheetN.xml` per sheet whose `<sheetData>` holds the rows. Every
part but the rows is fixed text here; the rows are written by `row_xml` in Python or, on
PostgreSQL, by the database itself with the SQL of `sheet_sql`, one `<row>` per output line,
so the bytes of a sheet are the same either way.

Cells, by column type (`study.columns.COLUMN_TYPES`):

- integer, decimal: numbers, decimals without trailing zeros (at most 14 digits: a reader
  parses them to the double nearest the stored value);
- date, datetime: serial day numbers (days since 1899-12-30, with Excel's 29 February 1900)
  styled `yyyy-mm-dd` and `yyyy-mm-dd h:mm:ss`; a time is the double of its days plus the
  fraction of the day, printed with 16 significant digits, as spreadsheet libraries write it;
- boolean: boolean cells;
- text: inline strings (`t="inlineStr"`), XML-escaped, with the control characters XML 1.0
  cannot carry dropped and formula-like starts neutralised (`neutralise`); leading and
  trailing white space is kept (`xml:space="preserve"`).

An empty value writes no cell; an empty text is no value either.
"""

from __future__ import annotations

import datetime
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

from openpyxl.writer.theme import theme_xml

# OWASP's list of characters that make a spreadsheet cell a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
# The characters below U+0020 that XML 1.0 does not allow: all but tab, line feed and return.
ILLEGAL_CHARACTERS = "".join(chr(code) for code in range(1, 32) if chr(code) not in "\t\n\r")
ILLEGAL_CHARACTERS_RE = re.compile(f"[\x00{ILLEGAL_CHARACTERS}]")
EPOCH = datetime.date(1899, 12, 30)
# Serials 1 to 60 are one less than the days since the epoch: Excel counts a 29 February 1900.
LEAP_BUG_DAYS = 60
SECONDS_PER_DAY = 86_400
# Serial numbers are written as "%.16g" of the double: 16 significant digits.
SERIAL_DIGITS = 16

# A text cell after its reference, around its content.
TEXT_OPEN, TEXT_CLOSE = ' t="inlineStr"><is><t xml:space="preserve">', "</t></is></c>"
# Style indices into cellXfs of STYLES.
HEADER_STYLE, DATE_STYLE, DATETIME_STYLE = 1, 2, 3

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_DOCUMENT = "application/vnd.openxmlformats-officedocument"

STYLES = (
    f'<styleSheet xmlns="{MAIN}">'
    '<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
    '<numFmt numFmtId="165" formatCode="yyyy-mm-dd h:mm:ss"/></numFmts>'
    '<fonts count="2"><font><name val="Calibri"/><family val="2"/><color theme="1"/>'
    '<sz val="11"/><scheme val="minor"/></font><font><b val="1"/></font></fonts>'
    '<fills count="2"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/>'
    "</fill></fills>"
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
    "</cellStyleXfs>"
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    '<tableStyles count="0" defaultTableStyle="TableStyleMedium9" '
    'defaultPivotStyle="PivotStyleLight16"/>'
    "</styleSheet>"
)
# The header row stays in view (frozen) while the rows scroll.
SHEET_HEAD = (
    f'<worksheet xmlns="{MAIN}"><sheetPr><outlinePr summaryBelow="1" summaryRight="1"/>'
    '<pageSetUpPr/></sheetPr><sheetViews><sheetView workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    '<selection pane="bottomLeft" activeCell="A1" sqref="A1"/></sheetView></sheetViews>'
    '<sheetFormatPr baseColWidth="8" defaultRowHeight="15"/><sheetData>'
)
SHEET_TAIL = (
    '</sheetData><pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" '
    'footer="0.5"/></worksheet>'
)


def neutralise(text: str) -> str:
    """A text cell as spreadsheets must see it: a formula-like start gets a leading `'`."""
    return QUOTE + text if text.startswith(FORMULA_PREFIXES) else text


def column_letters(index: int) -> str:
    """The letters of the column at `index` (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _serial_days(day: datetime.date) -> int:
    days = (day - EPOCH).days
    return days - 1 if 0 < days <= LEAP_BUG_DAYS else days


def date_serial(value: datetime.date) -> str:
    return str(_serial_days(value))


def datetime_serial(value: datetime.datetime) -> str:
    """The serial as a double, computed and printed as `sheet_sql` does."""
    seconds = (value.hour * 60 + value.minute) * 60 + value.second
    fraction = (seconds + value.microsecond / 10**6) / SECONDS_PER_DAY
    return "%.16g" % (_serial_days(value.date()) + fraction)


def decimal_text(value: Any) -> str:
    return format(Decimal(value).normalize(), "f")


def text_content(value: Any) -> str:
    """The XML of a text cell's content: control characters dropped, neutralised, escaped."""
    return escape(neutralise(ILLEGAL_CHARACTERS_RE.sub("", str(value))))


def _text_cell(reference: str) -> Callable[[str, Any], str]:
    def cell(row: str, value: Any) -> str:
        if value is None:
            return ""
        content = text_content(value)
        if not content:
            return ""
        return f'<c r="{reference}{row}"{TEXT_OPEN}{content}{TEXT_CLOSE}'

    return cell


def _value_cell(reference: str, attributes: str, text: Callable[[Any], str]):
    def cell(row: str, value: Any) -> str:
        if value is None:
            return ""
        return f'<c r="{reference}{row}"{attributes}><v>{text(value)}</v></c>'

    return cell


def _boolean_text(value: Any) -> str:
    return "1" if value else "0"


# A cell's attributes (style, type) and the text of its value, by column type.
VALUE_CELLS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "integer": ("", str),
    "decimal": ("", decimal_text),
    "date": (f' s="{DATE_STYLE}"', date_serial),
    "datetime": (f' s="{DATETIME_STYLE}"', datetime_serial),
    "boolean": (' t="b"', _boolean_text),
}


def python_cells(types: Sequence[str]) -> list[Callable[[str, Any], str]]:
    """For each column of `types`, the XML of its cell in a row (empty for no value)."""
    cells = []
    for index, column_type in enumerate(types):
        reference = column_letters(index)
        if column_type == "text":
            cells.append(_text_cell(reference))
        else:
            attributes, text = VALUE_CELLS[column_type]
            cells.append(_value_cell(reference, attributes, text))
    return cells


def row_xml(number: int, cells: Sequence[Callable[[str, Any], str]], values: Iterable) -> str:
    """Row `number` of the sheet, a line of its own, as `row_sql` writes it."""
    row = str(number)
    return (
        f'<row r="{row}">'
        + "".join(cell(row, value) for cell, value in zip(cells, values, strict=True))
        + "</row>\n"
    )


def header_xml(names: Iterable[str]) -> str:
    """The first row: the column names in bold."""
    return (
        '<row r="1">'
        + "".join(
            f'<c r="{column_letters(index)}1" s="{HEADER_STYLE}"'
            f"{TEXT_OPEN}{escape(name)}{TEXT_CLOSE}"
            for index, name in enumerate(names)
        )
        + "</row>"
    )


CONTENT_TYPES = (
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    f'ContentType="{OFFICE_DOCUMENT}.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    f'ContentType="{OFFICE_DOCUMENT}.spreadsheetml.styles+xml"/>'
    f'<Override PartName="/xl/theme/theme1.xml" ContentType="{OFFICE_DOCUMENT}.theme+xml"/>'
    '<Override PartName="/docProps/core.xml" '
    'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    '<Override PartName="/docProps/app.xml" '
    f'ContentType="{OFFICE_DOCUMENT}.extended-properties+xml"/>'
    "{sheets}</Types>"
)
SHEET_CONTENT_TYPE = (
    '<Override PartName="/xl/worksheets/sheet{number}.xml" '
    f'ContentType="{OFFICE_DOCUMENT}.spreadsheetml.worksheet+xml"/>'
)
PACKAGE_RELS = (
    f'<Relationships xmlns="{PACKAGE_RELATIONSHIPS}">'
    f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/>'
    '<Relationship Id="rId2" '
    f'Type="{PACKAGE_RELATIONSHIPS}/metadata/core-properties" Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{RELATIONSHIPS}/extended-properties" '
    'Target="docProps/app.xml"/></Relationships>'
)
APP = (
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
    "<Application>eTDM</Application></Properties>"
)
CORE = (
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><dc:creator>eTDM</dc:creator>'
    '<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
    '<dcterms:modified xsi:type="dcterms:W3CDTF">{created}</dcterms:modified>'
    "</cp:coreProperties>"
)
WORKBOOK = (
    f'<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><workbookPr/>'
    '<bookViews><workbookView visibility="visible" activeTab="0"/></bookViews>'
    '<sheets>{sheets}</sheets><calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
)
WORKBOOK_RELS = (
    f'<Relationships xmlns="{PACKAGE_RELATIONSHIPS}">{{sheets}}'
    f'<Relationship Id="rIdStyles" Type="{RELATIONSHIPS}/styles" Target="styles.xml"/>'
    f'<Relationship Id="rIdTheme" Type="{RELATIONSHIPS}/theme" Target="theme/theme1.xml"/>'
    "</Relationships>"
)
# Beyond this many cells a sheet's XML might pass 2 GiB (at 256 bytes a cell), the most a zip
# member holds without the Zip64 extension, which must be chosen before the member is written;
# smaller sheets go without it, for readers that lack it.
ZIP64_CELLS = zipfile.ZIP64_LIMIT // 256


class Workbook:
    """A workbook being written into `archive`: the fixed parts at once, then each sheet of
    `sheet_names` in turn with `sheet()`."""

    def __init__(self, archive: zipfile.ZipFile, sheet_names: Sequence[str]) -> None:
        self.archive = archive
        self.written = 0
        numbers = range(1, len(sheet_names) + 1)
        parts = {
            "[Content_Types].xml": CONTENT_TYPES.format(
                sheets="".join(SHEET_CONTENT_TYPE.format(number=number) for number in numbers)
            ),
            "_rels/.rels": PACKAGE_RELS,
            "docProps/app.xml": APP,
            "docProps/core.xml": CORE.format(
                created=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            ),
            "xl/workbook.xml": WORKBOOK.format(
                sheets="".join(
                    f'<sheet name={quoteattr(name)} sheetId="{number}" r:id="rId{number}"/>'
                    for number, name in zip(numbers, sheet_names, strict=True)
                )
            ),
            "xl/_rels/workbook.xml.rels": WORKBOOK_RELS.format(
                sheets="".join(
                    f'<Relationship Id="rId{number}" Type="{RELATIONSHIPS}/worksheet" '
                    f'Target="worksheets/sheet{number}.xml"/>'
                    for number in numbers
                )
            ),
            "xl/styles.xml": STYLES,
            "xl/theme/theme1.xml": theme_xml,
        }
        for name, text in parts.items():
            archive.writestr(name, text)

    @contextmanager
    def sheet(self, header: Sequence[str], *, cells: int = 0) -> Iterator[IO[bytes]]:
        """The next sheet, its header row written: the caller writes the rows' XML (row 2 on)
        into the member yielded. `cells` is how many the rows hold, roughly."""
        self.written += 1
        with self.archive.open(
            f"xl/worksheets/sheet{self.written}.xml", "w", force_zip64=cells > ZIP64_CELLS
        ) as member:
            member.write((SHEET_HEAD + header_xml(header)).encode())
            yield member
            member.write(SHEET_TAIL.encode())


# The SQL below writes what the Python above writes: `sheet_sql` selects a sheet's rows from
# a subquery of the row numbers (text) and the cells' values, dates and times the local
# wall-clock ones, already shifted. Each step that refers to a value more than once reads it
# from the subquery below it, fenced with OFFSET 0 so that PostgreSQL computes it only once.

# COPY writes the rows as CSV quoted with a character that no row holds, as it is illegal: only
# a row with a line break (in a text) is quoted, and the line is otherwise written as it is.
COPY_QUOTE = 0x01
COPY_QUOTE_SQL = "E'\\x01'"
COPY_DELIMITER_SQL = "E'\\x02'"
ILLEGAL_SQL = "E'" + "".join(f"\\x{ord(character):02x}" for character in ILLEGAL_CHARACTERS) + "'"
REWRITTEN_SQL = "E'[" + ILLEGAL_SQL[2:-1] + "&<>]'"
PREFIX_CODES_SQL = ", ".join(str(ord(prefix)) for prefix in FORMULA_PREFIXES)
PREFIXES_SQL = ", ".join(
    f"'{prefix}'" if prefix.isprintable() else f"chr({ord(prefix)})" for prefix in FORMULA_PREFIXES
)
# The exact value of a double's fraction is a whole number of 2**-52 (for serials of 1 and more).
FRACTION_BITS = 52
TWO_TO_THE_MINUS_52 = format(Decimal(2) ** -FRACTION_BITS, "f")


def _text_sql(value: str) -> str:
    # Most texts hold nothing to drop or escape: one regular expression tells, and only the
    # others are rewritten, their first character being the one left first.
    quote = (
        f"CASE WHEN left(ltrim({value}, {ILLEGAL_SQL}), 1) IN ({PREFIXES_SQL}) "
        f"THEN '{QUOTE}{QUOTE}' ELSE '' END"
    )
    escaped = (
        f"replace(replace(replace(translate({value}, {ILLEGAL_SQL}, ''), "
        "'&', '&amp;'), '<', '&lt;'), '>', '&gt;')"
    )
    return (
        f"CASE WHEN {value} ~ {REWRITTEN_SQL} THEN NULLIF({quote} || {escaped}, '') "
        f"WHEN ascii({value}) IN ({PREFIX_CODES_SQL}) THEN '{QUOTE}{QUOTE}' || {value} "
        f"ELSE NULLIF({value}, '') END"
    )


def _days_sql(day: str) -> str:
    days = f"({day}::date - DATE '{EPOCH.isoformat()}')"
    return f"CASE WHEN {days} BETWEEN 1 AND {LEAP_BUG_DAYS} THEN {days} - 1 ELSE {days} END"


def _microseconds_sql(moment: str) -> str:
    return f"round(date_part('epoch', {moment}::time) * 1000000)::bigint"


def _exact_serial_sql(days: str, microseconds: str) -> str:
    """The exact value of the double `datetime_serial` computes: its whole days and its
    fraction, a whole number of 2**-52."""
    fraction = (
        f"((({microseconds} / 1000000)::float8 + ({microseconds} % 1000000)::float8 "
        f"/ 1000000::float8) / {SECONDS_PER_DAY}::float8)"
    )
    bits = f"((({days})::float8 + {fraction} - ({days})::float8) * {2**FRACTION_BITS}::float8)"
    return f"({days})::numeric + {bits}::bigint * {TWO_TO_THE_MINUS_52}"


def _printed_serial_sql(exact: str, decimals: str) -> str:
    """`exact` rounded to `decimals` places half to even, as C's printf rounds, without
    trailing zeros. The fraction of a double ends in a 5: it is halfway between two
    roundings exactly when it has one decimal more than kept."""
    kept, rounded = f"trunc({exact}, {decimals})", f"round({exact}, {decimals})"
    return (
        f"trim_scale(CASE WHEN min_scale({exact}) <> {decimals} + 1 THEN {rounded} "
        f"WHEN mod({kept} * 10::numeric ^ {decimals}, 2) = 0 THEN {kept} "
        f"ELSE {rounded} END)::text"
    )


def _boolean_sql(value: str) -> str:
    return f"CASE WHEN {value} THEN '1' WHEN NOT {value} THEN '0' END"


def _cell_sql(reference: str, attributes: str, text: str) -> str:
    return f"'<c r=\"{reference}' || n || '\"{attributes}><v>' || {text} || '</v></c>'"


# Ordered at every step, so that PostgreSQL knows the rows stay in order and sorts them once.
ORDERED = "ORDER BY row_id OFFSET 0"


def sheet_sql(types: Sequence[str], source: str) -> str:
    """The SELECT of the rows' XML, one a line, ordered by `row_id`. `source` is a subquery
    of the columns `n` (the row number as text), `row_id` and `v0`, `v1`, … (the cells'
    values, of `types`), ordered by `row_id`."""
    values = [f"v{index}" for index in range(len(types))]
    # Whole days for dates and times, microseconds of the day for times.
    parts = ["n", "row_id", *values]
    for index, column_type in enumerate(types):
        if column_type in ("date", "datetime"):
            parts.append(f"{_days_sql(values[index])} AS d{index}")
        if column_type == "datetime":
            parts.append(f"{_microseconds_sql(values[index])} AS u{index}")
    days = f"SELECT {', '.join(parts)} FROM ({source}) AS cells {ORDERED}"  # noqa: S608
    # The exact serial of each time and the decimals it is printed with.
    parts = ["*"]
    for index, column_type in enumerate(types):
        if column_type == "datetime":
            parts.append(f"{_exact_serial_sql(f'd{index}', f'u{index}')} AS x{index}")
            parts.append(f"{SERIAL_DIGITS} - length(abs(d{index})::text) AS g{index}")
    serials = f"SELECT {', '.join(parts)} FROM ({days}) AS days {ORDERED}"  # noqa: S608
    cells = []
    for index, column_type in enumerate(types):
        reference, value = column_letters(index), values[index]
        if column_type == "text":
            cells.append(
                f"'<c r=\"{reference}' || n || '\"{TEXT_OPEN}' || {_text_sql(value)} "
                f"|| '{TEXT_CLOSE}'"
            )
        elif column_type == "datetime":
            text = _printed_serial_sql(f"x{index}", f"g{index}")
            cells.append(_cell_sql(reference, f' s="{DATETIME_STYLE}"', text))
        elif column_type == "date":
            cells.append(_cell_sql(reference, f' s="{DATE_STYLE}"', f"d{index}::text"))
        elif column_type == "boolean":
            cells.append(_cell_sql(reference, ' t="b"', _boolean_sql(value)))
        elif column_type == "decimal":
            cells.append(_cell_sql(reference, "", f"trim_scale({value})::text"))
        else:
            cells.append(_cell_sql(reference, "", f"{value}::text"))
    return (
        f"SELECT concat('<row r=\"', n, '\">', {', '.join(cells)}, '</row>') "  # noqa: S608
        f"FROM ({serials}) AS serials ORDER BY row_id"
    )
