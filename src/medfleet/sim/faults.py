"""Fault profiles of virtual devices, and how they are injected into the real agent.

A ``FaultProfile`` says how one virtual device misbehaves:

- ``clinical``: when it is in clinical use (never, always, during given simulated time ranges,
  or until the scenario releases it), so the installer defers;
- ``fail_health_on``: versions whose self-test fails, so the trial boot of such a version is
  rolled back;
- ``power_loss``: a power cut at an installer checkpoint (``persisted:<phase>`` or
  ``effect:<effect>``, see ``medfleet.agent.installer.Checkpoint``), optionally tearing the
  slot write it interrupts;
- ``timing``: how much simulated time writing, booting and the self-test take on this device
  (spent on its ``DeviceClock``, never on the shared scenario clock).

Injection uses only the agent's public seams: the ``ClinicalState`` and ``HealthCheck``
protocols (``ScheduledClinicalState``, ``VersionHealthCheck``, set on the ``SimulatedDevice``
before the ``Agent`` is built) and the installer's observer (``FaultInjector``). A power cut is
the ``PowerCut`` BaseException raised from the observer: nothing in the agent catches it, so the
check stops right there, as the process would on a real power loss; the owner then power-cycles
the device and builds a fresh ``Agent`` (in-memory state lost).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from medfleet.agent.boot_env import SlotName
from medfleet.agent.device import FileClinicalState, FileHealthCheck, SimulatedDevice
from medfleet.agent.install_state import Effect, InstallRecord, Phase
from medfleet.agent.installer import Checkpoint
from medfleet.agent.slots import FileSlotStore, HealthResult
from medfleet.clock import Clock
from medfleet.sim.clock import DeviceClock
from medfleet.sim.errors import InvalidScenarioError

CHECKPOINT_LABELS = frozenset(
    {f"persisted:{phase}" for phase in Phase} | {f"effect:{effect}" for effect in Effect}
)


class PowerCut(BaseException):
    """Raised from the installer observer to cut the power; the agent does not catch it."""

    def __init__(self, checkpoint: str) -> None:
        super().__init__(f"power lost at {checkpoint}")
        self.checkpoint = checkpoint


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A half-open range of simulated time, ``start <= t < end`` (timezone-aware)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidScenarioError("a time range needs timezone-aware times")
        if self.end <= self.start:
            raise InvalidScenarioError(f"time range ends ({self.end}) before it starts")

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True)
class ClinicalUse:
    """When a device is in clinical use (see the module docstring)."""

    always: bool = False
    until_released: bool = False
    ranges: tuple[TimeRange, ...] = ()

    @classmethod
    def during(cls, *ranges: TimeRange) -> ClinicalUse:
        """In use during these simulated time ranges only."""
        return cls(ranges=ranges)

    @property
    def ever(self) -> bool:
        """True if this schedule can put the device in clinical use at all."""
        return self.always or self.until_released or bool(self.ranges)

    def in_use(self, now: datetime, released: bool) -> bool:
        """In clinical use at ``now`` (``released``: the scenario ended the open-ended use)?"""
        if self.always or (self.until_released and not released):
            return True
        return any(now in span for span in self.ranges)


@dataclass(frozen=True, slots=True)
class PowerLoss:
    """Power cuts at installer checkpoint ``at``: its first ``skip`` passes go by, the next
    ``times`` passes cut the power (a checkpoint such as ``effect:reboot`` is passed twice on
    the way to a rollback; counted over the device's life).

    ``torn_write``: when the cut finds the install in ``writing``, the target slot keeps only
    the first half of the image, as when power fails half-way through the write.
    ``outage``: how long the power stays off (simulated, on the device's clock); the boot
    when it comes back takes ``InstallTiming.boot`` more.
    """

    at: str
    times: int = 1
    skip: int = 0
    torn_write: bool = False
    outage: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if self.at not in CHECKPOINT_LABELS:
            raise InvalidScenarioError(
                f"unknown installer checkpoint {self.at!r}; one of {sorted(CHECKPOINT_LABELS)}"
            )
        if self.times < 1 or self.skip < 0:
            raise InvalidScenarioError("a power loss happens at least once, after >= 0 passes")

    @classmethod
    def during_write(cls) -> PowerLoss:
        """Power fails half-way through writing the inactive slot."""
        return cls(f"effect:{Effect.WRITE_SLOT}", torn_write=True)

    @classmethod
    def after_trial_reboot(cls) -> PowerLoss:
        """Power fails right after the device rebooted into the new version on trial."""
        return cls(f"effect:{Effect.REBOOT}")


@dataclass(frozen=True, slots=True)
class InstallTiming:
    """Simulated durations of an install's slow steps on one device."""

    write: timedelta = timedelta(minutes=3)
    boot: timedelta = timedelta(minutes=2)
    self_test: timedelta = timedelta(minutes=1)

    def of(self, effect: Effect | None) -> timedelta:
        """The simulated time the effect just performed took (zero for the quick ones)."""
        if effect is Effect.WRITE_SLOT:
            return self.write
        if effect is Effect.REBOOT:
            return self.boot
        if effect is Effect.HEALTH_CHECK:
            return self.self_test
        return timedelta(0)


@dataclass(frozen=True, slots=True)
class FaultProfile:
    """How one virtual device misbehaves (see the module docstring); the default is healthy."""

    clinical: ClinicalUse = field(default_factory=ClinicalUse)
    fail_health_on: frozenset[str] = frozenset()
    power_loss: PowerLoss | None = None
    timing: InstallTiming = field(default_factory=InstallTiming)

    @property
    def label(self) -> str:
        """``normal`` or the faults joined by ``+`` (``clinical+power-loss``), for summaries."""
        kinds = [
            name
            for name, present in (
                ("clinical", self.clinical.ever),
                ("health-failing", bool(self.fail_health_on)),
                ("power-loss", self.power_loss is not None),
            )
            if present
        ]
        return "+".join(kinds) or "normal"


class ScheduledClinicalState(FileClinicalState):
    """Clinical use from the device's flag file or from the profile's schedule at device time."""

    def __init__(
        self,
        flag_path: Path,
        schedule: ClinicalUse,
        clock: Clock,
        released: Callable[[], bool],
    ) -> None:
        super().__init__(flag_path)
        self.schedule = schedule
        self.clock = clock
        self.released = released

    def in_clinical_use(self) -> bool:
        """True while the flag file exists or the schedule says so."""
        return super().in_clinical_use() or self.schedule.in_use(self.clock.now(), self.released())


class VersionHealthCheck(FileHealthCheck):
    """The device's own self-test, failing also whenever the slot runs a version in ``failing``."""

    def __init__(self, slots: FileSlotStore, failure_path: Path, failing: frozenset[str]) -> None:
        super().__init__(slots, failure_path)
        self.failing = failing

    def check(self, slot: SlotName) -> HealthResult:
        """See ``HealthCheck.check``."""
        version = self.slots.version_of(slot)
        if version is not None and version.version in self.failing:
            return HealthResult(False, f"simulated self-test failure of {version.version}")
        return super().check(slot)


class FaultInjector:
    """The installer observer of one virtual device: spends simulated time, cuts the power.

    ``passed`` lists every checkpoint label it heard, in order (power cuts included).
    """

    def __init__(self, profile: FaultProfile, clock: DeviceClock) -> None:
        self.profile = profile
        self.clock = clock
        self.cuts = 0
        self.passes_at_cut_point = 0
        self.passed: list[str] = []

    def __call__(self, checkpoint: Checkpoint) -> None:
        """Called by the installer after every persisted phase and every effect.

        Raises:
            PowerCut: the profile's power loss is due at this checkpoint.
        """
        self.passed.append(checkpoint.label)
        self.clock.spend(self.profile.timing.of(checkpoint.effect))
        loss = self.profile.power_loss
        if loss is None or checkpoint.label != loss.at:
            return
        self.passes_at_cut_point += 1
        if loss.skip < self.passes_at_cut_point <= loss.skip + loss.times:
            self.cuts += 1
            raise PowerCut(checkpoint.label)


def tear_write(device: SimulatedDevice, record: InstallRecord | None) -> bool:
    """If ``record`` is writing a slot, keep only the first half of its image; True if torn."""
    if record is None or record.phase is not Phase.WRITING:
        return False
    image = device.slots.image_path(record.target_slot)
    if not image.exists():
        return False
    with image.open("r+b") as handle:
        handle.truncate(record.target.length // 2)
    return True


def fault_mix(
    count: int,
    *,
    clinical: float = 0.0,
    health_failing: float = 0.0,
    power_loss: float = 0.0,
    failing_version: str | None = None,
    power_losses: tuple[PowerLoss, ...] = (
        PowerLoss.during_write(),
        PowerLoss.after_trial_reboot(),
    ),
    timing: InstallTiming | None = None,
    seed: int = 0,
) -> list[FaultProfile]:
    """``count`` profiles: the given fractions (rounded) get one fault each, disjointly, on
    positions drawn with ``seed``; clinical use is open-ended (released by the scenario) and
    power losses alternate over ``power_losses``. The same arguments give the same list.

    Raises:
        InvalidScenarioError: fractions outside [0, 1] or summing above 1, or health failures
            asked for without a ``failing_version``.
    """
    fractions = (clinical, health_failing, power_loss)
    if any(not 0 <= f <= 1 for f in fractions) or sum(fractions) > 1:
        raise InvalidScenarioError("fault fractions must be within [0, 1] and sum to at most 1")
    if health_failing and failing_version is None:
        raise InvalidScenarioError("health failures need the failing_version")
    if power_loss and not power_losses:
        raise InvalidScenarioError("power failures need at least one PowerLoss")
    base = FaultProfile(timing=timing or InstallTiming())
    positions = list(range(count))
    random.Random(seed).shuffle(positions)  # noqa: S311 - scenario layout, not cryptography
    profiles = [base] * count
    start = 0
    for kind, fraction in enumerate(fractions):
        chosen = positions[start : start + round(count * fraction)]
        start += len(chosen)
        for nth, index in enumerate(chosen):
            if kind == 0:
                profiles[index] = replace(base, clinical=ClinicalUse(until_released=True))
            elif kind == 1:
                assert failing_version is not None
                profiles[index] = replace(base, fail_health_on=frozenset({failing_version}))
            else:
                profiles[index] = replace(base, power_loss=power_losses[nth % len(power_losses)])
    return profiles
