"""The fleet simulator end to end: real server over HTTP, real agents, faults as state changes.

A release is signed into the image repository and assigned through the director to a handful
of virtual devices: a normal one commits; one in clinical use defers until the scenario
releases it; one whose self-test fails on the new version rolls back; two lose power (half-way
through the slot write, right after the trial reboot) and end settled all the same. What the
server attests (from the signed reports) matches what every device really runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from medfleet.agent.status import Action
from medfleet.runtime import Runtime
from medfleet.signing.distribution import Distribution
from medfleet.sim.api import ApiClient
from medfleet.sim.clock import SimClock
from medfleet.sim.device import POWER_LOST, DeviceSpec
from medfleet.sim.errors import InvalidScenarioError, SimApiError
from medfleet.sim.faults import ClinicalUse, FaultProfile, PowerLoss, TimeRange
from medfleet.sim.fleet import FleetSimulator
from tests.builders import PASSWORD
from tests.sim.support import SimWorld, sim_world

NEW = "4.2.0"
OLD = "4.1.0"


@pytest.fixture
def clock() -> SimClock:
    """The scenario clock, at real time: the agents' TUF client checks expiry against it."""
    return SimClock.at_real_time()


@pytest.fixture
def sim(runtime: Runtime, distribution: Distribution, tmp_path: Path) -> Iterator[SimWorld]:
    with sim_world(runtime, distribution, tmp_path) as world:
        yield world


@pytest.fixture
def fleet(sim: SimWorld) -> Iterator[FleetSimulator]:
    with sim.fleet(workers=4) as simulator:
        yield simulator


def test_a_release_reaches_a_fleet_with_faults(sim: SimWorld, fleet: FleetSimulator) -> None:
    hospital_a, hospital_b = sim.world.hospital_a, sim.world.hospital_b
    specs = [
        DeviceSpec("SN-NORMAL", hospital_a, sim.world.site_a),
        DeviceSpec(
            "SN-CLINICAL",
            hospital_a,
            sim.world.site_a,
            faults=FaultProfile(clinical=ClinicalUse(until_released=True)),
        ),
        DeviceSpec("SN-SICK", hospital_b, faults=FaultProfile(fail_health_on=frozenset({NEW}))),
        DeviceSpec("SN-TORN", hospital_b, faults=FaultProfile(power_loss=PowerLoss.during_write())),
        DeviceSpec(
            "SN-TRIAL", hospital_b, faults=FaultProfile(power_loss=PowerLoss.after_trial_reboot())
        ),
    ]
    sim.release(1)
    devices = fleet.add_devices(specs)
    first = fleet.run_round()
    assert first.counts == {Action.UP_TO_DATE.value: 5}, first.checks
    assert not fleet.attestation_mismatches()

    sim.assign([d.device_id for d in devices], sim.release(2))
    install = fleet.run_round()
    actions = {serial: check.action for serial, check in install.by_serial().items()}
    assert actions == {
        "SN-NORMAL": Action.INSTALLED.value,
        "SN-CLINICAL": Action.DEFERRED.value,
        "SN-SICK": Action.ROLLED_BACK.value,
        "SN-TORN": POWER_LOST,
        "SN-TRIAL": POWER_LOST,
    }, install.checks
    normal, clinical, trial = (fleet.device(s) for s in ("SN-NORMAL", "SN-CLINICAL", "SN-TRIAL"))
    timing = normal.faults.timing
    # Each device lives on its own timeline: the install took simulated time on the device's
    # clock only, and the downtime the agent recorded is the reboot plus the self-test.
    assert normal.clock.ahead_by == timing.write + timing.boot + timing.self_test
    assert clinical.clock.ahead_by == timedelta(0)
    record = normal.agent().installer.record()
    assert record is not None
    assert record.left_service_at is not None
    assert record.returned_to_service_at is not None
    assert record.returned_to_service_at - record.left_service_at == timing.boot + timing.self_test
    # Power lost right after the trial reboot: in between until the agent runs again.
    caught = trial.state()
    assert not caught.settled
    assert caught.install_phase == "trial_boot"
    assert caught.trial_pending
    # Power lost half-way through the slot write: the old version still runs, for good.
    torn = fleet.device("SN-TORN").state()
    assert (torn.settled, torn.running_version, torn.install_phase) == (True, OLD, "writing")
    assert "slot write torn" in (install.by_serial()["SN-TORN"].detail or "")
    half = fleet.device("SN-TORN").wired_device().slots.image_path("b").stat().st_size
    assert half == sim.image_bytes // 2

    rounds = fleet.run_until_quiet()
    assert rounds[-1].quiet, rounds
    states = {s.serial: s for s in fleet.states()}
    assert all(s.settled for s in states.values()), states
    assert {s: (st.running_version, st.install_phase) for s, st in states.items()} == {
        "SN-NORMAL": (NEW, "committed"),
        "SN-CLINICAL": (OLD, "downloaded"),
        "SN-SICK": (OLD, "rolled_back"),
        "SN-TORN": (NEW, "committed"),
        "SN-TRIAL": (NEW, "committed"),
    }
    assert not fleet.attestation_mismatches()
    attested = {a.serial: a for a in fleet.attested().values()}
    assert (attested["SN-NORMAL"].site_id, attested["SN-SICK"].site_id) == (sim.world.site_a, None)
    assert attested["SN-CLINICAL"].in_clinical_use is True  # from its signed report
    assert attested["SN-NORMAL"].in_clinical_use is False

    assert fleet.release_clinical() == 1
    after = fleet.run_round()
    assert after.by_serial()["SN-CLINICAL"].action == Action.INSTALLED.value
    assert fleet.device("SN-CLINICAL").state().running_version == NEW
    assert not fleet.attestation_mismatches()
    assert {a.serial: a.in_clinical_use for a in fleet.attested().values()}["SN-CLINICAL"] is False
    assert not [r.errors for r in (first, install, *rounds, after) if r.errors]


def test_the_simulator_sees_what_the_server_has_not_been_told(
    sim: SimWorld, fleet: FleetSimulator
) -> None:
    """Power lost right after the commit was persisted: the device runs the new version, the
    server still attests the old one, until the agent's next check reports it."""
    loss = PowerLoss("persisted:committed")
    sim.release(1)
    [device] = fleet.add_devices(
        [DeviceSpec("SN-1", sim.world.hospital_a, faults=FaultProfile(power_loss=loss))]
    )
    fleet.run_round()
    assert not fleet.attestation_mismatches()
    sim.assign([device.device_id], sim.release(2))
    assert fleet.run_round().counts == {POWER_LOST: 1}
    state = device.state()
    assert (state.settled, state.running_version, state.pending_reports) == (True, NEW, 0)
    [mismatch] = fleet.attestation_mismatches()
    assert mismatch == f"SN-1: server attests ('{OLD}', 1), device runs ('{NEW}', 2)"
    fleet.run_round()
    assert not fleet.attestation_mismatches()


def test_clinical_use_during_a_time_range_defers_until_it_ends(
    sim: SimWorld, fleet: FleetSimulator
) -> None:
    start = sim.clock.now()
    busy = ClinicalUse.during(TimeRange(start, start + timedelta(hours=2)))
    sim.release(1)
    [device] = fleet.add_devices(
        [DeviceSpec("SN-1", sim.world.hospital_a, faults=FaultProfile(clinical=busy))]
    )
    fleet.run_round()
    sim.assign([device.device_id], sim.release(2))
    assert fleet.run_round().counts == {Action.DEFERRED.value: 1}
    sim.clock.advance(timedelta(hours=1))
    assert fleet.run_round().counts == {Action.DEFERRED.value: 1}
    sim.clock.advance_to(start + timedelta(hours=2))
    assert fleet.run_round().counts == {Action.INSTALLED.value: 1}
    assert device.state().running_version == NEW
    assert not fleet.attestation_mismatches()


def test_only_a_fleet_operator_registers_devices(sim: SimWorld, tmp_path: Path) -> None:
    biomed = ApiClient.login(sim.server.url, "biomed.a", PASSWORD)
    with FleetSimulator(
        sim.server.url, tmp_path / "fleet", sim.clock, biomed, sim.factory_image()
    ) as fleet:
        with pytest.raises(SimApiError) as refused:
            fleet.add_devices([DeviceSpec("SN-1", sim.world.hospital_a)])
        assert refused.value.status == 403
        assert fleet.devices == []
        with pytest.raises(InvalidScenarioError, match="twice"):
            fleet.add_devices([DeviceSpec("SN-2", sim.world.hospital_a)] * 2)
