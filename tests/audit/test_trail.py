"""The trail as use cases write it: verifiable, atomic with the change, exportable."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from medfleet.accounts import service as accounts
from medfleet.accounts.model import OrgKind
from medfleet.accounts.tables import Organization
from medfleet.audit import service
from medfleet.audit.export import EXPORT_COLUMNS, export, export_to_path
from medfleet.audit.model import GENESIS_HASH, NewEvent, Problem, canonical_json, event_text
from medfleet.audit.service import (
    AuditHeadMissingError,
    checkpoint_from_json,
    checkpoint_to_json,
    head_checkpoint,
)
from medfleet.audit.tables import AuditEventRow, AuditHeadRow
from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from tests.audit.helpers import append, broken, check, event, sql
from tests.builders import World, build_world


def _events(rt: Runtime) -> int:
    with transaction(rt.sessions) as session:
        return session.scalar(select(func.count()).select_from(AuditEventRow)) or 0


def test_a_realistic_trail_verifies(runtime: Runtime, clock: FrozenClock) -> None:
    build_world(runtime)
    clock.advance(timedelta(minutes=5))
    append(runtime, 30, per_transaction=4)
    result = check(runtime)
    assert result.ok, result
    assert result.events_checked == result.last_seq == _events(runtime) > 40
    assert result.checkpoints_checked == 1  # the signed head
    with runtime.sessions() as session:
        head = head_checkpoint(session)
    assert head is not None
    assert (head.seq, head.hash) == (result.last_seq, result.last_hash)


def test_an_empty_trail_verifies(runtime: Runtime) -> None:
    result = check(runtime)
    assert (result.ok, result.events_checked, result.last_seq) == (True, 0, 0)


def _create_then_fail(rt: Runtime, world: World, events_before: int) -> None:
    with transaction(rt.sessions) as session:
        accounts.create_organization(
            session, rt.audit, world.admin, "Ghost Clinic", OrgKind.HOSPITAL
        )
        recorded = session.scalar(select(func.count()).select_from(AuditEventRow))
        assert recorded == events_before + 1
        raise RuntimeError("failure after the audit event was recorded")


def test_the_event_is_written_in_the_transaction_of_the_change(runtime: Runtime) -> None:
    world = build_world(runtime)
    events_before = _events(runtime)
    with pytest.raises(RuntimeError, match="after the audit event"):
        _create_then_fail(runtime, world, events_before)
    with transaction(runtime.sessions) as session:
        assert (
            session.scalar(select(Organization).where(Organization.name == "Ghost Clinic")) is None
        )
        assert session.scalar(select(AuditHeadRow.seq)) == events_before
    assert _events(runtime) == events_before
    assert check(runtime).ok


def test_a_failing_payload_writes_nothing(runtime: Runtime) -> None:
    append(runtime, 3)
    bad = NewEvent("user:1", 1, "x.done", "x", "1", {"value": float("nan")})
    with pytest.raises(ValueError, match="JSON"), transaction(runtime.sessions) as session:
        runtime.audit.record_many(session, [event(4), bad])
    assert _events(runtime) == 3
    assert check(runtime).ok


def test_recording_without_a_head_row_is_a_clear_error(runtime: Runtime) -> None:
    with transaction(runtime.sessions) as session:
        session.execute(delete(AuditHeadRow))
    with (
        pytest.raises(AuditHeadMissingError, match="db upgrade"),
        transaction(runtime.sessions) as session,
    ):
        runtime.audit.record(session, event(1))


def test_csv_export_round_trip(runtime: Runtime) -> None:
    append(runtime, 12, per_transaction=5)
    out = io.StringIO()
    with transaction(runtime.sessions) as session:
        assert export(session, out, "csv") == 12
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert len(rows) == 13
    for n, row in enumerate(rows[1:], start=1):
        record = dict(zip(EXPORT_COLUMNS, row, strict=True))
        assert int(record["seq"]) == n
        assert json.loads(record["payload"]) == event(n).payload
        assert record["object_id"] == event(n).object_id
        # an auditor can recompute every hash from the export alone
        org = None if record["org_id"] == "" else int(record["org_id"])
        document = event_text(
            n,
            record["at"],
            record["actor"],
            org,
            record["action"],
            record["object_type"],
            record["object_id"],
            record["payload"],
            record["prev_hash"],
        )
        assert hashlib.sha256(document.encode()).hexdigest() == record["hash"]


def test_jsonl_lines_rehash_to_the_chain(runtime: Runtime) -> None:
    """Each JSON line without its hash is the canonical document that was hashed."""
    append(runtime, 6, per_transaction=4)
    out = io.StringIO()
    with transaction(runtime.sessions) as session:
        export(session, out, "jsonl")
    prev = GENESIS_HASH
    for line in out.getvalue().splitlines():
        record = json.loads(line)
        chain_hash = record.pop("hash")
        assert record["prev_hash"] == prev
        assert hashlib.sha256(canonical_json(record).encode()).hexdigest() == chain_hash
        prev = chain_hash


def test_jsonl_export_round_trip_and_org_filter(runtime: Runtime, tmp_path: Path) -> None:
    append(runtime, 12, per_transaction=5)
    path = tmp_path / "trail.jsonl"
    with transaction(runtime.sessions) as session:
        assert export_to_path(session, path, "jsonl") == 12
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["seq"] for r in records] == list(range(1, 13))
    assert [r["payload"] for r in records] == [event(n).payload for n in range(1, 13)]
    assert all(line == canonical_json(json.loads(line)) for line in lines)
    assert not (tmp_path / "trail.jsonl.tmp").exists()
    out = io.StringIO()
    with transaction(runtime.sessions) as session:
        count = export(session, out, "jsonl", org_id=2)
    assert count == len([n for n in range(1, 13) if event(n).org_id == 2])
    assert {json.loads(line)["org_id"] for line in out.getvalue().splitlines()} == {2}


def test_checkpoint_json_round_trip(runtime: Runtime) -> None:
    append(runtime, 3)
    with runtime.sessions() as session:
        head = head_checkpoint(session)
    assert head is not None
    assert checkpoint_from_json(json.loads(json.dumps(checkpoint_to_json(head)))) == head
    with pytest.raises(ValueError, match="not a medfleet audit checkpoint"):
        checkpoint_from_json({"seq": 3})


def test_verify_streams_in_batches(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches (and PostgreSQL's server-side cursor fetches) join up without gaps."""
    monkeypatch.setattr(service, "_FETCH_BATCH", 7)
    append(runtime, 40, per_transaction=6)
    result = check(runtime)
    assert (result.ok, result.events_checked) == (True, 40)
    sql(
        runtime,
        """UPDATE audit_event SET doc = replace(doc, '"actor":"user:2"', '"actor":"m"')
                    WHERE seq = 29""",
    )
    assert broken(check(runtime)) == (False, 29, Problem.MODIFIED)
