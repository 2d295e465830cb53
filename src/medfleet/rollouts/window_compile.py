"""A window rule made fast to query, and its occurrences as UTC openings.

Occurrences are generated in local wall time (naive) by python-dateutil, then each local start
is mapped to UTC in the site's zone:

* a start that does not exist (inside a spring-forward gap) is read with the offset before the
  gap, which moves it forward by the gap (RFC 5545 §3.3.5: 02:30 becomes 03:30); the opening
  says so in ``adjusted``;
* an ambiguous start (the repeated hour of a fall-back) is the first of the two (``fold=0``);
* the end is the start plus the exact duration in elapsed time.

A moved start can land on, or overlap, another occurrence of the same rule (an hourly rule
whose 02:00 moves onto 03:00). Of two colliding occurrences the one at its nominal time is kept
and the moved one dropped, so openings of one rule never overlap; ``parse_rule`` refuses rules
where such a collision would be anything but an exact duplicate.

Compiled rules are cached. A query restarts the rule from an anchor just before the asked time
(a whole number of periods after DTSTART, which keeps the rule's phase), so its cost does not
grow with the distance from the first start; rules with COUNT are expanded once.
"""

from __future__ import annotations

import functools
import heapq
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, datetime, timedelta
from itertools import islice
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, HOURLY, MONTHLY, WEEKLY, rrule, rrulestr

from medfleet.rollouts.window_errors import InvalidWindowError
from medfleet.rollouts.window_model import Opening, WindowRule
from medfleet.rollouts.window_rrule import ParsedRRule, check_zone, parse_rrule

MAX_OFFSET = timedelta(hours=14)
"""No zone is further ahead of UTC than this (Pacific/Kiritimati)."""
FINITE_SPAN = timedelta(days=366 * 25)
"""A rule with COUNT is followed for at most 25 years after its start."""
PROBE_SPAN = timedelta(days=3653)
"""A rule must produce a window within about 10 years of its start."""

Drop = Callable[[Opening, Opening], None]
"""Told ``(dropped, kept)`` when one occurrence of a rule collides with another."""

_STEPS = {WEEKLY: timedelta(weeks=1), DAILY: timedelta(days=1), HOURLY: timedelta(hours=1)}


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """A rule ready for queries: zone, dateutil rule (canonical, naive local) and bounds."""

    rule: WindowRule
    zone: ZoneInfo
    parsed: ParsedRRule
    base: rrule
    finite: tuple[datetime, ...] | None

    @property
    def until_bound(self) -> datetime | None:
        """The last naive local time dateutil needs to look at, if the rule ends."""
        if self.parsed.until_local is not None:
            return self.parsed.until_local
        if self.parsed.until_utc is not None:
            return self.parsed.until_utc.astimezone(self.zone).replace(tzinfo=None) + timedelta(
                days=1
            )
        return None

    def _anchor(self, low: datetime) -> datetime:
        """A restart point at or before ``low``, a whole number of periods after DTSTART."""
        first = self.rule.start_local
        if low <= first:
            return first
        interval = self.parsed.interval
        step = _STEPS.get(self.parsed.freq)
        if step is not None:
            return first + ((low - first) // (step * interval)) * (step * interval)
        if self.parsed.freq == MONTHLY:
            months = (low.year - first.year) * 12 + low.month - first.month
            periods = months // interval
            while (anchor := first + relativedelta(months=periods * interval)) > low:
                periods -= 1
            return anchor
        periods = (low.year - first.year) // interval
        while (anchor := first + relativedelta(years=periods * interval)) > low:
            periods -= 1
        return anchor

    def local_starts(self, low: datetime, high: datetime) -> Iterator[datetime]:
        """Naive local starts in ``[low, high]``, ascending."""
        if self.finite is not None:
            for local in islice(self.finite, bisect_left(self.finite, low), None):
                if local > high:
                    return
                yield local
            return
        anchor = self._anchor(low)
        bound = self.until_bound
        until = high if bound is None else min(high, bound)
        if until < anchor:
            return
        for local in self.base.replace(dtstart=anchor, until=until):
            if local >= low:
                yield local

    def opening(self, local: datetime, index: int) -> Opening | None:
        """The opening that starts at local wall time ``local``; ``None`` past a UTC UNTIL."""
        start = local.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
        until = self.parsed.until_utc
        if until is not None and start > until:
            return None
        shown = start.astimezone(self.zone)
        note = None
        if shown.replace(tzinfo=None) != local:
            note = (
                f"{local:%H:%M} does not exist on {local:%Y-%m-%d} in {self.rule.timezone} "
                f"(clocks go forward); starts at {shown:%H:%M %Z} instead"
            )
        return Opening(start, start + self.rule.duration, self.rule.timezone, note, index)

    def _in_utc_order(self, index: int, low: datetime, high: datetime) -> Iterator[Opening]:
        # A moved start maps later than its neighbours; later local starts never map earlier
        # than their local time minus MAX_OFFSET, so whatever lies before that is final.
        pending: list[tuple[datetime, bool, int, Opening]] = []
        for number, local in enumerate(self.local_starts(low, high)):
            opening = self.opening(local, index)
            if opening is not None:
                entry = (opening.start, opening.adjusted is not None, number, opening)
                heapq.heappush(pending, entry)
            final = local.replace(tzinfo=UTC) - MAX_OFFSET
            while pending and pending[0][0] < final:
                yield heapq.heappop(pending)[3]
        while pending:
            yield heapq.heappop(pending)[3]

    def stream(
        self, index: int, low: datetime, high: datetime, on_drop: Drop | None = None
    ) -> Iterator[Opening]:
        """Openings of local starts in ``[low, high]``, by UTC start, never overlapping."""
        return _without_collisions(self._in_utc_order(index, low, high), on_drop)


def _without_collisions(openings: Iterable[Opening], on_drop: Drop | None) -> Iterator[Opening]:
    held: Opening | None = None
    for opening in openings:
        if held is None:
            held = opening
            continue
        if opening.start < held.end:
            moved_held = held.adjusted is not None and opening.adjusted is None
            kept, dropped = (opening, held) if moved_held else (held, opening)
            if on_drop is not None:
                on_drop(dropped, kept)
            held = kept
            continue
        yield held
        held = opening
    if held is not None:
        yield held


def _check_produces(rule: WindowRule, base: rrule) -> None:
    """Refuse a rule whose pattern has no occurrence within ``PROBE_SPAN`` of its start.

    dateutil checks UNTIL only against candidates, so a pattern without any would be walked to
    the year 9999. The probe runs the same pattern (COUNT and UNTIL aside) a multiple of 400
    years later, where the Gregorian calendar repeats exactly and the year-9999 stop is near.
    """
    first = rule.start_local
    shifted = first.replace(year=first.year + 400 * ((MAXYEAR - 11 - first.year) // 400))
    probe = base.replace(dtstart=shifted, count=None, until=shifted + PROBE_SPAN)
    if next(iter(probe), None) is None:
        raise InvalidWindowError(
            f"RRULE {rule.rrule} produces no window in the {PROBE_SPAN.days // 365} years after "
            f"{first:%Y-%m-%d %H:%M}: check FREQ, INTERVAL and the BY... parts"
        )


@functools.lru_cache(maxsize=20_000)
def compile_rule(rule: WindowRule) -> CompiledRule:
    """The cached, query-ready form of ``rule`` (syntax is checked; spacing is not).

    Raises:
        InvalidWindowError: the zone, start or RRULE cannot be read.
    """
    zone = check_zone(rule.timezone)
    if rule.start_local.tzinfo is not None:
        raise InvalidWindowError("a window's start_local must be naive local wall time")
    parsed = parse_rrule(rule.rrule, rule.start_local, zone)
    try:
        base = rrulestr(parsed.canonical, dtstart=rule.start_local)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise InvalidWindowError(f"RRULE {rule.rrule!r} is not valid: {exc}") from None
    if not isinstance(base, rrule):  # pragma: no cover - one RRULE line gives one rrule
        raise InvalidWindowError(f"RRULE {rule.rrule!r} is not a single rule")
    _check_produces(rule, base)
    finite = None
    if parsed.count is not None:
        bounded = base.replace(count=None, until=rule.start_local + FINITE_SPAN)
        finite = tuple(islice(bounded, parsed.count))
    return CompiledRule(rule, zone, parsed, base, finite)
