"""Drives one A/B install on a device, persisting its state atomically at every step.

The decisions are ``install_state.next_step``'s; this module performs the effects (download,
verify, write the inactive slot, read it back, back up the configuration, arm the trial,
reboot, health-check, mark good or bad, restore the configuration) and persists the record in
``<state_dir>/install.json`` (temp file, fsync, rename, fsync dir) whenever the phase changes.

Guarantees:

- the running slot is never written; a slot claims a version only after it was read back and
  its length, sha256 and sha512 matched the target;
- nothing is written to a slot, and no trial reboot happens, while the device is in clinical
  use or outside the install window (``medfleet.agent.window``): ``install`` returns
  ``deferred`` and resumes from the same phase next time; downloading goes on regardless;
- the record holds when the attempt took the device out of clinical service and when it came
  back (read from the injected ``clock`` and persisted with the phase that marks them, see
  ``medfleet.agent.install_state``), so they survive a power loss in between;
- the configuration directory is backed up while the old version last runs (right before the
  trial is armed) and restored on rollback;
- after a power loss or a crash at any point, ``recover`` (which ``install`` runs first)
  leaves the device running the old version or the new version committed, never in between.

An ``observer`` is called after every persisted phase and after every effect (a
``Checkpoint``); tests and ``bench/powerloss.py`` crash the agent there.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from medfleet.agent.artifact import ArtifactSource, LocalFileSource
from medfleet.agent.atomic import (
    fsync_dir,
    fsync_file,
    read_json,
    remove_durable,
    remove_stale_temp_files,
    remove_tree_durable,
    replace_tree,
    write_json_atomic,
)
from medfleet.agent.clock import Clock, SystemClock
from medfleet.agent.errors import DeviceNotSettledError, FetchError, InstallStuckError, SlotError
from medfleet.agent.install_state import (
    PRE_ARM,
    TERMINAL,
    DeviceFacts,
    Do,
    Effect,
    InstallRecord,
    Outcome,
    Persist,
    Phase,
    Step,
    Target,
    next_step,
)
from medfleet.agent.reports import ReportContent, ReportTarget
from medfleet.agent.slots import (
    BootControl,
    ClinicalState,
    HealthCheck,
    SlotStore,
    SlotVersion,
    digest_file,
)
from medfleet.agent.window import InstallWindow

__all__ = [
    "MAX_STEPS",
    "RECORD_FILE",
    "ArtifactSource",
    "Checkpoint",
    "InstallResult",
    "Installer",
    "LocalFileSource",
    "Observer",
    "Rebooter",
]

RECORD_FILE = "install.json"
MAX_STEPS = 64


class Rebooter(Protocol):
    """Restarts the device so that the bootloader applies the boot environment."""

    def reboot(self) -> None:
        """Reboot. A real device does not return; a simulated one returns once it booted."""
        ...


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A point the observer hears about: a phase just persisted, or an effect just done."""

    attempt_id: str
    phase: Phase
    effect: Effect | None = None

    @property
    def label(self) -> str:
        """``persisted:<phase>`` or ``effect:<effect>``."""
        return f"persisted:{self.phase}" if self.effect is None else f"effect:{self.effect}"


Observer = Callable[[Checkpoint], None]


@dataclass(frozen=True, slots=True)
class InstallResult:
    """Where an ``install`` or ``recover`` call left things."""

    outcome: Outcome | None
    phase: Phase
    detail: str | None
    record: InstallRecord | None


class Installer:
    """Installs targets on one device through the slot, boot, clinical and health interfaces."""

    def __init__(
        self,
        *,
        state_dir: Path,
        config_dir: Path,
        slots: SlotStore,
        boot: BootControl,
        clinical: ClinicalState,
        health: HealthCheck,
        rebooter: Rebooter,
        trial_tries: int = 3,
        observer: Observer | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.config_dir = config_dir
        self.slots = slots
        self.boot = boot
        self.clinical = clinical
        self.health = health
        self.rebooter = rebooter
        self.trial_tries = trial_tries
        self.observer = observer
        self.clock: Clock = clock or SystemClock()
        self._downloads = state_dir / "downloads"
        self._backup = state_dir / "config-backup"
        self._downloads.mkdir(parents=True, exist_ok=True)

    def record(self) -> InstallRecord | None:
        """The persisted record of the current or last attempt, or None.

        Raises:
            StateCorruptError: the state file is not a valid record.
        """
        data = read_json(self.state_dir / RECORD_FILE)
        return None if data is None else InstallRecord.from_dict(data)

    def recover(self) -> InstallResult:
        """Bring the device to a settled state after a restart, a crash or a power loss.

        An attempt past ``written`` is driven to ``committed`` or ``rolled_back``; an earlier
        one is left paused (the old version runs) for ``install`` to resume.

        Raises:
            InstallStuckError: the device does not follow the boot environment.
        """
        for directory in (self.state_dir, self._downloads):
            remove_stale_temp_files(directory)
        record = self.record()
        if record is None:
            return InstallResult(None, Phase.IDLE, None, None)
        return self._drive(record, None, None)

    def install(
        self, target: Target, source: ArtifactSource, window: InstallWindow | None = None
    ) -> InstallResult:
        """Install ``target`` (resuming a paused attempt at the same target).

        A paused attempt at another target is abandoned (``failed``, superseded) first. The
        download happens whenever this is called; the install proper only while the clock is
        inside ``window`` (None: no window). Outside it the result is ``deferred`` with a
        detail naming the window, and an instruction whose window has closed is not installed.

        Raises:
            DeviceNotSettledError: a trial is pending that no install record accounts for.
            InstallStuckError: the device does not follow the boot environment.
        """
        self.recover()
        record = self.record()
        if record is not None and record.phase in PRE_ARM and record.target != target:
            detail = f"superseded by {target.version} ({target.sha256[:12]})"
            record = self._persist(self._advance(record, Phase.FAILED, detail))
            self._cleanup()
        if record is None or record.phase in TERMINAL:
            status = self.boot.status()
            if status.trial_pending or status.booted_slot != status.primary_slot:
                raise DeviceNotSettledError("the boot environment has an unaccounted trial")
            booted = status.booted_slot
            record = InstallRecord(
                attempt_id=uuid.uuid4().hex,
                target=target,
                from_slot=booted,
                from_version=self.slots.version_of(booted),
                trial_tries=self.trial_tries,
            )
        return self._drive(record, source, window)

    def report_content(self, result: InstallResult) -> ReportContent:
        """What a status report should state now: the running slot and version, whether the
        device is in clinical use, and ``result`` (with the attempt's service instants)."""
        booted = self.boot.status().booted_slot
        version = self.slots.version_of(booted)
        record = result.record
        return ReportContent(
            active_slot=booted,
            active_version=None if version is None else version.version,
            active_version_number=None if version is None else version.version_number,
            install_phase=result.phase.value,
            outcome=None if result.outcome is None else result.outcome.value,
            detail=result.detail,
            target=None
            if record is None
            else ReportTarget(
                path=record.target.path,
                version=record.target.version,
                version_number=record.target.version_number,
                sha256=record.target.sha256,
            ),
            in_clinical_use=self.clinical.in_clinical_use(),
            left_service_at=None if record is None else record.left_service_at,
            returned_to_service_at=None if record is None else record.returned_to_service_at,
        )

    def _drive(
        self, record: InstallRecord, source: ArtifactSource | None, window: InstallWindow | None
    ) -> InstallResult:
        for _ in range(MAX_STEPS):
            status = self.boot.status()
            facts = DeviceFacts(
                booted_slot=status.booted_slot,
                primary_slot=status.primary_slot,
                trial_pending=status.trial_pending,
                clinical_use=self.clinical.in_clinical_use(),
                window_wait=None if window is None else window.wait_reason(self.clock.now()),
            )
            step = next_step(record, facts, continue_install=source is not None)
            record, stopped = self._run(step, record, source)
            if stopped is not None:
                return InstallResult(Outcome.IN_PROGRESS, record.phase, stopped, record)
            if step.stop is not None:
                return InstallResult(step.stop, record.phase, step.detail, record)
        raise InstallStuckError(f"no settled state after {MAX_STEPS} steps at {record.phase}")

    def _run(
        self, step: Step, record: InstallRecord, source: ArtifactSource | None
    ) -> tuple[InstallRecord, str | None]:
        """Run ``step``'s actions; the detail of an effect failure that stops the install."""
        for action in step.actions:
            if isinstance(action, Persist):
                record = self._persist(self._advance(record, action.phase, action.detail))
                continue
            ok, detail = self._perform(action, record, source)
            self._notify(Checkpoint(record.attempt_id, record.phase, action.effect))
            if not ok and action.on_failure is None:
                return record, detail
            if not ok and action.on_failure is not None:
                return self._persist(self._advance(record, action.on_failure, detail)), None
        return record, None

    def _advance(self, record: InstallRecord, phase: Phase, detail: str | None) -> InstallRecord:
        return record.advance(phase, detail, at=self.clock.now())

    def _persist(self, record: InstallRecord) -> InstallRecord:
        write_json_atomic(self.state_dir / RECORD_FILE, record.to_dict())
        self._notify(Checkpoint(record.attempt_id, record.phase))
        return record

    def _notify(self, checkpoint: Checkpoint) -> None:
        if self.observer is not None:
            self.observer(checkpoint)

    def _download_path(self, target: Target) -> Path:
        return self._downloads / f"{target.sha256}.partial"

    def _perform(
        self, action: Do, record: InstallRecord, source: ArtifactSource | None
    ) -> tuple[bool, str | None]:
        target, slot = record.target, record.target_slot
        effect = action.effect
        if effect is Effect.FETCH:
            return self._fetch(target, source)
        if effect is Effect.VERIFY_DOWNLOAD:
            return self._verify_download(target)
        if effect is Effect.WRITE_SLOT:
            if self.boot.status().booted_slot == slot:
                return False, f"refusing to write slot {slot}: it is running"
            try:
                self.slots.write_image(slot, self._download_path(target))
            except SlotError as exc:
                return False, str(exc)
            return True, None
        if effect is Effect.VERIFY_SLOT:
            digest = self.slots.digest(slot, target.length)
            if (digest.length, digest.sha256, digest.sha512) != (
                target.length,
                target.sha256,
                target.sha512,
            ):
                return False, f"slot {slot} read back does not match the target"
            version = SlotVersion(
                target.version, target.version_number, target.length, target.sha256, target.sha512
            )
            self.slots.set_version(slot, version)
            return True, None
        if effect is Effect.HEALTH_CHECK:
            result = self.health.check(self.boot.status().booted_slot)
            return result.ok, result.detail
        self._perform_settling(effect, record)
        return True, None

    def _perform_settling(self, effect: Effect, record: InstallRecord) -> None:
        """The effects that cannot fail short of an I/O error (which propagates)."""
        if effect is Effect.BACKUP_CONFIG:
            replace_tree(self.config_dir, self._backup)
        elif effect is Effect.ARM_TRIAL:
            self.boot.set_trial(record.target_slot, record.trial_tries)
        elif effect is Effect.REBOOT:
            self.rebooter.reboot()
        elif effect is Effect.MARK_GOOD:
            self.boot.mark_good()
        elif effect is Effect.MARK_BAD:
            self.boot.mark_bad(record.target_slot)
        elif effect is Effect.RESTORE_CONFIG:
            replace_tree(self._backup, self.config_dir)
        elif effect is Effect.CLEANUP:
            self._cleanup()
        else:  # pragma: no cover - every Effect is handled above or in _perform
            raise AssertionError(effect)

    def _fetch(self, target: Target, source: ArtifactSource | None) -> tuple[bool, str | None]:
        partial = self._download_path(target)
        if source is not None and (not partial.exists() or partial.stat().st_size < target.length):
            try:
                source.fetch(partial)
            except FetchError as exc:
                return False, f"download interrupted: {exc}"
        size = partial.stat().st_size if partial.exists() else 0
        if size > target.length:
            remove_durable(partial)
            return False, f"source sent {size} bytes for a {target.length}-byte target"
        if size < target.length:
            return False, f"download incomplete: {size} of {target.length} bytes"
        return True, None

    def _verify_download(self, target: Target) -> tuple[bool, str | None]:
        partial = self._download_path(target)
        digest = digest_file(partial)
        if (digest.length, digest.sha256, digest.sha512) != (
            target.length,
            target.sha256,
            target.sha512,
        ):
            remove_durable(partial)
            return False, "downloaded artifact does not match the target's length and hashes"
        fsync_file(partial)
        fsync_dir(partial.parent)
        return True, None

    def _cleanup(self) -> None:
        shutil.rmtree(self._downloads, ignore_errors=True)
        self._downloads.mkdir(parents=True, exist_ok=True)
        fsync_dir(self.state_dir)
        remove_tree_durable(self._backup)
