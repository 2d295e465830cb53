"""``medfleet campaign``: create (shorthand and policy file, selection options), list, show,
devices, start, advance, pause, resume, abort, rollback, schedule; errors and exit codes.

The world, the releases and the devices are made through the services on the same database
and data directory (``tests.rollouts.campaign_support``); the campaign is driven through the
CLI. The CLI runs on the system clock, so the test's clock starts at the real time too and is
brought up to it before a device reports.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from medfleet.clock import FrozenClock
from medfleet.config import Settings
from medfleet.rollouts.model import Urgency
from tests.builders import PASSWORD, clock_at_real_time
from tests.cli.conftest import Cli
from tests.rollouts.campaign_support import Camp, Dev, camp

__all__ = ["camp"]


@pytest.fixture
def clock() -> FrozenClock:
    """Real time: the CLI's own runtime runs on the system clock."""
    return clock_at_real_time()


@pytest.fixture
def run(settings: Settings) -> Cli:
    """``medfleet`` commands on the test's database and data directory."""
    return Cli(settings)


def campaign(run: Cli, *args: str, user: str = "root") -> tuple[int, str, str]:
    return run("campaign", *args, "--user", user, password=PASSWORD)


def campaign_json(run: Cli, *args: str, user: str = "root") -> Any:
    code, out, err = campaign(run, *args, "--json", user=user)
    assert code == 0, (out, err)
    return json.loads(out)


def report(camp: Camp, device: Dev, version: str, outcome: str = "committed") -> None:
    """The device reports, at the real time (after the CLI instructed it)."""
    clock = camp.rt.clock
    assert isinstance(clock, FrozenClock)
    clock.advance(datetime.now(UTC) - clock.now())
    camp.finish(device, version, outcome)


def test_a_campaign_from_the_command_line(camp: Camp, run: Cli, tmp_path: Path) -> None:
    world = camp.world
    camp.auto_approve(world.biomed_a, Urgency.CRITICAL, out_of_cycle=True)
    devices = camp.devices(4, world.site_a)
    elsewhere = camp.device(world.site_b, world.hospital_b)
    other_revision = camp.device(world.site_a, revision="C")

    created = campaign_json(
        run, "create", "--model", "IP-100", "--version", "4.2.0", "--name", "Pumps of St. Anna",
        "--urgency", "critical", "--hospital", "St. Anna Hospital", "--site", "Main Campus",
        "--hardware-revision", "B", "--from-version", "4.1.0", "--test-devices", "exclude",
        "--phases", "50,100", "--success", "50", "--error", "25",
    )  # fmt: skip
    assert (created["key"], created["state"], created["devices"]) == ("CMP-1", "draft", 4)
    assert created["selection"]["hospital_ids"] == [world.hospital_a]
    assert created["selection"]["site_ids"] == [world.site_a]
    phases = created["policy"]["phases"]
    assert [p["percent"] for p in phases] == [50, 50]
    assert {(p["success_threshold"], p["error_threshold"]) for p in phases} == {(50, 25)}
    listed = campaign_json(run, "list")["campaigns"]
    assert [c["key"] for c in listed] == ["CMP-1"]
    code, out, _err = campaign(run, "show", "CMP-1")
    assert code == 0
    assert "Pumps of St. Anna" in out
    assert "draft" in out

    assert campaign_json(run, "start", "CMP-1")["state"] == "running"
    code, out, err = run("campaign", "advance", "--json")
    assert code == 0, (out, err)
    assert json.loads(out)["worked"] == ["CMP-1"]
    rows = campaign_json(run, "devices", "CMP-1")["devices"]
    assert {r["device_id"] for r in rows} == {d.device_id for d in devices}
    assert elsewhere.device_id not in {r["device_id"] for r in rows}
    assert other_revision.device_id not in {r["device_id"] for r in rows}
    assigned = campaign_json(run, "devices", "CMP-1", "--status", "assigned")["devices"]
    assert assigned  # phase 1 started at once: the canary phase is empty

    paused = campaign_json(run, "pause", "CMP-1", "--reason", "night shift asked")
    assert (paused["state"], paused["pause_reason"]) == ("paused", "night shift asked")
    assert all(camp.instruction(d) is None for d in devices)
    assert campaign_json(run, "resume", "CMP-1")["state"] == "running"
    run("campaign", "advance")
    by_id = {d.device_id: d for d in devices}
    for row in campaign_json(run, "devices", "CMP-1", "--status", "assigned")["devices"]:
        report(camp, by_id[row["device_id"]], "4.2.0")
    aborted = campaign_json(run, "abort", "CMP-1", "--reason", "seen enough")
    assert aborted["state"] == "aborted"
    assert aborted["statuses"]["succeeded"] == len(assigned)

    back = campaign_json(run, "rollback", "CMP-1", "--name", "Back again")
    assert (back["key"], back["kind"], back["name"]) == ("CMP-2", "rollback", "Back again")
    assert back["release"]["version"] == "4.1.0"
    scheduled = campaign_json(run, "schedule", "CMP-2", "--at", "2030-01-01T07:00:00+00:00")
    assert (scheduled["state"], scheduled["scheduled_for"]) == (
        "scheduled", "2030-01-01T07:00:00+00:00",
    )  # fmt: skip

    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"phases": [{"group": {}}], "urgency": "critical"}))
    from_file = campaign_json(
        run, "create", "--model", "IP-100", "--version", "4.2.0", "--name", "From a file",
        "--policy", str(policy), "--site", str(world.site_b),
    )  # fmt: skip
    assert from_file["policy"]["phases"][0]["group"]["site_ids"] == []
    assert from_file["devices"] == 1  # the one device at site B


def test_errors_have_exit_codes_and_change_nothing(camp: Camp, run: Cli, tmp_path: Path) -> None:
    world = camp.world
    camp.device(world.site_a)
    base = ["create", "--model", "IP-100", "--version", "4.2.0", "--name", "x"]
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")

    def exit_code(*args: str, user: str = "root") -> tuple[int, dict[str, Any]]:
        code, out, _err = campaign(run, *args, "--json", user=user)
        return code, json.loads(out)

    code, document = exit_code(*base)
    assert code == 3
    assert "--policy FILE.json or --phases" in document["error"]
    assert exit_code(*base, "--phases", "100", "--policy", str(broken))[0] == 3
    assert exit_code(*base, "--policy", str(broken))[0] == 3
    assert exit_code(*base, "--phases", "ten,100")[0] == 3
    code, document = exit_code(*base, "--phases", "50,40")
    assert (code, document["field"]) == (3, "phases[1].cumulative_percent")
    assert exit_code(*base, "--phases", "100", "--site", "Nowhere")[0] == 4
    assert exit_code(*base, "--phases", "100", user="biomed.a")[0] == 4
    assert exit_code(*base, "--phases", "100", user="eng")[0] == 6
    assert exit_code("show", "CMP-1")[0] == 4
    assert campaign_json(run, "list")["campaigns"] == []

    assert campaign_json(run, *base, "--phases", "100")["key"] == "CMP-1"
    assert exit_code("resume", "CMP-1")[0] == 5
    assert exit_code("schedule", "CMP-1", "--at", "tomorrow")[0] == 3
    assert exit_code("devices", "CMP-1", "--status", "lost")[0] == 3
    assert campaign_json(run, "show", "CMP-1")["state"] == "draft"
