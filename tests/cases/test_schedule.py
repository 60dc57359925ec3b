"""docs/sampling-schedule.md and its `schedule` command (§11), one table row per rule, dates
worked out by hand; extra samples (§12) and reminders (§9) included.

Unless a row says otherwise the treatment starts on Monday 2024-01-01 (2024 is a leap year), so
its regular dates are the Mondays 2024-01-29 (week 4), 02-26 (8), 03-25 (12), 06-17 (24),
09-09 (36), 12-02 (48) and 2025-02-24 (60).
"""

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Final

import pytest

from advice.engine.errors import InputError
from cases.schedule import (
    DueDate,
    Interruption,
    Reminder,
    ReminderKind,
    ScheduleRequest,
    compute_due_dates,
    match_samples,
    open_due_dates,
    parse_schedule_request,
    reminders_to_send,
    request_from_doses,
    schedule_to_json,
    still_overdue,
)

R: Final = "regular"
P: Final = "post_change"
E: Final = "extra"


def day(iso: str) -> dt.date:
    return dt.date.fromisoformat(iso)


def request(
    *,
    start: str = "2024-01-01",
    changes: tuple[str, ...] = (),
    interruptions: tuple[tuple[str, str | None], ...] = (),
    stop: str | None = None,
    until: str = "2024-12-31",
    extra: tuple[str, ...] = (),
) -> ScheduleRequest:
    return ScheduleRequest(
        start=day(start),
        dose_changes=tuple(day(change) for change in changes),
        interruptions=tuple(
            Interruption(day(first), None if resumes is None else day(resumes))
            for first, resumes in interruptions
        ),
        stop=None if stop is None else day(stop),
        until=day(until),
        extra=tuple(day(extra_day) for extra_day in extra),
    )


def schedule(**kwargs: Any) -> list[tuple[str, str]]:
    return [(due.date.isoformat(), due.kind) for due in compute_due_dates(request(**kwargs))]


SCHEDULE_CASES = [
    # Regular dates and `until`.
    pytest.param(
        {"until": "2025-02-24"},
        [
            ("2024-01-29", R),
            ("2024-02-26", R),
            ("2024-03-25", R),
            ("2024-06-17", R),
            ("2024-09-09", R),
            ("2024-12-02", R),
            ("2025-02-24", R),
        ],
        id="weeks 4, 8, 12, then every 12 weeks; until is inclusive",
    ),
    pytest.param(
        {"until": "2025-02-23"},
        [
            ("2024-01-29", R),
            ("2024-02-26", R),
            ("2024-03-25", R),
            ("2024-06-17", R),
            ("2024-09-09", R),
            ("2024-12-02", R),
        ],
        id="nothing after until",
    ),
    pytest.param({"until": "2024-01-28"}, [], id="until before week 4"),
    pytest.param({"until": "2024-01-01"}, [], id="until on the start"),
    # post_change dates.
    pytest.param(
        {"changes": ("2024-04-15",), "until": "2024-06-30"},
        [
            ("2024-01-29", R),
            ("2024-02-26", R),
            ("2024-03-25", R),
            ("2024-05-13", P),
            ("2024-06-17", R),
        ],
        id="post_change 28 days after a dose change",
    ),
    pytest.param(
        {"changes": ("2024-01-08",), "until": "2024-03-31"},
        [("2024-02-05", P), ("2024-02-26", R), ("2024-03-25", R)],
        id="post_change replaces week 4 seven days before it",
    ),
    # A regular date within 14 days of a post_change date.
    pytest.param(
        {"changes": ("2024-05-06",), "until": "2024-06-30"},
        [("2024-01-29", R), ("2024-02-26", R), ("2024-03-25", R), ("2024-06-03", P)],
        id="regular 14 days after a post_change is dropped",
    ),
    pytest.param(
        {"changes": ("2024-05-05",), "until": "2024-06-30"},
        [
            ("2024-01-29", R),
            ("2024-02-26", R),
            ("2024-03-25", R),
            ("2024-06-02", P),
            ("2024-06-17", R),
        ],
        id="regular 15 days after a post_change stays",
    ),
    pytest.param(
        {"changes": ("2024-06-03",), "until": "2024-07-31"},
        [("2024-01-29", R), ("2024-02-26", R), ("2024-03-25", R), ("2024-07-01", P)],
        id="regular 14 days before a post_change is dropped",
    ),
    pytest.param(
        {"changes": ("2024-06-04",), "until": "2024-07-31"},
        [
            ("2024-01-29", R),
            ("2024-02-26", R),
            ("2024-03-25", R),
            ("2024-06-17", R),
            ("2024-07-02", P),
        ],
        id="regular 15 days before a post_change stays",
    ),
    pytest.param(
        {"changes": ("2024-05-20",), "until": "2024-06-30"},
        [("2024-01-29", R), ("2024-02-26", R), ("2024-03-25", R), ("2024-06-17", P)],
        id="regular and post_change on one day: one post_change entry",
    ),
    # Two post_change dates within 14 days.
    pytest.param(
        {"changes": ("2024-04-15", "2024-04-29"), "until": "2024-06-30"},
        [
            ("2024-01-29", R),
            ("2024-02-26", R),
            ("2024-03-25", R),
            ("2024-05-27", P),
            ("2024-06-17", R),
        ],
        id="post_change dates 14 days apart keep the later",
    ),
    pytest.param(
        {"changes": ("2024-04-29", "2024-04-15", "2024-04-29"), "until": "2024-06-30"},
        [
            ("2024-01-29", R),
            ("2024-02-26", R),
            ("2024-03-25", R),
            ("2024-05-27", P),
            ("2024-06-17", R),
        ],
        id="dose changes in any order, repeated",
    ),
    pytest.param(
        {"changes": ("2024-04-15", "2024-04-30"), "until": "2024-06-30"},
        [
            ("2024-01-29", R),
            ("2024-02-26", R),
            ("2024-03-25", R),
            ("2024-05-13", P),
            ("2024-05-28", P),
            ("2024-06-17", R),
        ],
        id="post_change dates 15 days apart both stay",
    ),
    pytest.param(
        {"changes": ("2024-04-15", "2024-04-26", "2024-05-07"), "until": "2024-06-30"},
        [("2024-01-29", R), ("2024-02-26", R), ("2024-03-25", R), ("2024-06-04", P)],
        id="a run of post_change dates 11 days apart keeps only the last",
    ),
    pytest.param(
        {"changes": ("2024-03-11", "2024-03-25"), "until": "2024-04-30"},
        [("2024-01-29", R), ("2024-02-26", R), ("2024-03-25", R), ("2024-04-22", P)],
        id="a superseded post_change date drops no regular date",
    ),
    # Interruptions.
    pytest.param(
        {"interruptions": (("2024-02-05", "2024-02-19"),), "until": "2024-06-30"},
        [("2024-01-29", R), ("2024-02-26", R), ("2024-03-18", P), ("2024-06-17", R)],
        id="resume after an interruption yields a post_change date",
    ),
    pytest.param(
        {"interruptions": (("2024-02-20", "2024-03-01"),), "until": "2024-06-30"},
        [("2024-01-29", R), ("2024-03-29", P), ("2024-06-17", R)],
        id="regular date inside a closed interruption is dropped",
    ),
    pytest.param(
        {"interruptions": (("2024-02-26", "2024-03-04"),), "until": "2024-06-30"},
        [("2024-01-29", R), ("2024-04-01", P), ("2024-06-17", R)],
        id="the interruption's first day is interrupted",
    ),
    pytest.param(
        {"interruptions": (("2024-02-12", "2024-02-27"),), "until": "2024-06-30"},
        [("2024-01-29", R), ("2024-03-26", P), ("2024-06-17", R)],
        id="the day before the resume is interrupted",
    ),
    pytest.param(
        {"interruptions": (("2024-02-12", "2024-02-26"),), "until": "2024-06-30"},
        [("2024-01-29", R), ("2024-02-26", R), ("2024-03-25", P), ("2024-06-17", R)],
        id="the resume day is on treatment",
    ),
    pytest.param(
        {"interruptions": (("2024-03-01", None),)},
        [("2024-01-29", R), ("2024-02-26", R)],
        id="open interruption: nothing from its first day on",
    ),
    pytest.param(
        {"interruptions": (("2024-02-26", None),)},
        [("2024-01-29", R)],
        id="open interruption starting on a regular date",
    ),
    pytest.param(
        {"changes": ("2024-02-10",), "interruptions": (("2024-03-01", None),)},
        [("2024-01-29", R), ("2024-02-26", R)],
        id="post_change inside an open interruption replaces nothing",
    ),
    pytest.param(
        {
            "changes": ("2024-03-01",),
            "interruptions": (("2024-03-27", "2024-04-10"),),
            "until": "2024-06-30",
        },
        [
            ("2024-01-29", R),
            ("2024-02-26", R),
            ("2024-03-25", R),
            ("2024-05-08", P),
            ("2024-06-17", R),
        ],
        id="post_change inside a closed interruption replaces nothing",
    ),
    # Stop date.
    pytest.param(
        {"stop": "2024-06-17"},
        [("2024-01-29", R), ("2024-02-26", R), ("2024-03-25", R)],
        id="nothing on the stop date",
    ),
    pytest.param(
        {"stop": "2024-06-18"},
        [("2024-01-29", R), ("2024-02-26", R), ("2024-03-25", R), ("2024-06-17", R)],
        id="the day before the stop date is due",
    ),
    pytest.param(
        {"changes": ("2024-05-23",), "stop": "2024-06-20"},
        [("2024-01-29", R), ("2024-02-26", R), ("2024-03-25", R), ("2024-06-17", R)],
        id="post_change on the stop date replaces nothing",
    ),
    pytest.param({"stop": "2024-01-01"}, [], id="stopped on the start date"),
    # `until` cuts last.
    pytest.param(
        {"changes": ("2024-03-04",), "until": "2024-03-31"},
        [("2024-01-29", R), ("2024-02-26", R)],
        id="a post_change date after until still replaces a regular date before it",
    ),
    pytest.param(
        {"start": "9999-01-01", "changes": ("9999-12-20",), "until": "9999-12-31"},
        [
            ("9999-01-29", R),
            ("9999-02-26", R),
            ("9999-03-26", R),
            ("9999-06-18", R),
            ("9999-09-10", R),
            ("9999-12-03", R),
        ],
        id="a post_change date past the calendar's end is after until",
    ),
    # Extra dates (§12).
    pytest.param(
        {"extra": ("2024-02-08",), "until": "2024-03-31"},
        [("2024-01-29", R), ("2024-02-08", E), ("2024-02-26", R), ("2024-03-25", R)],
        id="an extra date stands beside the regular dates near it",
    ),
    pytest.param(
        {"changes": ("2024-04-15",), "extra": ("2024-05-20",), "until": "2024-06-30"},
        [
            ("2024-01-29", R),
            ("2024-02-26", R),
            ("2024-03-25", R),
            ("2024-05-13", P),
            ("2024-05-20", E),
            ("2024-06-17", R),
        ],
        id="a post_change date 7 days before does not drop an extra date",
    ),
    pytest.param(
        {"extra": ("2024-06-10",), "changes": ("2024-05-06",), "until": "2024-06-30"},
        [
            ("2024-01-29", R),
            ("2024-02-26", R),
            ("2024-03-25", R),
            ("2024-06-03", P),
            ("2024-06-10", E),
        ],
        id="an extra date near a post_change date saves no regular date from it",
    ),
    pytest.param(
        {"extra": ("2024-03-25", "2024-05-13"), "changes": ("2024-04-15",), "until": "2024-06-30"},
        [
            ("2024-01-29", R),
            ("2024-02-26", R),
            ("2024-03-25", R),
            ("2024-05-13", P),
            ("2024-06-17", R),
        ],
        id="an extra date on a regular or post_change date: one entry of the protocol's kind",
    ),
    pytest.param(
        {"extra": ("2024-03-10", "2024-03-05", "2024-03-10"), "until": "2024-03-31"},
        [
            ("2024-01-29", R),
            ("2024-02-26", R),
            ("2024-03-05", E),
            ("2024-03-10", E),
            ("2024-03-25", R),
        ],
        id="extra dates in any order, repeated, a few days apart",
    ),
    pytest.param(
        {"extra": ("2024-01-01", "2024-01-10"), "until": "2024-01-31"},
        [("2024-01-01", E), ("2024-01-10", E), ("2024-01-29", R)],
        id="extra dates from the start on, before week 4",
    ),
    pytest.param(
        {
            "interruptions": (("2024-04-01", "2024-04-15"),),
            "extra": ("2024-03-31", "2024-04-01", "2024-04-14", "2024-04-15"),
            "until": "2024-04-30",
        },
        [
            ("2024-01-29", R),
            ("2024-02-26", R),
            ("2024-03-25", R),
            ("2024-03-31", E),
            ("2024-04-15", E),
        ],
        id="an extra date inside an interruption is dropped",
    ),
    pytest.param(
        {"interruptions": (("2024-04-01", None),), "extra": ("2024-05-01",)},
        [("2024-01-29", R), ("2024-02-26", R), ("2024-03-25", R)],
        id="an extra date during an open interruption is dropped",
    ),
    pytest.param(
        {"stop": "2024-04-01", "extra": ("2024-03-31", "2024-04-01")},
        [("2024-01-29", R), ("2024-02-26", R), ("2024-03-25", R), ("2024-03-31", E)],
        id="an extra date on the stop date is dropped",
    ),
    pytest.param(
        {"extra": ("2024-03-31", "2024-04-01"), "until": "2024-03-31"},
        [("2024-01-29", R), ("2024-02-26", R), ("2024-03-25", R), ("2024-03-31", E)],
        id="an extra date after until is cut",
    ),
]


@pytest.mark.parametrize(("kwargs", "expected"), SCHEDULE_CASES)
def test_due_dates(kwargs: dict[str, object], expected: list[tuple[str, str]]) -> None:
    assert schedule(**kwargs) == expected


def test_worked_example_of_the_documentation() -> None:
    """docs/sampling-schedule.md: sorafenib step-up, a TDM increase, an interruption for HFSR."""
    doses = [
        (day("2024-01-01"), Decimal("400")),
        (day("2024-01-15"), Decimal("600")),
        (day("2024-01-29"), Decimal("800")),
        (day("2024-04-08"), Decimal("1200")),
        (day("2024-05-20"), Decimal("0")),
        (day("2024-06-03"), Decimal("800")),
    ]
    schedule_request = request_from_doses(doses, stop=None, until=day("2024-12-31"))
    assert schedule_request == parse_schedule_request(
        {
            "start": "2024-01-01",
            "dose_changes": ["2024-01-15", "2024-01-29", "2024-04-08"],
            "interruptions": [["2024-05-20", "2024-06-03"]],
            "stop": None,
            "until": "2024-12-31",
        }
    )
    assert schedule_to_json(compute_due_dates(schedule_request)) == {
        "due": [
            {"date": "2024-01-29", "kind": R},
            {"date": "2024-02-26", "kind": P},
            {"date": "2024-03-25", "kind": R},
            {"date": "2024-05-06", "kind": P},
            {"date": "2024-07-01", "kind": P},
            {"date": "2024-09-09", "kind": R},
            {"date": "2024-12-02", "kind": R},
        ]
    }


def test_worked_example_with_an_extra_date() -> None:
    """docs/sampling-schedule.md §11: the worked example asked for an extra sample on 08-01."""
    due = compute_due_dates(
        parse_schedule_request(
            {
                "start": "2024-01-01",
                "dose_changes": ["2024-01-15", "2024-01-29", "2024-04-08"],
                "interruptions": [["2024-05-20", "2024-06-03"]],
                "stop": None,
                "until": "2024-12-31",
                "extra": ["2024-08-01"],
            }
        )
    )
    assert [(entry.date.isoformat(), entry.kind) for entry in due] == [
        ("2024-01-29", R),
        ("2024-02-26", P),
        ("2024-03-25", R),
        ("2024-05-06", P),
        ("2024-07-01", P),
        ("2024-08-01", E),
        ("2024-09-09", R),
        ("2024-12-02", R),
    ]


# request_from_doses -------------------------------------------------------------------------


DOSE_HISTORY_CASES = [
    pytest.param(
        [("2024-01-01", "400"), ("2024-01-15", "600"), ("2024-02-12", "800")],
        None,
        request(changes=("2024-01-15", "2024-02-12")),
        id="step-up: every new dose is a change",
    ),
    pytest.param(
        [("2024-01-01", "800"), ("2024-03-04", "0"), ("2024-03-18", "400")],
        None,
        request(interruptions=(("2024-03-04", "2024-03-18"),)),
        id="0 mg until the next dose is an interruption",
    ),
    pytest.param(
        [("2024-01-01", "800"), ("2024-03-04", "0"), ("2024-03-18", "800")],
        None,
        request(interruptions=(("2024-03-04", "2024-03-18"),)),
        id="resume at the dose before the interruption still resumes",
    ),
    pytest.param(
        [("2024-01-01", "800"), ("2024-03-04", "0"), ("2024-03-11", "0"), ("2024-03-18", "600")],
        None,
        request(interruptions=(("2024-03-04", "2024-03-18"),)),
        id="consecutive 0 mg regimens are one interruption",
    ),
    pytest.param(
        [("2024-01-01", "800"), ("2024-03-04", "0")],
        None,
        request(interruptions=(("2024-03-04", None),)),
        id="0 mg as the last regimen is an open interruption",
    ),
    pytest.param(
        [("2024-01-01", "400"), ("2024-02-01", "400.0"), ("2024-03-01", "600")],
        None,
        request(changes=("2024-02-01", "2024-03-01")),
        id="every later non-zero regimen is a change, a new split of the same dose included",
    ),
    pytest.param(
        [("2024-01-01", "37.5"), ("2024-02-01", "50")],
        None,
        request(changes=("2024-02-01",)),
        id="fractional doses",
    ),
    pytest.param(
        [("2024-01-01", "400"), ("2024-05-01", "600")],
        "2024-05-01",
        request(stop="2024-05-01"),
        id="a regimen on the stop date is left out",
    ),
    pytest.param(
        [("2024-01-01", "800"), ("2024-03-04", "0"), ("2024-05-01", "800")],
        "2024-05-01",
        request(interruptions=(("2024-03-04", None),), stop="2024-05-01"),
        id="interrupted until the stop date",
    ),
]


@pytest.mark.parametrize(("doses", "stop", "expected"), DOSE_HISTORY_CASES)
def test_request_from_doses(
    doses: list[tuple[str, str]], stop: str | None, expected: ScheduleRequest
) -> None:
    history = [(day(effective_from), Decimal(dose)) for effective_from, dose in doses]
    derived = request_from_doses(
        history, stop=None if stop is None else day(stop), until=day("2024-12-31")
    )
    assert derived == expected


@pytest.mark.parametrize(
    ("doses", "stop", "field"),
    [
        pytest.param([], None, "doses", id="no regimen"),
        pytest.param([("2024-01-01", "0")], None, "doses[0].daily_dose_mg", id="starts at 0 mg"),
        pytest.param(
            [("2024-01-01", "400"), ("2024-02-01", "-200")],
            None,
            "doses[1].daily_dose_mg",
            id="negative dose",
        ),
        pytest.param(
            [("2024-01-01", "400"), ("2024-01-01", "600")],
            None,
            "doses[1].from",
            id="two regimens on one day",
        ),
        pytest.param(
            [("2024-02-01", "400"), ("2024-01-01", "600")],
            None,
            "doses[1].from",
            id="not oldest first",
        ),
        pytest.param([("2024-02-01", "400")], "2024-01-31", "stop", id="stop before the start"),
    ],
)
def test_request_from_doses_refuses(
    doses: list[tuple[str, str]], stop: str | None, field: str
) -> None:
    history = [(day(effective_from), Decimal(dose)) for effective_from, dose in doses]
    with pytest.raises(InputError) as error:
        request_from_doses(
            history, stop=None if stop is None else day(stop), until=day("2024-12-31")
        )
    assert error.value.field == field


# Fulfilment ---------------------------------------------------------------------------------


WEEK_12 = DueDate(day("2024-03-25"), R)
# Unless a test says otherwise, the treatment was entered in eTDM on its start date.
REGISTERED = day("2024-01-01")


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        pytest.param([("s1", "2024-03-18")], {"2024-03-25": "s1"}, id="7 days before"),
        pytest.param([("s1", "2024-03-17")], {}, id="8 days before"),
        pytest.param([("s1", "2024-04-01")], {"2024-03-25": "s1"}, id="7 days after"),
        pytest.param([("s1", "2024-04-02")], {}, id="8 days after"),
        pytest.param(
            [("s1", "2024-03-21"), ("s2", "2024-03-27")],
            {"2024-03-25": "s2"},
            id="the nearest sample wins",
        ),
        pytest.param(
            [("s2", "2024-03-27"), ("s1", "2024-03-23")],
            {"2024-03-25": "s1"},
            id="equally near: the earlier sample wins",
        ),
        pytest.param(
            [("s1", "2024-03-25"), ("s2", "2024-03-25")],
            {"2024-03-25": "s1"},
            id="same day: the first listed wins",
        ),
    ],
)
def test_match_samples(samples: list[tuple[str, str]], expected: dict[str, str]) -> None:
    drawn = [(sample_id, day(drawn_on)) for sample_id, drawn_on in samples]
    assert match_samples([WEEK_12], drawn) == {day(due): sample for due, sample in expected.items()}


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        pytest.param([(1, "2024-03-30")], {"2024-03-25": 1}, id="one sample, two due dates"),
        pytest.param(
            [(1, "2024-03-31"), (2, "2024-03-26")],
            {"2024-03-25": 2, "2024-04-04": 1},
            id="closest pair first",
        ),
    ],
)
def test_a_sample_fulfils_one_due_date(
    samples: list[tuple[int, str]], expected: dict[str, int]
) -> None:
    # Ten days apart, as only an extra date can be: both windows hold 2024-03-30.
    due_dates = [WEEK_12, DueDate(day("2024-04-04"), E)]
    drawn = [(sample_id, day(drawn_on)) for sample_id, drawn_on in samples]
    assert match_samples(due_dates, drawn) == {day(due): sample for due, sample in expected.items()}


def test_a_resample_a_week_after_a_due_date_needs_its_own_sample() -> None:
    # The sample of the due date itself counts for it, not for the extra date 7 days later.
    due_dates = [WEEK_12, DueDate(day("2024-04-01"), E)]
    assert match_samples(due_dates, [(1, day("2024-03-25"))]) == {WEEK_12.date: 1}
    assert match_samples(due_dates, [(1, day("2024-03-25")), (2, day("2024-04-02"))]) == {
        WEEK_12.date: 1,
        day("2024-04-01"): 2,
    }


# Reminders ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "fulfilled", "sent", "expected"),
    [
        pytest.param("2024-03-17", False, set(), [], id="8 days before: nothing"),
        pytest.param("2024-03-18", False, set(), ["upcoming"], id="7 days before: upcoming"),
        pytest.param("2024-03-21", False, set(), ["upcoming"], id="missed day caught up"),
        pytest.param("2024-03-21", False, {"upcoming"}, [], id="upcoming never twice"),
        pytest.param("2024-03-25", False, set(), ["upcoming"], id="caught up on the due date"),
        pytest.param("2024-03-26", False, set(), [], id="not upcoming after the due date"),
        pytest.param("2024-03-18", True, set(), [], id="no upcoming when drawn early"),
        pytest.param("2024-03-27", False, {"upcoming"}, [], id="2 days after: nothing"),
        pytest.param("2024-03-28", False, {"upcoming"}, ["overdue"], id="3 days after: overdue"),
        pytest.param("2024-03-28", True, {"upcoming"}, [], id="fulfilled: no overdue"),
        pytest.param("2024-03-28", False, {"upcoming", "overdue"}, [], id="overdue never twice"),
        pytest.param("2024-04-15", False, {"upcoming"}, ["overdue"], id="overdue caught up"),
    ],
)
def test_reminders(
    today: str, fulfilled: bool, sent: set[str], expected: list[ReminderKind]
) -> None:
    reminders = reminders_to_send(
        [WEEK_12],
        {WEEK_12.date: "s1"} if fulfilled else {},
        today=day(today),
        sent={(WEEK_12.date, kind) for kind in sent},
        registered_on=REGISTERED,
    )
    assert reminders == tuple(Reminder(WEEK_12.date, kind) for kind in expected)


@pytest.mark.parametrize(
    ("registered", "today", "expected"),
    [
        pytest.param("2024-03-26", "2024-03-28", [], id="registered the day after: no overdue"),
        pytest.param("2024-06-01", "2024-06-01", [], id="registered months later: none"),
        pytest.param("2024-03-25", "2024-03-28", ["overdue"], id="registered on the due date"),
        pytest.param("2024-03-20", "2024-03-20", ["upcoming"], id="registered in the week before"),
    ],
)
def test_no_reminder_for_a_date_before_registration(
    registered: str, today: str, expected: list[ReminderKind]
) -> None:
    reminders = reminders_to_send(
        [WEEK_12], {}, today=day(today), sent=set(), registered_on=day(registered)
    )
    assert reminders == tuple(Reminder(WEEK_12.date, kind) for kind in expected)


def test_reminders_of_several_due_dates_oldest_first() -> None:
    due_dates = [DueDate(day("2024-03-29"), P), DueDate(day("2024-03-18"), P)]
    assert reminders_to_send(
        due_dates, set(), today=day("2024-03-22"), sent=set(), registered_on=REGISTERED
    ) == (
        Reminder(day("2024-03-18"), "overdue"),
        Reminder(day("2024-03-29"), "upcoming"),
    )


def test_an_extra_date_is_reminded_of_like_any_other() -> None:
    extra = DueDate(day("2024-03-12"), E)
    assert reminders_to_send(
        [extra], {}, today=day("2024-03-05"), sent=set(), registered_on=REGISTERED
    ) == (Reminder(extra.date, "upcoming"),)
    assert reminders_to_send(
        [extra], {}, today=day("2024-03-15"), sent=set(), registered_on=REGISTERED
    ) == (Reminder(extra.date, "overdue"),)


def test_a_daily_job_sends_each_reminder_once() -> None:
    sent: set[tuple[dt.date, str]] = set()
    sent_on: list[tuple[str, str]] = []
    today = day("2024-03-01")
    while today <= day("2024-04-30"):
        for reminder in reminders_to_send(
            [WEEK_12], {}, today=today, sent=sent, registered_on=REGISTERED
        ):
            sent.add((reminder.due_date, reminder.kind))
            sent_on.append((today.isoformat(), reminder.kind))
        today += dt.timedelta(days=1)
    assert sent_on == [("2024-03-18", "upcoming"), ("2024-03-28", "overdue")]


def test_no_reminders_for_a_date_no_longer_due() -> None:
    # Stopped five days before week 12: weeks 4 and 8 had their reminders, week 12 gets none.
    stopped = compute_due_dates(request(stop="2024-03-20", until="2024-04-30"))
    sent = {
        (day(due), kind) for due in ("2024-01-29", "2024-02-26") for kind in ("upcoming", "overdue")
    }
    for today in ("2024-03-18", "2024-03-25", "2024-03-28"):
        assert (
            reminders_to_send(stopped, {}, today=day(today), sent=sent, registered_on=REGISTERED)
            == ()
        )


# What is open for the nurse ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("samples", "today", "expected"),
    [
        pytest.param([], "2024-03-25", None, id="due today: not overdue yet"),
        pytest.param([], "2024-03-26", "2024-03-25", id="the day after: overdue"),
        pytest.param(["2024-03-18"], "2024-04-10", None, id="drawn as its window opened"),
        pytest.param(["2024-03-17"], "2024-04-10", "2024-03-25", id="drawn before its window"),
        pytest.param(["2024-04-09"], "2024-04-10", None, id="drawn after the window: cleared"),
        pytest.param([], "2024-07-01", "2024-06-17", id="an older missed date gives way"),
    ],
)
def test_still_overdue(samples: list[str], today: str, expected: str | None) -> None:
    due = [WEEK_12, DueDate(day("2024-06-17"), R)]
    overdue = still_overdue(due, [day(drawn) for drawn in samples], today=day(today))
    assert overdue == (
        None if expected is None else next(d for d in due if d.date == day(expected))
    )


def test_open_due_dates_are_the_overdue_one_and_the_unfulfilled_coming_ones() -> None:
    due = [DueDate(day("2024-03-04"), E), WEEK_12, DueDate(day("2024-03-28"), E)]
    overdue, coming = open_due_dates(
        due, {day("2024-03-28")}, [day("2024-03-01")], today=day("2024-03-20")
    )
    assert overdue is None  # the sample of 2024-03-01 lies in the window of 2024-03-04
    assert coming == (WEEK_12,)
    overdue, coming = open_due_dates(due, set(), [], today=day("2024-03-25"))
    assert overdue == due[0]
    assert coming == (WEEK_12, due[2])


# The `schedule` command's JSON --------------------------------------------------------------


def command_input(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "start": "2024-01-01",
        "dose_changes": ["2024-04-15"],
        "interruptions": [["2024-07-01", "2024-07-15"], ["2024-10-01", None]],
        "stop": None,
        "until": "2024-12-31",
    }
    data.update(overrides)
    return data


def test_parse_schedule_request() -> None:
    assert parse_schedule_request(command_input()) == request(
        changes=("2024-04-15",),
        interruptions=(("2024-07-01", "2024-07-15"), ("2024-10-01", None)),
    )


def test_the_command_round_trip() -> None:
    due = compute_due_dates(parse_schedule_request(json.loads(json.dumps(command_input()))))
    assert json.loads(json.dumps(schedule_to_json(due))) == {
        "due": [
            {"date": "2024-01-29", "kind": R},
            {"date": "2024-02-26", "kind": R},
            {"date": "2024-03-25", "kind": R},
            {"date": "2024-05-13", "kind": P},
            {"date": "2024-06-17", "kind": R},
            {"date": "2024-08-12", "kind": P},
            {"date": "2024-09-09", "kind": R},
        ]
    }


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param(
            {"stop": "2024-06-01", "dose_changes": ["2024-08-01"]}, id="change after stop"
        ),
        pytest.param({"dose_changes": ["2024-07-15"]}, id="new dose on the resume day"),
        pytest.param(
            {"interruptions": [["2024-10-01", None], ["2024-07-01", "2024-07-15"]]},
            id="interruptions in any order",
        ),
        pytest.param({"stop": "2024-01-01"}, id="stop on the start"),
        pytest.param({"until": "2024-01-01"}, id="until on the start"),
        pytest.param({"extra": []}, id="no extra dates"),
        pytest.param({"extra": ["2024-01-01"]}, id="extra on the start"),
        pytest.param({"extra": ["2024-07-10", "2024-11-01"]}, id="extra while interrupted"),
        pytest.param({"extra": ["2025-03-01"]}, id="extra after until"),
    ],
)
def test_parse_accepts(overrides: dict[str, object]) -> None:
    assert isinstance(parse_schedule_request(command_input(**overrides)), ScheduleRequest)


def without(key: str) -> dict[str, object]:
    data = command_input()
    del data[key]
    return data


@pytest.mark.parametrize(
    ("data", "field"),
    [
        pytest.param([], "$", id="not an object"),
        pytest.param(without("start"), "start", id="start missing"),
        pytest.param(without("dose_changes"), "dose_changes", id="dose_changes missing"),
        pytest.param(without("interruptions"), "interruptions", id="interruptions missing"),
        pytest.param(without("stop"), "stop", id="stop missing"),
        pytest.param(without("until"), "until", id="until missing"),
        pytest.param(command_input(interruption=[]), "interruption", id="unknown key"),
        pytest.param(command_input(start=None), "start", id="start null"),
        pytest.param(command_input(start=20240101), "start", id="start a number"),
        pytest.param(command_input(start="20240101"), "start", id="start without dashes"),
        pytest.param(command_input(start="2024-1-1"), "start", id="start without zeros"),
        pytest.param(command_input(start="2024-02-30"), "start", id="no such day"),
        pytest.param(command_input(dose_changes="2024-04-15"), "dose_changes", id="not a list"),
        pytest.param(
            command_input(dose_changes=["2024-02-01", "2024-03-01", "2024-13-01"]),
            "dose_changes[2]",
            id="bad dose change",
        ),
        pytest.param(
            command_input(dose_changes=["2024-01-01"]), "dose_changes[0]", id="change on start"
        ),
        pytest.param(
            command_input(dose_changes=["2023-12-01"]), "dose_changes[0]", id="change before start"
        ),
        pytest.param(
            command_input(dose_changes=["2024-04-15", "2024-07-01"]),
            "dose_changes[1]",
            id="change on an interruption's first day",
        ),
        pytest.param(
            command_input(dose_changes=["2024-10-20"]),
            "dose_changes[0]",
            id="change inside an open interruption",
        ),
        pytest.param(command_input(interruptions={}), "interruptions", id="interruptions object"),
        pytest.param(
            command_input(interruptions=[["2024-07-01", "2024-07-15"], ["2024-10-01"]]),
            "interruptions[1]",
            id="interruption not a pair",
        ),
        pytest.param(
            command_input(interruptions=[{"from": "2024-07-01", "to": None}]),
            "interruptions[0]",
            id="interruption an object",
        ),
        pytest.param(
            command_input(interruptions=[[None, "2024-07-15"]]),
            "interruptions[0][0]",
            id="from null",
        ),
        pytest.param(
            command_input(interruptions=[["2024-07-01", "15-07-2024"]]),
            "interruptions[0][1]",
            id="bad to",
        ),
        pytest.param(
            command_input(
                interruptions=[["2024-07-01", "2024-07-15"], ["2024-08-10", "2024-08-01"]]
            ),
            "interruptions[1][1]",
            id="to before from",
        ),
        pytest.param(
            command_input(interruptions=[["2024-07-01", "2024-07-01"]]),
            "interruptions[0][1]",
            id="to on from",
        ),
        pytest.param(
            command_input(interruptions=[["2024-01-01", "2024-01-15"]]),
            "interruptions[0][0]",
            id="interrupted from the start",
        ),
        pytest.param(
            command_input(
                interruptions=[["2024-07-01", "2024-07-20"], ["2024-07-10", "2024-08-01"]]
            ),
            "interruptions[1][0]",
            id="overlapping interruptions",
        ),
        pytest.param(
            command_input(
                interruptions=[["2024-07-01", "2024-07-20"], ["2024-07-20", "2024-08-01"]]
            ),
            "interruptions[1][0]",
            id="interrupted again on the resume day",
        ),
        pytest.param(
            command_input(interruptions=[["2024-08-01", "2024-08-10"], ["2024-07-01", None]]),
            "interruptions[0][0]",
            id="interruption after an open one",
        ),
        pytest.param(command_input(stop=""), "stop", id="stop empty"),
        pytest.param(command_input(stop="2023-12-31"), "stop", id="stop before start"),
        pytest.param(command_input(until=None), "until", id="until null"),
        pytest.param(command_input(until="2023-12-31"), "until", id="until before start"),
        pytest.param(command_input(extra=None), "extra", id="extra null"),
        pytest.param(command_input(extra="2024-05-01"), "extra", id="extra not a list"),
        pytest.param(
            command_input(extra=["2024-05-01", "2024-5-2"]), "extra[1]", id="bad extra date"
        ),
        pytest.param(command_input(extra=["2023-12-31"]), "extra[0]", id="extra before start"),
        pytest.param(command_input(extras=[]), "extras", id="misspelt extra"),
    ],
)
def test_parse_refuses(data: object, field: str) -> None:
    with pytest.raises(InputError) as error:
        parse_schedule_request(data)
    assert error.value.field == field


def test_the_command_round_trip_with_extra_dates() -> None:
    data = command_input(extra=["2024-07-08", "2024-05-20", "2024-03-25"])
    due = compute_due_dates(parse_schedule_request(json.loads(json.dumps(data))))
    assert schedule_to_json(due) == {
        "due": [
            {"date": "2024-01-29", "kind": R},
            {"date": "2024-02-26", "kind": R},
            {"date": "2024-03-25", "kind": R},
            {"date": "2024-05-13", "kind": P},
            {"date": "2024-05-20", "kind": E},
            {"date": "2024-06-17", "kind": R},
            # 2024-07-08 lies inside the interruption of 2024-07-01 to 2024-07-15.
            {"date": "2024-08-12", "kind": P},
            {"date": "2024-09-09", "kind": R},
        ]
    }


def test_request_from_doses_carries_the_extra_dates() -> None:
    history = [(day("2024-01-01"), Decimal(400)), (day("2024-03-04"), Decimal(0))]
    derived = request_from_doses(
        history, stop=None, until=day("2024-12-31"), extra=[day("2024-02-08")]
    )
    assert derived == request(interruptions=(("2024-03-04", None),), extra=("2024-02-08",))
    assert [entry.kind for entry in compute_due_dates(derived)] == [R, E, R]


def test_the_error_names_its_field() -> None:
    with pytest.raises(InputError, match=r"^dose_changes\[0\]: must be after start$"):
        parse_schedule_request(command_input(dose_changes=["2024-01-01"]))


def test_schedule_to_json_sorts_by_date() -> None:
    due = [DueDate(day("2024-05-13"), P), DueDate(day("2024-03-25"), R)]
    assert schedule_to_json(due) == {
        "due": [{"date": "2024-03-25", "kind": R}, {"date": "2024-05-13", "kind": P}]
    }
