"""Power lost at every checkpoint of an install, on virtual devices talking HTTP to the server.

Two probe devices install the new release once without a power cut (one whose self-test passes,
one whose self-test fails, so both the commit and the rollback path are walked) and the
installer's observer records the checkpoints they pass. Then, for every position on both paths,
a fresh device loses power exactly there (the n-th pass of a checkpoint passed twice included;
half-way through the slot write too). After rounds until nothing changes, every device must be
settled — on the old or the new version, never in between — a failing version must never stay,
and the server must attest what each device really runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medfleet.agent.status import Action
from medfleet.runtime import Runtime
from medfleet.signing.distribution import Distribution
from medfleet.sim.clock import SimClock
from medfleet.sim.device import POWER_LOST, DeviceSpec
from medfleet.sim.faults import FaultProfile, PowerLoss
from tests.sim.support import SimWorld, sim_world

OLD, NEW = "4.1.0", "4.2.0"
FAILING = FaultProfile(fail_health_on=frozenset({NEW}))


@pytest.fixture
def clock() -> SimClock:
    """The scenario clock, at real time: the agents' TUF client checks expiry against it."""
    return SimClock.at_real_time()


@pytest.fixture
def sim(runtime: Runtime, distribution: Distribution, tmp_path: Path) -> Iterator[SimWorld]:
    with sim_world(runtime, distribution, tmp_path, image_bytes=20_000) as world:
        yield world


def cut_points(path: list[str]) -> list[PowerLoss]:
    """One power loss per position of ``path``: the n-th pass of that checkpoint."""
    return [PowerLoss(label, skip=path[:index].count(label)) for index, label in enumerate(path)]


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_power_loss_at_any_checkpoint_leaves_every_device_settled(sim: SimWorld) -> None:
    sim.release(1)
    new = sim.release(2)
    with sim.fleet(workers=4) as fleet:
        probes = fleet.add_devices(
            [
                DeviceSpec("PROBE-GOOD", sim.world.hospital_a),
                DeviceSpec("PROBE-BAD", sim.world.hospital_a, faults=FAILING),
            ]
        )
        fleet.run_round()
        sim.assign([d.device_id for d in probes], new)
        assert fleet.run_round().counts == {
            Action.INSTALLED.value: 1,
            Action.ROLLED_BACK.value: 1,
        }
        good_path, bad_path = (probe.injector.passed for probe in probes)
        assert len(bad_path) > len(good_path) > 10
        specs = [
            DeviceSpec(f"GOOD-{n:02d}", sim.world.hospital_a, faults=FaultProfile(power_loss=loss))
            for n, loss in enumerate(cut_points(good_path))
        ]
        specs += [
            DeviceSpec(
                f"BAD-{n:02d}",
                sim.world.hospital_b,
                faults=FaultProfile(fail_health_on=frozenset({NEW}), power_loss=loss),
            )
            for n, loss in enumerate(cut_points(bad_path))
        ]
        torn = PowerLoss.during_write()
        specs.append(DeviceSpec("TORN", sim.world.hospital_b, faults=FaultProfile(power_loss=torn)))
        devices = fleet.add_devices(specs)
        fleet.run_round(devices)
        sim.assign([d.device_id for d in devices], new)
        install = fleet.run_round(devices)
        assert install.counts == {POWER_LOST: len(devices)}, install.checks
        rounds = fleet.run_until_quiet(devices=devices)
        assert rounds[-1].quiet, rounds[-1].counts
        assert not [r.errors for r in rounds if r.errors]

        states = [device.state() for device in devices]
        assert [s for s in states if not s.settled] == []
        assert all(s.power_cuts == 1 for s in states)
        for state in states:
            expected = {OLD} if state.serial.startswith("BAD") else {OLD, NEW}
            assert state.running_version in expected, state
        # A good image is installed in the end, wherever the power failed on the way.
        assert all(s.running_version == NEW for s in states if not s.serial.startswith("BAD"))
        assert fleet.attestation_mismatches() == []
