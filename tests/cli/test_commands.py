"""The domain sub-commands, run in-process with Typer's runner on both databases."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from medfleet.cli.app import app
from medfleet.config import Settings
from tests.cli.conftest import USER_PASSWORD, Cli
from tests.cli.fleet_support import register_model


def test_organizations_sites_users(cli: Cli) -> None:
    hospital = cli.json("accounts", "add-hospital", "St. Anna", "--user", "admin")
    site = cli.json(
        "accounts",
        "add-site",
        str(hospital["id"]),
        "Main",
        "--timezone",
        "Europe/Vienna",
        "--user",
        "admin",
    )
    assert site["timezone"] == "Europe/Vienna"
    cli.json("accounts", "add-department", str(site["id"]), "ICU", "--user", "admin")
    sites = cli.json("accounts", "sites", str(hospital["id"]), "--user", "admin")
    assert sites[0]["departments"] == [{"id": 1, "name": "ICU"}]
    cli.json(
        "accounts",
        "add-user",
        str(hospital["id"]),
        "biomed.a",
        "--name",
        "Bo Biomed",
        "--role",
        "hospital_biomed",
        "--user",
        "admin",
    )
    seen = cli.json("accounts", "orgs", "--user", "biomed.a", password=USER_PASSWORD)
    assert [org["name"] for org in seen] == ["St. Anna"]
    users = cli.json("accounts", "users", str(hospital["id"]), "--user", "admin")
    assert users[0]["roles"] == ["hospital_biomed"]
    assert "password" not in json.dumps(users)


def test_bad_input_exits_3_and_changes_nothing(cli: Cli) -> None:
    hospital = cli.json("accounts", "add-hospital", "St. Anna", "--user", "admin")
    code, _, err = cli(
        "accounts", "add-site", str(hospital["id"]), "Main", "--timezone", "CET", "--user", "admin"
    )
    assert code == 3
    assert "IANA" in err
    assert cli.json("accounts", "sites", str(hospital["id"]), "--user", "admin") == []
    code, _, err = cli(
        "accounts",
        "add-user",
        str(hospital["id"]),
        "x.y",
        "--name",
        "X",
        "--role",
        "engineer",
        "--user",
        "admin",
    )
    assert (code, "not allowed in a hospital" in err) == (3, True)


def test_wrong_password_exits_6(cli: Cli) -> None:
    code, _, err = cli("accounts", "orgs", "--user", "admin", password="wrong password!!")
    assert code == 6
    assert "user name or password is wrong" in err


def test_missing_object_exits_4(cli: Cli) -> None:
    code, _, err = cli("accounts", "sites", "999", "--user", "admin")
    assert (code, "not found" in err) == (4, True)


def test_uninitialised_data_dir_exits_7(settings: Settings, tmp_path: Any) -> None:
    code, _, err = Cli(settings)("audit", "head")
    assert code in (4, 7)
    other = Settings(data_dir=tmp_path / "nothing-here")
    code, _, err = Cli(other)("accounts", "orgs", "--user", "admin")
    assert code == 7
    assert "medfleet init" in err


def test_change_request_signing_round_trip(cli: Cli) -> None:
    manufacturer = cli.json("accounts", "orgs", "--user", "admin")[0]["id"]
    for username, role in (("eng", "engineer"), ("qa", "qa_ra")):
        cli.json(
            "accounts",
            "add-user",
            str(manufacturer),
            username,
            "--name",
            username.upper(),
            "--role",
            role,
            "--user",
            "admin",
        )
    created = cli.json(
        "change",
        "create",
        "Fix alarm",
        "-m",
        "late alarm",
        "--user",
        "eng",
        password=USER_PASSWORD,
    )
    assert created["key"] == "CR-1"
    cli.json(
        "change", "sign", "CR-1", "--meaning", "authored", "--user", "eng", password=USER_PASSWORD
    )
    code, _, err = cli(
        "change", "sign", "CR-1", "--meaning", "approved", "--user", "eng", password=USER_PASSWORD
    )
    assert code == 6
    assert "another person must" in err
    signed = cli.json(
        "change", "sign", "CR-1", "--meaning", "approved", "--user", "qa", password=USER_PASSWORD
    )
    assert [s["valid"] for s in signed["signatures"]] == [True, True]
    code, shown, _ = cli("change", "show", "CR-1", "--user", "qa", password=USER_PASSWORD)
    assert code == 0
    assert "Approved by QA (qa)" in shown
    edited = cli.json(
        "change",
        "edit",
        "CR-1",
        "--title",
        "Fix alarm (v2)",
        "--user",
        "eng",
        password=USER_PASSWORD,
    )
    assert [s["valid"] for s in edited["signatures"]] == [False, False]
    assert all("INVALID" in line for line in edited["signature_lines"])


def test_token_is_printed_once(cli: Cli) -> None:
    token = cli.json("accounts", "token", "--user", "admin", "--label", "script")["token"]
    assert token.startswith("mf_")
    assert len(token) > 40


def test_db_status_and_upgrade(cli: Cli) -> None:
    status = cli.json("db", "status")
    assert status["up_to_date"] is True
    assert cli.json("db", "upgrade")["to"] == status["head"]


def test_init_without_a_password_names_the_variable(tmp_path: Any) -> None:
    result = CliRunner().invoke(
        app, ["init", "--data-dir", str(tmp_path / "d")], env={"MEDFLEET_ADMIN_PASSWORD": ""}
    )
    assert result.exit_code == 3
    assert "set MEDFLEET_ADMIN_PASSWORD" in result.stderr
    assert not (tmp_path / "d").exists()


def test_devices_register_list_show(cli: Cli) -> None:
    register_model(cli)
    hospital = cli.json("accounts", "add-hospital", "St. Anna", "--user", "admin")
    registered = cli.json(
        "devices",
        "register",
        str(hospital["id"]),
        "--model",
        "IP-100",
        "--hw",
        "B",
        "--serial",
        "SN-1",
        "--user",
        "admin",
    )
    assert registered["enrollment_token"].startswith("mfe_")
    assert registered["enrolled"] is False
    listed = cli.json("devices", "list", "--user", "admin")
    assert [d["device_id"] for d in listed] == [registered["device_id"]]
    assert "enrollment_token" not in listed[0]
    shown = cli.json("devices", "show", registered["device_id"], "--user", "admin")
    assert shown["serial"] == "SN-1"
    code, _out, _err = cli(
        "devices", "register", str(hospital["id"]), "--model", "IP-100", "--hw", "B",
        "--serial", "SN-1", "--user", "admin",
    )  # fmt: skip
    assert code == 5  # the same serial again: conflict
    assert cli("devices", "show", "dev-nope", "--user", "admin")[0] == 4
