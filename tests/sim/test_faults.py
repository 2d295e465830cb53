"""Scenario time and fault profiles, without a server: clocks, schedules, power-cut points."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from medfleet.agent.install_state import Effect, Phase
from medfleet.agent.installer import Checkpoint
from medfleet.sim.clock import DeviceClock, SimClock
from medfleet.sim.errors import InvalidScenarioError
from medfleet.sim.faults import (
    ClinicalUse,
    FaultInjector,
    FaultProfile,
    InstallTiming,
    PowerCut,
    PowerLoss,
    TimeRange,
    fault_mix,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def test_the_scenario_clock_only_moves_forward() -> None:
    clock = SimClock(T0)
    clock.advance(MINUTE)
    assert clock.now() == T0 + MINUTE
    assert clock.advance_to(T0) == T0 + MINUTE  # earlier: no change
    assert clock.advance_to(T0 + 5 * MINUTE) == T0 + 5 * MINUTE
    with pytest.raises(InvalidScenarioError):
        clock.advance(-MINUTE)
    with pytest.raises(InvalidScenarioError):
        clock.advance_to(datetime(2027, 1, 1))  # naive on purpose
    assert clock.now() == T0 + 5 * MINUTE


def test_a_device_clock_runs_ahead_while_busy_and_never_behind() -> None:
    scenario = SimClock(T0)
    busy, idle = DeviceClock(scenario), DeviceClock(scenario)
    assert busy.spend(3 * MINUTE) == T0 + 3 * MINUTE
    busy.spend(2 * MINUTE)
    assert (busy.now(), idle.now()) == (T0 + 5 * MINUTE, T0)
    assert busy.ahead_by == 5 * MINUTE
    scenario.advance(2 * MINUTE)
    assert busy.now() == T0 + 5 * MINUTE  # still busy: its own time holds
    scenario.advance(10 * MINUTE)
    assert busy.now() == idle.now() == T0 + 12 * MINUTE  # caught up by the scenario
    assert busy.ahead_by == timedelta(0)
    with pytest.raises(InvalidScenarioError):
        busy.spend(-MINUTE)


def test_clinical_use_schedules() -> None:
    morning = TimeRange(T0, T0 + timedelta(hours=4))
    assert T0 in morning
    assert T0 + timedelta(hours=4) not in morning
    during = ClinicalUse.during(morning)
    assert during.in_use(T0 + MINUTE, released=False)
    assert not during.in_use(T0 - MINUTE, released=False)
    until = ClinicalUse(until_released=True)
    assert until.in_use(T0, released=False)
    assert not until.in_use(T0, released=True)
    assert ClinicalUse(always=True).in_use(T0, released=True)
    assert not ClinicalUse().ever
    with pytest.raises(InvalidScenarioError):
        TimeRange(T0, T0)


def test_profile_labels() -> None:
    assert FaultProfile().label == "normal"
    both = FaultProfile(clinical=ClinicalUse(always=True), power_loss=PowerLoss.during_write())
    assert both.label == "clinical+power-loss"
    assert FaultProfile(fail_health_on=frozenset({"2.0"})).label == "health-failing"


def checkpoint(effect: Effect | None = None, phase: Phase = Phase.WRITING) -> Checkpoint:
    return Checkpoint("attempt-1", phase, effect)


def test_the_injector_spends_device_time_and_cuts_the_chosen_pass() -> None:
    scenario = SimClock(T0)
    device_clock = DeviceClock(scenario)
    timing = InstallTiming(write=3 * MINUTE, boot=2 * MINUTE, self_test=MINUTE)
    loss = PowerLoss("effect:reboot", skip=1)
    injector = FaultInjector(FaultProfile(power_loss=loss, timing=timing), device_clock)
    injector(checkpoint(Effect.WRITE_SLOT))
    injector(checkpoint())
    injector(checkpoint(Effect.REBOOT, Phase.TRIAL_BOOT))  # the first pass goes by
    with pytest.raises(PowerCut, match="effect:reboot"):
        injector(checkpoint(Effect.REBOOT, Phase.ROLLING_BACK))
    injector(checkpoint(Effect.REBOOT, Phase.ROLLING_BACK))  # once only
    assert device_clock.now() == T0 + 3 * MINUTE + 3 * 2 * MINUTE
    assert scenario.now() == T0
    assert injector.cuts == 1
    assert injector.passed[:2] == ["effect:write_slot", "persisted:writing"]


def test_power_loss_needs_a_real_checkpoint() -> None:
    with pytest.raises(InvalidScenarioError, match="unknown installer checkpoint"):
        PowerLoss("effect:explode")
    with pytest.raises(InvalidScenarioError):
        PowerLoss("effect:reboot", times=0)
    assert PowerLoss.after_trial_reboot().at == "effect:reboot"


def test_a_fault_mix_is_exact_disjoint_and_reproducible() -> None:
    mix = fault_mix(
        200, clinical=0.1, health_failing=0.05, power_loss=0.04, failing_version="2.0", seed=3
    )
    labels = [profile.label for profile in mix]
    counts = {label: labels.count(label) for label in set(labels)}
    assert counts == {"normal": 162, "clinical": 20, "health-failing": 10, "power-loss": 8}
    losses = {p.power_loss.at for p in mix if p.power_loss is not None}
    assert losses == {"effect:write_slot", "effect:reboot"}
    again = fault_mix(
        200, clinical=0.1, health_failing=0.05, power_loss=0.04, failing_version="2.0", seed=3
    )
    assert again == mix
    other = fault_mix(
        200, clinical=0.1, health_failing=0.05, power_loss=0.04, failing_version="2.0", seed=4
    )
    assert other != mix
    with pytest.raises(InvalidScenarioError, match="failing_version"):
        fault_mix(10, health_failing=0.5)
    with pytest.raises(InvalidScenarioError, match="sum"):
        fault_mix(10, clinical=0.6, power_loss=0.6)
