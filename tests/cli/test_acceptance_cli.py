"""``medfleet acceptance``: a hospital biomed reads the inbox, approves, confirms, sets a policy."""

from __future__ import annotations

from typing import Any

from medfleet.cli.output import EXIT_NOT_FOUND
from tests.releases.test_release_support import Env, env
from tests.rollouts.test_acceptance_service import released
from tests.user_cli import run_as_user

__all__ = ["env", "released"]


def run(env: Env, *args: str) -> tuple[int, Any, str]:
    return run_as_user(env.rt.settings, *args)


def test_inbox_approve_confirm_and_policy(released: Env) -> None:
    code, inbox, _ = run(released, "acceptance", "pending", "--user", "biomed.a", "--json")
    assert code == 0
    assert [(r["model"], r["version"]) for r in inbox["releases"]] == [("IP-100", "4.2.0")]
    site = inbox["releases"][0]["sites"][0]["site"]

    code, _, out = run(released, "acceptance", "pending", "--user", "biomed.a")
    assert code == 0
    assert "expected downtime: 12 min" in out
    assert site in out

    code, decision, _ = run(
        released, "acceptance", "approve", "IP-100", "4.2.0", "--site", site,
        "--comment", "ICU agrees", "--user", "biomed.a", "--json",
    )  # fmt: skip
    assert code == 0
    assert decision["decision"] == "approved"
    code, confirmed, _ = run(
        released, "acceptance", "confirm", "IP-100", "4.2.0", "--site", site,
        "--user", "biomed.a", "--json",
    )  # fmt: skip
    assert code == 0
    assert confirmed["production_confirmed_at"] is not None

    code, policy, _ = run(
        released, "acceptance", "policy", "set", "--urgency", "critical", "--out-of-cycle",
        "--user", "admin.a", "--json",
    )  # fmt: skip
    assert code == 0
    assert (policy["site_id"], policy["out_of_cycle"]) == (None, True)
    code, listed, _ = run(released, "acceptance", "policy", "list", "--user", "admin.a", "--json")
    assert [p["id"] for p in listed["policies"]] == [policy["id"]]


def test_another_hospitals_site_is_not_found(released: Env) -> None:
    code, _, out = run(
        released, "acceptance", "approve", "IP-100", "4.2.0", "--site",
        str(released.world.site_b), "--user", "biomed.a",
    )  # fmt: skip
    assert code == EXIT_NOT_FOUND, out
