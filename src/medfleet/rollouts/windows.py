"""Maintenance windows and blackout periods, as pure functions (no I/O, no database).

A window is an RFC 5545 recurrence in a site's IANA zone: a local first start (DTSTART), an
RRULE and an exact duration. Occurrences are computed in local wall time and mapped to UTC
(``window_compile`` explains the daylight-saving rules: a start in a spring-forward gap moves
forward by the gap and says so, an ambiguous start takes the first of the two, the duration is
elapsed time). A blackout (holiday freeze) suppresses every occurrence it touches: such an
occurrence is dropped whole, never clipped, so no window is ever silently shortened.

Campaigns use windows as: routine installs only inside an opening, downloads at any time.
``next_opening`` is cheap (a restart of the rule just before the asked time, cached parsing)
so that a planner can ask it for thousands of sites.
"""

from __future__ import annotations

import functools
import heapq
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

from medfleet.rollouts.window_compile import PROBE_SPAN, CompiledRule, compile_rule
from medfleet.rollouts.window_errors import InvalidWindowError
from medfleet.rollouts.window_model import (
    Blackout,
    Opening,
    WindowRule,
    describe,
    format_clock,
    format_duration,
    utc,
)
from medfleet.rollouts.window_rrule import (
    check_duration,
    check_start,
    check_zone,
    parse_duration,
    parse_rrule,
    parse_start,
)

__all__ = [
    "HORIZON",
    "Blackout",
    "InvalidWindowError",
    "Opening",
    "WindowRule",
    "blackout_from_local",
    "describe",
    "format_clock",
    "format_duration",
    "is_open",
    "iter_openings",
    "next_opening",
    "openings",
    "parse_duration",
    "parse_rule",
    "parse_start",
]

HORIZON = timedelta(days=400)
"""How far ahead ``next_opening`` looks."""
MAX_BLACKOUT_DAYS = 366
MAX_REASON = 500
_SLACK = timedelta(hours=30)
"""More than any difference between two UTC offsets of one zone (plus the gap itself)."""
_SPACING_SAMPLE = 1000
_CLOCK_CHANGE_SPAN = timedelta(days=400)
"""Clock changes within this span of a rule's start are checked for overlapping windows."""
_AROUND_CHANGE = timedelta(days=4)


def parse_rule(timezone: str, start_local: datetime, rrule: str, duration: timedelta) -> WindowRule:
    """A validated window rule; the RRULE is stored upper-case without an ``RRULE:`` prefix.

    Raises:
        InvalidWindowError: naming what is wrong: an unknown zone; a start with an offset or
            seconds; a malformed RRULE, DTSTART inside it, UNTIL not in UTC or date form,
            COUNT with UNTIL, FREQ finer than hourly; a duration that is not positive whole
            minutes up to 24h, or not shorter than the time between two starts (also when a
            clock change shortens that time); a rule that produces no window.
    """
    return _parse_rule(timezone, start_local, rrule, duration)


@functools.lru_cache(maxsize=4096)
def _parse_rule(
    timezone: str, start_local: datetime, rrule: str, duration: timedelta
) -> WindowRule:
    zone = check_zone(timezone)
    start = check_start(start_local)
    check_duration(duration)
    normalized = parse_rrule(rrule, start, zone).normalized
    rule = WindowRule(timezone, start, normalized, duration)
    compiled = compile_rule(rule)
    if next(compiled.stream(0, start, start + PROBE_SPAN), None) is None:
        raise InvalidWindowError(
            f"the rule ends before its first window ({normalized}); move UNTIL or COUNT"
        )
    _check_spacing(compiled)
    return rule


def _check_spacing(compiled: CompiledRule) -> None:
    rule = compiled.rule
    start, duration = rule.start_local, rule.duration
    sample = list(islice(compiled.local_starts(start, start + PROBE_SPAN), _SPACING_SAMPLE))
    if len(sample) < 2:
        return
    gap, first, second = min((b - a, a, b) for a, b in pairwise(sample))
    if duration >= gap:
        raise InvalidWindowError(
            f"a {format_duration(duration)} window would overlap the next one: the rule starts "
            f"windows only {format_duration(gap)} apart ({first:%Y-%m-%d %H:%M} and "
            f"{second:%Y-%m-%d %H:%M}); make it shorter than {format_duration(gap)}"
        )
    if gap - duration >= timedelta(hours=25):
        return  # no clock change in any zone brings two starts that much closer
    collisions: list[tuple[Opening, Opening]] = []

    def collided(dropped: Opening, kept: Opening) -> None:
        if dropped.start != kept.start:  # an exact duplicate (a moved start) loses nothing
            collisions.append((kept, dropped))

    for day in _clock_changes(compiled.zone, start, _CLOCK_CHANGE_SPAN):
        around = compiled.stream(0, day - _AROUND_CHANGE, day + _AROUND_CHANGE, collided)
        kept = list(around)
        collisions += [(a, b) for a, b in pairwise(kept) if b.start - a.start <= duration]
    if collisions:
        pair: tuple[Opening, Opening] = min(collisions, key=_order_pair)
        first_one, second_one = sorted(pair, key=lambda o: o.start)
        raise InvalidWindowError(
            f"a {format_duration(duration)} window would overlap the next one when the "
            f"clocks change in {rule.timezone}: {describe(first_one)} and "
            f"{describe(second_one)}; make it shorter"
        )


def _clock_changes(zone: ZoneInfo, start: datetime, span: timedelta) -> list[datetime]:
    """Local noons before which the zone's UTC offset changed, within ``span`` of ``start``."""
    noon = start.replace(hour=12, minute=0)
    offsets = [
        (noon + timedelta(days=n)).replace(tzinfo=zone).utcoffset() for n in range(span.days + 1)
    ]
    return [
        noon + timedelta(days=n) for n in range(1, len(offsets)) if offsets[n] != offsets[n - 1]
    ]


def _order_pair(pair: tuple[Opening, Opening]) -> datetime:
    return min(pair[0].start, pair[1].start)


def _local(moment: datetime, zone: ZoneInfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None)


def _blocked(opening: Opening, blackouts: Sequence[Blackout]) -> bool:
    return any(blackout.overlaps(opening.start, opening.end) for blackout in blackouts)


def _order(opening: Opening) -> tuple[datetime, datetime, int]:
    return opening.start, opening.end, opening.rule


def iter_openings(
    rules: Sequence[WindowRule], blackouts: Sequence[Blackout], start: datetime, end: datetime
) -> Iterator[Opening]:
    """Lazily, the openings of ``openings`` (the same order and rules), for taking a few."""
    start, end = utc(start), utc(end)
    if end <= start:
        return
    streams = []
    for index, rule in enumerate(rules):
        compiled = compile_rule(rule)
        low = _local(start, compiled.zone) - rule.duration - _SLACK
        high = _local(end, compiled.zone) + _SLACK
        streams.append(compiled.stream(index, low, high))
    previous: Opening | None = None
    for opening in heapq.merge(*streams, key=_order):
        if opening.start >= end:
            return
        if opening.end <= start or _blocked(opening, blackouts):
            continue
        if previous is not None and _order(previous)[:2] == _order(opening)[:2]:
            continue  # two rules giving the very same opening: show it once
        previous = opening
        yield opening


def openings(
    rules: Sequence[WindowRule], blackouts: Sequence[Blackout], start: datetime, end: datetime
) -> list[Opening]:
    """Every opening that intersects ``[start, end)`` (aware times), sorted by start.

    Each has exactly its rule's duration; one that overlaps a blackout is dropped entirely.
    Openings of one rule never overlap each other; those of different rules may (a site can
    have a Saturday and a nightly window), identical ones are listed once.

    Raises:
        InvalidWindowError: a naive ``start``/``end``, or a rule that cannot be read.
    """
    return list(iter_openings(rules, blackouts, start, end))


def next_opening(
    rules: Sequence[WindowRule], blackouts: Sequence[Blackout], after: datetime
) -> Opening | None:
    """The opening in effect at ``after`` (open now), else the first one starting after it.

    ``None`` when no opening starts within ``HORIZON`` (400 days) of ``after``: the rules have
    ended, or blackouts cover everything.

    Raises:
        InvalidWindowError: a naive ``after``, or a rule that cannot be read.
    """
    after = utc(after)
    return next(iter_openings(rules, blackouts, after, after + HORIZON), None)


def is_open(rules: Sequence[WindowRule], blackouts: Sequence[Blackout], at: datetime) -> bool:
    """True when an opening (not blacked out) contains ``at``.

    Raises:
        InvalidWindowError: a naive ``at``.
    """
    found = next_opening(rules, blackouts, at)
    return found is not None and found.start <= utc(at)


def blackout_from_local(timezone: str, first_day: date, last_day: date, reason: str) -> Blackout:
    """A holiday freeze given as local dates, both inclusive, in UTC.

    From local midnight at the start of ``first_day`` to local midnight after ``last_day``.
    Where midnight falls into a clock change, the freeze takes the wider reading: a missing
    midnight means the moment the day begins, a repeated one the first (start) or last (end).

    Raises:
        InvalidWindowError: unknown zone, ``last_day`` before ``first_day``, longer than a year,
            an empty or overlong reason.
    """
    return _blackout_from_local(timezone, first_day, last_day, reason.strip())


@functools.lru_cache(maxsize=4096)
def _blackout_from_local(timezone: str, first_day: date, last_day: date, reason: str) -> Blackout:
    zone = check_zone(timezone)
    if last_day < first_day:
        raise InvalidWindowError(
            f"the blackout's last day {last_day} is before its first day {first_day}"
        )
    if (last_day - first_day).days >= MAX_BLACKOUT_DAYS:
        raise InvalidWindowError(
            f"a blackout is at most {MAX_BLACKOUT_DAYS} days ({first_day} .. {last_day} is "
            f"{(last_day - first_day).days + 1})"
        )
    if not reason:
        raise InvalidWindowError("a blackout needs a reason (e.g. 'year-end freeze')")
    if len(reason) > MAX_REASON:
        raise InvalidWindowError(f"the reason is longer than {MAX_REASON} characters")
    midnight = datetime.combine(first_day, datetime.min.time())
    start = midnight.replace(tzinfo=zone, fold=0).astimezone(UTC)
    after = datetime.combine(last_day + timedelta(days=1), datetime.min.time())
    end = max(after.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1))
    return Blackout(start, end, reason)
