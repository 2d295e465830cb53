"""Maintenance windows across the US and EU daylight-saving changes of 2026, both directions.

US: clocks go forward on 2026-03-08 at 02:00 (to 03:00) and back on 2026-11-01 at 02:00 (to
01:00). EU: forward on 2026-03-29 at 01:00 UTC (Berlin 02:00 -> 03:00, London 01:00 -> 02:00)
and back on 2026-10-25 at 01:00 UTC (Berlin 03:00 -> 02:00, London 02:00 -> 01:00).

The rules under test: no window starts at a local time that does not exist (a start in the gap
moves forward by the gap and says so), an ambiguous start is the first of the two, and every
window lasts exactly its duration in elapsed time, so its local end shows one hour more or less
on the wall clock when it spans the change.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from medfleet.rollouts.windows import (
    HORIZON,
    Blackout,
    InvalidWindowError,
    Opening,
    blackout_from_local,
    is_open,
    next_opening,
    openings,
    parse_rule,
)

H = timedelta(hours=1)
NY, LA, BERLIN, LONDON = "America/New_York", "America/Los_Angeles", "Europe/Berlin", "Europe/London"


def at(*parts: int) -> datetime:
    """An aware UTC time."""
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def wall(opening: Opening) -> tuple[str, str]:
    """Local start and end as the site's wall clock shows them."""
    return (
        opening.local_start.strftime("%a %Y-%m-%d %H:%M %Z"),
        opening.local_end.strftime("%a %Y-%m-%d %H:%M %Z"),
    )


def between(
    zone: str, start: str, rrule: str, duration: timedelta, frm: datetime, to: datetime
) -> list[Opening]:
    rule = parse_rule(zone, datetime.fromisoformat(start), rrule, duration)
    return openings([rule], [], frm, to)


# --- spring forward --------------------------------------------------------------------------


def test_new_york_weekly_start_in_the_gap_moves_forward_by_the_gap() -> None:
    found = between(
        NY, "2026-03-01T02:30", "FREQ=WEEKLY;BYDAY=SU", 4 * H, at(2026, 3, 1), at(2026, 3, 16)
    )
    assert [(o.start, o.end) for o in found] == [
        (at(2026, 3, 1, 7, 30), at(2026, 3, 1, 11, 30)),
        (at(2026, 3, 8, 7, 30), at(2026, 3, 8, 11, 30)),
        (at(2026, 3, 15, 6, 30), at(2026, 3, 15, 10, 30)),
    ]
    assert [wall(o) for o in found] == [
        ("Sun 2026-03-01 02:30 EST", "Sun 2026-03-01 06:30 EST"),
        ("Sun 2026-03-08 03:30 EDT", "Sun 2026-03-08 07:30 EDT"),
        ("Sun 2026-03-15 02:30 EDT", "Sun 2026-03-15 06:30 EDT"),
    ]
    assert [o.adjusted is not None for o in found] == [False, True, False]
    assert found[1].adjusted == (
        "02:30 does not exist on 2026-03-08 in America/New_York (clocks go forward); "
        "starts at 03:30 EDT instead"
    )


def test_berlin_daily_start_in_the_gap_moves_forward_by_the_gap() -> None:
    found = between(
        BERLIN, "2026-03-27T02:30", "FREQ=DAILY", 3 * H, at(2026, 3, 27), at(2026, 3, 31)
    )
    assert [(o.start, o.end) for o in found] == [
        (at(2026, 3, 27, 1, 30), at(2026, 3, 27, 4, 30)),
        (at(2026, 3, 28, 1, 30), at(2026, 3, 28, 4, 30)),
        (at(2026, 3, 29, 1, 30), at(2026, 3, 29, 4, 30)),
        (at(2026, 3, 30, 0, 30), at(2026, 3, 30, 3, 30)),
    ]
    assert [wall(o) for o in found][2:] == [
        ("Sun 2026-03-29 03:30 CEST", "Sun 2026-03-29 06:30 CEST"),
        ("Mon 2026-03-30 02:30 CEST", "Mon 2026-03-30 05:30 CEST"),
    ]
    assert [o.adjusted is not None for o in found] == [False, False, True, False]


def test_first_start_itself_in_the_gap() -> None:
    found = between(NY, "2026-03-08T02:00", "FREQ=WEEKLY", 2 * H, at(2026, 3, 1), at(2026, 3, 16))
    assert [wall(o) for o in found] == [
        ("Sun 2026-03-08 03:00 EDT", "Sun 2026-03-08 05:00 EDT"),
        ("Sun 2026-03-15 02:00 EDT", "Sun 2026-03-15 04:00 EDT"),
    ]
    assert found[0].start == at(2026, 3, 8, 7)
    assert found[0].adjusted


def test_new_york_window_before_the_change_spanning_it_is_four_real_hours() -> None:
    found = between(NY, "2026-03-07T00:00", "FREQ=DAILY", 4 * H, at(2026, 3, 7), at(2026, 3, 10))
    assert [(o.start, o.end) for o in found] == [
        (at(2026, 3, 7, 5), at(2026, 3, 7, 9)),
        (at(2026, 3, 8, 5), at(2026, 3, 8, 9)),
        (at(2026, 3, 9, 4), at(2026, 3, 9, 8)),
    ]
    # 00:00 EST to 05:00 EDT: five hours on the wall clock, four real hours.
    assert wall(found[1]) == ("Sun 2026-03-08 00:00 EST", "Sun 2026-03-08 05:00 EDT")
    assert all(o.duration == 4 * H and o.adjusted is None for o in found)


def test_berlin_saturday_night_window_spanning_spring_forward() -> None:
    found = between(
        BERLIN, "2026-03-21T22:00", "FREQ=WEEKLY;BYDAY=SA", 8 * H, at(2026, 3, 21), at(2026, 4, 5)
    )
    assert [(o.start, o.end) for o in found] == [
        (at(2026, 3, 21, 21), at(2026, 3, 22, 5)),
        (at(2026, 3, 28, 21), at(2026, 3, 29, 5)),
        (at(2026, 4, 4, 20), at(2026, 4, 5, 4)),
    ]
    assert [wall(o) for o in found] == [
        ("Sat 2026-03-21 22:00 CET", "Sun 2026-03-22 06:00 CET"),
        ("Sat 2026-03-28 22:00 CET", "Sun 2026-03-29 07:00 CEST"),
        ("Sat 2026-04-04 22:00 CEST", "Sun 2026-04-05 06:00 CEST"),
    ]


def test_london_daily_start_in_the_one_oclock_gap() -> None:
    found = between(LONDON, "2026-03-28T01:30", "FREQ=DAILY", H, at(2026, 3, 28), at(2026, 3, 31))
    assert [(o.start, wall(o)) for o in found] == [
        (at(2026, 3, 28, 1, 30), ("Sat 2026-03-28 01:30 GMT", "Sat 2026-03-28 02:30 GMT")),
        (at(2026, 3, 29, 1, 30), ("Sun 2026-03-29 02:30 BST", "Sun 2026-03-29 03:30 BST")),
        (at(2026, 3, 30, 0, 30), ("Mon 2026-03-30 01:30 BST", "Mon 2026-03-30 02:30 BST")),
    ]
    assert found[1].adjusted is not None
    assert "01:30 does not exist" in found[1].adjusted


def test_los_angeles_hourly_rule_does_not_double_up_in_the_gap() -> None:
    # 02:00 does not exist and would move onto 03:00, which the rule also names: one window.
    found = between(
        LA,
        "2026-03-07T00:00",
        "FREQ=HOURLY",
        30 * timedelta(minutes=1),
        at(2026, 3, 8, 8),
        at(2026, 3, 8, 12),
    )
    assert [(o.start, wall(o)[0], o.adjusted) for o in found] == [
        (at(2026, 3, 8, 8), "Sun 2026-03-08 00:00 PST", None),
        (at(2026, 3, 8, 9), "Sun 2026-03-08 01:00 PST", None),
        (at(2026, 3, 8, 10), "Sun 2026-03-08 03:00 PDT", None),
        (at(2026, 3, 8, 11), "Sun 2026-03-08 04:00 PDT", None),
    ]


# --- fall back -------------------------------------------------------------------------------


def test_new_york_ambiguous_start_takes_the_first_and_lasts_exactly() -> None:
    found = between(NY, "2026-10-31T01:30", "FREQ=DAILY", 2 * H, at(2026, 10, 31), at(2026, 11, 3))
    assert [(o.start, o.end) for o in found] == [
        (at(2026, 10, 31, 5, 30), at(2026, 10, 31, 7, 30)),
        (at(2026, 11, 1, 5, 30), at(2026, 11, 1, 7, 30)),
        (at(2026, 11, 2, 6, 30), at(2026, 11, 2, 8, 30)),
    ]
    # 01:30 EDT (the first 01:30) to 02:30 EST: one hour on the wall clock, two real hours.
    assert [wall(o) for o in found] == [
        ("Sat 2026-10-31 01:30 EDT", "Sat 2026-10-31 03:30 EDT"),
        ("Sun 2026-11-01 01:30 EDT", "Sun 2026-11-01 02:30 EST"),
        ("Mon 2026-11-02 01:30 EST", "Mon 2026-11-02 03:30 EST"),
    ]
    assert all(o.adjusted is None for o in found)


def test_new_york_window_before_fall_back_spanning_it() -> None:
    found = between(
        NY, "2026-10-25T00:00", "FREQ=WEEKLY;BYDAY=SU", 4 * H, at(2026, 10, 31), at(2026, 11, 2)
    )
    assert [(o.start, o.end, wall(o)) for o in found] == [
        (
            at(2026, 11, 1, 4),
            at(2026, 11, 1, 8),
            ("Sun 2026-11-01 00:00 EDT", "Sun 2026-11-01 03:00 EST"),
        ),
    ]


def test_berlin_ambiguous_start_in_the_repeated_hour() -> None:
    found = between(BERLIN, "2026-10-24T02:30", "FREQ=DAILY", H, at(2026, 10, 24), at(2026, 10, 27))
    assert [(o.start, wall(o)) for o in found] == [
        (at(2026, 10, 24, 0, 30), ("Sat 2026-10-24 02:30 CEST", "Sat 2026-10-24 03:30 CEST")),
        (at(2026, 10, 25, 0, 30), ("Sun 2026-10-25 02:30 CEST", "Sun 2026-10-25 02:30 CET")),
        (at(2026, 10, 26, 1, 30), ("Mon 2026-10-26 02:30 CET", "Mon 2026-10-26 03:30 CET")),
    ]


def test_berlin_saturday_night_window_spanning_fall_back() -> None:
    found = between(
        BERLIN,
        "2026-10-17T22:00",
        "FREQ=WEEKLY;BYDAY=SA",
        8 * H,
        at(2026, 10, 24),
        at(2026, 10, 26),
    )
    assert [(o.start, o.end, wall(o)) for o in found] == [
        (
            at(2026, 10, 24, 20),
            at(2026, 10, 25, 4),
            ("Sat 2026-10-24 22:00 CEST", "Sun 2026-10-25 05:00 CET"),
        ),
    ]


def test_london_ambiguous_start_and_los_angeles_weekly_across_fall_back() -> None:
    london = between(
        LONDON, "2026-10-24T01:30", "FREQ=DAILY", H, at(2026, 10, 25), at(2026, 10, 26)
    )
    assert [(o.start, wall(o)) for o in london] == [
        (at(2026, 10, 25, 0, 30), ("Sun 2026-10-25 01:30 BST", "Sun 2026-10-25 01:30 GMT")),
    ]
    la = between(LA, "2026-10-25T01:00", "FREQ=WEEKLY", 3 * H, at(2026, 10, 25), at(2026, 11, 9))
    assert [(o.start, wall(o)) for o in la] == [
        (at(2026, 10, 25, 8), ("Sun 2026-10-25 01:00 PDT", "Sun 2026-10-25 04:00 PDT")),
        (at(2026, 11, 1, 8), ("Sun 2026-11-01 01:00 PDT", "Sun 2026-11-01 03:00 PST")),
        (at(2026, 11, 8, 9), ("Sun 2026-11-08 01:00 PST", "Sun 2026-11-08 04:00 PST")),
    ]


# --- next opening and blackouts over the changes ----------------------------------------------


def test_next_opening_and_is_open_across_the_change() -> None:
    rules = [parse_rule(NY, datetime(2026, 3, 1, 2, 30), "FREQ=WEEKLY;BYDAY=SU", 4 * H)]
    moved = next_opening(rules, [], at(2026, 3, 2))
    assert moved is not None
    assert moved.start == at(2026, 3, 8, 7, 30)
    assert moved.adjusted
    assert not is_open(rules, [], at(2026, 3, 8, 7, 29))
    assert is_open(rules, [], at(2026, 3, 8, 7, 30))
    assert is_open(rules, [], at(2026, 3, 8, 11, 29))
    assert not is_open(rules, [], at(2026, 3, 8, 11, 30))


def test_blackout_days_follow_the_local_day_length() -> None:
    spring = blackout_from_local(BERLIN, date(2026, 3, 29), date(2026, 3, 29), "short day")
    assert (spring.start, spring.end) == (at(2026, 3, 28, 23), at(2026, 3, 29, 22))
    autumn = blackout_from_local(BERLIN, date(2026, 10, 25), date(2026, 10, 25), "long day")
    assert (autumn.start, autumn.end) == (at(2026, 10, 24, 22), at(2026, 10, 25, 23))
    us = blackout_from_local(NY, date(2026, 11, 1), date(2026, 11, 1), "long day")
    assert us.end - us.start == 25 * H


def test_blackout_where_midnight_itself_is_skipped_or_repeated() -> None:
    # Chile moves its clocks at midnight: 2026-09-06 00:00 does not exist (00:00 -> 01:00),
    # and on 2026-04-04 the hour before midnight happens twice.
    spring = blackout_from_local("America/Santiago", date(2026, 9, 6), date(2026, 9, 6), "x")
    assert spring.start == at(2026, 9, 6, 4)  # the moment the day begins, at 01:00 -03
    assert spring.end == at(2026, 9, 7, 3)
    autumn = blackout_from_local("America/Santiago", date(2026, 4, 4), date(2026, 4, 4), "x")
    assert autumn.start == at(2026, 4, 4, 3)
    assert autumn.end == at(2026, 4, 5, 4)  # after both 23:00 hours


def test_a_blackout_drops_the_moved_window_whole() -> None:
    rules = [parse_rule(BERLIN, datetime(2026, 3, 22, 2, 30), "FREQ=WEEKLY;BYDAY=SU", 3 * H)]
    # A freeze that ends at 04:00 UTC on the change day touches only the last hour of the
    # moved window (01:30-04:30 UTC): the whole window goes, none is shortened.
    freeze = Blackout(at(2026, 3, 29, 4), at(2026, 3, 29, 5), "maintenance of the network")
    found = openings(rules, [freeze], at(2026, 3, 20), at(2026, 4, 6))
    assert [o.start for o in found] == [at(2026, 3, 22, 1, 30), at(2026, 4, 5, 0, 30)]
    assert all(o.duration == 3 * H for o in found)


def test_a_window_that_a_clock_change_would_make_overlap_is_refused_with_the_date() -> None:
    with pytest.raises(InvalidWindowError) as raised:
        parse_rule(
            BERLIN, datetime(2026, 3, 1, 1, 0), "FREQ=DAILY", 23 * H + 30 * timedelta(minutes=1)
        )
    assert "2026-03-29" in str(raised.value)
    assert "Europe/Berlin" in str(raised.value)


# --- properties over random zones, rules and dates -------------------------------------------

ZONES = [
    NY,
    LA,
    BERLIN,
    LONDON,
    "America/Santiago",
    "Australia/Sydney",
    "Australia/Lord_Howe",  # a 30-minute change
    "America/St_Johns",
    "Pacific/Chatham",
    "Asia/Tokyo",
    "UTC",
]
FREQS = {
    "FREQ=HOURLY": 50,
    "FREQ=HOURLY;INTERVAL=3": 170,
    "FREQ=DAILY": 20 * 60,
    "FREQ=DAILY;BYDAY=MO,TH": 24 * 60,
    "FREQ=WEEKLY": 24 * 60,
    "FREQ=WEEKLY;BYDAY=SA,SU": 20 * 60,
    "FREQ=MONTHLY;BYDAY=-1SU": 24 * 60,
}


def _exists(opening: Opening) -> bool:
    zone = ZoneInfo(opening.timezone)
    shown = opening.local_start.replace(tzinfo=None)
    return shown.replace(tzinfo=zone).astimezone(zone).replace(tzinfo=None) == shown


@settings(max_examples=200, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    rrule=st.sampled_from(sorted(FREQS)),
    day=st.dates(date(2025, 12, 1), date(2027, 11, 30)),
    hour=st.sampled_from([0, 1, 2, 3, 22, 23, 12]),
    minute=st.sampled_from([0, 15, 30, 45]),
    minutes=st.integers(1, 24 * 60),
    span=st.integers(1, 90),
    offset=st.integers(0, 400),
    freezes=st.lists(st.tuples(st.integers(0, 420), st.integers(0, 6)), max_size=3),
)
def test_openings_properties(
    zone: str,
    rrule: str,
    day: date,
    hour: int,
    minute: int,
    minutes: int,
    span: int,
    offset: int,
    freezes: list[tuple[int, int]],
) -> None:
    duration = timedelta(minutes=min(minutes, FREQS[rrule]))
    start_local = datetime.combine(day, datetime.min.time()).replace(hour=hour, minute=minute)
    try:
        rule = parse_rule(zone, start_local, rrule, duration)
    except InvalidWindowError:
        assume(False)  # e.g. a clock change would make two windows of a long rule overlap
        raise
    blackouts = [
        blackout_from_local(zone, day + timedelta(days=d), day + timedelta(days=d + n), "freeze")
        for d, n in freezes
    ]
    frm = datetime.combine(day, datetime.min.time(), UTC) + timedelta(days=offset)
    to = frm + timedelta(days=span)
    found = openings([rule], blackouts, frm, to)
    for opening in found:
        assert opening.end - opening.start == duration
        assert opening.start < to
        assert opening.end > frm
        assert _exists(opening)
        assert not any(b.overlaps(opening.start, opening.end) for b in blackouts)
        if opening.adjusted is None:  # at its nominal wall time
            assert opening.local_start.minute == minute
    assert [o.start for o in found] == sorted(o.start for o in found)
    assert all(a.end <= b.start for a, b in itertools.pairwise(found))
    first = next_opening([rule], blackouts, frm)
    if found:
        assert first == found[0]
        assert is_open([rule], blackouts, found[0].start)
    else:
        assert first is None or first.start >= to
        assert first is None or first.start < frm + HORIZON
