"""The install state machine: pure decisions, no I/O.

One install attempt moves through these phases, each persisted before or after the effect it
names (``Installer`` does the I/O and the persisting)::

    idle -> downloading -> downloaded -> writing -> written -> trial_boot -> health_check
         -> committed | rolling_back -> rolled_back;  any phase before trial_boot -> failed

The design rests on one invariant: **the boot environment is armed (the new slot set on trial)
only after ``trial_boot`` is persisted.** In every earlier phase a power cycle boots the old
version, whatever was half done. From ``trial_boot`` on, the decision depends only on the
persisted phase and on what the bootloader reports (booted slot, primary, trial pending), so
the same function drives a fresh install and the recovery after a power loss: the installer
simply asks ``next_step`` again. Every effect is idempotent, so redoing an interrupted one is
always safe. Where the facts cannot tell whether the trial was armed (``trial_boot`` persisted,
the old slot running, no trial pending), the attempt is rolled back, never re-armed: a new
image that cannot even start the agent would otherwise be tried forever.

Nothing is written to a slot and no trial is armed while the device is in clinical use or
outside its install window (``DeviceFacts.window_wait``): the attempt stops ``deferred`` in
its phase and resumes from there. Downloading is allowed at any time.

Downtime: the record carries when the device left clinical service and when it came back
(``InstallRecord.advance`` with ``at``). It leaves when ``trial_boot`` is persisted — the last
clinical-use and window checks passed, the configuration is backed up, and the trial reboot
comes next; it returns when ``committed`` (the new version passed its health check and is
marked good) or ``rolled_back`` (the old version boots again with its configuration restored)
is persisted. Both instants are written in the same atomic record write as the phase, so a
power loss in between keeps the departure and the return includes the time without power.
A failed attempt never left service (every failure happens before ``trial_boot``).

``next_step`` returns a ``Step``: actions to run in order (``Do`` an effect, ``Persist`` a
phase), and whether to stop afterwards (with the outcome to report) or to ask again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from medfleet.agent.boot_env import SlotName, other_slot, parse_slot
from medfleet.agent.contract import parse_utc, utc_text
from medfleet.agent.errors import (
    InvalidTargetError,
    InvalidTransitionError,
    SlotError,
    StateCorruptError,
)
from medfleet.agent.slots import SlotVersion
from medfleet.agent.target import Target

__all__ = [
    "PRE_ARM",
    "TERMINAL",
    "TRANSITIONS",
    "Action",
    "DeviceFacts",
    "Do",
    "Effect",
    "InstallRecord",
    "Outcome",
    "Persist",
    "Phase",
    "Step",
    "Target",
    "next_step",
    "outcome_of",
]


class Phase(StrEnum):
    """Where one install attempt stands."""

    IDLE = "idle"
    DOWNLOADING = "downloading"
    DOWNLOADED = "downloaded"
    WRITING = "writing"
    WRITTEN = "written"
    TRIAL_BOOT = "trial_boot"
    HEALTH_CHECK = "health_check"
    ROLLING_BACK = "rolling_back"
    COMMITTED = "committed"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"


PRE_ARM = frozenset({Phase.DOWNLOADING, Phase.DOWNLOADED, Phase.WRITING, Phase.WRITTEN})
TERMINAL = frozenset({Phase.COMMITTED, Phase.ROLLED_BACK, Phase.FAILED})
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.IDLE: frozenset({Phase.DOWNLOADING}),
    Phase.DOWNLOADING: frozenset({Phase.DOWNLOADED, Phase.FAILED}),
    Phase.DOWNLOADED: frozenset({Phase.WRITING, Phase.FAILED}),
    Phase.WRITING: frozenset({Phase.WRITTEN, Phase.FAILED}),
    Phase.WRITTEN: frozenset({Phase.TRIAL_BOOT, Phase.FAILED}),
    Phase.TRIAL_BOOT: frozenset({Phase.HEALTH_CHECK, Phase.ROLLING_BACK}),
    Phase.HEALTH_CHECK: frozenset({Phase.COMMITTED, Phase.ROLLING_BACK}),
    Phase.ROLLING_BACK: frozenset({Phase.ROLLED_BACK}),
    Phase.COMMITTED: frozenset(),
    Phase.ROLLED_BACK: frozenset(),
    Phase.FAILED: frozenset(),
}


class Outcome(StrEnum):
    """What an install call ended with, as reported to the server."""

    COMMITTED = "committed"
    ROLLED_BACK = "rolled_back"
    DEFERRED = "deferred"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"


class Effect(StrEnum):
    """The I/O the installer performs; each one is safe to redo after a crash."""

    FETCH = "fetch"
    VERIFY_DOWNLOAD = "verify_download"
    WRITE_SLOT = "write_slot"
    VERIFY_SLOT = "verify_slot"
    BACKUP_CONFIG = "backup_config"
    ARM_TRIAL = "arm_trial"
    REBOOT = "reboot"
    HEALTH_CHECK = "health_check"
    MARK_GOOD = "mark_good"
    MARK_BAD = "mark_bad"
    RESTORE_CONFIG = "restore_config"
    CLEANUP = "cleanup"


@dataclass(frozen=True, slots=True)
class InstallRecord:
    """The persisted state of one install attempt.

    ``left_service_at`` / ``returned_to_service_at`` (aware UTC) are set by ``advance`` (see
    the module docstring); ``returned_to_service_at`` is never earlier than
    ``left_service_at``, even if the device's clock was stepped back in between.
    """

    attempt_id: str
    target: Target
    from_slot: SlotName
    from_version: SlotVersion | None
    trial_tries: int
    phase: Phase = Phase.IDLE
    detail: str | None = None
    left_service_at: datetime | None = None
    returned_to_service_at: datetime | None = None

    @property
    def target_slot(self) -> SlotName:
        """The slot being installed: always the one that was not running at the start."""
        return other_slot(self.from_slot)

    def advance(
        self, phase: Phase, detail: str | None = None, *, at: datetime | None = None
    ) -> InstallRecord:
        """The record in ``phase``; with ``at`` (the time of the move, aware), entering
        ``trial_boot`` stamps ``left_service_at`` and entering ``committed`` or ``rolled_back``
        after a departure stamps ``returned_to_service_at`` (at the earliest the departure).

        Raises:
            InvalidTransitionError: ``TRANSITIONS`` does not allow the move.
        """
        if phase not in TRANSITIONS[self.phase]:
            raise InvalidTransitionError(f"{self.phase} -> {phase} is not allowed")
        left, returned = self.left_service_at, self.returned_to_service_at
        if at is not None and phase is Phase.TRIAL_BOOT:
            left = at
        elif at is not None and phase in (Phase.COMMITTED, Phase.ROLLED_BACK) and left is not None:
            returned = max(at, left)
        return replace(
            self, phase=phase, detail=detail, left_service_at=left, returned_to_service_at=returned
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the state file holds)."""
        return {
            "attempt_id": self.attempt_id,
            "target": self.target.to_dict(),
            "from_slot": self.from_slot,
            "from_version": None if self.from_version is None else self.from_version.to_dict(),
            "trial_tries": self.trial_tries,
            "phase": self.phase.value,
            "detail": self.detail,
            "left_service_at": _optional_text(self.left_service_at),
            "returned_to_service_at": _optional_text(self.returned_to_service_at),
        }

    @classmethod
    def from_dict(cls, data: Any) -> InstallRecord:
        """Parse ``to_dict`` output (a record without the service instants, written by an
        older agent, has neither).

        Raises:
            StateCorruptError: anything that ``to_dict`` cannot have produced.
        """
        try:
            if not isinstance(data, dict):
                raise TypeError("not an object")
            from_version = data["from_version"]
            record = cls(
                attempt_id=data["attempt_id"],
                target=Target.from_dict(data["target"]),
                from_slot=parse_slot(data["from_slot"]),
                from_version=None if from_version is None else SlotVersion.from_dict(from_version),
                trial_tries=data["trial_tries"],
                phase=Phase(data["phase"]),
                detail=data["detail"],
                left_service_at=_optional_time(data, "left_service_at"),
                returned_to_service_at=_optional_time(data, "returned_to_service_at"),
            )
        except (KeyError, TypeError, ValueError, InvalidTargetError, SlotError) as exc:
            raise StateCorruptError(f"install record is invalid: {exc!r}") from exc
        if not isinstance(record.attempt_id, str) or not isinstance(record.trial_tries, int):
            raise StateCorruptError("install record has a mistyped field")
        if record.detail is not None and not isinstance(record.detail, str):
            raise StateCorruptError("install record detail is not text")
        return record


def _optional_text(value: datetime | None) -> str | None:
    return None if value is None else utc_text(value)


def _optional_time(data: dict[str, Any], name: str) -> datetime | None:
    """Raises ContractError (a ValueError) for anything ``utc_text`` cannot have written."""
    value = data.get(name)
    return None if value is None else parse_utc(name, value)


def outcome_of(phase: Phase) -> Outcome:
    """The outcome a record in ``phase`` stands for (``in_progress`` until terminal)."""
    return {
        Phase.COMMITTED: Outcome.COMMITTED,
        Phase.ROLLED_BACK: Outcome.ROLLED_BACK,
        Phase.FAILED: Outcome.FAILED,
    }.get(phase, Outcome.IN_PROGRESS)


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """What the installer observes before each decision.

    ``window_wait`` is why the install window forbids leaving service now
    (``medfleet.agent.window.InstallWindow.wait_reason``), None when it allows it.
    """

    booted_slot: SlotName
    primary_slot: SlotName
    trial_pending: bool
    clinical_use: bool
    window_wait: str | None = None


@dataclass(frozen=True, slots=True)
class Persist:
    """Persist the record in ``phase`` with ``detail``."""

    phase: Phase
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class Do:
    """Perform ``effect``. If it fails: persist ``on_failure`` and decide again, or, when
    ``on_failure`` is None, stop in the current phase (to resume later)."""

    effect: Effect
    on_failure: Phase | None = None


Action = Persist | Do


@dataclass(frozen=True, slots=True)
class Step:
    """Actions to run in order; then stop with ``stop`` (and ``detail``) or decide again."""

    actions: tuple[Action, ...]
    stop: Outcome | None = None
    detail: str | None = None


def next_step(record: InstallRecord, facts: DeviceFacts, *, continue_install: bool) -> Step:
    """The next step for ``record`` given ``facts``.

    ``continue_install`` is False for a bare recovery (no artifact source at hand): phases
    before ``trial_boot`` then stop as they are, the old version running; phases after it are
    always driven to ``committed`` or ``rolled_back``.
    """
    phase = record.phase
    if phase in TERMINAL:
        return Step((Do(Effect.CLEANUP),), stop=outcome_of(phase), detail=record.detail)
    if phase is Phase.IDLE:
        return Step((Persist(Phase.DOWNLOADING),))
    if phase in PRE_ARM:
        return _before_trial(record, facts, continue_install)
    return _after_arming(record, facts)


def _before_trial(record: InstallRecord, facts: DeviceFacts, continue_install: bool) -> Step:
    if facts.booted_slot != record.from_slot or facts.primary_slot != record.from_slot:
        return Step((Persist(Phase.FAILED, "the device no longer runs the slot it started on"),))
    if not continue_install:
        detail = f"install paused at {record.phase}; slot {record.from_slot} still runs"
        return Step((), stop=Outcome.IN_PROGRESS, detail=detail)
    if record.phase is Phase.DOWNLOADING:
        return Step(
            (Do(Effect.FETCH), Do(Effect.VERIFY_DOWNLOAD, Phase.FAILED), Persist(Phase.DOWNLOADED))
        )
    if facts.clinical_use:
        detail = f"device in clinical use; install waits at {record.phase}"
        return Step((), stop=Outcome.DEFERRED, detail=detail)
    if facts.window_wait is not None:
        return Step((), stop=Outcome.DEFERRED, detail=facts.window_wait)
    if record.phase is Phase.DOWNLOADED:
        return Step((Persist(Phase.WRITING),))
    if record.phase is Phase.WRITING:
        return Step(
            (
                Do(Effect.WRITE_SLOT, Phase.FAILED),
                Do(Effect.VERIFY_SLOT, Phase.FAILED),
                Persist(Phase.WRITTEN),
            )
        )
    return Step(
        (
            Do(Effect.BACKUP_CONFIG),
            Persist(Phase.TRIAL_BOOT),
            Do(Effect.ARM_TRIAL),
            Do(Effect.REBOOT),
        )
    )


def _after_arming(record: InstallRecord, facts: DeviceFacts) -> Step:
    target = record.target_slot
    on_target = facts.booted_slot == target and facts.primary_slot == target
    if record.phase is Phase.TRIAL_BOOT:
        if on_target:
            return Step((Persist(Phase.HEALTH_CHECK),))
        armed = facts.trial_pending and facts.primary_slot == target
        if armed and facts.clinical_use:
            detail = "clinical use began before the trial reboot"
            return Step((Persist(Phase.ROLLING_BACK, detail),))
        if armed:
            return Step((Do(Effect.REBOOT),))
        detail = "the new version did not boot (trial not started or out of tries)"
        return Step((Persist(Phase.ROLLING_BACK, detail),))
    if record.phase is Phase.HEALTH_CHECK:
        if on_target and facts.trial_pending:
            return Step(
                (
                    Do(Effect.HEALTH_CHECK, Phase.ROLLING_BACK),
                    Do(Effect.MARK_GOOD),
                    Persist(Phase.COMMITTED),
                )
            )
        if on_target:
            return Step((Do(Effect.MARK_GOOD), Persist(Phase.COMMITTED)))
        detail = "the bootloader fell back to the old version during the health check"
        return Step((Persist(Phase.ROLLING_BACK, detail),))
    if facts.booted_slot == target:
        return Step((Do(Effect.MARK_BAD), Do(Effect.REBOOT)))
    return Step(
        (Do(Effect.MARK_BAD), Do(Effect.RESTORE_CONFIG), Persist(Phase.ROLLED_BACK, record.detail))
    )
