"""Which waiting devices of a phase may be given their instruction now, and their window.

Pure. Downloads are allowed outside maintenance windows, installs only inside: a device is
startable when its site's current or next window opening is no further away than the
download lead, and its instruction carries that opening as the install window
``[start, end)``. A critical campaign at a site that consented to out-of-cycle installs
ignores windows (``SiteBatch.window`` is None: install as soon as the device is idle).
Production devices (phases 1..n) of a site in ``held_sites`` wait until the site's test
devices succeeded and the site confirmed. When a rate limit allows fewer devices than are
startable, they are spread over sites as evenly as possible (water-filling), sites whose
window closes first served first; within a site the caller's order is kept.
"""

from __future__ import annotations

import enum
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from medfleet.rollouts.errors import InvalidPlanInputError
from medfleet.rollouts.model import Urgency

DEFAULT_DOWNLOAD_LEAD = timedelta(hours=12)
"""How long before a window opens a device may get its instruction (and download)."""


class WindowOpening(Protocol):
    """One opening of a site's maintenance window (``medfleet.rollouts.windows.Opening``)."""

    @property
    def start(self) -> datetime: ...

    @property
    def end(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class InstallWindow:
    """When the device may install: ``[start, end)``, aware UTC."""

    start: datetime
    end: datetime

    def as_dict(self) -> dict[str, str]:
        """JSON-ready form (ISO 8601, UTC)."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


@dataclass(frozen=True, slots=True)
class SiteBatch:
    """Devices of one site to instruct now, all with the same install window (None: out of
    cycle, no window)."""

    site_id: int
    window: InstallWindow | None
    devices: tuple[int, ...]


class WaitReason(enum.StrEnum):
    """Why a device of the phase is not startable now."""

    NO_WINDOW = "no_window"
    WINDOW_LATER = "window_later"
    WINDOW_TOO_SHORT = "window_too_short"
    SITE_HELD = "site_held"
    RATE_LIMIT = "rate_limit"


@dataclass(frozen=True, slots=True)
class StartDecision:
    """The devices to instruct now, by site, and how many wait for what.

    ``next_check`` is the earliest time a window-related wait may end (a window coming within
    the download lead, a too-short window closing); None when no such time is known.
    """

    batches: tuple[SiteBatch, ...]
    waiting: Mapping[WaitReason, int]
    next_check: datetime | None

    @property
    def count(self) -> int:
        """Devices to instruct now."""
        return sum(len(batch.devices) for batch in self.batches)

    def devices(self) -> list[int]:
        """Every device to instruct now, batch by batch."""
        return [device for batch in self.batches for device in batch.devices]


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise InvalidPlanInputError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def fill_quotas(counts: Sequence[int], limit: int) -> list[int]:
    """How many of each group to take so that at most ``limit`` are taken in all, as evenly
    as possible (every group gets ``min(count, level)``, the first groups one more)."""
    if sum(counts) <= limit:
        return list(counts)
    low, high = 0, max(counts)
    while low < high:  # the highest level whose total still fits
        middle = (low + high + 1) // 2
        if sum(min(count, middle) for count in counts) <= limit:
            low = middle
        else:
            high = middle - 1
    quotas = [min(count, low) for count in counts]
    spare = limit - sum(quotas)
    for index, count in enumerate(counts):
        if spare == 0:
            break
        if count > low:
            quotas[index] += 1
            spare -= 1
    return quotas


def startable(
    devices: Sequence[int],
    sites: Sequence[int],
    *,
    phase_index: int,
    now: datetime,
    windows: Mapping[int, WindowOpening | None],
    urgency: Urgency,
    out_of_cycle_sites: Container[int] = frozenset(),
    held_sites: Container[int] = frozenset(),
    limit: int | None = None,
    download_lead: timedelta = DEFAULT_DOWNLOAD_LEAD,
    min_window: timedelta = timedelta(0),
) -> StartDecision:
    """The devices of phase ``phase_index`` that may be instructed at ``now``.

    ``devices`` (any ids, usually primary keys) are the phase's devices still waiting, each
    at ``sites[i]``; ``windows`` maps a site to its current or next opening (missing or None:
    no window ahead); ``min_window`` is the least install time a window must still offer
    (e.g. the release's expected downtime); ``limit`` caps the count (the rate's allowance).

    Raises:
        InvalidPlanInputError: ``devices`` and ``sites`` differ in length, ``now`` is naive, or
            ``limit`` is negative.
    """
    if len(devices) != len(sites):
        raise InvalidPlanInputError(
            f"devices ({len(devices)}) and sites ({len(sites)}) must be parallel"
        )
    if limit is not None and limit < 0:
        raise InvalidPlanInputError(f"limit must not be negative, got {limit}")
    now = _aware(now, "now")
    by_site: dict[int, list[int]] = {}
    for device, site in zip(devices, sites, strict=True):
        by_site.setdefault(site, []).append(device)
    waiting = dict.fromkeys(WaitReason, 0)
    wakeups: list[datetime] = []
    ready: list[tuple[tuple[int, datetime, int], int, InstallWindow | None, list[int]]] = []
    out_of_cycle = urgency == Urgency.CRITICAL
    for site, members in by_site.items():
        if phase_index > 0 and site in held_sites:
            waiting[WaitReason.SITE_HELD] += len(members)
            continue
        if out_of_cycle and site in out_of_cycle_sites:
            ready.append(((0, now, site), site, None, members))
            continue
        opening = windows.get(site)
        end = None if opening is None else _aware(opening.end, f"window end of site {site}")
        if opening is None or end is None or end <= now:
            waiting[WaitReason.NO_WINDOW] += len(members)
            continue
        start = _aware(opening.start, f"window start of site {site}")
        if end - max(now, start) < min_window:
            waiting[WaitReason.WINDOW_TOO_SHORT] += len(members)
            wakeups.append(end)
        elif start - download_lead > now:
            waiting[WaitReason.WINDOW_LATER] += len(members)
            wakeups.append(start - download_lead)
        else:
            ready.append(((1, end, site), site, InstallWindow(start, end), members))
    ready.sort(key=lambda item: item[0])
    quotas = [len(item[3]) for item in ready]
    if limit is not None:
        allowed = fill_quotas(quotas, limit)
        waiting[WaitReason.RATE_LIMIT] = sum(quotas) - sum(allowed)
        quotas = allowed
    batches = tuple(
        SiteBatch(site, window, tuple(members[:quota]))
        for (_, site, window, members), quota in zip(ready, quotas, strict=True)
        if quota
    )
    return StartDecision(batches, waiting, min(wakeups) if wakeups else None)
