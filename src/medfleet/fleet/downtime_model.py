"""The arithmetic of downtime reports, and their period bounds: pure, no I/O.

Definitions (what every number in a downtime report means):

- ``installs``: finished install attempts = ``succeeded`` (committed) + ``rolled_back`` +
  ``failed``; ``success_rate`` = succeeded / installs (None without installs);
- downtime: the minutes each attempt that took a device out of service kept it out
  (``InstallAttempt.downtime_seconds`` / 60). ``total`` is their sum (0 without any);
  ``median`` is the middle value, or the mean of the two middle values for an even count;
  ``p95`` is the nearest-rank 95th percentile: the ``ceil(0.95 * n)``-th smallest of the ``n``
  values. Both are None without any such attempt. Minutes are rounded to 2 decimals last.

Period bounds (``parse_bound``): ``YYYY-MM-DD`` is a UTC day (``since`` its start, ``until``
its end, so ``--since 2026-03-01 --until 2026-03-31`` is all of March); a date and time must
carry its offset (``Z`` or ``+01:00``) and is converted to UTC.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from medfleet.errors import InvalidInput
from medfleet.fleet.errors import FleetError

GroupBy = Literal["hospital", "site", "model", "release"]
GROUP_BYS: tuple[GroupBy, ...] = ("hospital", "site", "model", "release")
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class InvalidReportQueryError(FleetError, InvalidInput):
    """A report was asked for with a parameter that is not acceptable; nothing was read."""


class InvalidReportPeriodError(InvalidReportQueryError):
    """A report's period is malformed (a bound that is not a day or a date and time with an
    offset) or empty (``since`` must be before ``until``)."""


def parse_bound(text: str, *, end: bool = False) -> datetime:
    """A period bound as aware UTC (see the module docstring); ``end`` for ``until``.

    Raises:
        InvalidReportPeriodError: anything else, naming the accepted forms.
    """
    text = text.strip()
    hint = "use YYYY-MM-DD (a UTC day) or an ISO 8601 date and time with Z or an offset"
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidReportPeriodError(f"{text!r} is not a date: {hint}") from exc
    if _DAY.fullmatch(text):
        day = value.replace(tzinfo=UTC)
        return day + timedelta(days=1) if end else day
    if value.utcoffset() is None:
        raise InvalidReportPeriodError(f"{text!r} has no time zone: {hint}")
    return value.astimezone(UTC)


def check_group_by(text: str) -> GroupBy:
    """``text`` as a grouping.

    Raises:
        InvalidReportQueryError: not hospital, site, model or release.
    """
    for group_by in GROUP_BYS:
        if text == group_by:
            return group_by
    raise InvalidReportQueryError(f"cannot group by {text!r}: use {', '.join(GROUP_BYS)}")


def nearest_rank(values: Iterable[float], percent: int) -> float | None:
    """The nearest-rank ``percent``-th percentile (1-100): the ``ceil(percent/100 * n)``-th
    smallest value; None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    if not 0 < percent <= 100:
        raise ValueError(f"percent {percent} is not in 1..100")
    rank = -(-percent * len(ordered) // 100)  # ceil, in integers
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Tally:
    """What one group's attempts add up to, before names and device counts are attached."""

    succeeded: int = 0
    failed: int = 0
    rolled_back: int = 0
    downtime_seconds: tuple[int, ...] = ()

    def add(self, outcome: str, downtime_seconds: int | None) -> Tally:
        """This tally with one more attempt."""
        seconds = self.downtime_seconds + (() if downtime_seconds is None else (downtime_seconds,))
        return Tally(
            self.succeeded + (outcome == "committed"),
            self.failed + (outcome == "failed"),
            self.rolled_back + (outcome == "rolled_back"),
            seconds,
        )

    @property
    def installs(self) -> int:
        """Finished attempts."""
        return self.succeeded + self.failed + self.rolled_back


@dataclass(frozen=True, slots=True)
class DowntimeRow:
    """One group of a downtime report (numbers as the module docstring defines them).

    ``key`` identifies the group stably (a hospital or site id, a model name,
    ``<model>@<version number>``; ``<hospital id>:-`` for a hospital's devices without a
    site); ``label`` names it; ``hospital`` is the hospital of a hospital or site row.
    """

    group_by: GroupBy
    key: str
    label: str
    hospital: str | None
    installs: int
    succeeded: int
    failed: int
    rolled_back: int
    success_rate: float | None
    downtime_minutes_total: float
    downtime_minutes_median: float | None
    downtime_minutes_p95: float | None
    unsupported_devices: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what ``--json`` and the API return)."""
        return asdict(self)


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 2)


def make_row(
    group_by: GroupBy,
    key: str,
    label: str,
    hospital: str | None,
    tally: Tally,
    unsupported_devices: int,
) -> DowntimeRow:
    """The report row of one group from its tally."""
    seconds = tally.downtime_seconds
    installs = tally.installs
    return DowntimeRow(
        group_by=group_by,
        key=key,
        label=label,
        hospital=hospital,
        installs=installs,
        succeeded=tally.succeeded,
        failed=tally.failed,
        rolled_back=tally.rolled_back,
        success_rate=None if installs == 0 else round(tally.succeeded / installs, 4),
        downtime_minutes_total=round(sum(seconds) / 60, 2),
        downtime_minutes_median=_minutes(statistics.median(seconds) if seconds else None),
        downtime_minutes_p95=_minutes(nearest_rank(seconds, 95)),
        unsupported_devices=unsupported_devices,
    )


def is_unsupported(
    version_number: int | None,
    supported_from: int | None,
    withdrawn: bool,
) -> bool:
    """True for an attested version below the model's supported floor or one of a withdrawn
    release; a device that attested no version is not counted."""
    if version_number is None:
        return False
    return withdrawn or (supported_from is not None and version_number < supported_from)
