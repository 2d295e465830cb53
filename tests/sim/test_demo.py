"""``medfleet demo`` does what it says on a fresh data directory, and refuses a used one."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from medfleet.cli.app import app
from medfleet.errors import Conflict
from medfleet.runtime import Runtime
from medfleet.sim.demo import run_demo


def test_demo_scenario(runtime: Runtime) -> None:
    steps: list[str] = []
    summary = run_demo(runtime, steps.append)
    assert summary.audit["ok"] is True
    assert summary.audit["events_checked"] > 20
    assert summary.separation_of_duties_enforced
    assert summary.change_request["invalidated_by_edit"] == 2
    assert summary.change_request["valid_signatures"] == 2
    assert summary.hospital_isolation == {
        "h1.biomed": ["St. Anna Klinikum"],
        "h2.biomed": ["Bayview Medical Center"],
    }
    zones = {site["timezone"] for h in summary.hospitals for site in h["sites"]}
    assert len(zones) >= 2
    assert "Electronic signatures:" in summary.rendering
    assert any("audit trail verified" in step for step in steps)
    with pytest.raises(Conflict, match="fresh --data-dir"):
        run_demo(runtime, steps.append)


def test_demo_command_json(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDFLEET_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("MEDFLEET_ARGON2_MEMORY_KIB", "64")
    monkeypatch.delenv("MEDFLEET_DATABASE_URL", raising=False)
    result = CliRunner().invoke(app, ["demo", "--json", "--data-dir", f"{tmp_path}/demo"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["audit"]["ok"] is True
    assert summary["manufacturer"] == "Acme Infusion Systems"
