"""Attacks on the stored trail, written as plain SQL, and what ``verify`` says about them.

Each verdict is computed twice on the same data: sequentially, and (on SQLite) by forked worker
processes scanning slices, which must give exactly the same answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import Table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import CreateColumn

from medfleet.audit import service
from medfleet.audit.model import Problem, VerifyResult, stitch
from medfleet.audit.service import (
    AuditLog,
    checkpoint_from_json,
    checkpoint_to_json,
    head_checkpoint,
)
from medfleet.audit.tables import AuditEventRow
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from medfleet.signing.server_key import create_server_key
from tests.audit.helpers import append, broken, check, forged, rehash, sql, stored

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
        "UPDATE audit_event SET doc = replace(doc, :old, :new) WHERE seq = 17",
        old='"n":17',
        new='"n":71',
    )
    result = verdict(runtime, parallel)
    assert broken(result) == (False, 17, Problem.MODIFIED)
    assert (result.events_checked, result.last_seq) == (16, 16)


@pytest.mark.parametrize("field", ["actor", "action", "object_type", "object_id", "at", "org_id"])
def test_modified_field(runtime: Runtime, chain: AuditLog, parallel: list[int], field: str) -> None:
    value = "2026-01-15T09:00:00.000001+00:00" if field == "at" else "forged"
    sql(
        runtime,
        "UPDATE audit_event SET doc = :doc WHERE seq = 23",
        doc=forged(stored(runtime, 23)["doc"], **{field: 99 if field == "org_id" else value}),
    )
    assert broken(verdict(runtime, parallel)) == (False, 23, Problem.MODIFIED)


def test_modified_hash(runtime: Runtime, chain: AuditLog, parallel: list[int]) -> None:
    sql(runtime, "UPDATE audit_event SET hash = :hash WHERE seq = 23", hash="f" * 64)
    assert broken(verdict(runtime, parallel)) == (False, 23, Problem.MODIFIED)


@pytest.mark.parametrize("column", ["actor", "org_id", "object_id", "prev_hash", "at"])
def test_the_database_refuses_to_update_a_derived_column(
    runtime: Runtime, chain: AuditLog, column: str
) -> None:
    """Query columns are generated from the hashed text: they cannot be made to disagree."""
    value = 99 if column == "org_id" else "forged"
    with pytest.raises(DBAPIError, match=r"generated|DEFAULT"):
        sql(runtime, f"UPDATE audit_event SET {column} = :value WHERE seq = 23", value=value)  # noqa: S608
    assert stored(runtime, 23)[column] != value


@pytest.fixture
def redefined_object_id(runtime: Runtime) -> Iterator[None]:
    """``audit_event.object_id`` replaced by a plain column (the one PostgreSQL database that
    all tests share gets the generated column back afterwards)."""
    sql(runtime, "DROP INDEX ix_audit_event_object_type_object_id")
    sql(runtime, "ALTER TABLE audit_event DROP COLUMN object_id")
    sql(runtime, "ALTER TABLE audit_event ADD COLUMN object_id VARCHAR(200)")
    yield
    if not runtime.settings.is_sqlite:
        events = cast(Table, AuditEventRow.__table__)
        generated = CreateColumn(events.c.object_id).compile(dialect=runtime.db.dialect)
        sql(runtime, "ALTER TABLE audit_event DROP COLUMN object_id")
        sql(runtime, f"ALTER TABLE audit_event ADD COLUMN {generated}")
        sql(
            runtime,
            "CREATE INDEX ix_audit_event_object_type_object_id ON audit_event "
            "(object_type, object_id)",
        )


def test_a_redefined_query_column_is_reported(
    runtime: Runtime, chain: AuditLog, parallel: list[int], redefined_object_id: None
) -> None:
    """Replacing a generated column by a plain one (which could then be updated) is caught."""
    sql(runtime, "UPDATE audit_event SET object_id = 'SN-9999'")
    result = verdict(runtime, parallel)
    assert (result.ok, result.first_bad_seq, result.problem) == (
        False,
        None,
        Problem.SCHEMA_CHANGED,
    )
    assert "object_id" in result.detail


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
    doc = forged(stored(runtime, 17)["doc"], payload={"n": 17, "name": "forged"})
    sql(
        runtime,
        "UPDATE audit_event SET doc = :doc, hash = :hash WHERE seq = 17",
        doc=doc,
        hash=rehash(doc),
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
        changes: dict[str, Any] = {"prev_hash": prev}
        if seq == 17:
            changes["payload"] = {"n": 17, "name": "forged"}
        doc = forged(stored(runtime, seq)["doc"], **changes)
        prev = rehash(doc)
        sql(
            runtime,
            "UPDATE audit_event SET doc = :doc, hash = :hash WHERE seq = :seq",
            doc=doc,
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
    doc = forged(stored(runtime, EVENTS)["doc"], actor="user:innocent")
    sql(
        runtime,
        "UPDATE audit_event SET doc = :doc, hash = :hash WHERE seq = :seq",
        doc=doc,
        hash=rehash(doc),
        seq=EVENTS,
    )
    assert broken(verdict(runtime, parallel)) == (False, EVENTS, Problem.MODIFIED)


def test_forged_event_appended_beyond_the_signed_head(
    runtime: Runtime, chain: AuditLog, parallel: list[int]
) -> None:
    last = stored(runtime, EVENTS)
    doc = forged(last["doc"], seq=EVENTS + 1, prev_hash=last["hash"], payload={"n": 41})
    sql(
        runtime,
        "INSERT INTO audit_event (seq, doc, hash) VALUES (:seq, :doc, :hash)",
        seq=EVENTS + 1,
        doc=doc,
        hash=rehash(doc),
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
    """SQLite keeps whatever type is written; the same bytes as a BLOB are no alias."""
    if not runtime.settings.is_sqlite:
        pytest.skip("PostgreSQL columns are strictly typed")
    sql(runtime, "UPDATE audit_event SET hash = CAST(hash AS BLOB) WHERE seq = 7")
    assert broken(verdict(runtime, parallel)) == (False, 7, Problem.MODIFIED)
    sql(runtime, "UPDATE audit_event SET hash = CAST(hash AS TEXT) WHERE seq = 7")
    assert verdict(runtime, parallel).ok
    sql(runtime, "UPDATE audit_event SET doc = CAST(doc AS BLOB) WHERE seq = 8")
    assert broken(verdict(runtime, parallel)) == (False, 8, Problem.MODIFIED)
