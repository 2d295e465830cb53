"""Progress decisions of a running campaign: advance, hold, pause, abort or complete.

Pure, with hawkBit's rollout-group semantics and AWS IoT Jobs' abort criteria and exponential
rate:

* a phase's **error threshold** pauses the campaign as soon as the share of its devices that
  failed (failed, rolled back or timed out) is *above* it (hawkBit's error condition, whose
  action is a pause here, not an emergency stop);
* an **abort criterion** aborts the campaign once at least ``min_finished`` devices finished
  and the share of the finished ones that failed in that way is *at least* its threshold;
* a phase's **success threshold** starts the next phase as soon as the share of its devices
  that succeeded is *at least* it (the rest of the phase keeps going);
* the campaign **completes** when its last phase started and every device finished.

Shares are computed exactly (integers in basis points), over the devices of the phase that
take part (``PhaseStats.total``). A phase that finished below its success threshold without
passing its error threshold pauses the campaign: people decide. Pausing is not a dead end:
the service records the phase's failure count when someone resumes (``acknowledged``), and the
same failures never pause again; a finished phase whose failures were all acknowledged
advances. Abort criteria take precedence over pausing, pausing over advancing.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from medfleet.rollouts.errors import InvalidProgressError
from medfleet.rollouts.policy import (
    BASIS_POINTS,
    AbortCriterion,
    ExponentialRate,
    FailureType,
    Policy,
    basis_points,
)

RATE_CEILING = 1_000_000
"""Devices per minute when an exponential rate has no maximum of its own."""


@dataclass(frozen=True, slots=True)
class PhaseStats:
    """Counts of one phase (or, summed, of the whole campaign).

    ``total`` are the devices taking part (in the phase, site accepted); ``assigned`` those
    instructed so far, finished ones included; the four outcomes are finished devices.

    Raises:
        InvalidProgressError: a negative count, or more finished than assigned than total.
    """

    total: int
    assigned: int = 0
    succeeded: int = 0
    failed: int = 0
    rolled_back: int = 0
    timed_out: int = 0

    def __post_init__(self) -> None:
        counts = (
            self.total,
            self.assigned,
            self.succeeded,
            self.failed,
            self.rolled_back,
            self.timed_out,
        )
        if min(counts) < 0:
            raise InvalidProgressError(f"progress counts must not be negative: {self}")
        if not self.finished <= self.assigned <= self.total:
            raise InvalidProgressError(
                f"need finished ({self.finished}) <= assigned ({self.assigned}) <= total "
                f"({self.total})"
            )

    @property
    def finished(self) -> int:
        """Devices with an outcome."""
        return self.succeeded + self.failed + self.rolled_back + self.timed_out

    @property
    def failures(self) -> int:
        """Finished devices that did not succeed."""
        return self.failed + self.rolled_back + self.timed_out

    @property
    def in_progress(self) -> int:
        """Instructed devices without an outcome yet."""
        return self.assigned - self.finished

    @property
    def waiting(self) -> int:
        """Devices not instructed yet."""
        return self.total - self.assigned

    def failures_of(self, failure_type: FailureType) -> int:
        """Finished devices that failed as ``failure_type`` (``any``: all failures)."""
        if failure_type is FailureType.FAILED:
            return self.failed
        if failure_type is FailureType.ROLLED_BACK:
            return self.rolled_back
        if failure_type is FailureType.TIMED_OUT:
            return self.timed_out
        return self.failures

    def __add__(self, other: PhaseStats) -> PhaseStats:
        return PhaseStats(
            self.total + other.total,
            self.assigned + other.assigned,
            self.succeeded + other.succeeded,
            self.failed + other.failed,
            self.rolled_back + other.rolled_back,
            self.timed_out + other.timed_out,
        )

    @staticmethod
    def combined(stats: Iterable[PhaseStats]) -> PhaseStats:
        """The sum of ``stats`` (the campaign's counts from its phases')."""
        result = PhaseStats(0)
        for item in stats:
            result = result + item
        return result


class PauseReason(enum.StrEnum):
    """Why the campaign pauses."""

    ERROR_THRESHOLD = "error_threshold"
    SUCCESS_THRESHOLD_NOT_REACHED = "success_threshold_not_reached"


@dataclass(frozen=True, slots=True)
class Advance:
    """Start phase ``next_phase``."""

    next_phase: int
    message: str


@dataclass(frozen=True, slots=True)
class Hold:
    """Keep going; nothing to decide yet."""

    message: str


@dataclass(frozen=True, slots=True)
class Pause:
    """Pause the campaign because of phase ``phase``."""

    reason: PauseReason
    phase: int
    message: str


@dataclass(frozen=True, slots=True)
class Abort:
    """Abort the campaign: ``criterion`` was met with ``percent`` of the finished devices."""

    criterion: AbortCriterion
    percent: float
    message: str


@dataclass(frozen=True, slots=True)
class Complete:
    """Every device of the campaign finished."""

    message: str


Decision = Advance | Hold | Pause | Abort | Complete


def _percent(part: int, whole: int) -> float:
    return round(100 * part / whole, 2) if whole else 0.0


def _above(part: int, whole: int, threshold: float) -> bool:
    """``part / whole`` strictly above ``threshold`` percent (never for an empty whole)."""
    return whole > 0 and part * BASIS_POINTS > basis_points(threshold) * whole


def _at_least(part: int, whole: int, threshold: float) -> bool:
    """``part / whole`` at least ``threshold`` percent (always for an empty whole)."""
    return part * BASIS_POINTS >= basis_points(threshold) * whole


def abort_check(policy: Policy, campaign: PhaseStats) -> Abort | None:
    """The first abort criterion the campaign's counts meet, if any."""
    for criterion in policy.abort_criteria:
        finished = campaign.finished
        if finished < criterion.min_finished:
            continue
        count = campaign.failures_of(criterion.failure_type)
        if _at_least(count, finished, criterion.threshold_percent):
            share = _percent(count, finished)
            return Abort(
                criterion,
                share,
                f"{count} of {finished} finished devices ({share:g} %) ended "
                f"{criterion.failure_type.value}, at least the abort threshold of "
                f"{criterion.threshold_percent:g} %",
            )
    return None


def error_check(
    policy: Policy, phase_index: int, stats: PhaseStats, acknowledged_failures: int = 0
) -> Pause | None:
    """A pause when phase ``phase_index``'s failures are above its error threshold and some of
    them were not acknowledged yet."""
    threshold = policy.phase(phase_index).error_threshold
    failures = stats.failures
    if failures > acknowledged_failures and _above(failures, stats.total, threshold):
        share = _percent(failures, stats.total)
        return Pause(
            PauseReason.ERROR_THRESHOLD,
            phase_index,
            f"phase {phase_index}: {failures} of {stats.total} devices failed ({share:g} %), "
            f"above the error threshold of {threshold:g} %",
        )
    return None


def evaluate(
    policy: Policy,
    phase_index: int,
    phase_stats: PhaseStats,
    campaign_stats: PhaseStats,
    *,
    acknowledged_failures: int = 0,
) -> Decision:
    """What to do now, with phase ``phase_index`` the latest started phase.

    ``campaign_stats`` are the counts over every phase (for abort criteria and completion);
    ``acknowledged_failures`` the phase's failure count when the campaign was last resumed.

    Raises:
        IndexError: the policy has no phase ``phase_index``.
        InvalidProgressError: the campaign's counts are smaller than the phase's.
    """
    phase = policy.phase(phase_index)
    if campaign_stats.total < phase_stats.total or campaign_stats.finished < phase_stats.finished:
        raise InvalidProgressError("the campaign's counts must include the phase's")
    aborted = abort_check(policy, campaign_stats)
    if aborted is not None:
        return aborted
    paused = error_check(policy, phase_index, phase_stats, acknowledged_failures)
    if paused is not None:
        return paused
    if policy.is_last(phase_index):
        if campaign_stats.finished == campaign_stats.total:
            return Complete(f"all {campaign_stats.total} devices finished")
        return Hold(f"{campaign_stats.total - campaign_stats.finished} devices not finished")
    total, succeeded = phase_stats.total, phase_stats.succeeded
    share = _percent(succeeded, total)
    if _at_least(succeeded, total, phase.success_threshold):
        return Advance(
            phase_index + 1,
            f"phase {phase_index}: {succeeded} of {total} devices succeeded ({share:g} %), "
            f"reaching the success threshold of {phase.success_threshold:g} %",
        )
    if phase_stats.finished == total:
        if acknowledged_failures >= phase_stats.failures:
            return Advance(
                phase_index + 1,
                f"phase {phase_index} finished below its success threshold ({share:g} % of "
                f"{phase.success_threshold:g} %); its failures were acknowledged",
            )
        return Pause(
            PauseReason.SUCCESS_THRESHOLD_NOT_REACHED,
            phase_index,
            f"phase {phase_index} finished with {share:g} % succeeded, below the success "
            f"threshold of {phase.success_threshold:g} %; resume to go on anyway",
        )
    return Hold(
        f"phase {phase_index}: {succeeded} of {total} succeeded ({share:g} %), "
        f"{phase.success_threshold:g} % needed"
    )


def evaluate_campaign(
    policy: Policy,
    current_phase: int,
    phases: Sequence[PhaseStats],
    *,
    acknowledged: Sequence[int] = (),
) -> Decision:
    """``evaluate`` for the whole campaign: ``phases[i]`` are phase ``i``'s counts (phases
    after ``current_phase`` not started), ``acknowledged[i]`` its acknowledged failures.

    Also pauses for an earlier phase whose stragglers pushed it above its error threshold.

    Raises:
        InvalidProgressError: ``phases`` does not have one entry per policy phase.
    """
    if len(phases) != policy.phase_count:
        raise InvalidProgressError(
            f"need counts for each of the {policy.phase_count} phases, got {len(phases)}"
        )
    acks = list(acknowledged) + [0] * (len(phases) - len(acknowledged))
    campaign = PhaseStats.combined(phases)
    aborted = abort_check(policy, campaign)
    if aborted is not None:
        return aborted
    for index in range(current_phase):
        paused = error_check(policy, index, phases[index], acks[index])
        if paused is not None:
            return paused
    return evaluate(
        policy,
        current_phase,
        phases[current_phase],
        campaign,
        acknowledged_failures=acks[current_phase],
    )


def current_rate(rate: ExponentialRate, notified: int, succeeded: int) -> int:
    """Devices per minute after ``notified`` instructions and ``succeeded`` successes.

    ``base_per_minute * increment_factor ** level``, where the level counts how many times the
    rate's criterion was met (every ``notify_threshold`` devices notified, or every
    ``success_threshold`` succeeded), rounded down and capped at ``maximum_per_minute``
    (``RATE_CEILING`` without one). Never below the base rate.
    """
    cap = rate.maximum_per_minute or RATE_CEILING
    if rate.notify_threshold is not None:
        level = max(notified, 0) // rate.notify_threshold
    elif rate.success_threshold is not None:
        level = max(succeeded, 0) // rate.success_threshold
    else:
        level = 0
    if level == 0 or rate.increment_factor <= 1:
        return min(rate.base_per_minute, cap)
    if level * math.log(rate.increment_factor) >= math.log(cap / rate.base_per_minute):
        return cap
    return min(
        cap, max(rate.base_per_minute, int(rate.base_per_minute * rate.increment_factor**level))
    )


def allowed_now(
    rate: ExponentialRate | None,
    *,
    waiting: int,
    notified: int,
    succeeded: int,
    notified_last_minute: int,
) -> int:
    """How many of ``waiting`` startable devices may be instructed now.

    Without a rate, all of them. With one, the current rate (``current_rate``) minus the
    instructions sent in the last 60 seconds, so that no minute ever sees more than the rate.
    """
    if waiting <= 0:
        return 0
    if rate is None:
        return waiting
    budget = current_rate(rate, notified, succeeded) - max(notified_last_minute, 0)
    return max(0, min(waiting, budget))
