"""A simulated device in one directory: file-backed slots, boot control, clinical state, health.

Layout under the root::

    slots/a.img, slots/a.json, slots/b.img, slots/b.json   the two slots and their versions
    boot/bootenv, boot/cmdline                             boot environment, booted slot
    config/                                                the device's configuration
    clinical-use                                           present while in clinical use
    health-failure                                         present: health checks fail
    agent/state/, agent/identity/, agent/outbox/           the agent's own data

``power_cycle`` is what happens when power comes back: the bootloader picks a slot
(``FileBootControl.boot``), then the application of the booted version starts and, if it is
newer than the configuration, migrates it (``config/schema.json``), as real software does; a
rollback must therefore restore the configuration to undo that. Tests, the simulator and
``bench/powerloss.py`` all use this class; nothing in it is a mock of the installer.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

from medfleet.agent.atomic import read_json, remove_durable, write_bytes_atomic, write_json_atomic
from medfleet.agent.boot_env import SlotName
from medfleet.agent.clock import Clock
from medfleet.agent.install_state import Target
from medfleet.agent.installer import Installer, Observer
from medfleet.agent.slots import (
    FileBootControl,
    FileSlotStore,
    HealthResult,
    SlotVersion,
    digest_file,
)

SCHEMA_FILE = "schema.json"


def target_for(image: Path, version: str, version_number: int, path: str | None = None) -> Target:
    """The ``Target`` describing an image file (length and hashes computed from its bytes)."""
    digest = digest_file(image)
    return Target(
        path=path or image.name,
        length=digest.length,
        sha256=digest.sha256,
        sha512=digest.sha512,
        version=version,
        version_number=version_number,
    )


class FileClinicalState:
    """Clinical use signalled by the presence of a flag file."""

    def __init__(self, flag_path: Path) -> None:
        self.flag_path = flag_path

    def in_clinical_use(self) -> bool:
        """True while the flag file exists."""
        return self.flag_path.exists()

    def set(self, in_use: bool) -> None:
        """Start or end clinical use."""
        if in_use:
            write_bytes_atomic(self.flag_path, b"in clinical use\n")
        else:
            remove_durable(self.flag_path)


class FileHealthCheck:
    """Checks that the running slot's image matches its verified version; a failure file
    (``failure_path``, holding the detail) simulates an application that fails its self-test."""

    def __init__(self, slots: FileSlotStore, failure_path: Path) -> None:
        self.slots = slots
        self.failure_path = failure_path

    def check(self, slot: SlotName) -> HealthResult:
        """See ``HealthCheck.check``."""
        if self.failure_path.exists():
            return HealthResult(False, self.failure_path.read_text().strip() or "self-test failed")
        version = self.slots.version_of(slot)
        if version is None:
            return HealthResult(False, f"slot {slot} holds no verified image")
        if self.slots.digest(slot, version.length).sha256 != version.sha256:
            return HealthResult(False, f"slot {slot} does not match version {version.version}")
        return HealthResult(True, f"version {version.version} passed its self-test")

    def set_failure(self, detail: str | None) -> None:
        """Make the next checks fail with ``detail``, or pass again with None."""
        if detail is None:
            remove_durable(self.failure_path)
        else:
            write_bytes_atomic(self.failure_path, detail.encode())


class SimulatedDevice:
    """A file-backed A/B device rooted at ``root`` (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.slots = FileSlotStore(root / "slots")
        self.boot_control = FileBootControl(root / "boot" / "bootenv", root / "boot" / "cmdline")
        self.clinical = FileClinicalState(root / "clinical-use")
        self.health = FileHealthCheck(self.slots, root / "health-failure")
        self.config_dir = root / "config"
        self.state_dir = root / "agent" / "state"
        self.identity_dir = root / "agent" / "identity"
        self.outbox_dir = root / "agent" / "outbox"

    @classmethod
    def create(
        cls,
        root: Path,
        *,
        image: Path,
        version: str,
        version_number: int,
        config: Mapping[str, str] | None = None,
    ) -> SimulatedDevice:
        """A factory-fresh device: ``image`` verified in slot a, booted, slot b empty."""
        device = cls(root)
        for directory in (device.slots.directory, root / "boot", device.config_dir):
            directory.mkdir(parents=True, exist_ok=True)
        device.state_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(image, device.slots.image_path("a"))
        target = target_for(image, version, version_number)
        device.slots.set_version(
            "a",
            SlotVersion(version, version_number, target.length, target.sha256, target.sha512),
        )
        FileBootControl.initialize(
            device.boot_control.env_path, device.boot_control.cmdline_path, "a"
        )
        for name, text in (config or {"settings.json": '{"alarm_volume": 7}\n'}).items():
            write_bytes_atomic(device.config_dir / name, text.encode())
        device._start_application()
        return device

    def running_slot(self) -> SlotName:
        """The slot the device booted last."""
        return self.boot_control.booted_slot()

    def running_version(self) -> SlotVersion | None:
        """The verified version in the running slot (None: the slot claims no version)."""
        return self.slots.version_of(self.running_slot())

    def power_cycle(self) -> SlotName:
        """Power off and on: the bootloader boots a slot, then its application starts."""
        slot = self.boot_control.boot()
        self._start_application()
        return slot

    def reboot(self) -> None:
        """The ``Rebooter`` of the simulated device: an orderly power cycle that returns."""
        self.power_cycle()

    def _start_application(self) -> None:
        version = self.running_version()
        if version is None:
            return
        self.config_dir.mkdir(exist_ok=True)
        schema = read_json(self.config_dir / SCHEMA_FILE)
        current = schema.get("version_number", -1) if isinstance(schema, dict) else -1
        if version.version_number > current:
            write_json_atomic(
                self.config_dir / SCHEMA_FILE,
                {"version_number": version.version_number, "migrated_by": version.version},
            )

    def config_snapshot(self) -> dict[str, bytes]:
        """Every configuration file's bytes, by relative path (for before/after comparisons)."""
        return {
            str(path.relative_to(self.config_dir)): path.read_bytes()
            for path in sorted(self.config_dir.rglob("*"))
            if path.is_file()
        }

    def set_clinical_use(self, in_use: bool) -> None:
        """Start or end clinical use."""
        self.clinical.set(in_use)

    def set_health_failure(self, detail: str | None) -> None:
        """Make health checks fail with ``detail`` (a bad release), or pass with None."""
        self.health.set_failure(detail)

    def installer(
        self,
        *,
        trial_tries: int = 3,
        observer: Observer | None = None,
        clock: Clock | None = None,
    ) -> Installer:
        """An ``Installer`` wired to this device's slots, boot control, checks and dirs
        (``clock`` defaults to the system clock)."""
        return Installer(
            state_dir=self.state_dir,
            config_dir=self.config_dir,
            slots=self.slots,
            boot=self.boot_control,
            clinical=self.clinical,
            health=self.health,
            rebooter=self,
            trial_tries=trial_tries,
            observer=observer,
            clock=clock,
        )

    def describe(self) -> str:
        """A one-line summary for logs: running slot and version, boot environment."""
        version = self.running_version()
        env = self.boot_control.env()
        return json.dumps(
            {
                "running": self.running_slot(),
                "version": None if version is None else version.version,
                "boot_order": " ".join(env.boot_order),
                "upgrade_available": env.upgrade_available,
            }
        )
