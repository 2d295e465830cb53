"""``medfleet release``: from a draft to a signed target, on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import USER_PASSWORD, Cli

MODEL = "IP-100"


def staff(cli: Cli, *, ready: bool = False) -> None:
    """An engineer and a QA/RA user in the manufacturer, and a change request by the engineer
    (with ``ready``: taken through classification, assessment and verification of build b-420).
    """
    manufacturer = cli.json("accounts", "orgs", "--user", "admin")[0]["id"]
    for username, role in (("eng", "engineer"), ("qa", "qa_ra")):
        cli.json(
            "accounts", "add-user", str(manufacturer), username, "--name", username.upper(),
            "--role", role, "--user", "admin",
        )  # fmt: skip
    cli.json("change", "create", "Fix alarm", "--user", "eng", password=USER_PASSWORD)
    if ready:
        take_through_change_control(cli)


def take_through_change_control(cli: Cli) -> None:
    """CR-1: classified, a requirement under it, assessed and approved, verified on b-420."""
    cli.json("change", "item-add", "alarm", "--safety-class", "B", "--user", "admin")

    def eng(*args: str) -> None:
        cli.json(*args, "--user", "eng", password=USER_PASSWORD)

    eng("change", "move", "CR-1", "impact_analysis")
    eng("change", "classify", "CR-1", "--class", "minor", "--model", MODEL, "--item", "alarm")
    eng("trace", "req", "add", "SRS-1", "--title", "Alarm", "--text", "within 5 s",
        "--kind", "functional", "--item", "alarm", "--change", "CR-1")  # fmt: skip
    for question in cli.json("change", "questions", "CR-1", "--user", "qa", password=USER_PASSWORD):
        cli.json("change", "answer", "CR-1", question["id"], "no", "-m", "reviewed", "--user",
                 "qa", password=USER_PASSWORD)  # fmt: skip
    eng("change", "assess", "CR-1")
    cli.json("change", "sign-assessment", "CR-1", "--meaning", "approved", "--user", "qa",
             password=USER_PASSWORD)  # fmt: skip
    for state in ("assessment", "implementation", "verification", "approval"):
        eng("change", "move", "CR-1", state)


def as_user(cli: Cli, user: str, *args: str) -> tuple[int, str, str]:
    return cli("release", *args, "--user", user, password=USER_PASSWORD)


def test_refusals_list_every_missing_item_and_exit_5(cli: Cli) -> None:
    staff(cli)
    cli.json(
        "release", "create", MODEL, "4.2.0", "--number", "420", "--user", "eng",
        password=USER_PASSWORD,
    )  # fmt: skip
    code, _out, err = as_user(cli, "eng", "verify", MODEL, "4.2.0")
    assert code == 5
    err = " ".join(err.split())  # Rich wraps long lines
    for item in (
        "no image artifact is attached",
        "release notes: what changed and why",
        "release notes: risk summary",
        "release notes: expected downtime minutes",
        "release notes: compatibility",
        "at least one change request must be included",
        "the build id is not set",
    ):
        assert item in err
    code, out, _err = as_user(cli, "qa", "approve", MODEL, "4.2.0", "--json")
    assert code == 5
    refused = json.loads(out)
    assert refused["ok"] is False
    assert [b["code"] for b in refused["blockers"]] == ["state", "authored_signature", "artifact"]
    assert refused["missing"] == [b["message"] for b in refused["blockers"]]
    shown = cli.json("release", "show", MODEL, "4.2.0", "--user", "qa", password=USER_PASSWORD)
    assert (shown["state"], shown["signatures"]) == ("draft", [])


def test_draft_to_signed_target(cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    staff(cli, ready=True)
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuite name="s"><testcase classname="t" name="alarm">'
        '<properties><property name="requirements" value="SRS-1"/>'
        '<property name="level" value="system"/></properties></testcase></testsuite>'
    )
    cli.json("trace", "import-junit", str(junit), "--build", "b-420", "--user", "eng",
             password=USER_PASSWORD)  # fmt: skip
    image = tmp_path / "ip100-4.2.0.img"
    image.write_bytes(b"pump firmware 4.2.0" * 2000)
    sbom = tmp_path / "sbom.json"
    sbom.write_text('{"bomFormat": "CycloneDX"}')
    cli.json(
        "release", "create", MODEL, "4.2.0", "--number", "420", "--build", "b-420",
        "--hw", "B", "--change", "CR-1", "--what-changed", "Alarm within 5 s",
        "--risk", "No new hazards", "--downtime", "10", "--compatibility", "Rev B",
        "--user", "eng", password=USER_PASSWORD,
    )  # fmt: skip
    uploaded = cli.json(
        "release", "upload-image", MODEL, "4.2.0", str(image), "--user", "eng",
        password=USER_PASSWORD,
    )  # fmt: skip
    assert uploaded["artifact"]["filename"] == "ip100-4.2.0.img"
    cli.json(
        "release", "attach-sbom", MODEL, "4.2.0", str(sbom), "--user", "eng",
        password=USER_PASSWORD,
    )  # fmt: skip
    cli.json(
        "release", "sign", MODEL, "4.2.0", "--meaning", "authored", "--user", "eng",
        password=USER_PASSWORD,
    )  # fmt: skip
    assert as_user(cli, "eng", "verify", MODEL, "4.2.0")[0] == 0
    code, _out, err = as_user(cli, "eng", "approve", MODEL, "4.2.0")
    assert code == 6  # an engineer may not approve
    approved = cli.json(
        "release", "approve", MODEL, "4.2.0", "--user", "qa", password=USER_PASSWORD
    )
    assert approved["state"] == "approved"

    code, _out, err = as_user(cli, "qa", "publish", MODEL, "4.2.0")
    assert code == 5
    assert "signing-key --user qa" in " ".join(err.split())
    key = cli.json("release", "signing-key", "--user", "qa", password=USER_PASSWORD)
    assert key["created"] is True
    monkeypatch.setenv("MEDFLEET_HOLDER_PASSWORD", USER_PASSWORD)
    role = cli.json("release", "delegate-model", MODEL, "--holder", "qa", "--user", "admin")
    assert (role["role"], role["holders"], role["key_ids"]) == (
        "model-IP-100",
        ["qa"],
        [key["key_id"]],
    )
    released = cli.json(
        "release", "publish", MODEL, "4.2.0", "--user", "qa", password=USER_PASSWORD
    )
    assert released["state"] == "released"
    assert released["signed_target"]["path"] == f"{MODEL}/ip100-4.2.0.img"
    assert [s["meaning"] for s in released["signatures"]] == ["authored", "approved", "released"]

    code, shown, _err = as_user(cli, "qa", "show", MODEL, "4.2.0")
    assert code == 0
    assert "Approved by QA (qa)" in shown
    assert "Released by QA (qa)" in shown
    listed = cli.json("release", "list", "--user", "eng", password=USER_PASSWORD)
    assert [(r["version"], r["state"]) for r in listed] == [("4.2.0", "released")]
    withdrawn = cli.json(
        "release", "withdraw", MODEL, "4.2.0", "--reason", "field issue", "--user", "qa",
        password=USER_PASSWORD,
    )  # fmt: skip
    assert withdrawn["withdrawn_reason"] == "field issue"
