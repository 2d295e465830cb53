"""Simulated time: one scenario clock for the server and the fleet, and a view per device.

``SimClock`` is the scenario's "now": the in-process server's ``Runtime`` and every virtual
device read it, so a scenario can jump to a maintenance window for everybody at once. It only
moves forward and is safe to read from many threads.

``DeviceClock`` is what one device's agent sees: the scenario time, or later while the device is
busy. An install takes simulated time (writing the slot, the trial reboot, the self-test); the
devices of one round run side by side in simulated time, so each device's install cannot move
the shared clock. Instead ``spend`` moves only that device's own timeline forward: its clock
reads ``max(scenario time, end of the device's last simulated activity)``. Guarantees: a device
clock never runs backwards and never behind the scenario clock, so report times, outbox retry
times and the downtime an agent records (left service at reboot, back in service after the
self-test) are ordered and have the durations the device's fault profile gives them, while a
scenario jump (``SimClock.advance_to``) brings every idle device along.

The TUF client on the devices checks metadata expiry against the machine's real time, so
scenarios start at (``SimClock.at_real_time``) or after the real time and only move forward.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from medfleet.clock import Clock, FrozenClock
from medfleet.sim.errors import InvalidScenarioError


class SimClock(FrozenClock):
    """The shared scenario clock: a ``FrozenClock`` that only moves forward, thread-safely."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self._lock = threading.Lock()

    @classmethod
    def at_real_time(cls) -> SimClock:
        """A scenario clock starting at the machine's current time (whole seconds)."""
        return cls(datetime.now(UTC).replace(microsecond=0))

    def now(self) -> datetime:
        """The scenario's current time, timezone-aware UTC."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        """Move the scenario forward by ``delta``.

        Raises:
            InvalidScenarioError: ``delta`` is negative.
        """
        if delta < timedelta(0):
            raise InvalidScenarioError(f"the scenario clock cannot go back ({delta})")
        with self._lock:
            self._now += delta

    def advance_to(self, when: datetime) -> datetime:
        """Move the scenario forward to ``when`` (no change if it is already later); the new now.

        Raises:
            InvalidScenarioError: ``when`` is naive.
        """
        if when.tzinfo is None:
            raise InvalidScenarioError("advance_to needs a timezone-aware time")
        with self._lock:
            self._now = max(self._now, when.astimezone(UTC))
            return self._now


class DeviceClock:
    """One device's view of time: the scenario clock, or later while the device is busy."""

    def __init__(self, scenario: Clock) -> None:
        self.scenario = scenario
        self._busy_until: datetime | None = None

    def now(self) -> datetime:
        """``max(scenario time, end of this device's last simulated activity)``."""
        shared = self.scenario.now()
        busy = self._busy_until
        return shared if busy is None or busy <= shared else busy

    def spend(self, duration: timedelta) -> datetime:
        """The device spends ``duration`` of simulated time (writing, rebooting…); the new now.

        Raises:
            InvalidScenarioError: ``duration`` is negative.
        """
        if duration < timedelta(0):
            raise InvalidScenarioError(f"a device cannot spend negative time ({duration})")
        self._busy_until = self.now() + duration
        return self._busy_until

    @property
    def ahead_by(self) -> timedelta:
        """How far this device's time runs ahead of the scenario (zero when idle)."""
        return self.now() - self.scenario.now()
