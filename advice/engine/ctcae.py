"""CTCAE v5.0 terms and the grades each term defines (advice/engine/data/ctcae_v5.csv).

The file is read once per process. A grade cell of `-` means the term has no such grade
(Fatigue stops at grade 3), so grade validation asks `allowed_grades`, never a fixed 1-5.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

CTCAE_CSV = Path(__file__).resolve().parent / "data" / "ctcae_v5.csv"

GRADES = (1, 2, 3, 4, 5)
OTHER_SPECIFY_SUFFIX = " - Other, specify"
_UNDEFINED = "-"


@dataclass(frozen=True)
class CtcaeTerm:
    """One CTCAE v5.0 term; `grades` holds (grade, description) for the grades it defines only."""

    meddra_code: str
    term: str
    soc: str
    grades: tuple[tuple[int, str], ...]
    definition: str

    @property
    def is_other_specify(self) -> bool:
        """The "<organ class> - Other, specify" rows: the only terms that take free text."""
        return self.term.endswith(OTHER_SPECIFY_SUFFIX)

    def grade_text(self, grade: int) -> str | None:
        """The description of `grade` for this term, or None if the term does not define it."""
        return dict(self.grades).get(grade)


def allowed_grades(term: CtcaeTerm) -> tuple[int, ...]:
    """The grades (ascending) this term defines."""
    return tuple(grade for grade, _ in term.grades)


@cache
def load_terms(path: Path = CTCAE_CSV) -> tuple[CtcaeTerm, ...]:
    """Every term of the CSV file, in file order."""
    with path.open(newline="", encoding="utf-8") as handle:
        return tuple(
            CtcaeTerm(
                meddra_code=row["meddra_code"].strip(),
                term=row["term"].strip(),
                soc=row["soc"].strip(),
                grades=tuple(
                    (grade, row[f"grade_{grade}"].strip())
                    for grade in GRADES
                    if row[f"grade_{grade}"].strip() not in ("", _UNDEFINED)
                ),
                definition=""
                if row["definition"].strip() == _UNDEFINED
                else row["definition"].strip(),
            )
            for row in csv.DictReader(handle)
        )


@cache
def _terms_by_name() -> dict[str, CtcaeTerm]:
    return {term.term.casefold(): term for term in load_terms()}


def find_term(name: str) -> CtcaeTerm | None:
    """The term whose name equals `name` ignoring case and surrounding spaces, or None."""
    return _terms_by_name().get(name.strip().casefold())
