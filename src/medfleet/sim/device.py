"""One virtual device: a file-backed device running the real agent against the server.

``VirtualDevice`` owns a directory with the device (``device/``: slots, boot environment,
configuration; ``medfleet.agent.device.SimulatedDevice``) and the agent's state (``state/``),
its own ``DeviceClock`` and its ``FaultProfile``. It enrolls over HTTP with its one-time token
(``medfleet.agent.enroll_client.enroll``) and each ``check`` runs one real
``Agent.check_once`` — poll, TUF verification of both repositories, download, A/B install,
signed report — over HTTP.

Guarantees:

- nothing of the agent is replaced: the faults enter through the ``ClinicalState`` and
  ``HealthCheck`` protocols and the installer's observer (``medfleet.sim.faults``);
- a power cut (``PowerCut`` from the observer) ends the check at once; the device is
  power-cycled (the bootloader picks a slot) and the next check runs a new ``Agent`` object, so
  nothing held in memory survives, exactly as after a real power loss;
- ``check`` never raises for what the agent does: an agent error is returned as the ``error``
  action with its message, so one broken device cannot stop a fleet round;
- ``state`` reads the device's files only and says whether the device is settled (boot
  environment not on trial, running slot image matching its verified version, no install
  stopped between arming the trial and its outcome, the outcome matching what runs).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
from tuf.ngclient.fetcher import FetcherInterface

from medfleet.agent.config import StateLayout
from medfleet.agent.device import SimulatedDevice
from medfleet.agent.enroll_client import enroll
from medfleet.agent.install_state import Phase
from medfleet.agent.runner import Agent
from medfleet.clock import Clock
from medfleet.sim.clock import DeviceClock
from medfleet.sim.errors import InvalidScenarioError
from medfleet.sim.faults import (
    FaultInjector,
    FaultProfile,
    PowerCut,
    ScheduledClinicalState,
    VersionHealthCheck,
    tear_write,
)

LOG = logging.getLogger(__name__)
POWER_LOST = "power-lost"
ERROR = "error"
# Phases in which the trial is (or may be) armed and no outcome is recorded yet.
ARMED = frozenset({Phase.TRIAL_BOOT, Phase.HEALTH_CHECK, Phase.ROLLING_BACK})


@dataclass(frozen=True, slots=True)
class FactoryImage:
    """The image every new virtual device runs in slot a when it leaves the factory.

    Use the bytes of a published release: a director delta applies only to the exact image it
    starts from (otherwise the agent downloads the full image, which works but costs more).
    """

    path: Path
    version: str
    version_number: int


@dataclass(frozen=True)
class DeviceSpec:
    """A device to simulate: who registers it for which hospital (and site), and its faults.

    ``registration`` holds further fields for the registration request (department, UDI …).
    """

    serial: str
    org_id: int
    site_id: int | None = None
    model: str = "IP-100"
    hardware_revision: str = "B"
    faults: FaultProfile = field(default_factory=FaultProfile)
    registration: Mapping[str, Any] = field(default_factory=dict)

    def registration_fields(self) -> dict[str, Any]:
        """The extra fields of the registration request (``site_id`` when one is given)."""
        extra = {} if self.site_id is None else {"site_id": self.site_id}
        return extra | dict(self.registration)


@dataclass(frozen=True, slots=True)
class DeviceCheck:
    """What one device's check did: the agent's action (``medfleet.agent.status.Action``
    value), ``power-lost`` or ``error``; wall-clock seconds it took."""

    serial: str
    action: str
    detail: str | None
    seconds: float
    reports_pending: int = 0


@dataclass(frozen=True, slots=True)
class DeviceState:
    """A device's state as its files say; ``problems`` lists every way it is not settled."""

    serial: str
    device_id: str | None
    profile: str
    running_slot: str
    running_version: str | None
    running_version_number: int | None
    install_phase: str | None
    install_target: str | None
    trial_pending: bool
    image_matches: bool
    clinical_use: bool
    pending_reports: int
    power_cuts: int
    problems: tuple[str, ...]

    @property
    def settled(self) -> bool:
        """True when the device runs one version for good (nothing half done)."""
        return not self.problems


class VirtualDevice:
    """One simulated device with the real agent (see the module docstring)."""

    def __init__(
        self,
        root: Path,
        spec: DeviceSpec,
        scenario: Clock,
        *,
        http: urllib3.PoolManager,
        fetcher: FetcherInterface | None = None,
        seed: int = 0,
        trial_tries: int = 3,
    ) -> None:
        self.root = root
        self.spec = spec
        self.serial = spec.serial
        self.state_dir = root / "state"
        self.device_dir = root / "device"
        self.clock = DeviceClock(scenario)
        self.http = http
        self.fetcher = fetcher
        self.trial_tries = trial_tries
        self.injector = FaultInjector(spec.faults, self.clock)
        self.rng = random.Random(seed)  # noqa: S311 - poll and retry jitter
        self.released = False
        self.device_id: str | None = None
        self.power_cuts = 0
        self._agent: Agent | None = None

    @property
    def faults(self) -> FaultProfile:
        """This device's fault profile."""
        return self.spec.faults

    def create(self, image: FactoryImage) -> None:
        """Build the factory-fresh device: ``image`` verified and booted in slot a."""
        SimulatedDevice.create(
            self.device_dir,
            image=image.path,
            version=image.version,
            version_number=image.version_number,
        )

    def enroll(self, server_url: str, token: str, *, poll_interval: float = 300.0) -> str:
        """Enroll with the server over HTTP; the device id it was given.

        Raises:
            EnrollmentError: refused, unreachable or an invalid answer (nothing written).
        """
        config = enroll(
            server_url,
            token,
            self.state_dir,
            self.device_dir,
            http=self.http,
            poll_interval=poll_interval,
        )
        self.device_id = config.device_id
        return config.device_id

    def wired_device(self) -> SimulatedDevice:
        """The file-backed device with this profile's clinical schedule and self-test."""
        device = SimulatedDevice(self.device_dir)
        faults = self.spec.faults
        device.clinical = ScheduledClinicalState(
            device.clinical.flag_path, faults.clinical, self.clock, lambda: self.released
        )
        device.health = VersionHealthCheck(
            device.slots, device.health.failure_path, faults.fail_health_on
        )
        return device

    def agent(self) -> Agent:
        """The agent as it runs now (a new one after enrollment or a power cut).

        Raises:
            NotEnrolledError: the device has not enrolled.
        """
        if self._agent is None:
            layout = StateLayout(self.state_dir)
            self._agent = Agent(
                layout,
                layout.load_config(),
                self.wired_device(),
                clock=self.clock,
                rng=self.rng,
                http=self.http,
                fetcher=self.fetcher,
                trial_tries=self.trial_tries,
                observer=self.injector,
            )
        return self._agent

    def check(self) -> DeviceCheck:
        """Run one agent cycle over HTTP; never raises for what the agent does (see above)."""
        started = time.perf_counter()
        try:
            agent = self.agent()
            outcome = agent.check_once()
        except PowerCut as cut:
            detail = self._power_cut(cut)
            return DeviceCheck(self.serial, POWER_LOST, detail, time.perf_counter() - started)
        except Exception as error:  # one broken device must not stop the fleet's round
            LOG.warning("device %s: check failed: %r", self.serial, error)
            self._agent = None
            return DeviceCheck(self.serial, ERROR, repr(error), time.perf_counter() - started)
        return DeviceCheck(
            self.serial,
            outcome.action.value,
            outcome.detail,
            time.perf_counter() - started,
            outcome.reports_pending,
        )

    def _power_cut(self, cut: PowerCut) -> str:
        """The power went off at ``cut``: maybe tear the write, lose memory, boot again."""
        loss, agent = self.spec.faults.power_loss, self._agent
        if loss is None or agent is None:  # pragma: no cover - only the injector cuts
            raise RuntimeError("a power cut without a power-loss profile or an agent") from cut
        device = agent.device
        torn = loss.torn_write and tear_write(device, agent.installer.record())
        self._agent = None
        self.power_cuts += 1
        self.clock.spend(loss.outage + self.spec.faults.timing.boot)
        slot = device.power_cycle()
        return f"{cut}{' (slot write torn)' if torn else ''}; booted slot {slot}"

    def release_clinical(self) -> None:
        """End open-ended clinical use (``ClinicalUse.until_released``) from now on."""
        self.released = True

    def state(self) -> DeviceState:
        """The device's state from its files (see ``DeviceState``)."""
        agent = self.agent()
        device = agent.device
        status = device.boot_control.status()
        running = device.running_version()
        record = agent.installer.record()
        problems: list[str] = []
        image_matches = running is not None and (
            device.slots.digest(status.booted_slot, running.length).sha256 == running.sha256
        )
        if running is None:
            problems.append(f"running slot {status.booted_slot} claims no version")
        elif not image_matches:
            problems.append(f"slot {status.booted_slot} does not match {running.version}")
        if status.trial_pending or status.booted_slot != status.primary_slot:
            problems.append(f"boot environment not settled: {device.describe()}")
        if record is not None:
            running_name = None if running is None else running.version
            if record.phase in ARMED:
                problems.append(f"install stopped in {record.phase}")
            elif record.phase is Phase.COMMITTED and running_name != record.target.version:
                problems.append(f"committed {record.target.version} but runs {running_name}")
            elif record.phase is Phase.ROLLED_BACK and running_name == record.target.version:
                problems.append(f"rolled back {record.target.version} but still runs it")
        return DeviceState(
            serial=self.serial,
            device_id=self.device_id,
            profile=self.spec.faults.label,
            running_slot=status.booted_slot,
            running_version=None if running is None else running.version,
            running_version_number=None if running is None else running.version_number,
            install_phase=None if record is None else record.phase.value,
            install_target=None if record is None else record.target.version,
            trial_pending=status.trial_pending,
            image_matches=image_matches,
            clinical_use=device.clinical.in_clinical_use(),
            pending_reports=len(agent.outbox.pending()),
            power_cuts=self.power_cuts,
            problems=tuple(problems),
        )


def check_unique_serials(specs: list[DeviceSpec], existing: set[str]) -> None:
    """Refuse a batch of specs that repeats a serial (within itself or with ``existing``).

    Raises:
        InvalidScenarioError: a serial appears twice.
    """
    seen = set(existing)
    for spec in specs:
        if spec.serial in seen:
            raise InvalidScenarioError(f"serial {spec.serial!r} is simulated twice")
        seen.add(spec.serial)
