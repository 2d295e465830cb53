"""``medfleet vulns vex``: set, show, import and export, as the engineer and as a hospital."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from medfleet.cli.output import EXIT_DENIED, EXIT_INVALID, EXIT_NOT_FOUND
from tests.user_cli import run_as_user
from tests.vulns.support_vex import (
    BUSYBOX,
    FIXTURES,
    HEARTBLEED,
    OPENSSL_OLD,
    VexScene,
    add_release,
    scene,
)

__all__ = ["scene"]
RELEASE = ("IP-100", "4.2.0")


def run(scene: VexScene, *args: str) -> tuple[int, Any, str]:
    return run_as_user(scene.rt.settings, "vulns", "vex", *args)


def test_set_then_show_and_history(scene: VexScene) -> None:
    code, statement, out = run(
        scene, "set", *RELEASE, HEARTBLEED, "--state", "not_affected",
        "--justification", "code_not_present", "--response", "will_not_fix",
        "--detail", "Heartbeat compiled out.", "--component", OPENSSL_OLD,
        "--user", "eng", "--json",
    )  # fmt: skip
    assert code == 0, out
    assert (statement["component"], statement["state"], statement["author"]) == (
        OPENSSL_OLD,
        "not_affected",
        "Eve Engineer",
    )
    code, _, out = run(scene, "set", *RELEASE, HEARTBLEED, "--state", "exploitable",
                       "--response", "update", "--user", "qa")  # fmt: skip
    assert code == 0, out
    assert "CVE-2014-0160 is exploitable in IP-100 4.2.0 (the whole release)" in out

    code, view, out = run(scene, "show", *RELEASE, "--user", "biomed.a", "--json")
    assert code == 0, out
    assert {(s["component"], s["state"]) for s in view["statements"]} == {
        (OPENSSL_OLD, "not_affected"),
        (None, "exploitable"),
    }
    findings = {f["vulnerability"]: f for f in view["findings"]}
    assert findings[HEARTBLEED]["exposed"] is False  # the component statement wins
    assert findings[BUSYBOX] | {"finding_id": 0} == {
        "finding_id": 0, "vulnerability": BUSYBOX, "component": "pkg:generic/busybox@1.35.0",
        "state": None, "statement_id": None, "exposed": True,
    }  # fmt: skip

    code, history, _ = run(
        scene, "show", *RELEASE, "--vuln", HEARTBLEED, "--history", "--user", "aud", "--json"
    )
    assert code == 0
    assert [s["state"] for s in history["statements"]] == ["exploitable", "not_affected"]
    assert [f["vulnerability"] for f in history["findings"]] == [HEARTBLEED]

    code, _, out = run(scene, "show", *RELEASE, "--user", "eng")
    assert code == 0
    assert "statements in force" in out
    assert "(no statement)" in out


def test_bad_statements_and_callers(scene: VexScene) -> None:
    code, _, out = run(scene, "set", *RELEASE, HEARTBLEED, "--state", "not_affected",
                       "--user", "eng")  # fmt: skip
    assert code == EXIT_INVALID
    assert "needs a justification or a detail" in out
    code, _, _ = run(scene, "set", *RELEASE, HEARTBLEED, "--state", "in_triage",
                     "--user", "biomed.a")  # fmt: skip
    assert code == EXIT_DENIED
    add_release(scene.rt, scene.world, "5.0.0", released=False)
    code, _, _ = run(scene, "show", "IP-100", "5.0.0", "--user", "biomed.a")
    assert code == EXIT_NOT_FOUND


def test_import_and_export(scene: VexScene, tmp_path: Path) -> None:
    supplier = str(FIXTURES / "supplier-busybox.openvex.json")
    code, result, out = run(scene, "import", supplier, "--user", "eng", "--json")
    assert code == 0, out
    assert [(a["vulnerability"], a["state"]) for a in result["applied"]] == [
        (BUSYBOX, "not_affected")
    ]
    code, _, out = run(scene, "import", supplier, "--user", "eng")
    assert code == 0
    assert "applied 0 statement(s), skipped 1" in out
    assert "already recorded" in out

    code, _, out = run(scene, "export", *RELEASE, "--user", "biomed.a")
    assert code == 0, out
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(out) is None
    exported = {v["id"]: v["analysis"]["state"] for v in json.loads(out)["vulnerabilities"]}
    assert exported[BUSYBOX] == "not_affected"

    target = tmp_path / "ip100.openvex.json"
    code, summary, out = run(scene, "export", *RELEASE, "--format", "openvex",
                             "--output", str(target), "--user", "eng", "--json")  # fmt: skip
    assert code == 0, out
    assert summary["statements"] == 4
    openvex = json.loads(target.read_text())
    assert {s["status"] for s in openvex["statements"]} == {"not_affected", "under_investigation"}


def test_import_refuses_what_is_not_a_document(scene: VexScene, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    code, _, out = run(scene, "import", str(broken), "--user", "eng")
    assert (code, "is not JSON" in out) == (EXIT_INVALID, True)
    code, _, out = run(scene, "import", str(tmp_path / "missing.json"), "--user", "eng")
    assert (code, "cannot read" in out) == (EXIT_INVALID, True)
