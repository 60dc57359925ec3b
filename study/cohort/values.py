"""The kinds of value a cohort file holds (docs/cohort-format.md §1), as pydantic types.

Pydantic's own types do the checking, as strict as JSON: `"1"` is not a number, `1` is not
`true`, a date is `YYYY-MM-DD` text. `worded` gives their failure the format's wording (`must be
a whole number from 1 to 5, not 7`), so an error says what is wrong in the terms of the file.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.core.validators import RegexValidator
from django.utils import timezone
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from advice.engine import ctcae
from advice.engine.units import ACCEPTED_UNITS, canonical_unit
from cases.models.patients import EARLIEST_BIRTH_YEAR

# The error type of the messages worded for the cohort file, whatever pydantic's was.
WORDED = "cohort"
_DATETIME_EXAMPLE = "e.g. 2024-03-01T09:10:00+01:00"


def worded(wording: str, **wording_by_error: str) -> WrapValidator:
    """Report a failure of the value itself in the format's wording (`wording_by_error` by
    pydantic's error type, else `wording`); `{value}` is the value as the file gives it, other
    names come from pydantic's error context. A problem inside the value (one analyte of
    several) keeps its own position and wording."""

    def reword(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(value)
        except ValidationError as invalid:
            problem = invalid.errors()[0]
            if problem["loc"]:
                raise
            template = wording_by_error.get(problem["type"], wording)
            context = {**problem.get("ctx", {}), "value": repr(value)}
            raise PydanticCustomError(WORDED, template, context) from None

    return WrapValidator(reword)


def null_means(default: Callable[[], object]) -> tuple[BeforeValidator, Any]:
    """The metadata of an optional value: null, like a missing key, means `default()`."""
    return (
        BeforeValidator(lambda value: default() if value is None else value),
        Field(default_factory=default),
    )


def checked_at(info: ValidationInfo) -> dt.datetime:
    """The moment of the check, which the schema gives every validator in its context."""
    return info.context["now"]


def text(max_length: int) -> Any:
    return Annotated[
        str,
        Strict(),
        StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length),
        worded(
            "must be a non-empty string, not {value}",
            string_too_long="must be at most {max_length} characters",
        ),
    ]


def optional_text(max_length: int) -> Any:
    return Annotated[
        str,
        Strict(),
        StringConstraints(strip_whitespace=True, max_length=max_length),
        worded(
            "must be a string or null, not {value}",
            string_too_long="must be at most {max_length} characters",
        ),
        *null_means(str),
    ]


def coded(validator: RegexValidator) -> Any:
    """A code in the form the models' validator requires, refused with its message."""
    return Annotated[
        str,
        Strict(),
        StringConstraints(strip_whitespace=True, pattern=validator.regex.pattern),
        worded(str(validator.message), string_type="must be a string, not {value}"),
    ]


def choice(allowed: Sequence[str]) -> Any:
    return Annotated[
        Literal[tuple(allowed)], worded(f"must be one of {', '.join(allowed)}, not {{value}}")
    ]


def whole(low: int, high: int) -> Any:
    return Annotated[
        int,
        Strict(),
        Field(ge=low, le=high),
        worded(f"must be a whole number from {low} to {high}, not {{value}}"),
    ]


def _json_number(value: object) -> object:
    # Pydantic's Decimal also reads text ("600"), and a strict one refuses JSON's ints and floats.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("not a JSON number")
    return value


def _decimal(max_digits: int, decimal_places: int, *, negative: bool) -> Any:
    """A JSON number as an exact Decimal (2870.5, not its binary float) that fits its database
    column; pydantic counts the digits of the normalised value, so 600.000 has none after the
    point."""
    return Annotated[
        Decimal,
        Field(
            max_digits=max_digits,
            decimal_places=decimal_places,
            allow_inf_nan=False,
            ge=None if negative else 0,
        ),
        BeforeValidator(_json_number),
        worded(
            "must be a number, not {value}",
            finite_number="must be a finite number, not {value}",
            greater_than_equal="must not be negative",
            decimal_max_digits="must have at most {max_digits} digits in total",
            decimal_max_places="must have at most {decimal_places} decimal places",
            decimal_whole_digits="must have at most {whole_digits} digits before the decimal point",
        ),
    ]


def _iso_text(pattern: str) -> BeforeValidator:
    """Only text in ISO 8601 form: pydantic's dates would also take a number (or numeric text)
    for a Unix timestamp."""
    form = re.compile(pattern)

    def text_only(value: object) -> object:
        if not isinstance(value, str) or form.match(value) is None:
            raise ValueError("not ISO 8601 text")
        return value

    return BeforeValidator(text_only)


def _up_to_this_year(
    value: object, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
) -> int:
    this_year = timezone.localdate(checked_at(info)).year
    try:
        year = handler(value)
    except ValidationError:
        year = None
    if year is None or year > this_year:
        raise PydanticCustomError(
            WORDED,
            "must be a whole number from {low} to {high}, not {value}",
            {"low": EARLIEST_BIRTH_YEAR, "high": this_year, "value": repr(value)},
        )
    return year


def _ctcae_term(name: str) -> str:
    """The term as CTCAE v5.0 spells it (the file may use any case)."""
    term = ctcae.find_term(name)
    if term is None:
        raise PydanticCustomError(WORDED, "{value} is not a CTCAE v5.0 term", {"value": repr(name)})
    return term.term


IsoDate = Annotated[
    dt.date,
    _iso_text(r"\d{4}-\d{2}-\d{2}\Z"),
    worded("{value} is not a valid date", value_error="must be a date as YYYY-MM-DD, not {value}"),
]
IsoDateTime = Annotated[
    AwareDatetime,
    _iso_text(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}"),
    worded(
        f"must be an ISO-8601 date and time ({_DATETIME_EXAMPLE}), not {{value}}",
        timezone_aware=f"needs a time zone offset ({_DATETIME_EXAMPLE}), got {{value}}",
    ),
]
Flag = Annotated[bool, Strict(), worded("must be true or false, not {value}")]
# The digits of the database columns (cases.models DOSE and CONCENTRATION).
DailyDose = _decimal(8, 2, negative=True)
Concentration = _decimal(14, 4, negative=False)
Unit = Annotated[
    str,
    Strict(),
    AfterValidator(lambda unit: canonical_unit(unit, field="unit")),
    worded(f"unknown unit {{value}}; use one of {', '.join(ACCEPTED_UNITS)}"),
]
BirthYear = Annotated[int, Strict(), Field(ge=EARLIEST_BIRTH_YEAR), WrapValidator(_up_to_this_year)]
CtcaeTerm = Annotated[text(200), AfterValidator(_ctcae_term)]
