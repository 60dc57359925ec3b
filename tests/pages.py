"""Reading pages in tests: the message next to a field, and what a page links to."""

from __future__ import annotations

from html.parser import HTMLParser


class _Elements(HTMLParser):
    """Every element's attributes by id, and the text inside each element with an id."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: dict[str, dict[str, str]] = {}
        self.text: dict[str, str] = {}
        self.described_by: list[str] = []
        self._open: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        values = {name: value or "" for name, value in attrs}
        if values.get("aria-describedby"):
            self.described_by.append(values["aria-describedby"])
        element_id = values.get("id")
        if element_id:
            self.attrs[element_id] = {"tag": tag, **values}
            self.text.setdefault(element_id, "")
        if tag not in ("input", "br", "img", "meta", "link", "option", "hr"):
            self._open.append((tag, element_id))

    def handle_endtag(self, tag):
        while self._open:
            open_tag, _ = self._open.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        for _, element_id in self._open:
            if element_id:
                self.text[element_id] += data


def elements(html: str) -> _Elements:
    parser = _Elements()
    parser.feed(html)
    return parser


def field_error(html: str, field_id: str) -> str:
    """The error shown next to the field with this id, checking that the field (or its group)
    points at it with `aria-describedby`; fails when there is none."""
    page = elements(html)
    error_id = f"{field_id}-error"
    assert error_id in page.attrs, f"no error next to {field_id}"
    described = page.attrs.get(field_id, {}).get("aria-describedby", "")
    if not described:
        # A radio group is described as a whole by its fieldset.
        group = [ids for ids in page.described_by if error_id in ids.split()]
        described = group[0] if group else ""
    assert error_id in described.split(), f"{field_id} is not described by its error"
    return " ".join(page.text[error_id].split())
