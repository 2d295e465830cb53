"""What the issue asks to be shown: init, then ``audit verify`` before and after tampering.

Runs the real ``medfleet`` console script in a subprocess, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from medfleet.accounts.auth import authenticate
from medfleet.accounts.model import OrgKind
from medfleet.accounts.service import create_organization
from medfleet.config import Settings
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime

ADMIN_PASSWORD = "initial admin password"


def medfleet(
    settings: Settings, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("medfleet", path=str(Path(os.sys.executable).parent))
    assert executable, "the medfleet console script is not installed in this environment"
    env = {
        **os.environ,
        "MEDFLEET_DATABASE_URL": settings.database_url,
        "MEDFLEET_ARGON2_TIME_COST": "1",
        "MEDFLEET_ARGON2_MEMORY_KIB": "64",
        **(extra_env or {}),
    }
    return subprocess.run(
        [executable, *args, "--data-dir", str(settings.data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def verify(settings: Settings) -> tuple[int, dict[str, Any]]:
    done = medfleet(settings, "audit", "verify", "--json")
    return done.returncode, json.loads(done.stdout)


def sql(settings: Settings, statement: str) -> None:
    engine = create_engine(settings.database_url)
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


@pytest.fixture
def initialised(settings: Settings) -> Settings:
    done = medfleet(
        settings,
        "init",
        "--json",
        "--manufacturer",
        "Acme",
        extra_env={
            "MEDFLEET_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "MEDFLEET_ROOT_PASSWORD_1": "root one",
        },
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True
    # a few more events, so that tampering can hit the middle and the tail
    runtime = Runtime(settings)
    admin = authenticate(runtime, "admin", ADMIN_PASSWORD)
    for name in ("St. Anna", "Bayview", "Mercy", "Riverside"):
        with transaction(runtime.sessions) as session:
            create_organization(session, runtime.audit, admin, name, OrgKind.HOSPITAL)
    runtime.close()
    return settings


def test_fresh_trail_verifies(initialised: Settings) -> None:
    code, result = verify(initialised)
    assert code == 0
    assert result["ok"] is True
    assert result["events_checked"] == 6


def test_changed_payload_is_reported_with_its_sequence_number(initialised: Settings) -> None:
    sql(
        initialised,
        """UPDATE audit_event SET doc = replace(doc, '"payload":{', '"payload":{"evil":[1],')
           WHERE seq = 4""",
    )
    code, result = verify(initialised)
    assert code == 1
    assert (result["ok"], result["first_bad_seq"], result["problem"]) == (False, 4, "modified")


def test_deleted_event_is_reported(initialised: Settings) -> None:
    sql(initialised, "DELETE FROM audit_event WHERE seq = 3")
    code, result = verify(initialised)
    assert code == 1
    assert (result["ok"], result["first_bad_seq"], result["problem"]) == (False, 3, "deleted")


def test_truncated_tail_is_reported(initialised: Settings) -> None:
    sql(initialised, "DELETE FROM audit_event WHERE seq >= 5")
    code, result = verify(initialised)
    assert code == 1
    assert (result["ok"], result["first_bad_seq"], result["problem"]) == (False, 5, "truncated")


def test_init_twice_is_a_clear_conflict(initialised: Settings) -> None:
    done = medfleet(
        initialised,
        "init",
        extra_env={
            "MEDFLEET_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "MEDFLEET_ROOT_PASSWORD_1": "root one",
        },
    )
    assert done.returncode == 5
    assert "already has its manufacturer" in done.stderr


def test_witness_catches_truncation_with_a_rewound_head(
    initialised: Settings, tmp_path: Path
) -> None:
    witness = tmp_path / "head.json"
    assert medfleet(initialised, "audit", "head", "--output", str(witness)).returncode == 0
    # the attacker removes the tail and rewinds the head row to an older signed state
    sql(initialised, "DELETE FROM audit_event WHERE seq >= 5")
    sql(
        initialised,
        "UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_event "
        "WHERE seq = 4), signature = NULL",
    )
    done = medfleet(initialised, "audit", "verify", "--json", "--witness", str(witness))
    assert done.returncode == 1
    assert json.loads(done.stdout)["ok"] is False


def test_export_formats(initialised: Settings, tmp_path: Path) -> None:
    out = tmp_path / "trail.csv"
    done = medfleet(initialised, "audit", "export", "--format", "csv", "-o", str(out))
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert lines[0].startswith("seq,at,actor")
    assert len(lines) == 7
    jsonl = medfleet(initialised, "audit", "export", "--format", "jsonl")
    events = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[2]["payload"] == {"kind": "hospital", "name": "St. Anna"}
    bad = medfleet(initialised, "audit", "export", "--format", "xml")
    assert bad.returncode == 3
    assert "csv or jsonl" in bad.stderr
