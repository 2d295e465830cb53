"""Appending to and verifying the audit trail (exporting it: ``medfleet.audit.export``).

``AuditLog.record`` writes inside the caller's transaction, so an event exists exactly when the
change it records was committed. Appends take the head lock first; the head is re-signed at
every append and a checkpoint is kept every ``checkpoint_interval`` events.

``verify`` reads the events with the database driver's own cursor (a server-side cursor on
PostgreSQL, so the trail is streamed, never loaded whole) and hashes what is stored, using no
database function. A large SQLite trail is verified in slices by forked worker processes that
read the same committed state; ``medfleet.audit.model.stitch`` joins their results and the
caller's session verifies on from where they stopped, so the outcome (first broken sequence
number and why) is exactly that of one sequential pass.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import sys
import threading
from collections.abc import Generator, Iterable, Sequence
from concurrent.futures import BrokenExecutor, ProcessPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256
from itertools import chain, pairwise
from pathlib import Path
from typing import Any, cast

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Table, func, insert, inspect, select, update
from sqlalchemy.orm import Session

from medfleet.audit.model import (
    GENESIS_HASH,
    GENESIS_STATE,
    ChainState,
    Checkpoint,
    CheckpointHashes,
    NewEvent,
    Problem,
    SliceOutcome,
    StoredEvent,
    VerifyResult,
    canonical_json,
    canonical_time,
    check_signatures,
    checkpoint_hashes,
    checkpoint_message,
    event_text,
    scan_slice,
    stitch,
    verify_chain,
)
from medfleet.audit.tables import HEAD_ROW_ID, AuditCheckpointRow, AuditEventRow, AuditHeadRow
from medfleet.clock import Clock
from medfleet.db.json_columns import DerivedFromJson, reflected_expression_matches
from medfleet.signing.server_key import ServerSigner, signature_valid

# The layout of ``StoredEvent``: what is stored and hashed; the other columns derive from doc.
STORED_COLUMNS = ("seq", "doc", "hash")
_EVENTS = cast(Table, AuditEventRow.__table__)
_HEAD = cast(Table, AuditHeadRow.__table__)
_CHECKPOINTS = cast(Table, AuditCheckpointRow.__table__)
Batches = Generator[list[StoredEvent], None, None]
_FETCH_BATCH = 1000
_PARALLEL_MIN_EVENTS = 50_000  # smaller trails take well under a second in one pass
_SLICES_PER_WORKER = 4
_MAX_WORKERS = 4
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class AuditError(Exception):
    """Base of the audit domain's errors."""


class AuditHeadMissingError(AuditError):
    """The database has no audit head row: it was not migrated with ``medfleet db upgrade``."""


@dataclass(frozen=True)
class AuditLog:
    """Appends events to the chain and signs its head."""

    signer: ServerSigner
    clock: Clock
    checkpoint_interval: int = 1000

    def record(self, session: Session, event: NewEvent) -> int:
        """Append one event in the caller's transaction; return its sequence number."""
        return self.record_many(session, (event,))

    def record_many(self, session: Session, events: Sequence[NewEvent]) -> int:
        """Append events in order in the caller's transaction; return the last sequence number.

        The head row is locked first, so concurrent writers queue and never fork the chain.
        All events of one call share one timestamp. Nothing is written when any payload fails.

        Raises:
            AuditHeadMissingError: the audit tables were never initialised.
            ValueError / TypeError: a payload cannot be represented as canonical JSON.
        """
        head = session.execute(
            select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == HEAD_ROW_ID).with_for_update()
        ).first()
        if head is None:
            raise AuditHeadMissingError("audit head row missing; run 'medfleet db upgrade'")
        seq, prev = int(head.seq), str(head.hash)
        if not events:
            return seq
        at = canonical_time(self.clock.now())
        rows: list[tuple[int, str, str]] = []
        checkpoints: list[dict[str, object]] = []
        for event in events:
            seq += 1
            doc = event_text(
                seq, at, event.actor, event.org_id, event.action, event.object_type,
                event.object_id, canonical_json(dict(event.payload)), prev,
            )  # fmt: skip
            digest = sha256(doc.encode()).hexdigest()
            rows.append((seq, doc, digest))
            if seq % self.checkpoint_interval == 0:
                checkpoints.append(self._signed(seq, digest))
            prev = digest
        connection = session.connection()
        mark = _placeholder(connection.dialect.paramstyle)
        connection.exec_driver_sql(
            f"INSERT INTO audit_event ({', '.join(STORED_COLUMNS)}) "  # noqa: S608 - constants
            f"VALUES ({', '.join([mark] * len(STORED_COLUMNS))})",
            rows,
        )
        if checkpoints:
            session.execute(insert(_CHECKPOINTS), checkpoints)
        signed = self._signed(seq, prev)
        session.execute(update(_HEAD).where(_HEAD.c.id == HEAD_ROW_ID).values(**signed))
        return seq

    def _signed(self, seq: int, chain_hash: str) -> dict[str, object]:
        signed_at = self.clock.now()
        signature = self.signer.sign(checkpoint_message(seq, chain_hash, signed_at))
        return {
            "seq": seq,
            "hash": chain_hash,
            "signed_at": signed_at,
            "key_id": self.signer.key_id,
            "signature": signature,
        }


def _placeholder(paramstyle: str) -> str:
    return "?" if paramstyle == "qmark" else "%s"


def _select_events(paramstyle: str, *conditions: str) -> str:
    """SQL reading stored events in sequence order; ``conditions`` use ``{}`` for parameters."""
    where = " AND ".join(c.format(_placeholder(paramstyle)) for c in conditions)
    return (
        f"SELECT {', '.join(STORED_COLUMNS)} FROM audit_event"  # noqa: S608 - constants only
        f"{' WHERE ' + where if where else ''} ORDER BY seq"
    )


def _fetch(cursor: Any, sql: str, params: Sequence[object]) -> Batches:
    """Rows of ``sql`` in batches from a DB-API cursor, which is closed at the end."""
    try:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(_FETCH_BATCH):
            yield batch
    finally:
        cursor.close()


def _session_events(
    session: Session, conditions: Sequence[str], params: Sequence[object], *, stream: bool = False
) -> Batches:
    """Stored events read in the session's transaction, bypassing SQLAlchemy's row processing."""
    connection = session.connection()
    driver: Any = connection.connection.driver_connection
    if stream and connection.dialect.name == "postgresql":
        cursor = driver.cursor(name="medfleet_audit_scan")  # server-side: streamed in batches
        cursor.itersize = _FETCH_BATCH
    else:
        cursor = driver.cursor()
    return _fetch(cursor, _select_events(connection.dialect.paramstyle, *conditions), params)


@dataclass(frozen=True)
class _SessionLookup:
    """``ChainLookup`` over the session; used only to explain a break."""

    session: Session

    def seq_of_hash(self, chain_hash: str) -> int | None:
        return self.session.scalar(select(_EVENTS.c.seq).where(_EVENTS.c.hash == chain_hash))

    def successor_of(self, chain_hash: str) -> StoredEvent | None:
        with closing(_session_events(self.session, ["prev_hash = {}"], [chain_hash])) as found:
            return next(chain.from_iterable(found), None)


def _scan_sqlite_slice(
    job: tuple[str, int | None, int | None, CheckpointHashes],
) -> SliceOutcome | None:
    """Worker: scan the events with ``after < seq <= upto`` (open-ended where ``None``)."""
    path, after, upto, signed = job
    conditions = [c for c, bound in (("seq > {}", after), ("seq <= {}", upto)) if bound is not None]
    params = [bound for bound in (after, upto) if bound is not None]
    connection = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        sql = _select_events("qmark", *conditions)
        return scan_slice(chain.from_iterable(_fetch(connection.cursor(), sql, params)), signed)
    finally:
        connection.close()


def _parallel_start(session: Session, signed: CheckpointHashes, workers: int) -> ChainState:
    """Scan a large SQLite trail in slices on ``workers`` processes; return where they got to.

    The caller's transaction began with ``BEGIN IMMEDIATE`` (see ``medfleet.db.engine``) and
    holds the write lock, so the workers' snapshots equal the committed state the session
    reads. Appends in the caller's own uncommitted transaction are not seen by the workers; the
    session verifies them afterwards. Workers are forked (no start-up cost) and only from a
    single-threaded process on Linux; each opens its own read-only connection and never touches
    the parent's. Anything unusual (a worker failing, say) leaves the whole scan to the session.
    """
    connection = session.connection()
    path = connection.engine.url.database
    if (
        workers < 2
        or connection.dialect.name != "sqlite"
        or not path
        or path == ":memory:"
        or not sys.platform.startswith("linux")
        or threading.active_count() > 1
    ):
        return GENESIS_STATE
    last = session.scalar(select(func.max(_EVENTS.c.seq))) or 0
    if last < _PARALLEL_MIN_EVENTS:
        return GENESIS_STATE
    count = workers * _SLICES_PER_WORKER
    bounds = [None, *(last * i // count for i in range(1, count)), None]
    jobs = [(path, lo, hi, signed) for lo, hi in pairwise(bounds)]  # a slice checks its own
    context = multiprocessing.get_context("fork")
    try:
        # With "fork" the executor starts every worker at the first submit, before its own
        # manager thread exists; a worker that dies raises BrokenExecutor instead of hanging.
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = [pool.submit(_scan_sqlite_slice, job) for job in jobs]
            state = stitch(GENESIS_STATE, (future.result() for future in futures))
            pool.shutdown(cancel_futures=True)  # after a break, skip the slices not started
            return state
    except (BrokenExecutor, OSError, sqlite3.Error):
        return GENESIS_STATE


def _checkpoints(session: Session) -> tuple[list[Checkpoint], int]:
    """Every signed statement stored (history and head), and the head's sequence number."""
    found = [
        Checkpoint(row.seq, row.hash, row.signed_at, row.key_id, row.signature)
        for row in session.execute(select(_CHECKPOINTS))
    ]
    head = session.execute(select(_HEAD).where(_HEAD.c.id == HEAD_ROW_ID)).first()
    if head is None:
        return found, 0
    if head.seq > 0:  # an unsigned head still counts, and fails its signature check
        signed_at, key_id, signature = head.signed_at or _EPOCH, head.key_id or "", head.signature
        found.append(Checkpoint(head.seq, head.hash, signed_at, key_id, signature or b""))
    return found, head.seq


def changed_derived_columns(session: Session) -> list[str]:
    """The ``audit_event`` columns that are no longer generated from the hashed text as defined.

    Those columns are what scoped reads filter on; redefining one (say, PostgreSQL's
    ``ALTER COLUMN … DROP EXPRESSION``, after which it can be updated) would let it contradict
    the verified text, so the verifier checks the live table definition too.
    """
    connection = session.connection()
    reflected = {
        column["name"]: column.get("computed")
        for column in inspect(connection).get_columns(_EVENTS.name)
    }
    changed = []
    for column in _EVENTS.columns:
        if isinstance(column.computed, DerivedFromJson):
            computed = reflected.get(column.name)
            live = None if computed is None else computed["sqltext"]
            if not reflected_expression_matches(column.computed, live, connection.dialect):
                changed.append(column.name)
    return changed


def verify(
    session: Session,
    trusted_keys: dict[str, Ed25519PublicKey],
    witnesses: Iterable[Checkpoint] = (),
    *,
    workers: int | None = None,
) -> VerifyResult:
    """Verify the whole trail as stored, plus any checkpoints kept outside the database.

    Every event's hash is recomputed from its stored text, every link and sequence number is
    checked, every checkpoint must carry a trusted signature and match the chain, no event may
    lie beyond the signed head, and the query columns must still be generated from the text.
    The result names the first broken sequence number and why.
    ``workers`` (default: CPU count, at most 4) only changes the speed, never the result; run
    it in its own transaction (as ``transaction(rt.sessions)`` gives) to see committed state.
    """
    stored, signed_upto = _checkpoints(session)
    checkpoints = [*stored, *witnesses]
    failure = check_signatures(
        checkpoints, lambda c: signature_valid(trusted_keys, c.key_id, c.signature, c.message())
    )
    if failure is not None:
        return failure
    changed = changed_derived_columns(session)
    if changed:
        detail = (
            f"audit_event columns {', '.join(changed)} are no longer generated from the hashed "
            "event text: the table definition was changed (the chain was not checked)"
        )
        return VerifyResult(False, 0, 0, GENESIS_HASH, 0, None, Problem.SCHEMA_CHANGED, detail)
    if workers is None:
        workers = min(os.cpu_count() or 1, _MAX_WORKERS)
    start = _parallel_start(session, checkpoint_hashes(checkpoints), workers)
    with closing(_session_events(session, ["seq > {}"], [start.seq], stream=True)) as batches:
        return verify_chain(
            chain.from_iterable(batches), checkpoints, _SessionLookup(session), start, signed_upto
        )


def head_checkpoint(session: Session) -> Checkpoint | None:
    """The signed head as it stands, for keeping outside the database as a witness."""
    head = session.execute(select(_HEAD).where(_HEAD.c.id == HEAD_ROW_ID)).first()
    if head is None or head.seq == 0 or head.signature is None or head.signed_at is None:
        return None
    return Checkpoint(head.seq, head.hash, head.signed_at, head.key_id or "", head.signature)


def checkpoint_to_json(checkpoint: Checkpoint) -> dict[str, object]:
    """A checkpoint as a JSON document (signature in hex)."""
    return {
        "seq": checkpoint.seq,
        "hash": checkpoint.hash,
        "signed_at": checkpoint.signed_at.isoformat(),
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature.hex(),
    }


def checkpoint_from_json(document: dict[str, object]) -> Checkpoint:
    """Parse what ``checkpoint_to_json`` wrote.

    Raises:
        ValueError: a field is missing or malformed.
    """
    try:
        return Checkpoint(
            seq=int(str(document["seq"])),
            hash=str(document["hash"]),
            signed_at=datetime.fromisoformat(str(document["signed_at"])),
            key_id=str(document["key_id"]),
            signature=bytes.fromhex(str(document["signature"])),
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"not a medfleet audit checkpoint: {exc}") from exc
