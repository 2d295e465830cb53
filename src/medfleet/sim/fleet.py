"""The fleet simulator: N virtual devices, registered and enrolled over HTTP, checking in rounds.

``FleetSimulator`` drives a fleet of ``VirtualDevice``s against a running medfleet server (for
instance ``medfleet.sim.server.SimServer``):

- ``add_devices`` registers each device through the API as a manufacturer admin or fleet
  operator (``POST /api/v1/devices``, the hospital and site the caller gives), builds its
  factory-fresh file-backed device and enrolls it over HTTP with its one-time token;
- ``run_round`` lets every device (or the ones given) run one real agent check — poll, verify,
  download, install, report, all over HTTP — on a small thread pool, and counts the actions;
- ``run_until_quiet`` repeats rounds, moving the scenario clock by a poll interval between
  them, until a round changes nothing any more;
- ``states`` reads each device's end state from its files, and ``attestation_mismatches``
  compares it with what the server attests (the versions of the signed reports it accepted).

Guarantees: a device is only ever used by one thread at a time; the scenario clock does not
move during a round (``SimClock`` is moved by the caller or ``run_until_quiet`` between
rounds); a device that fails its check is reported in the round's ``errors``, never hidden; the
same scenario and seed give every device the same jitter sequence.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import urllib3
from tuf.ngclient.urllib3_fetcher import Urllib3Fetcher

from medfleet.agent.download import DEFAULT_TIMEOUT
from medfleet.agent.poll import USER_AGENT
from medfleet.agent.status import Action
from medfleet.sim.api import ApiClient, AttestedVersion
from medfleet.sim.clock import SimClock
from medfleet.sim.device import (
    ERROR,
    DeviceCheck,
    DeviceSpec,
    DeviceState,
    FactoryImage,
    VirtualDevice,
    check_unique_serials,
)
from medfleet.sim.errors import InvalidScenarioError

T = TypeVar("T")
R = TypeVar("R")
# A round in which every device ended with one of these changed nothing on any device.
QUIET_ACTIONS = frozenset(
    {Action.NOT_MODIFIED.value, Action.UP_TO_DATE.value, Action.DEFERRED.value}
)
DEFAULT_WORKERS = 4
POLL_INTERVAL = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class RoundResult:
    """What one round did: every device's check, in device order, and the wall-clock time."""

    number: int
    scenario_time: datetime
    checks: tuple[DeviceCheck, ...]
    seconds: float

    @property
    def counts(self) -> dict[str, int]:
        """How many devices ended their check with each action."""
        return dict(Counter(check.action for check in self.checks))

    @property
    def errors(self) -> list[DeviceCheck]:
        """The checks that failed with an error (an agent exception)."""
        return [check for check in self.checks if check.action == ERROR]

    @property
    def quiet(self) -> bool:
        """True if no device installed, recovered, lost power, failed or had reports pending."""
        return all(
            check.action in QUIET_ACTIONS and check.reports_pending == 0 for check in self.checks
        )

    def by_serial(self) -> dict[str, DeviceCheck]:
        """The checks by device serial."""
        return {check.serial: check for check in self.checks}


def shared_pool(workers: int) -> urllib3.PoolManager:
    """One HTTP pool for the whole fleet: keep-alive connections, enough for every worker,
    medfleet's timeouts and the agent's retry policy (no retries, redirects followed)."""
    return urllib3.PoolManager(
        num_pools=4,
        maxsize=max(2, workers * 2),
        timeout=DEFAULT_TIMEOUT,
        retries=urllib3.Retry(total=5, connect=0, read=0, status=0, other=0, redirect=5),
    )


class FleetSimulator:
    """A fleet of virtual devices talking to one server (see the module docstring).

    ``operator`` must hold a token of a manufacturer admin or fleet operator; device files go
    under ``root``; ``workers`` threads run the devices' checks (1: one after the other).
    ``share_fetcher`` gives all devices one python-tuf ``Urllib3Fetcher`` (connections are
    reused) instead of one per metadata refresh, as the agent does by default.

    Raises:
        InvalidScenarioError: ``workers`` is below 1.
    """

    def __init__(
        self,
        server_url: str,
        root: Path,
        clock: SimClock,
        operator: ApiClient,
        factory_image: FactoryImage,
        *,
        workers: int = DEFAULT_WORKERS,
        share_fetcher: bool = True,
        seed: int = 0,
    ) -> None:
        if workers < 1:
            raise InvalidScenarioError("a fleet needs at least one worker thread")
        self.server_url = server_url
        self.root = root
        self.clock = clock
        self.operator = operator
        self.factory_image = factory_image
        self.workers = workers
        self.seed = seed
        self.http = shared_pool(workers)
        # python-tuf's own urllib3 fetcher, one for all devices so that connections are reused
        # (the agent's default is a new fetcher, and new connections, for every check).
        self.fetcher = Urllib3Fetcher(app_user_agent=USER_AGENT) if share_fetcher else None
        self.rounds = 0
        self._devices: dict[str, VirtualDevice] = {}
        self._executor = ThreadPoolExecutor(workers, "medfleet-sim") if workers > 1 else None

    # --- the fleet -----------------------------------------------------------------------

    @property
    def devices(self) -> list[VirtualDevice]:
        """Every device, in the order they were added."""
        return list(self._devices.values())

    def device(self, serial: str) -> VirtualDevice:
        """The device with this serial.

        Raises:
            InvalidScenarioError: no such device in this fleet.
        """
        try:
            return self._devices[serial]
        except KeyError:
            raise InvalidScenarioError(f"no simulated device {serial!r}") from None

    def add_devices(self, specs: Sequence[DeviceSpec]) -> list[VirtualDevice]:
        """Register (HTTP, as the operator), build and enroll (HTTP) one device per spec.

        Raises:
            InvalidScenarioError: a serial repeats.
            SimApiError: the server refused a registration (not a fleet operator, unknown
                hospital or site, unregistered model …).
            EnrollmentError: a device could not enroll.
        """
        specs = list(specs)
        check_unique_serials(specs, set(self._devices))
        first = len(self._devices)
        fresh = [
            VirtualDevice(
                self.root / f"{first + index:05d}-{spec.serial}",
                spec,
                self.clock,
                http=self.http,
                fetcher=self.fetcher,
                seed=self.seed * 1_000_003 + first + index,
            )
            for index, spec in enumerate(specs)
        ]
        list(self._map(self._bring_up, fresh))
        for device in fresh:
            self._devices[device.serial] = device
        return fresh

    def _bring_up(self, device: VirtualDevice) -> None:
        spec = device.spec
        registered = self.operator.register_device(
            org_id=spec.org_id,
            model=spec.model,
            hardware_revision=spec.hardware_revision,
            serial=spec.serial,
            extra=spec.registration_fields(),
        )
        device.create(self.factory_image)
        device.enroll(self.server_url, registered.enrollment_token)

    # --- rounds --------------------------------------------------------------------------

    def run_round(self, devices: Iterable[VirtualDevice] | None = None) -> RoundResult:
        """Every device (or those given) runs one agent check; their outcomes and counts."""
        chosen = self.devices if devices is None else list(devices)
        self.rounds += 1
        scenario_time = self.clock.now()
        started = time.perf_counter()
        checks = tuple(self._map(VirtualDevice.check, chosen))
        return RoundResult(self.rounds, scenario_time, checks, time.perf_counter() - started)

    def run_until_quiet(
        self,
        max_rounds: int = 10,
        *,
        step: timedelta = POLL_INTERVAL,
        devices: Sequence[VirtualDevice] | None = None,
    ) -> list[RoundResult]:
        """Run rounds until one is quiet (``RoundResult.quiet``) or ``max_rounds`` ran, moving
        the scenario clock forward by ``step`` before every round but the first."""
        results: list[RoundResult] = []
        for number in range(max_rounds):
            if number:
                self.clock.advance(step)
            results.append(self.run_round(devices))
            if results[-1].quiet:
                break
        return results

    def release_clinical(self, serials: Iterable[str] | None = None) -> int:
        """End open-ended clinical use on these devices (default: all); how many were in it."""
        chosen = self.devices if serials is None else [self.device(s) for s in serials]
        released = 0
        for device in chosen:
            released += device.faults.clinical.until_released and not device.released
            device.release_clinical()
        return released

    # --- what happened -------------------------------------------------------------------

    def states(self) -> list[DeviceState]:
        """Every device's state, read from its files."""
        return list(self._map(VirtualDevice.state, self.devices))

    def attested(self) -> dict[str, AttestedVersion]:
        """What the server attests about this fleet's devices, by device id (over HTTP).

        Raises:
            SimApiError: the server refused the listing.
        """
        return self.operator.attested_versions()

    def attestation_mismatches(self) -> list[str]:
        """Every device whose attested version differs from the version its slot runs.

        Raises:
            SimApiError: as ``attested``.
        """
        attested = self.attested()
        mismatches = []
        for state in self.states():
            seen = attested.get(state.device_id or "")
            claimed = None if seen is None else (seen.version, seen.version_number)
            actual = (state.running_version, state.running_version_number)
            if claimed != actual:
                mismatches.append(f"{state.serial}: server attests {claimed}, device runs {actual}")
        return mismatches

    def summary(self) -> dict[str, object]:
        """Counts for people and ``--json``: devices by running version, by install phase,
        by profile, settled or not, reports still pending and power cuts."""
        states = self.states()
        return {
            "devices": len(states),
            "by_version": dict(Counter(s.running_version or "none" for s in states)),
            "by_phase": dict(Counter(s.install_phase or "none" for s in states)),
            "by_profile": dict(Counter(s.profile for s in states)),
            "settled": sum(s.settled for s in states),
            "unsettled": [f"{s.serial}: {'; '.join(s.problems)}" for s in states if s.problems],
            "pending_reports": sum(s.pending_reports for s in states),
            "power_cuts": sum(s.power_cuts for s in states),
        }

    # --- plumbing ------------------------------------------------------------------------

    def _map(self, work: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
        if self._executor is None or len(items) < 2:
            return map(work, items)
        return self._executor.map(work, items)

    def close(self) -> None:
        """Stop the worker threads and close the HTTP connections (the device files stay)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.http.clear()

    def __enter__(self) -> FleetSimulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
