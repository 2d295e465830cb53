"""How a campaign proceeds: phases, thresholds, rate, abort criteria, urgency.

Pure. The semantics follow two well-known systems:

* **Phases** are hawkBit's rollout groups. Phase index 0 is always the *canary* phase: the
  test devices of every site (``Policy.canary`` holds its thresholds). Indices 1..n are
  ``Policy.phases``, given either as explicit groups (a ``GroupSelector`` of sites, hospitals,
  tags or device ids; the first group a device matches wins, an empty selector in the last
  phase takes every device left) or as percentages of the campaign's production devices
  (assigned by a stable hash, see ``medfleet.rollouts.planning``). A phase's
  ``success_threshold`` is the share (percent) of its devices that must have succeeded before
  the next phase starts; its ``error_threshold`` is the share that failed above which the
  campaign pauses.
* **Rate and abort** are AWS IoT Jobs' ``jobExecutionsRolloutConfig.exponentialRate`` and
  ``abortConfig.criteriaList``: ``ExponentialRate`` starts at ``base_per_minute`` devices per
  minute and multiplies by ``increment_factor`` each time another ``notify_threshold``
  devices were notified (or ``success_threshold`` succeeded), capped at
  ``maximum_per_minute``; an ``AbortCriterion`` aborts the campaign once at least
  ``min_finished`` devices finished and ``threshold_percent`` of them failed that way.

``medfleet.rollouts.policy_parse.parse_policy`` is the validated constructor (specific
``InvalidPolicyError`` messages with the field's path); ``Policy.as_dict`` round-trips through
it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from medfleet.rollouts.model import Urgency

CANARY_PHASE = 0
"""Phase index of the test devices; the policy's phases follow from 1."""
MAX_PHASES = 50
MAX_ABORT_CRITERIA = 10
BASIS_POINTS = 10_000
"""Percentages are exact to two decimals: 100 % is 10,000 basis points."""


class FailureType(enum.StrEnum):
    """Which finished devices an abort criterion counts as failures (``any`` = all three)."""

    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    TIMED_OUT = "timed_out"
    ANY = "any"


def basis_points(percent: float) -> int:
    """``percent`` (at most two decimals) in hundredths of a percent."""
    return round(percent * 100)


@dataclass(frozen=True, slots=True)
class GroupSelector:
    """An explicit phase group: devices at these sites or hospitals, with these tags, or
    named. Criteria combine with OR; an empty selector matches every device left."""

    site_ids: frozenset[int] = frozenset()
    hospital_ids: frozenset[int] = frozenset()
    tags: frozenset[str] = frozenset()
    device_ids: frozenset[str] = frozenset()

    @property
    def is_rest(self) -> bool:
        """Whether this selector takes every device not taken by an earlier group."""
        return not (self.site_ids or self.hospital_ids or self.tags or self.device_ids)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "site_ids": sorted(self.site_ids),
            "hospital_ids": sorted(self.hospital_ids),
            "tags": sorted(self.tags),
            "device_ids": sorted(self.device_ids),
        }


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase: its thresholds and either a percentage or an explicit group."""

    name: str
    success_threshold: float = 100.0
    error_threshold: float = 0.0
    percent: float | None = None
    group: GroupSelector | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        data: dict[str, object] = {
            "name": self.name,
            "success_threshold": self.success_threshold,
            "error_threshold": self.error_threshold,
        }
        if self.percent is not None:
            data["percent"] = self.percent
        if self.group is not None:
            data["group"] = self.group.as_dict()
        return data


@dataclass(frozen=True, slots=True)
class ExponentialRate:
    """AWS IoT Jobs' exponential rollout rate, with its ``maximumPerMinute`` cap.

    At most one of ``notify_threshold`` and ``success_threshold`` is set; with neither (and
    ``increment_factor`` 1) the rate is constant.
    """

    base_per_minute: int
    increment_factor: float = 1.0
    notify_threshold: int | None = None
    success_threshold: int | None = None
    maximum_per_minute: int | None = None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "base_per_minute": self.base_per_minute,
            "increment_factor": self.increment_factor,
            "notify_threshold": self.notify_threshold,
            "success_threshold": self.success_threshold,
            "maximum_per_minute": self.maximum_per_minute,
        }


@dataclass(frozen=True, slots=True)
class AbortCriterion:
    """AWS IoT Jobs' abort criterion: abort when, with at least ``min_finished`` devices
    finished, ``threshold_percent`` or more of the finished ones failed as ``failure_type``."""

    failure_type: FailureType
    threshold_percent: float
    min_finished: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "failure_type": self.failure_type.value,
            "threshold_percent": self.threshold_percent,
            "min_finished": self.min_finished,
        }


@dataclass(frozen=True, slots=True)
class Policy:
    """A campaign's policy; build it with ``parse_policy`` (or check it with ``checked``)."""

    phases: tuple[Phase, ...]
    canary: Phase = field(default_factory=lambda: Phase("canary"))
    rate: ExponentialRate | None = None
    abort_criteria: tuple[AbortCriterion, ...] = ()
    urgency: Urgency = Urgency.ROUTINE

    @property
    def phase_count(self) -> int:
        """Phases including the canary phase 0."""
        return len(self.phases) + 1

    def phase(self, index: int) -> Phase:
        """Phase ``index`` (0 is the canary phase).

        Raises:
            IndexError: no such phase.
        """
        if index == CANARY_PHASE:
            return self.canary
        if not 1 <= index <= len(self.phases):
            raise IndexError(f"phase {index} does not exist (0..{len(self.phases)})")
        return self.phases[index - 1]

    def is_last(self, index: int) -> bool:
        """Whether phase ``index`` is the last one."""
        return index >= len(self.phases)

    @property
    def by_percent(self) -> bool:
        """Whether the phases are percentages (else explicit groups)."""
        return self.phases[0].percent is not None

    def cumulative_basis_points(self) -> tuple[int, ...]:
        """Upper bounds of the phases' hash buckets, ending at ``BASIS_POINTS`` (percent
        phases only; empty for groups)."""
        bounds: list[int] = []
        total = 0
        for phase in self.phases:
            if phase.percent is None:
                return ()
            total += basis_points(phase.percent)
            bounds.append(total)
        return tuple(bounds)

    def group_tags(self) -> frozenset[str]:
        """Every tag named by a phase group."""
        return frozenset(t for ph in self.phases if ph.group is not None for t in ph.group.tags)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form; ``parse_policy`` of it gives an equal policy."""
        return {
            "phases": [phase.as_dict() for phase in self.phases],
            "canary": {
                "success_threshold": self.canary.success_threshold,
                "error_threshold": self.canary.error_threshold,
            },
            "rate": None if self.rate is None else self.rate.as_dict(),
            "abort_criteria": [criterion.as_dict() for criterion in self.abort_criteria],
            "urgency": self.urgency.value,
        }

    def checked(self) -> Policy:
        """This policy if it is valid (for policies built directly in trusted code).

        Raises:
            InvalidPolicyError: as ``parse_policy`` would.
        """
        from medfleet.rollouts.policy_parse import parse_policy

        return parse_policy(self.as_dict())
