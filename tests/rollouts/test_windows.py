"""Maintenance windows as pure functions: validation, openings, blackouts, next opening, speed.

Daylight-saving behaviour has its own module (``test_windows_dst``).
"""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from medfleet.rollouts.windows import (
    Blackout,
    InvalidWindowError,
    Opening,
    WindowRule,
    blackout_from_local,
    describe,
    format_duration,
    is_open,
    next_opening,
    openings,
    parse_duration,
    parse_rule,
    parse_start,
)

BERLIN = "Europe/Berlin"
H = timedelta(hours=1)


def at(*parts: int) -> datetime:
    """An aware UTC time."""
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def weekend(duration: timedelta = 4 * H) -> WindowRule:
    """Saturdays and Sundays 02:00 Berlin time, from 2026-01-03."""
    return parse_rule(BERLIN, datetime(2026, 1, 3, 2, 0), "FREQ=WEEKLY;BYDAY=SA,SU", duration)


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "rrule", "duration", "message"),
    [
        ("CET", datetime(2026, 1, 3, 2), "FREQ=DAILY", H, "not an IANA zone"),
        ("Mars/Olympus", datetime(2026, 1, 3, 2), "FREQ=DAILY", H, "not an IANA zone"),
        (BERLIN, datetime(2026, 1, 3, 2, tzinfo=UTC), "FREQ=DAILY", H, "without UTC offset"),
        (BERLIN, datetime(2026, 1, 3, 2, 0, 30), "FREQ=DAILY", H, "whole minute"),
        (BERLIN, datetime(1900, 1, 3, 2), "FREQ=DAILY", H, "outside 1970..2200"),
        (BERLIN, datetime(2026, 1, 3, 2), "", H, "RRULE is empty"),
        (BERLIN, datetime(2026, 1, 3, 2), "BYDAY=SA", H, "needs FREQ"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=FORTNIGHTLY", H, "not one of"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=MINUTELY", H, "at most hourly"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;BYSECOND=5", H, "BYSECOND"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;FOO=1", H, "FOO is not supported"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;FREQ=WEEKLY", H, "given twice"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;BYDAY", H, "not NAME=VALUE"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=WEEKLY;BYDAY=XX", H, "not a weekday"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=WEEKLY;BYDAY=1SA", H, "needs FREQ=MONTHLY"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;BYHOUR=24", H, "outside 0..23"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=MONTHLY;BYMONTHDAY=0", H, "outside 1..31"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;INTERVAL=0", H, "from 1 to 1000"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;COUNT=x", H, "whole number"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;WKST=XX", H, "WKST=XX"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;DTSTART=20260101T020000", H, "DTSTART"),
        (
            BERLIN,
            datetime(2026, 1, 3, 2),
            "DTSTART;TZID=Europe/Berlin:20260103T020000\nRRULE:FREQ=DAILY",
            H,
            "must not contain DTSTART",
        ),
        (BERLIN, datetime(2026, 1, 3, 2), "RRULE:FREQ=DAILY\nEXDATE:20260104", H, "one RRULE"),
        (BERLIN, datetime(2026, 1, 3, 2), "EXRULE:FREQ=DAILY", H, "not an RRULE value"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;UNTIL=20261231T020000", H, "UTC time"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;UNTIL=2026-12-31", H, "UTC time"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;UNTIL=20261331", H, "not a valid date"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;COUNT=3;UNTIL=20261231", H, "not both"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY", timedelta(0), "must be positive"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY", -H, "must be positive"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY", timedelta(seconds=90), "whole minutes"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=WEEKLY", 25 * H, "at most 24h"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY", 24 * H, "only 24h apart"),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=HOURLY;INTERVAL=3", 3 * H, "only 3h apart"),
        (
            BERLIN,
            datetime(2026, 1, 3, 2),
            "FREQ=WEEKLY;BYDAY=SA;BYHOUR=2,20",
            19 * H,
            "only 18h apart",
        ),
        (
            BERLIN,
            datetime(2026, 1, 3, 2),
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
            H,
            "produces no window",
        ),
        (
            BERLIN,
            datetime(2026, 1, 6, 2),
            "FREQ=DAILY;INTERVAL=7;BYDAY=MO",  # every 7th day from a Tuesday: never a Monday
            H,
            "produces no window",
        ),
        (BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;UNTIL=20260102", H, "ends before"),
        (
            BERLIN,
            datetime(2026, 1, 3, 2),
            "FREQ=DAILY;UNTIL=20260103T005959Z",
            H,
            "ends before",
        ),
    ],
)
def test_parse_rule_refuses_with_a_specific_message(
    zone: str, start: datetime, rrule: str, duration: timedelta, message: str
) -> None:
    with pytest.raises(InvalidWindowError, match=message):
        parse_rule(zone, start, rrule, duration)


def test_parse_rule_normalizes_the_rrule() -> None:
    rule = parse_rule(BERLIN, datetime(2026, 1, 3, 2), " rrule:freq=weekly; byday=sa,su ", 4 * H)
    assert rule == WindowRule(BERLIN, datetime(2026, 1, 3, 2), "FREQ=WEEKLY;BYDAY=SA,SU", 4 * H)


def test_a_daily_rule_that_dst_would_make_overlap_is_refused() -> None:
    # 23h is less than the 24h between two nominal starts, but on the spring-forward day the
    # next start comes only 23h later: the two windows would touch/overlap.
    with pytest.raises(InvalidWindowError, match="when the clocks change in America/New_York"):
        parse_rule("America/New_York", datetime(2026, 3, 1, 0, 30), "FREQ=DAILY", 23 * H)
    # In a zone without daylight saving the same rule is fine.
    assert parse_rule("Asia/Tokyo", datetime(2026, 3, 1, 0, 30), "FREQ=DAILY", 23 * H)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4h", 4 * H),
        ("90m", timedelta(minutes=90)),
        ("1h30m", timedelta(minutes=90)),
        (" 2 h ", 2 * H),
        ("45min", timedelta(minutes=45)),
        ("24h", 24 * H),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "4", "4 hours", "h", "1d", "-1h", "25h", "0m"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(InvalidWindowError):
        parse_duration(text)


def test_parse_start() -> None:
    assert parse_start("2026-03-07T02:00") == datetime(2026, 3, 7, 2, 0)
    assert parse_start("2026-03-07 02:00") == datetime(2026, 3, 7, 2, 0)
    for bad in ("2026-03-07T02:00+01:00", "tomorrow", "2026-03-07T02:00:30"):
        with pytest.raises(InvalidWindowError):
            parse_start(bad)


# --- openings --------------------------------------------------------------------------------


def test_openings_of_a_weekend_rule() -> None:
    found = openings([weekend()], [], at(2026, 1, 9), at(2026, 1, 19))
    assert [(o.start, o.end) for o in found] == [
        (at(2026, 1, 10, 1), at(2026, 1, 10, 5)),
        (at(2026, 1, 11, 1), at(2026, 1, 11, 5)),
        (at(2026, 1, 17, 1), at(2026, 1, 17, 5)),
        (at(2026, 1, 18, 1), at(2026, 1, 18, 5)),
    ]
    assert all(o.timezone == BERLIN and o.adjusted is None and o.rule == 0 for o in found)
    assert found[0].local_start == datetime(2026, 1, 10, 2, tzinfo=ZoneInfo(BERLIN))


def test_openings_include_one_in_progress_and_exclude_the_end() -> None:
    found = openings([weekend()], [], at(2026, 1, 10, 3), at(2026, 1, 11, 1))
    assert [o.start for o in found] == [at(2026, 1, 10, 1)]
    assert openings([weekend()], [], at(2026, 1, 10, 5), at(2026, 1, 11, 1)) == []


def test_naive_query_times_are_refused() -> None:
    with pytest.raises(InvalidWindowError, match="no time zone"):
        openings([weekend()], [], datetime(2026, 1, 1), at(2026, 2, 1))
    with pytest.raises(InvalidWindowError, match="no time zone"):
        next_opening([weekend()], [], datetime(2026, 1, 1))


def test_an_occurrence_touching_a_blackout_is_dropped_not_clipped() -> None:
    freeze = Blackout(at(2026, 1, 10, 4), at(2026, 1, 11, 1, 30), "freeze")
    found = openings([weekend()], [freeze], at(2026, 1, 9), at(2026, 1, 19))
    assert [o.start for o in found] == [at(2026, 1, 17, 1), at(2026, 1, 18, 1)]
    assert all(o.duration == 4 * H for o in found)
    # A blackout that only touches the end of an opening does not overlap it.
    touching = Blackout(at(2026, 1, 10, 5), at(2026, 1, 11, 1), "after")
    assert len(openings([weekend()], [touching], at(2026, 1, 9), at(2026, 1, 12))) == 2


def test_blackout_refuses_naive_or_empty_periods() -> None:
    with pytest.raises(InvalidWindowError, match="timezone-aware"):
        Blackout(datetime(2026, 1, 1), at(2026, 1, 2), "x")
    with pytest.raises(InvalidWindowError, match="end after it starts"):
        Blackout(at(2026, 1, 2), at(2026, 1, 2), "x")


def test_several_rules_merge_in_order_and_identical_openings_show_once() -> None:
    nightly = parse_rule(BERLIN, datetime(2026, 1, 1, 23, 0), "FREQ=DAILY", H)
    found = openings([weekend(), nightly, weekend()], [], at(2026, 1, 9, 12), at(2026, 1, 11))
    assert [(o.start, o.rule) for o in found] == [
        (at(2026, 1, 9, 22), 1),
        (at(2026, 1, 10, 1), 0),
        (at(2026, 1, 10, 22), 1),
    ]


def test_next_opening_is_the_one_open_now_or_the_next() -> None:
    rules = [weekend()]
    assert next_opening(rules, [], at(2026, 1, 10, 3)) == Opening(
        at(2026, 1, 10, 1), at(2026, 1, 10, 5), BERLIN
    )
    assert next_opening(rules, [], at(2026, 1, 10, 5)).start == at(2026, 1, 11, 1)  # type: ignore[union-attr]
    assert is_open(rules, [], at(2026, 1, 10, 1))
    assert is_open(rules, [], at(2026, 1, 10, 4, 59))
    assert not is_open(rules, [], at(2026, 1, 10, 5))
    assert not is_open(rules, [], at(2026, 1, 9, 12))
    freeze = blackout_from_local(BERLIN, date(2026, 1, 10), date(2026, 1, 10), "inventory")
    assert not is_open(rules, [freeze], at(2026, 1, 10, 3))
    assert next_opening(rules, [freeze], at(2026, 1, 10, 3)).start == at(2026, 1, 11, 1)  # type: ignore[union-attr]


def test_next_opening_is_none_after_the_rule_ends_or_beyond_the_horizon() -> None:
    counted = parse_rule(BERLIN, datetime(2026, 1, 3, 2), "FREQ=WEEKLY;COUNT=2", H)
    assert [o.start for o in openings([counted], [], at(2026, 1, 1), at(2027, 1, 1))] == [
        at(2026, 1, 3, 1),
        at(2026, 1, 10, 1),
    ]
    assert next_opening([counted], [], at(2026, 1, 10, 2)) is None
    until = parse_rule(BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;UNTIL=20260105T010000Z", H)
    assert [o.start.day for o in openings([until], [], at(2026, 1, 1), at(2026, 2, 1))] == [3, 4, 5]
    until_day = parse_rule(BERLIN, datetime(2026, 1, 3, 2), "FREQ=DAILY;UNTIL=20260104", H)
    assert len(openings([until_day], [], at(2026, 1, 1), at(2026, 2, 1))) == 2
    leap = parse_rule(BERLIN, datetime(2028, 2, 29, 2), "FREQ=YEARLY", H)
    assert next_opening([leap], [], at(2028, 3, 1)) is None  # the next is in 2032
    assert next_opening([], [], at(2028, 3, 1)) is None


def test_blackout_from_local_covers_whole_local_days() -> None:
    freeze = blackout_from_local(BERLIN, date(2026, 12, 24), date(2026, 12, 26), " holidays ")
    assert (freeze.start, freeze.end, freeze.reason) == (
        at(2026, 12, 23, 23),
        at(2026, 12, 26, 23),
        "holidays",
    )


@pytest.mark.parametrize(
    ("first", "last", "reason", "message"),
    [
        (date(2026, 12, 26), date(2026, 12, 24), "x", "before its first day"),
        (date(2026, 1, 1), date(2027, 1, 2), "x", "at most 366 days"),
        (date(2026, 1, 1), date(2026, 1, 2), "  ", "needs a reason"),
        (date(2026, 1, 1), date(2026, 1, 2), "x" * 501, "longer than 500"),
    ],
)
def test_blackout_from_local_refuses(first: date, last: date, reason: str, message: str) -> None:
    with pytest.raises(InvalidWindowError, match=message):
        blackout_from_local(BERLIN, first, last, reason)
    with pytest.raises(InvalidWindowError, match="IANA"):
        blackout_from_local("EST", date(2026, 1, 1), date(2026, 1, 1), "x")


def test_describe_and_format_duration() -> None:
    opening = Opening(at(2026, 3, 28, 21), at(2026, 3, 29, 1), BERLIN)
    assert (
        describe(opening)
        == "Sat 2026-03-28 22:00 CET (+01:00) → Sun 2026-03-29 03:00 CEST (+02:00) (4h)"
    )
    same_day = Opening(at(2026, 1, 10, 1), at(2026, 1, 10, 2, 30), "America/Sao_Paulo")
    assert describe(same_day) == "Fri 2026-01-09 22:00 -03 → 23:30 -03 (1h30m)"
    assert [format_duration(d) for d in (45 * timedelta(minutes=1), 24 * H, 7 * 24 * H)] == [
        "45m",
        "24h",
        "7d",
    ]


# --- restarting a rule near the asked time gives what expanding it from its start gives ------

RULES = st.sampled_from(
    [
        "FREQ=DAILY",
        "FREQ=DAILY;INTERVAL=3",
        "FREQ=DAILY;BYDAY=MO,WE,FR",
        "FREQ=WEEKLY",
        "FREQ=WEEKLY;INTERVAL=2;BYDAY=SA,SU",
        "FREQ=WEEKLY;INTERVAL=3;WKST=SU;BYDAY=SU,MO",
        "FREQ=MONTHLY",
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=1SA",
        "FREQ=MONTHLY;BYDAY=SA;BYSETPOS=-1",
        "FREQ=MONTHLY;INTERVAL=5;BYMONTHDAY=-1",
        "FREQ=YEARLY",
        "FREQ=YEARLY;INTERVAL=2;BYMONTH=3,10;BYDAY=-1SU",
        "FREQ=YEARLY;BYWEEKNO=1,30;BYDAY=TH",
        "FREQ=HOURLY;INTERVAL=5",
        "FREQ=HOURLY;INTERVAL=7;BYHOUR=1,2,3,20",
        "FREQ=DAILY;BYHOUR=1,13;BYMINUTE=15",
    ]
)


@settings(max_examples=150, deadline=None)
@given(
    rrule=RULES,
    start=st.datetimes(datetime(2020, 1, 1), datetime(2027, 12, 31)).map(
        lambda d: d.replace(second=0, microsecond=0)
    ),
    offset=st.integers(0, 8 * 365 * 24),
)
def test_restarted_rule_matches_full_expansion(rrule: str, start: datetime, offset: int) -> None:
    rule = parse_rule("UTC", start, rrule, timedelta(minutes=30))
    after = start.replace(tzinfo=UTC) + timedelta(hours=offset)
    end = after + timedelta(days=120)
    expected = []
    for local in rrulestr(rrule, dtstart=start):
        moment = local.replace(tzinfo=UTC)
        if moment >= end:
            break
        if moment + timedelta(minutes=30) > after:
            expected.append(moment)
    assert [o.start for o in openings([rule], [], after, end)] == expected


def test_next_opening_is_fast_for_thousands_of_sites() -> None:
    zones = ["Europe/Berlin", "America/New_York", "America/Los_Angeles", "Europe/London"]
    rules = [
        [
            WindowRule(
                zones[n % 4],
                datetime(2026, 1, 3, 1 + n % 4, 0) + timedelta(days=n % 7),
                "FREQ=WEEKLY;BYDAY=SA,SU" if n % 2 else "FREQ=WEEKLY",
                4 * H,
            )
        ]
        for n in range(5000)
    ]
    freeze = [blackout_from_local(BERLIN, date(2026, 12, 20), date(2027, 1, 3), "year end")]
    moment = at(2026, 12, 20)
    started = clock.perf_counter()
    found = [next_opening(site_rules, freeze, moment) for site_rules in rules]  # cold caches
    cold = clock.perf_counter() - started
    started = clock.perf_counter()
    for site_rules in rules:
        next_opening(site_rules, freeze, moment + timedelta(days=30))
        next_opening(site_rules, freeze, moment + timedelta(days=3650))  # far from DTSTART
    warm = clock.perf_counter() - started
    assert all(o is not None and o.start >= freeze[0].end for o in found)
    assert cold < 10.0, f"{cold / 5000 * 1e6:.0f} us per site with cold caches"
    assert warm < 5.0, f"{warm / 10000 * 1e6:.0f} us per call"
