"""``medfleet demo``: the whole scenario on a fresh data directory, and refused on a used one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medfleet.cli.app import app
from medfleet.errors import Conflict
from medfleet.runtime import Runtime
from medfleet.sim.demo import demo_clock, run_demo
from medfleet.sim.demo_rollout import FleetPlan
from medfleet.sim.errors import InvalidScenarioError


@pytest.fixture
def sim_runtime(runtime: Runtime) -> Runtime:
    """The test database and data directory, on a scenario clock at the real time."""
    return Runtime(
        runtime.settings, clock=demo_clock(), engine=runtime.engine, hasher=runtime.hasher
    )


def test_demo_scenario(sim_runtime: Runtime) -> None:
    steps: list[str] = []
    shown: list[tuple[int, int]] = []
    summary = run_demo(sim_runtime, steps.append, lambda n, t: shown.append((n, t)), FleetPlan(40))
    result = summary.as_dict()
    assert result["in_between"] == 0
    assert result["devices"] == 40
    assert result["on_new"] + result["rolled_back"] + result["on_old_not_started"] == 40
    assert result["rolled_back"] == 2  # the faulty batch at Boston, rolled back by the agents
    assert result["paused_phases"] == ["Boston Main"]
    assert result["on_old_not_started"] == 6  # Seattle's production devices never started
    assert result["campaign"]["state"] == "paused"
    assert set(result["downtime_minutes_by_site"]) == {
        "Munich Campus",
        "Boston Main",
        "Seattle Clinic",
    }
    assert all(minutes > 0 for minutes in result["downtime_minutes_by_site"].values())
    assert result["faults"]["power-loss"] == 3
    assert summary.audit["ok"] is True
    assert summary.people.separation_of_duties_enforced
    assert summary.hospital_isolation == {
        "h1.biomed": ["St. Anna Klinikum"],
        "h2.biomed": ["Bayview Medical Center"],
    }
    assert shown[-1] == (result["on_new"], 40)
    assert any("production confirmed" in step for step in steps)
    with pytest.raises(Conflict, match="fresh --data-dir"):
        run_demo(sim_runtime, steps.append)


def test_the_demo_needs_a_scenario_clock(runtime: Runtime) -> None:
    with pytest.raises(InvalidScenarioError, match="SimClock"):
        run_demo(runtime, print)


def test_demo_command_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDFLEET_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("MEDFLEET_ARGON2_MEMORY_KIB", "64")
    monkeypatch.delenv("MEDFLEET_DATABASE_URL", raising=False)
    result = CliRunner().invoke(
        app, ["demo", "--json", "--devices", "24", "--data-dir", f"{tmp_path}/demo"]
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["audit"]["ok"] is True
    assert summary["in_between"] == 0
    assert summary["devices"] == 24
    assert summary["paused_phases"] == ["Boston Main"]
