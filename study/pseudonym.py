"""Pseudonyms for study exports: keyed study numbers and a per-patient keyed date shift.

Without a key (a study-internal export) everything passes through unchanged. With a key,
following the approach REDCap offers for de-identified exports:

- the study number becomes `P` + the first 16 hex digits (upper case) of
  HMAC-SHA256(key, study number): stable for the same key, not reversible without it;
- every date and time of a patient moves by the same number of days, −180 to +180 and never
  0, taken from HMAC-SHA256(key, "date:" + study number). Intervals within a patient (days
  between dose changes, hours between the last dose and the draw) stay exactly as they were;
  calendar dates cannot be linked back to admissions or lab runs;
- the birth year is the year in which 2 July of the birth year (the middle of the year) lands
  after the same shift. Because the shift is at most 180 days and 2 July is at least 182 days
  from either end of its year, this is always the birth year itself: a year of birth alone is
  kept, the full birth date is never stored nor exported.

Pure: no ORM, no settings, no clock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path

MIN_KEY_BYTES = 32
MAX_SHIFT_DAYS = 180
STUDY_NUMBER_PREFIX = "P"
STUDY_NUMBER_HEX_DIGITS = 16
# The middle of the year: the birth date is unknown within its year, so its expected value.
MID_YEAR = (7, 2)


class PseudonymKeyError(ValueError):
    """The pseudonymisation key file is missing, unreadable or too short."""


def _digest(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


@dataclass(frozen=True)
class Pseudonymiser:
    """Turns one installation's study numbers and dates into those of an export.

    `key` None is the study-internal export: study numbers and dates as they are.
    """

    # Kept out of repr: a pseudonymiser in a log line or an error report must not reveal it.
    key: bytes | None = field(default=None, repr=False)

    def study_number(self, value: str) -> str:
        if self.key is None:
            return value
        digest = _digest(self.key, value).hex().upper()
        return STUDY_NUMBER_PREFIX + digest[:STUDY_NUMBER_HEX_DIGITS]

    def offset_days(self, study_number: str) -> int:
        """The patient's date shift in days: 0 without a key, else ±1 to ±180."""
        if self.key is None:
            return 0
        # 64 bits reduced modulo 360: the bias is below 1e-16, no offset is noticeably likelier.
        draw = int.from_bytes(_digest(self.key, "date:" + study_number)[:8], "big")
        span = draw % (2 * MAX_SHIFT_DAYS)
        # 0..179 → −180..−1 and 180..359 → +1..+180: never 0, so no patient keeps real dates.
        return span - MAX_SHIFT_DAYS if span < MAX_SHIFT_DAYS else span - MAX_SHIFT_DAYS + 1

    def date(self, study_number: str, value: dt.date | None) -> dt.date | None:
        if value is None:
            return None
        return value + dt.timedelta(days=self.offset_days(study_number))

    def datetime(self, study_number: str, value: dt.datetime | None) -> dt.datetime | None:
        """The moment shifted by whole days with its time of day and UTC offset kept.

        The offset is frozen before shifting: moving a zone-aware time across a daylight-saving
        change would alter the hours between a last dose and a draw on the other side of it.
        """
        if value is None:
            return None
        offset = value.utcoffset()
        fixed = value if offset is None else value.replace(tzinfo=dt.timezone(offset))
        return fixed + dt.timedelta(days=self.offset_days(study_number))

    def birth_year(self, study_number: str, value: int) -> int:
        middle = dt.date(value, *MID_YEAR)
        return (middle + dt.timedelta(days=self.offset_days(study_number))).year

    @classmethod
    def from_key_file(cls, path: Path) -> Pseudonymiser:
        """The key is the file's bytes with surrounding whitespace removed (at least 32)."""
        try:
            key = Path(path).read_bytes().strip()
        except FileNotFoundError:
            raise PseudonymKeyError(f"pseudonymisation key file {path} does not exist") from None
        except OSError as error:
            raise PseudonymKeyError(
                f"cannot read the pseudonymisation key file {path}: {error.strerror}"
            ) from None
        if len(key) < MIN_KEY_BYTES:
            raise PseudonymKeyError(
                f"the pseudonymisation key in {path} has {len(key)} bytes; "
                f"at least {MIN_KEY_BYTES} are needed (e.g. `openssl rand -hex 32`)"
            )
        return cls(key=key)
