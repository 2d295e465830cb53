"""Pure rules of running campaigns: device statuses, counts per phase, holds and time-outs.

No I/O. The scheduler (``medfleet.rollouts.scheduler``) reads rows, asks these functions and
writes back what they decide:

* ``DeviceStatus`` is where one device of a campaign stands. ``waiting``,
  ``awaiting_acceptance`` (its site has not accepted the release) and ``held`` (a production
  device of a site whose test devices in the campaign have not all succeeded, or that has not
  confirmed production) have no instruction; ``assigned`` has one; the four outcomes are final,
  and ``cancelled`` means the campaign let the device go (aborted, or no longer compatible).
* ``phase_stats`` turns counts per (phase, status) into ``progress.PhaseStats``: a phase's
  devices *take part* (``total``) unless they await their site's acceptance or were cancelled.
* ``settle`` keeps the progress decision honest about devices that do not take part yet: a
  phase whose devices all await acceptance does not count as passed, and a campaign with
  devices still waiting (for acceptance, a window or their site's test devices) is not
  complete.
* ``held_sites`` and ``unassigned_status`` are the hospital-acceptance rule: a site's test
  devices install first; its production devices follow once every one of them succeeded and
  the site confirmed.
* ``is_timed_out`` is the time-out rule for instructed devices that never report.
* ``Router`` says which release a device installs next from what it runs now (the target or
  an intermediate hop), so that a device that finished a hop goes on to the next one.
"""

from __future__ import annotations

import enum
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from medfleet.rollouts.compat import Ineligible, ReleaseInfo, Step, route, route_rollback
from medfleet.rollouts.model import CampaignKind
from medfleet.rollouts.policy import CANARY_PHASE
from medfleet.rollouts.progress import Advance, Complete, Decision, Hold, PhaseStats

KEY_PREFIX = "CMP"
RESULT_GRACE = timedelta(hours=12)
"""How long after its install window closed an instructed device may still report."""
OUT_OF_CYCLE_TIMEOUT = timedelta(days=3)
"""How long a device instructed without a window (out of cycle) has to report an outcome."""


class DeviceStatus(enum.StrEnum):
    """Where one device of a campaign stands (see the module docstring)."""

    WAITING = "waiting"
    AWAITING_ACCEPTANCE = "awaiting_acceptance"
    HELD = "held"
    ASSIGNED = "assigned"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


UNASSIGNED = frozenset({DeviceStatus.WAITING, DeviceStatus.AWAITING_ACCEPTANCE, DeviceStatus.HELD})
"""Statuses of devices without an instruction that may still get one."""
UNFINISHED = UNASSIGNED | {DeviceStatus.ASSIGNED}
"""Statuses of devices the campaign still holds."""
OUTCOMES = frozenset(
    {
        DeviceStatus.SUCCEEDED,
        DeviceStatus.FAILED,
        DeviceStatus.ROLLED_BACK,
        DeviceStatus.TIMED_OUT,
    }
)
"""Final statuses that count in the progress of a phase."""
NOT_TAKING_PART = frozenset({DeviceStatus.AWAITING_ACCEPTANCE, DeviceStatus.CANCELLED})

REPORTED_OUTCOMES: Mapping[str, DeviceStatus] = {
    "committed": DeviceStatus.SUCCEEDED,
    "rolled_back": DeviceStatus.ROLLED_BACK,
    "failed": DeviceStatus.FAILED,
}
"""An install attempt's outcome (``InstallAttempt.outcome``) as a device status."""


def campaign_key(number: int) -> str:
    """The key of campaign ``number``: ``CMP-7``."""
    return f"{KEY_PREFIX}-{number}"


def parse_key(text: str) -> int | None:
    """The number in a campaign key (``CMP-7``, ``cmp-7`` or ``7``), or None if malformed."""
    body = text.strip().upper().removeprefix(f"{KEY_PREFIX}-")
    if not body.isdigit() or len(body) > 9:
        return None
    number = int(body)
    return number if number > 0 else None


def phase_stats(counts: Mapping[tuple[int, str], int], phase_count: int) -> list[PhaseStats]:
    """``PhaseStats`` of each phase ``0..phase_count-1`` from device counts per
    (phase, status); phases without devices get empty stats, unknown phases are ignored."""
    stats: list[PhaseStats] = []
    for phase in range(phase_count):

        def count(*statuses: DeviceStatus, phase: int = phase) -> int:
            return sum(counts.get((phase, status.value), 0) for status in statuses)

        every = sum(n for (p, _status), n in counts.items() if p == phase)
        outcomes = count(*OUTCOMES)
        stats.append(
            PhaseStats(
                total=every - count(*NOT_TAKING_PART),
                assigned=count(DeviceStatus.ASSIGNED) + outcomes,
                succeeded=count(DeviceStatus.SUCCEEDED),
                failed=count(DeviceStatus.FAILED),
                rolled_back=count(DeviceStatus.ROLLED_BACK),
                timed_out=count(DeviceStatus.TIMED_OUT),
            )
        )
    return stats


def settle(
    decision: Decision,
    *,
    current_phase: int,
    counts: Mapping[tuple[int, str], int],
) -> Decision:
    """``decision`` (from ``progress.evaluate_campaign``), held back where devices that do not
    take part yet would make it premature.

    An ``Advance`` out of a phase none of whose devices take part while some of them await
    their site's acceptance becomes a ``Hold`` (an empty phase passes at once otherwise); a
    ``Complete`` while any device is still unfinished (awaiting acceptance, held, waiting or
    instructed) becomes a ``Hold``.
    """
    if isinstance(decision, Advance):
        awaiting = counts.get((current_phase, DeviceStatus.AWAITING_ACCEPTANCE.value), 0)
        taking_part = sum(
            n
            for (phase, status), n in counts.items()
            if phase == current_phase and status not in NOT_TAKING_PART
        )
        if awaiting and not taking_part:
            return Hold(
                f"phase {current_phase}: all {awaiting} devices await their site's acceptance"
            )
    if isinstance(decision, Complete):
        unfinished = sum(n for (_phase, status), n in counts.items() if status in UNFINISHED)
        if unfinished:
            return Hold(f"{unfinished} devices not finished (waiting, held or awaiting acceptance)")
    return decision


def held_sites(
    test_devices: Iterable[tuple[int | None, str]], confirmed_sites: Container[int]
) -> frozenset[int]:
    """Sites whose production devices must wait: every site with a test device in the
    campaign (``(site, status)`` of the canary phase's devices, cancelled ones left out) unless
    all its test devices succeeded and the site confirmed production."""
    sites: dict[int, bool] = {}
    for site, status in test_devices:
        if site is None or status == DeviceStatus.CANCELLED:
            continue
        passed = status == DeviceStatus.SUCCEEDED
        sites[site] = sites.get(site, True) and passed
    return frozenset(
        site for site, passed in sites.items() if not (passed and site in confirmed_sites)
    )


def unassigned_status(
    phase: int, site: int | None, *, accepted: Container[int], held: Container[int]
) -> DeviceStatus:
    """The status of a device without an instruction: ``awaiting_acceptance`` at a site that
    has not accepted (or no site), ``held`` for a production device of a held site, else
    ``waiting``."""
    if site is None or site not in accepted:
        return DeviceStatus.AWAITING_ACCEPTANCE
    if phase != CANARY_PHASE and site in held:
        return DeviceStatus.HELD
    return DeviceStatus.WAITING


def is_timed_out(assigned_at: datetime, install_before: datetime | None, now: datetime) -> bool:
    """Whether an instructed device without an outcome has had its chance: ``RESULT_GRACE``
    after its install window closed, or ``OUT_OF_CYCLE_TIMEOUT`` after an instruction without
    a window."""
    if install_before is not None:
        return now >= install_before + RESULT_GRACE
    return now >= assigned_at + OUT_OF_CYCLE_TIMEOUT


def acknowledge(stats: Sequence[PhaseStats], current_phase: int) -> list[int]:
    """The acknowledged failures to store when a campaign resumes: each started phase's
    failures now (so the same failures never pause it again), zero for the others."""
    return [phase.failures if index <= current_phase else 0 for index, phase in enumerate(stats)]


@dataclass(frozen=True, slots=True)
class Router:
    """Where a campaign takes one device next, from what the device runs now.

    An update routes through ``compat.route`` (the target, or an intermediate release on the
    way; withdrawn releases are never chosen), a rollback through ``compat.route_rollback``.
    """

    kind: CampaignKind
    target: ReleaseInfo
    available: tuple[ReleaseInfo, ...] = ()

    def arrived(self, installed: int | None) -> bool:
        """Whether a device running ``installed`` already runs what the campaign brings (the
        target or higher for an update, exactly the target for a rollback)."""
        if installed is None:
            return False
        if self.kind is CampaignKind.ROLLBACK:
            return installed == self.target.version_number
        return installed >= self.target.version_number

    def next_step(self, model: str, revision: str, installed: int | None) -> Step | Ineligible:
        """The release the device installs next, or why it cannot (check ``arrived`` first:
        a device that arrived is ineligible here as ``up_to_date``/``not_above_target``)."""
        if self.kind is CampaignKind.ROLLBACK:
            return route_rollback(installed, revision, self.target, model=model)
        return route(installed, revision, self.target, self.available, model=model)
