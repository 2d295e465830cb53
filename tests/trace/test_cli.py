"""``medfleet trace ...`` end to end on both databases: requirements, JUnit import, gaps, matrix."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

from tests.cli.conftest import USER_PASSWORD, Cli
from tests.trace.samples import BILLION_LAUGHS, PYTEST


def staff(cli: Cli) -> None:
    manufacturer = cli.json("accounts", "orgs", "--user", "admin")[0]["id"]
    for username, role in (("eng", "engineer"), ("aud", "auditor")):
        cli.json(
            "accounts",
            "add-user",
            str(manufacturer),
            username,
            "--name",
            username,
            "--role",
            role,
            "--user",
            "admin",
        )


def eng(cli: Cli, *args: str) -> Any:
    return cli.json(*args, "--user", "eng", password=USER_PASSWORD)


def test_requirements_runs_gaps_matrix(cli: Cli, tmp_path: Path) -> None:
    staff(cli)
    cr = eng(cli, "change", "create", "Faster alarm")["key"]
    for key in ("SRS-1", "SRS-2", "SRS-3"):
        eng(
            cli,
            "trace",
            "req",
            "add",
            key,
            "--title",
            f"T{key}",
            "--text",
            "shall",
            "--kind",
            "safety",
            "--item",
            "pump",
        )
    edited = eng(cli, "trace", "req", "edit", "SRS-1", "--text", "faster", "--change", str(cr))
    assert (edited["version"], edited["change_request"]) == (2, cr)
    code, _, err = cli(
        "trace",
        "req",
        "add",
        "SRS-4",
        "--title",
        "t",
        "--text",
        "x",
        "--kind",
        "bogus",
        "--item",
        "p",
        "--user",
        "eng",
        password=USER_PASSWORD,
    )
    assert (code, "unknown requirement kind 'bogus'" in err) == (3, True)
    eng(cli, "trace", "req", "retire", "SRS-3")
    listed = eng(cli, "trace", "req", "list")
    assert [r["key"] for r in listed] == ["SRS-1", "SRS-2"]
    code, shown, _ = cli("trace", "req", "show", "SRS-1", "--user", "aud", password=USER_PASSWORD)
    assert code == 0
    assert re.search(rf"v2 modified by eng at \S+ under {cr}\n", shown)

    junit = tmp_path / "pytest.xml"
    junit.write_bytes(PYTEST)
    run = eng(cli, "trace", "import-junit", str(junit), "--build", "b7", "--change", str(cr))
    assert (run["created"], run["total"], run["change_request"]) == (True, 5, cr)
    assert eng(cli, "trace", "import-junit", str(junit), "--build", "b7")["created"] is False
    hostile = tmp_path / "evil.xml"
    hostile.write_bytes(BILLION_LAUGHS)
    code, _, err = cli(
        "trace",
        "import-junit",
        str(hostile),
        "--build",
        "b7",
        "--user",
        "eng",
        password=USER_PASSWORD,
    )
    assert (code, "DTD" in err) == (3, True)

    code, out, _ = cli(
        "trace", "gaps", "--build", "b7", "--json", "--user", "aud", password=USER_PASSWORD
    )
    assert code == 1
    gaps = json.loads(out)
    assert gaps["ok"] is False
    assert {g["kind"] for g in gaps["gaps"]} == {"test_untraced"}
    for test in (
        "tests.test_dose::test_bolus",
        "tests.test_dose::test_dose_limit",
        "tests.test_ui::test_banner",
    ):
        eng(cli, "trace", "link", "SRS-2", test)
    code, out, _ = cli("trace", "gaps", "--build", "b7", "--user", "aud", password=USER_PASSWORD)
    assert (code, out.strip()) == (0, "no gaps on build b7")
    code, out, _ = cli(
        "trace",
        "gaps",
        "--build",
        "b7",
        "--tests",
        "tests.test_dose::test_bolus",
        "--json",
        "--user",
        "aud",
        password=USER_PASSWORD,
    )
    assert code == 1
    assert [g["message"] for g in json.loads(out)["gaps"]] == [
        "regression test tests.test_dose::test_bolus did not pass on b7 (result skipped)"
    ]

    eng(cli, "trace", "level", "tests.test_ui::test_banner", "system")
    cli.json("change", "item-add", "alarm", "--safety-class", "B", "--user", "admin")
    eng(cli, "change", "classify", cr, "--class", "minor", "--model", "IP-100", "--item", "alarm")
    regression = eng(cli, "trace", "regression", "--change", str(cr))
    assert [t["test"] for t in regression["tests"]] == [
        "tests.test_alarm::test_alarm_sounds_within_2s",
        "tests.test_alarm::test_alarm_volume[80-dB]",  # level not recorded: class B takes it
        "tests.test_dose::test_bolus",
        "tests.test_dose::test_dose_limit",
        "tests.test_ui::test_banner",
    ]

    out_csv = tmp_path / "m.csv"
    written = eng(cli, "trace", "matrix", "--build", "b7", "--format", "csv", "-o", str(out_csv))
    assert (written["rows"], written["gaps"]) == (2, 0)
    with out_csv.open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert {(r["requirement"], r["test"], r["result"]) for r in table} >= {
        ("SRS-1", "tests.test_alarm::test_alarm_sounds_within_2s", "passed"),
        ("SRS-2", "tests.test_alarm::test_alarm_volume[80-dB]", "failed"),
    }
    out_html = tmp_path / "m.html"
    eng(cli, "trace", "matrix", "--build", "b7", "-o", str(out_html))
    assert "<td>SRS-1</td>" in out_html.read_text()
