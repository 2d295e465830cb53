"""The values of maintenance windows: a recurring rule, a blackout, one opening; and how an
opening reads in the site's local time.

Pure: no I/O, no SQLAlchemy. Times inside are timezone-aware UTC; the IANA zone is carried
only to show local wall-clock times. ``medfleet.rollouts.windows`` re-exports all of this.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from medfleet.rollouts.window_errors import InvalidWindowError


@dataclass(frozen=True, slots=True)
class WindowRule:
    """A recurring maintenance window: RFC 5545 DTSTART (local) + RRULE + exact duration.

    Build one with ``parse_rule``, which validates every part; rules read back from the
    database were validated when they were stored. ``start_local`` is naive local wall time in
    ``timezone``; ``duration`` is elapsed time (a 4-hour window is 4 real hours even when the
    clocks change during it).
    """

    timezone: str
    start_local: datetime
    rrule: str
    duration: timedelta


@dataclass(frozen=True, slots=True)
class Blackout:
    """A period in which no window opens (a holiday freeze): ``[start, end)`` in aware UTC.

    Raises:
        InvalidWindowError: a naive time, or ``end`` not after ``start``.
    """

    start: datetime
    end: datetime
    reason: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidWindowError("a blackout's start and end must be timezone-aware")
        if self.end <= self.start:
            raise InvalidWindowError(
                f"a blackout must end after it starts ({self.start.isoformat()} .. "
                f"{self.end.isoformat()})"
            )

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """True when ``[start, end)`` shares any instant with this blackout."""
        return start < self.end and self.start < end


@dataclass(frozen=True, slots=True)
class Opening:
    """One occurrence of a window: ``[start, end)`` in aware UTC, in a site's zone.

    ``end - start`` is always the rule's duration. ``adjusted`` says why the start is not the
    local time the rule names (a start inside a spring-forward gap moves forward by the gap,
    as RFC 5545 prescribes); it is ``None`` for a start at its nominal time. ``rule`` is the
    index of the producing rule in the sequence passed to ``openings``/``next_opening``.
    """

    start: datetime
    end: datetime
    timezone: str
    adjusted: str | None = None
    rule: int = 0

    @property
    def local_start(self) -> datetime:
        """The start in the site's zone (aware; ``tzname()`` gives CET/CEST, EST/EDT...)."""
        return self.start.astimezone(ZoneInfo(self.timezone))

    @property
    def local_end(self) -> datetime:
        """The end in the site's zone; differs from the start's wall time by the duration
        plus or minus any clock change in between."""
        return self.end.astimezone(ZoneInfo(self.timezone))

    @property
    def duration(self) -> timedelta:
        """Elapsed length of the opening."""
        return self.end - self.start

    def contains(self, moment: datetime) -> bool:
        """True when ``moment`` (aware) lies in ``[start, end)``."""
        return self.start <= moment < self.end


def format_duration(duration: timedelta) -> str:
    """``4h``, ``1h30m``, ``45m``, ``24h``; spans over a day as ``7d`` or ``1d2h`` (whole
    minutes; seconds are dropped)."""
    minutes = int(duration.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60) if minutes > 24 * 60 else (0, minutes)
    hours, rest = divmod(minutes, 60)
    pieces = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{rest}m" if rest else ""]
    return "".join(pieces) or "0m"


def _offset(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_clock(moment: datetime, *, with_date: bool = True) -> str:
    """A local time as people read it: ``Sat 2026-03-28 02:00 CET (+01:00)``.

    The UTC offset follows the zone abbreviation unless the abbreviation is itself numeric.
    """
    name = moment.tzname() or ""
    offset = _offset(moment)
    zone = name if name.startswith(("+", "-")) else f"{name} ({offset})"
    shown = moment.strftime("%a %Y-%m-%d %H:%M") if with_date else moment.strftime("%H:%M")
    return f"{shown} {zone}"


def describe(opening: Opening) -> str:
    """One line for an opening in its site's local time.

    ``Sat 2026-03-28 22:00 CET (+01:00) → Sun 2026-03-29 03:00 CEST (+02:00) (4h)``; the end
    omits the date when it falls on the start's local date.
    """
    start, end = opening.local_start, opening.local_end
    same_day = start.date() == end.date()
    return (
        f"{format_clock(start)} → {format_clock(end, with_date=not same_day)} "
        f"({format_duration(opening.duration)})"
    )


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC.

    Raises:
        InvalidWindowError: ``moment`` is naive (inside medfleet every time is aware).
    """
    if moment.tzinfo is None:
        raise InvalidWindowError(f"{moment.isoformat()} has no time zone; give an aware time")
    return moment.astimezone(UTC)
