"""``medfleet reports downtime`` and ``medfleet reports cmms`` on both databases.

Hospitals, sites, users and devices are made with the CLI; devices enroll and report finished
installs through the server's real intake, signed with their own keys.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from medfleet.agent.identity import DeviceIdentity
from medfleet.db.engine import transaction
from medfleet.fleet import enrollment
from medfleet.runtime import Runtime
from tests.cli.conftest import USER_PASSWORD, Cli
from tests.cli.fleet_support import register_model
from tests.fleet.downtime_support import T0, Dev, document, send


@dataclass
class Setup:
    cli: Cli
    a1: Dev
    b1: Dev


def device(cli: Cli, runtime: Runtime, hospital: int, serial: str, site: str) -> Dev:
    registered = cli.json(
        "devices", "register", str(hospital), "--model", "IP-100", "--hw", "B",
        "--serial", serial, "--site", site, "--user", "admin",
    )  # fmt: skip
    key = DeviceIdentity(Ed25519PrivateKey.generate())
    with transaction(runtime.sessions) as session:
        enrollment.enroll(
            session,
            runtime.audit,
            runtime.distribution,
            registered["enrollment_token"],
            key.public_key_bytes,
        )
    return Dev(registered["device_id"], key)


@pytest.fixture
def setup(cli: Cli) -> Setup:
    """St. Anna (site Main, biomed.a) and Bayview (site North); A-1 committed in 8 min on
    March 7, B-1 rolled back after 2 min on March 9 (=HACK in its detail)."""
    register_model(cli)
    anna = cli.json("accounts", "add-hospital", "St. Anna", "--user", "admin")["id"]
    bay = cli.json("accounts", "add-hospital", "Bayview", "--user", "admin")["id"]
    for hospital, site, zone in ((anna, "Main", "Europe/Vienna"), (bay, "North", "UTC")):
        cli.json("accounts", "add-site", str(hospital), site, "--timezone", zone,
                 "--user", "admin")  # fmt: skip
    cli.json("accounts", "add-user", str(anna), "biomed.a", "--name", "Bo Biomed",
             "--role", "hospital_biomed", "--user", "admin")  # fmt: skip
    runtime = Runtime(cli.settings)
    try:
        a1 = device(cli, runtime, anna, "A-1", "Main")
        b1 = device(cli, runtime, bay, "B-1", "North")
        for dev in (a1, b1):
            send(runtime, dev, document(dev, at=T0 - timedelta(days=1)))
        send(runtime, a1, document(a1, outcome="committed", left=T0, minutes=8))
        later = T0 + timedelta(days=2)
        send(
            runtime,
            b1,
            document(b1, outcome="rolled_back", left=later, minutes=2, detail="=HACK()"),
        )
    finally:
        runtime.close()
    return Setup(cli, a1, b1)


def test_downtime_by_site_as_json_and_as_a_table(setup: Setup) -> None:
    cli = setup.cli
    rows = cli.json("reports", "downtime", "--by", "site", "--user", "admin")
    assert [(r["hospital"], r["label"], r["installs"]) for r in rows] == [
        ("Bayview", "North", 1),
        ("St. Anna", "Main", 1),
    ]
    assert rows[1]["downtime_minutes_total"] == 8.0
    code, out, _ = cli("reports", "downtime", "--by", "site", "--user", "admin")
    assert code == 0
    assert "Downtime by site" in out
    assert "North" in out
    assert "100%" in out


def test_a_hospital_user_sees_only_its_hospital(setup: Setup) -> None:
    cli = setup.cli
    rows = cli.json("reports", "downtime", "--by", "hospital", "--user", "biomed.a",
                    password=USER_PASSWORD)  # fmt: skip
    assert [(r["label"], r["installs"]) for r in rows] == [("St. Anna", 1)]
    code, out, _ = cli("reports", "downtime", "--by", "site", "--user", "biomed.a",
                       password=USER_PASSWORD)  # fmt: skip
    assert code == 0
    assert "Main" in out
    assert "North" not in out
    assert "Bayview" not in out
    code, _, err = cli("reports", "downtime", "--hospital", "Bayview", "--user", "biomed.a",
                       password=USER_PASSWORD)  # fmt: skip
    assert code == 4
    assert "no hospital named 'Bayview'" in err
    _, csv_text, _ = cli("reports", "cmms", "--user", "biomed.a", password=USER_PASSWORD)
    assert "A-1" in csv_text
    assert "B-1" not in csv_text


def test_the_period_and_bad_input(setup: Setup) -> None:
    cli = setup.cli
    rows = cli.json("reports", "downtime", "--by", "hospital", "--since", "2026-03-08",
                    "--until", "2026-03-09", "--user", "admin")  # fmt: skip
    assert {r["label"]: r["installs"] for r in rows} == {"Bayview": 1, "St. Anna": 0}
    hospital_only = cli.json("reports", "downtime", "--by", "model", "--hospital", "St. Anna",
                             "--user", "admin")  # fmt: skip
    assert [(r["label"], r["installs"]) for r in hospital_only] == [("IP-100", 1)]
    for args in (
        ("--by", "department"),
        ("--since", "last week"),
        ("--since", "2026-03-09T10:00"),
        ("--since", "2026-03-09", "--until", "2026-03-01"),
    ):
        code, out, _ = cli("reports", "downtime", *args, "--user", "admin", "--json")
        assert code == 3, out
        assert '"ok": false' in out


def test_cmms_export_to_a_file_and_to_stdout(setup: Setup, tmp_path: Path) -> None:
    cli = setup.cli
    target = tmp_path / "orders.csv"
    written = cli.json("reports", "cmms", "--out", str(target), "--user", "admin")
    assert written == {"ok": True, "path": str(target), "work_orders": 2}
    data = target.read_bytes()
    assert data.count(b"\r\n") == 3
    header, *rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    serial, detail = header.index("device_serial"), header.index("detail")
    assert [(row[serial], row[detail]) for row in rows] == [("A-1", ""), ("B-1", "'=HACK()")]
    code, out, _ = cli("reports", "cmms", "--since", "2026-03-08", "--user", "admin")
    assert code == 0
    assert out.count("B-1") == 1
    assert "A-1" not in out
    inline = cli.json("reports", "cmms", "--user", "admin")
    assert inline["work_orders"] == 2
    assert inline["csv"].startswith("work_order_id,")
