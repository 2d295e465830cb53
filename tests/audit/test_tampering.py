"""Attacks on the stored trail, written as plain SQL, and what ``verify`` says about them.

Each verdict is computed twice on the same data: sequentially, and (on SQLite) by forked worker
processes scanning slices, which must give exactly the same answer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from medfleet.audit import service
from medfleet.audit.model import Problem, VerifyResult, stitch
from medfleet.audit.service import (
    AuditLog,
    checkpoint_from_json,
    checkpoint_to_json,
    head_checkpoint,
)
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from medfleet.signing.server_key import create_server_key
from tests.audit.helpers import append, broken, check, rehash, sql, stored

EVENTS = 40
INTERVAL = 10  # signed checkpoints at 10, 20, 30, 40, plus the signed head


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Let the slice workers run on tiny trails; count how often their results were stitched."""
    monkeypatch.setattr(service, "_PARALLEL_MIN_EVENTS", 1)
    stitched: list[int] = []

    def counting(*args: Any) -> Any:
        stitched.append(1)
        return stitch(*args)

    monkeypatch.setattr(service, "stitch", counting)
    return stitched


@pytest.fixture
def chain(runtime: Runtime) -> AuditLog:
    """40 events in transactions of 4, with a signed checkpoint every 10 events."""
    log = AuditLog(runtime.signer, runtime.clock, checkpoint_interval=INTERVAL)
    append(runtime, EVENTS, per_transaction=4, log=log)
    return log


def verdict(rt: Runtime, parallel: list[int], **options: Any) -> VerifyResult:
    """Verify sequentially and with two workers; both must say the same."""
    sequential = check(rt, workers=1, **options)
    before = len(parallel)
    sliced = check(rt, workers=2, **options)
    if (
        rt.settings.is_sqlite
        and sequential.checkpoints_checked
        and (sequential.problem is not Problem.BAD_CHECKPOINT)
    ):
        assert len(parallel) == before + 1, "the parallel path did not run"
    assert sliced == sequential
    return sequential


def test_clean_chain(runtime: Runtime, chain: AuditLog, parallel: list[int]) -> None:
    result = verdict(runtime, parallel)
    assert (result.ok, result.events_checked, result.last_seq) == (True, EVENTS, EVENTS)
    assert result.checkpoints_checked == EVENTS // INTERVAL + 1


def test_modified_payload(runtime: Runtime, chain: AuditLog, parallel: list[int]) -> None:
    sql(
        runtime,
        "UPDATE audit_event SET payload = :forged WHERE seq = 17",
        forged='{"n":17,"name":"forged"}',
    )
    result = verdict(runtime, parallel)
    assert broken(result) == (False, 17, Problem.MODIFIED)
    assert (result.events_checked, result.last_seq) == (16, 16)


@pytest.mark.parametrize("column", ["actor", "action", "object_type", "object_id", "at"])
def test_modified_field(
    runtime: Runtime, chain: AuditLog, parallel: list[int], column: str
) -> None:
    value = "2026-01-15T09:00:00.000001+00:00" if column == "at" else "forged"
    statement = f"UPDATE audit_event SET {column} = :value WHERE seq = 23"  # noqa: S608
    sql(runtime, statement, value=value)
    assert broken(verdict(runtime, parallel)) == (False, 23, Problem.MODIFIED)


def test_deleted_event(runtime: Runtime, chain: AuditLog, parallel: list[int]) -> None:
    sql(runtime, "DELETE FROM audit_event WHERE seq = 17")
    result = verdict(runtime, parallel)
    assert broken(result) == (False, 17, Problem.DELETED)
    assert result.detail == "event 17 missing"


def test_deleted_run_of_events(runtime: Runtime, chain: AuditLog, parallel: list[int]) -> None:
    sql(runtime, "DELETE FROM audit_event WHERE seq BETWEEN 17 AND 19")
    result = verdict(runtime, parallel)
    assert broken(result) == (False, 17, Problem.DELETED)
    assert result.detail == "events 17..19 missing"


def test_truncated_tail(runtime: Runtime, chain: AuditLog, parallel: list[int]) -> None:
    sql(runtime, "DELETE FROM audit_event WHERE seq > :keep", keep=EVENTS - 3)
    result = verdict(runtime, parallel)
    assert broken(result) == (False, EVENTS - 2, Problem.TRUNCATED)
    assert (result.events_checked, result.last_seq) == (EVENTS - 3, EVENTS - 3)


def test_truncated_tail_with_its_checkpoint_rows(
    runtime: Runtime, chain: AuditLog, parallel: list[int]
) -> None:
    sql(runtime, "DELETE FROM audit_event WHERE seq > 25")
    sql(runtime, "DELETE FROM audit_checkpoint WHERE seq > 25")
    assert broken(verdict(runtime, parallel)) == (False, 26, Problem.TRUNCATED)


def test_reordered_events(runtime: Runtime, chain: AuditLog, parallel: list[int]) -> None:
    sql(runtime, "UPDATE audit_event SET seq = -1 WHERE seq = 17")
    sql(runtime, "UPDATE audit_event SET seq = 17 WHERE seq = 18")
    sql(runtime, "UPDATE audit_event SET seq = 18 WHERE seq = -1")
    result = verdict(runtime, parallel)
    assert broken(result) == (False, 17, Problem.REORDERED)
    assert "stored as event 18" in result.detail


def test_modified_event_with_recomputed_hash(
    runtime: Runtime, chain: AuditLog, parallel: list[int]
) -> None:
    row = stored(runtime, 17)
    row["payload"] = '{"n":17,"name":"forged"}'
    sql(
        runtime,
        "UPDATE audit_event SET payload = :payload, hash = :hash WHERE seq = 17",
        payload=row["payload"],
        hash=rehash(row),
    )
    result = verdict(runtime, parallel)
    assert broken(result) == (False, 17, Problem.MODIFIED)
    assert "hash recomputed" in result.detail


def test_rewritten_tail_is_caught_by_the_next_signed_checkpoint(
    runtime: Runtime, chain: AuditLog, parallel: list[int]
) -> None:
    """The attacker re-hashes event 17 and every event after it, so all links hold."""
    prev = stored(runtime, 16)["hash"]
    for seq in range(17, EVENTS + 1):
        row = stored(runtime, seq)
        if seq == 17:
            row["payload"] = '{"n":17,"name":"forged"}'
        row["prev_hash"] = prev
        prev = rehash(row)
        sql(
            runtime,
            "UPDATE audit_event SET payload = :payload, prev_hash = :prev, "
            "hash = :hash WHERE seq = :seq",
            payload=row["payload"],
            prev=row["prev_hash"],
            hash=prev,
            seq=seq,
        )
    result = verdict(runtime, parallel)
    assert broken(result) == (False, 20, Problem.MODIFIED)
    assert "differs from the checkpoint" in result.detail


def test_modified_head_event_with_recomputed_hash(
    runtime: Runtime, chain: AuditLog, parallel: list[int]
) -> None:
    sql(runtime, "DELETE FROM audit_checkpoint")  # only the signed head is left to catch it
    row = stored(runtime, EVENTS)
    row["actor"] = "user:innocent"
    sql(
        runtime,
        "UPDATE audit_event SET actor = :actor, hash = :hash WHERE seq = :seq",
        actor=row["actor"],
        hash=rehash(row),
        seq=EVENTS,
    )
    assert broken(verdict(runtime, parallel)) == (False, EVENTS, Problem.MODIFIED)


def test_forged_event_appended_beyond_the_signed_head(
    runtime: Runtime, chain: AuditLog, parallel: list[int]
) -> None:
    row = stored(runtime, EVENTS)
    row.update(seq=EVENTS + 1, prev_hash=row["hash"], payload='{"n":41}')
    row["hash"] = rehash(row)
    sql(
        runtime,
        "INSERT INTO audit_event (seq, at, actor, org_id, action, object_type, "
        "object_id, payload, prev_hash, hash) VALUES (:seq, :at, :actor, :org_id, "
        ":action, :object_type, :object_id, :payload, :prev_hash, :hash)",
        **row,
    )
    result = verdict(runtime, parallel)
    assert broken(result) == (False, EVENTS + 1, Problem.MODIFIED)
    assert "beyond the signed head" in result.detail


def test_checkpoint_signed_by_an_untrusted_key(
    runtime: Runtime, chain: AuditLog, parallel: list[int], tmp_path: Path
) -> None:
    rogue = AuditLog(create_server_key(tmp_path / "rogue"), runtime.clock)
    append(runtime, 1, log=rogue, first=EVENTS + 1)
    result = verdict(runtime, parallel)
    assert broken(result) == (False, EVENTS + 1, Problem.BAD_CHECKPOINT)
    assert rogue.signer.key_id in result.detail


def test_unsigned_head(runtime: Runtime, chain: AuditLog, parallel: list[int]) -> None:
    sql(runtime, "UPDATE audit_head SET signature = NULL")
    assert broken(verdict(runtime, parallel)) == (False, EVENTS, Problem.BAD_CHECKPOINT)


def test_witness_signed_by_an_untrusted_key(
    runtime: Runtime, chain: AuditLog, parallel: list[int], tmp_path: Path
) -> None:
    rogue = create_server_key(tmp_path / "rogue")
    with runtime.sessions() as session:
        genuine = head_checkpoint(session)
    assert genuine is not None
    document = checkpoint_to_json(genuine)
    document.update(key_id=rogue.key_id, signature=rogue.sign(genuine.message()).hex())
    forged = checkpoint_from_json(document)
    result = verdict(runtime, parallel, witnesses=[forged])
    assert broken(result) == (False, EVENTS, Problem.BAD_CHECKPOINT)


def test_witness_catches_a_truncated_tail_with_a_rewound_head(
    runtime: Runtime, chain: AuditLog, parallel: list[int], tmp_path: Path
) -> None:
    with runtime.db.connect() as connection:
        old_head = dict(connection.execute(text("SELECT * FROM audit_head")).mappings().one())
    append(runtime, 3, log=chain, first=EVENTS + 1)
    witness_file = tmp_path / "head.json"
    with transaction(runtime.sessions) as session:
        head = head_checkpoint(session)
    assert head is not None
    assert head.seq == EVENTS + 3
    witness_file.write_text(json.dumps(checkpoint_to_json(head)))
    # The attacker removes the last three events and puts back the head signed before them.
    sql(runtime, "DELETE FROM audit_event WHERE seq > :seq", seq=EVENTS)
    sql(
        runtime,
        "UPDATE audit_head SET seq = :seq, hash = :hash, signed_at = :signed_at, "
        "key_id = :key_id, signature = :signature",
        **old_head,
    )
    assert verdict(runtime, parallel).ok  # the database alone cannot show this
    witness = checkpoint_from_json(json.loads(witness_file.read_text()))
    result = verdict(runtime, parallel, witnesses=[witness])
    assert broken(result) == (False, EVENTS + 1, Problem.TRUNCATED)


def test_sqlite_type_confusion_is_caught(
    runtime: Runtime, chain: AuditLog, parallel: list[int]
) -> None:
    """SQLite keeps whatever type is written; text that renders like the original is no alias."""
    if not runtime.settings.is_sqlite:
        pytest.skip("PostgreSQL columns are strictly typed")
    assert stored(runtime, 7)["org_id"] is None
    sql(runtime, "UPDATE audit_event SET org_id = 'null' WHERE seq = 7")
    assert broken(verdict(runtime, parallel)) == (False, 7, Problem.MODIFIED)
    sql(runtime, "UPDATE audit_event SET org_id = NULL WHERE seq = 7")
    assert verdict(runtime, parallel).ok
    assert stored(runtime, 8)["org_id"] == 1
    sql(runtime, "UPDATE audit_event SET org_id = X'31' WHERE seq = 8")  # a BLOB b"1"
    assert broken(verdict(runtime, parallel)) == (False, 8, Problem.MODIFIED)
    sql(runtime, "UPDATE audit_event SET org_id = 1, actor = CAST(actor AS BLOB) WHERE seq = 8")
    assert broken(verdict(runtime, parallel)) == (False, 8, Problem.MODIFIED)
