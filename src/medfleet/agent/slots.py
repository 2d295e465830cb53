"""A/B slots and the boot environment, behind small interfaces, with file-backed versions.

The installer talks only to the four Protocols here: ``SlotStore`` (images in slots a and b),
``BootControl`` (which slot boots, trial tries, good/bad), ``ClinicalState`` and
``HealthCheck``. The file-backed implementations serve tests, the simulator and the power-loss
bench; a device backs ``BootControl`` with U-Boot (``fw_printenv``/``fw_setenv``) or GRUB
(``grub-editenv``) instead, using the same variables.

The variables and what the bootloader does with them at power-on (``BootEnv``, ``next_boot``)
are pure values in ``medfleet.agent.boot_env``. Here they are persisted: every environment
change ``FileBootControl`` makes is one atomic file replacement, as ``fw_setenv`` with a
redundant environment is, and a slot's recorded version is cleared before its image is
rewritten, so an interrupted write never leaves a slot that claims a version.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from medfleet.agent.atomic import read_json, remove_durable, write_bytes_atomic, write_json_atomic
from medfleet.agent.boot_env import BootEnv, SlotName, next_boot, other_slot, parse_slot
from medfleet.agent.errors import BootControlError, SlotError, StateCorruptError

CHUNK_SIZE = 1 << 20


@dataclass(frozen=True, slots=True)
class ImageDigest:
    """Length and hashes of bytes actually read from a file or a slot."""

    length: int
    sha256: str
    sha512: str


@dataclass(frozen=True, slots=True)
class SlotVersion:
    """What a slot holds, recorded only after the slot's bytes were read back and verified."""

    version: str
    version_number: int
    length: int
    sha256: str
    sha512: str

    def to_dict(self) -> dict[str, str | int]:
        """JSON-ready form."""
        return {
            "version": self.version,
            "version_number": self.version_number,
            "length": self.length,
            "sha256": self.sha256,
            "sha512": self.sha512,
        }

    @classmethod
    def from_dict(cls, data: object) -> SlotVersion:
        """Parse ``to_dict`` output.

        Raises:
            StateCorruptError: a field is missing, extra or mistyped.
        """
        fields = {
            "version": str,
            "version_number": int,
            "length": int,
            "sha256": str,
            "sha512": str,
        }
        if not isinstance(data, dict) or set(data) != set(fields):
            raise StateCorruptError(f"slot version must have exactly {sorted(fields)}")
        for name, kind in fields.items():
            if not isinstance(data[name], kind) or isinstance(data[name], bool):
                raise StateCorruptError(f"slot version field {name!r} is not {kind.__name__}")
        return cls(**data)


def digest_file(path: Path, limit: int | None = None) -> ImageDigest:
    """Length, sha256 and sha512 of the first ``limit`` bytes of ``path`` (all if None).

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    sha256, sha512 = hashlib.sha256(), hashlib.sha512()
    length = 0
    with path.open("rb") as handle:
        while limit is None or length < limit:
            want = CHUNK_SIZE if limit is None else min(CHUNK_SIZE, limit - length)
            chunk = handle.read(want)
            if not chunk:
                break
            sha256.update(chunk)
            sha512.update(chunk)
            length += len(chunk)
    return ImageDigest(length, sha256.hexdigest(), sha512.hexdigest())


@dataclass(frozen=True, slots=True)
class BootStatus:
    """What the agent needs to know about booting: where it runs and what boots next."""

    booted_slot: SlotName
    primary_slot: SlotName
    trial_pending: bool
    tries_left: int


@dataclass(frozen=True, slots=True)
class HealthResult:
    """The outcome of a health check of the running slot."""

    ok: bool
    detail: str


class SlotStore(Protocol):
    """The two image slots. Writes go only to a slot that is not running (the caller's job)."""

    def write_image(self, slot: SlotName, source: Path) -> None:
        """Stream ``source`` into ``slot``, durably; the slot's recorded version is cleared
        first, so an interrupted write never leaves a slot that claims a version."""
        ...

    def digest(self, slot: SlotName, length: int) -> ImageDigest:
        """Read back up to ``length`` bytes of ``slot`` and hash what was read."""
        ...

    def version_of(self, slot: SlotName) -> SlotVersion | None:
        """The verified version the slot holds, or None (empty, being written, unverified)."""
        ...

    def set_version(self, slot: SlotName, version: SlotVersion | None) -> None:
        """Record (durably) what the slot holds after verification, or clear it."""
        ...


class BootControl(Protocol):
    """The bootloader's A/B variables, as the running system sees and changes them."""

    def status(self) -> BootStatus:
        """The booted slot, the primary, whether it is on trial and its tries left."""
        ...

    def set_trial(self, slot: SlotName, tries: int) -> None:
        """Make ``slot`` the primary on trial with ``tries`` boots (one atomic env write)."""
        ...

    def mark_good(self) -> None:
        """End the trial of the primary, which must be the booted slot (idempotent).

        Raises:
            BootControlError: the booted slot is not the primary.
        """
        ...

    def mark_bad(self, slot: SlotName) -> None:
        """Never boot ``slot`` again until it is set on trial anew (idempotent)."""
        ...


class ClinicalState(Protocol):
    """Whether the device is in clinical use right now (no update may start then)."""

    def in_clinical_use(self) -> bool:
        """True while the device is being used on a patient."""
        ...


class HealthCheck(Protocol):
    """The post-install check of the running slot after a trial boot."""

    def check(self, slot: SlotName) -> HealthResult:
        """Check the system running from ``slot``."""
        ...


class FileSlotStore:
    """Slots as files ``<dir>/<slot>.img`` with verified versions in ``<dir>/<slot>.json``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def image_path(self, slot: SlotName) -> Path:
        """The file standing in for the slot's partition."""
        return self.directory / f"{parse_slot(slot)}.img"

    def _version_path(self, slot: SlotName) -> Path:
        return self.directory / f"{parse_slot(slot)}.json"

    def write_image(self, slot: SlotName, source: Path) -> None:
        """Stream ``source`` into the slot (in place, like a partition) and fsync it.

        Raises:
            SlotError: ``source`` cannot be read or the slot cannot be written.
        """
        self.set_version(slot, None)
        try:
            with source.open("rb") as reader, self.image_path(slot).open("wb") as writer:
                shutil.copyfileobj(reader, writer, CHUNK_SIZE)
                writer.flush()
                os.fsync(writer.fileno())
        except OSError as exc:
            raise SlotError(f"cannot write slot {slot}: {exc}") from exc

    def digest(self, slot: SlotName, length: int) -> ImageDigest:
        """Hash the first ``length`` bytes of the slot (fewer if the slot is shorter)."""
        try:
            return digest_file(self.image_path(slot), length)
        except FileNotFoundError:
            return ImageDigest(0, hashlib.sha256().hexdigest(), hashlib.sha512().hexdigest())

    def version_of(self, slot: SlotName) -> SlotVersion | None:
        """The recorded version, or None."""
        data = read_json(self._version_path(slot))
        return None if data is None else SlotVersion.from_dict(data)

    def set_version(self, slot: SlotName, version: SlotVersion | None) -> None:
        """Record or clear the slot's version atomically."""
        if version is None:
            remove_durable(self._version_path(slot))
        else:
            write_json_atomic(self._version_path(slot), version.to_dict())


class FileBootControl:
    """A boot environment in a file, plus the simulated bootloader that reads it at power-on.

    ``env_path`` holds the variables (``fw_printenv`` format); ``cmdline_path`` stands in for
    the kernel command line (``medfleet.slot=<slot>``), which the bootloader writes in ``boot``.
    """

    def __init__(self, env_path: Path, cmdline_path: Path) -> None:
        self.env_path = env_path
        self.cmdline_path = cmdline_path

    @classmethod
    def initialize(cls, env_path: Path, cmdline_path: Path, primary: SlotName) -> FileBootControl:
        """A factory-fresh environment booting ``primary`` (already booted, not on trial)."""
        control = cls(env_path, cmdline_path)
        control.write_env(BootEnv((primary, other_slot(primary))))
        write_bytes_atomic(cmdline_path, f"medfleet.slot={primary}\n".encode())
        return control

    def env(self) -> BootEnv:
        """The current variables.

        Raises:
            BootControlError: the environment is missing or invalid.
        """
        try:
            return BootEnv.from_text(self.env_path.read_text())
        except FileNotFoundError as exc:
            raise BootControlError(f"no boot environment at {self.env_path}") from exc

    def write_env(self, env: BootEnv) -> None:
        """Replace the variables in one atomic write."""
        write_bytes_atomic(self.env_path, env.to_text().encode())

    def booted_slot(self) -> SlotName:
        """The slot the bootloader started last.

        Raises:
            BootControlError: no or an invalid command line.
        """
        try:
            text = self.cmdline_path.read_text().strip()
            return parse_slot(text.removeprefix("medfleet.slot="))
        except (FileNotFoundError, SlotError) as exc:
            raise BootControlError(f"cannot tell the booted slot: {exc}") from exc

    def status(self) -> BootStatus:
        """See ``BootControl.status``."""
        env = self.env()
        return BootStatus(
            self.booted_slot(), env.primary, env.upgrade_available, env.tries_of(env.primary)
        )

    def set_trial(self, slot: SlotName, tries: int) -> None:
        """See ``BootControl.set_trial``.

        Raises:
            BootControlError: ``tries`` < 1.
        """
        if tries < 1:
            raise BootControlError("a trial needs at least one try")
        self.write_env(self.env().with_trial(parse_slot(slot), tries))

    def mark_good(self) -> None:
        """See ``BootControl.mark_good``."""
        env = self.env()
        if self.booted_slot() != env.primary:
            raise BootControlError("only the booted primary slot can be marked good")
        if env.upgrade_available:
            self.write_env(env.marked_good())

    def mark_bad(self, slot: SlotName) -> None:
        """See ``BootControl.mark_bad``."""
        env = self.env()
        bad = env.marked_bad(parse_slot(slot))
        if bad != env:
            self.write_env(bad)

    def boot(self) -> SlotName:
        """Power-on: apply ``next_boot`` to the environment and record the booted slot."""
        slot, env = next_boot(self.env())
        self.write_env(env)
        write_bytes_atomic(self.cmdline_path, f"medfleet.slot={slot}\n".encode())
        return slot
