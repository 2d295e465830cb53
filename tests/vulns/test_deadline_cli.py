"""``medfleet vulns assess|deadlines|check-deadlines|policy|campaign`` against a real deployment.

The CLI runs on the system clock, so awareness is given relative to the real now, with an hour
of slack against the seconds a test takes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from medfleet.cli.output import EXIT_CONFLICT, EXIT_DENIED, EXIT_INVALID
from medfleet.config import Settings
from medfleet.runtime import Runtime
from medfleet.vulns.deadlines import DAY
from tests.builders import World
from tests.rollouts.campaign_support import Camp, camp
from tests.user_cli import run_as_user
from tests.vulns.support_deadline import HEARTBLEED, clean_sbom, vulnerable_camp, world

__all__ = ["camp", "vulnerable_camp", "world"]

AWARE = (datetime.now(UTC) - 45 * DAY + timedelta(hours=1)).isoformat()


def run(settings: Settings, *args: str) -> tuple[int, Any, str]:
    return run_as_user(settings, *args)


def assess(settings: Settings, user: str, *extra: str) -> tuple[int, Any, str]:
    return run(
        settings, "vulns", "assess", HEARTBLEED, "--risk", "uncontrolled",
        "--rationale", "TLS heartbeat reachable from the hospital network", *extra, "--user", user,
    )  # fmt: skip


def test_assess_list_and_check_deadlines(runtime: Runtime, world: World) -> None:
    settings = runtime.settings
    code, document, out = assess(
        settings, "eng", "--critical", "--controls", "Block port 443 from guest Wi-Fi",
        "--aware-at", AWARE, "--json",
    )  # fmt: skip
    assert code == 0, out
    assert document["vulnerability"] == HEARTBLEED
    assert (document["inform"]["state"], document["inform"]["days_overdue"]) == ("overdue", 15)
    assert (document["fix"]["state"], document["fix"]["days_left"]) == ("pending", 15)

    code, listed, _ = run(settings, "vulns", "deadlines", "--overdue", "--json", "--user", "aud")
    assert code == 0
    assert [a["vulnerability"] for a in listed["assessments"]] == [HEARTBLEED]
    code, _, out = run(settings, "vulns", "deadlines", "--user", "aud")
    assert code == 0
    assert "OVERDUE" in out
    assert "critical" in out

    code, checked, _ = run(settings, "vulns", "check-deadlines", "--json")
    assert code == 0
    assert [(a["vulnerability"], a["kind"]) for a in checked["alerts"]] == [(HEARTBLEED, "inform")]
    code, again, _ = run(settings, "vulns", "check-deadlines", "--json")
    assert (code, again["alerts"]) == (0, [])
    code, _, out = run(settings, "vulns", "check-deadlines")
    assert (code, out.strip()) == (0, "new overdue alerts: none")

    distributed = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    code, document, out = assess(settings, "qa", "--fix-distributed-at", distributed, "--json")
    assert code == 0, out
    assert document["aware_at"] == datetime.fromisoformat(AWARE).isoformat()  # kept
    assert document["fix"]["state"] == "met"


def test_refusals_and_their_exit_codes(runtime: Runtime, world: World) -> None:
    settings = runtime.settings
    assert assess(settings, "eng", "--aware-at", AWARE)[0] == 0
    later = (datetime.fromisoformat(AWARE) + DAY).isoformat()
    code, _, out = assess(settings, "eng", "--aware-at", later)
    assert code == EXIT_CONFLICT
    assert "never later" in out
    for extra in (
        ["--aware-at", "last tuesday"],
        ["--aware-at", "2026-01-10T09:00"],
        ["--fixed-release", "IP-100"],
    ):
        code, _, out = assess(settings, "eng", *extra)
        assert code == EXIT_INVALID, (extra, out)
    assert assess(settings, "biomed.a")[0] == EXIT_DENIED
    assert assess(settings, "aud")[0] == EXIT_DENIED
    code, _, out = run(settings, "vulns", "deadlines", "--user", "admin.b")
    assert code == EXIT_DENIED
    code, _, out = run(
        settings, "vulns", "campaign", HEARTBLEED, "--release", "IP-100/4.2.0", "--user", "root"
    )
    assert code == EXIT_CONFLICT
    assert "not assessed as critical" in out


def test_policy_show_and_set(runtime: Runtime, world: World) -> None:
    settings = runtime.settings
    code, shown, _ = run(settings, "vulns", "policy", "show", "--json", "--user", "aud")
    assert (code, shown["declared"], shown["routine_cycle_days"]) == (0, False, 90)
    code, _, out = run(
        settings, "vulns", "policy", "set", "--routine-cycle-days", "60", "--inform-days", "14",
        "--fix-days", "45", "--user", "qa",
    )  # fmt: skip
    assert code == 0, out
    assert "routine cycle 60 days" in out
    code, shown, _ = run(settings, "vulns", "policy", "show", "--json", "--user", "eng")
    assert (shown["routine_cycle_days"], shown["inform_within_days"]) == (60, 14)
    assert (shown["fix_within_days"], shown["updated_by"]) == (45, "qa")
    code, _, out = run(
        settings, "vulns", "policy", "set", "--routine-cycle-days", "60", "--fix-days", "90",
        "--user", "qa",
    )  # fmt: skip
    assert code == EXIT_INVALID
    assert "1 to 60" in out
    code, _, _ = run(settings, "vulns", "policy", "show", "--user", "biomed.b")
    assert code == EXIT_DENIED


def test_campaign_command_starts_the_out_of_cycle_campaign(vulnerable_camp: Camp) -> None:
    camp = vulnerable_camp
    clean_sbom(camp)
    camp.device(camp.world.site_a)
    settings = camp.rt.settings
    assert assess(settings, "eng", "--critical")[0] == 0
    code, started, out = run(
        settings, "vulns", "campaign", HEARTBLEED, "--release", "IP-100/4.2.0", "--json",
        "--user", "root",
    )  # fmt: skip
    assert code == 0, out
    assert (started["campaign"], started["state"], started["affected_devices"]) == (
        "CMP-1",
        "running",
        1,
    )
