"""``medfleet risk`` commands in-process, on both databases."""

from __future__ import annotations

import json
from pathlib import Path

from medfleet.changes.tables import ChangeRequest
from medfleet.db.engine import transaction
from medfleet.risk import service
from medfleet.runtime import Runtime
from tests.cli.conftest import Cli

ADMIN = ("--user", "admin")


def _merge(cli: Cli, change_request_id: int) -> None:
    runtime = Runtime(cli.settings)
    try:
        with transaction(runtime.sessions) as session:
            change = session.get(ChangeRequest, change_request_id)
            assert change is not None
            service.apply_delta(session, runtime.audit, change.org_id, change.id, "user:admin")
    finally:
        runtime.close()


def test_propose_and_read_through_the_cli(cli: Cli, tmp_path: Path) -> None:
    cr = cli.json("change", "create", "Occlusion fix", *ADMIN)
    assert cr["key"] == "CR-1"
    cli.json("risk", "add-hazard", "CR-1", "--title", "Over-infusion", *ADMIN)
    cli.json(
        "risk", "add-situation", "CR-1", "--hazard", "H-1", "--sequence", "Alarm ignored",
        "--harm", "Overdose", "--severity", "critical", "--probability", "3", *ADMIN,
    )  # fmt: skip
    cli.json(
        "risk", "add-control", "CR-1", "--situation", "HS-1", "--kind", "protective_measure",
        "--title", "Motor interlock", "--verification", "T-40", *ADMIN,
    )  # fmt: skip
    delta = cli.json(
        "risk", "modify", "CR-1", "HS-1", "--residual-severity", "critical",
        "--residual-probability", "remote", *ADMIN,
    )  # fmt: skip
    assert [e["key"] for e in delta["entries"]] == ["H-1", "HS-1", "RC-1"]
    assert delta["entries"][1]["after"]["residual_probability"] == 2
    assert delta["analysis"]["situations"][0]["mitigated_after"] is True
    code, text, _ = cli("risk", "delta", "CR-1", *ADMIN)
    assert code == 0
    assert "situation HS-1: severity - -> 4 (significant harm); mitigated - -> yes" in text
    assert cli.json("risk", "list", *ADMIN) == []
    _merge(cli, cr["id"])
    items = cli.json("risk", "list", *ADMIN)
    assert [(i["key"], i["version"]) for i in items] == [("H-1", 1), ("HS-1", 1), ("RC-1", 1)]
    shown = cli.json("risk", "show", "rc-1", *ADMIN)
    assert shown["kind"] == "protective_measure"
    code, text, _ = cli("risk", "list", *ADMIN)
    assert code == 0
    assert "Motor interlock" in text
    html = tmp_path / "risk.html"
    code, _, _ = cli("risk", "export", "--html", str(html), *ADMIN)
    assert code == 0
    assert "Overdose" in html.read_text(encoding="utf-8")


def test_cli_errors_exit_with_the_category_code(cli: Cli) -> None:
    cli.json("change", "create", "Occlusion fix", *ADMIN)
    code, _, err = cli(
        "risk", "add-situation", "CR-1", "--hazard", "H-4", "--sequence", "s", "--harm", "h",
        "--severity", "4", "--probability", "often", *ADMIN,
    )  # fmt: skip
    assert code == 3
    assert "probability 'often'" in err
    code, _, err = cli(
        "risk", "add-situation", "CR-1", "--hazard", "H-4", "--sequence", "s", "--harm", "h",
        "--severity", "4", "--probability", "2", *ADMIN,
    )  # fmt: skip
    assert code == 3
    assert "H-4, which does not exist" in err
    code, _, err = cli("risk", "remove", "CR-1", "H-1", *ADMIN)
    assert code == 4
    code, _, _ = cli("risk", "delta", "CR-7", *ADMIN)
    assert code == 4
    assert cli.json("risk", "delta", "CR-1", *ADMIN)["entries"] == []


def test_matrix_show_and_set(cli: Cli, tmp_path: Path) -> None:
    matrix = cli.json("risk", "matrix", "show", *ADMIN)
    matrix["severity_names"][0] = "trivial"
    source = tmp_path / "matrix.json"
    source.write_text(json.dumps(matrix), encoding="utf-8")
    updated = cli.json(
        "risk", "matrix", "set", "--from", str(source), "--significant-harm-from", "4", *ADMIN
    )
    assert updated["severity_names"][0] == "trivial"
    assert updated["significant_harm_from"] == 4
    code, text, _ = cli("risk", "matrix", "show", *ADMIN)
    assert code == 0
    assert "trivial" in text
    source.write_text(json.dumps({**matrix, "table": []}), encoding="utf-8")
    code, _, err = cli("risk", "matrix", "set", "--from", str(source), *ADMIN)
    assert code == 3
    assert "acceptability table" in err
