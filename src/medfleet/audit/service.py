"""Appending to, verifying and exporting the audit trail.

``AuditLog.record`` writes inside the caller's transaction, so an event exists exactly when the
change it records was committed. Appends take the head lock first; the head is re-signed at
every append and a checkpoint is kept every ``checkpoint_interval`` events.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from medfleet.audit.model import (
    GENESIS_HASH,
    Checkpoint,
    EventRow,
    NewEvent,
    VerifyResult,
    canonical_json,
    checkpoint_message,
    event_bytes,
    event_hash,
    verify_chain,
)
from medfleet.audit.tables import HEAD_ROW_ID, AuditCheckpointRow, AuditEventRow, AuditHeadRow
from medfleet.clock import Clock
from medfleet.signing.server_key import ServerSigner, signature_valid

ExportFormat = Literal["csv", "jsonl"]
EXPORT_COLUMNS = (
    "seq",
    "at",
    "actor",
    "org_id",
    "action",
    "object_type",
    "object_id",
    "payload",
    "prev_hash",
    "hash",
)
_VERIFY_BATCH = 20_000
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

        Raises:
            AuditHeadMissingError: the audit tables were never initialised.
            ValueError / TypeError: a payload cannot be represented as canonical JSON.
        """
        head = session.execute(
            select(AuditHeadRow).where(AuditHeadRow.id == HEAD_ROW_ID).with_for_update()
        ).scalar_one_or_none()
        if head is None:
            raise AuditHeadMissingError("audit head row missing; run 'medfleet db upgrade'")
        if not events:
            return head.seq
        at = self.clock.now()
        seq, prev = head.seq, head.hash
        rows: list[dict[str, object]] = []
        checkpoints: list[dict[str, object]] = []
        for event in events:
            seq += 1
            payload = canonical_json(dict(event.payload))
            digest = event_hash(
                event_bytes(
                    seq,
                    at,
                    event.actor,
                    event.org_id,
                    event.action,
                    event.object_type,
                    event.object_id,
                    payload,
                    prev,
                )
            )
            rows.append(
                {
                    "seq": seq,
                    "at": at,
                    "actor": event.actor,
                    "org_id": event.org_id,
                    "action": event.action,
                    "object_type": event.object_type,
                    "object_id": event.object_id,
                    "payload": payload,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            if seq % self.checkpoint_interval == 0:
                checkpoints.append(self._signed(seq, digest))
            prev = digest
        session.execute(insert(AuditEventRow), rows)
        if checkpoints:
            session.execute(insert(AuditCheckpointRow), checkpoints)
        signed = self._signed(seq, prev)
        session.execute(update(AuditHeadRow).where(AuditHeadRow.id == HEAD_ROW_ID).values(**signed))
        head.seq, head.hash = seq, prev  # keep the identity-mapped head in step
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


def _event_rows(session: Session) -> Iterator[EventRow]:
    table = AuditEventRow.__table__
    statement = select(
        table.c.seq,
        table.c.at,
        table.c.actor,
        table.c.org_id,
        table.c.action,
        table.c.object_type,
        table.c.object_id,
        table.c.payload,
        table.c.prev_hash,
        table.c.hash,
    ).order_by(table.c.seq)
    result = session.connection().execution_options(yield_per=_VERIFY_BATCH).execute(statement)
    for partition in result.partitions():
        yield from partition  # type: ignore[misc]


def _checkpoints(session: Session) -> list[Checkpoint]:
    found = [
        Checkpoint(row.seq, row.hash, row.signed_at, row.key_id, row.signature)
        for row in session.scalars(select(AuditCheckpointRow))
    ]
    head = session.get(AuditHeadRow, HEAD_ROW_ID)
    if head is not None and head.seq > 0:
        if head.signature is None or head.signed_at is None or head.key_id is None:
            found.append(Checkpoint(head.seq, head.hash, head.signed_at or _EPOCH, "", b""))
        else:
            found.append(
                Checkpoint(head.seq, head.hash, head.signed_at, head.key_id, head.signature)
            )
    return found


def verify(
    session: Session,
    trusted_keys: dict[str, Ed25519PublicKey],
    witnesses: Iterable[Checkpoint] = (),
) -> VerifyResult:
    """Verify the whole trail as stored, plus any checkpoints kept outside the database."""

    def lookup(chain_hash: str) -> int | None:
        return session.scalar(select(AuditEventRow.seq).where(AuditEventRow.hash == chain_hash))

    return verify_chain(
        _event_rows(session),
        [*_checkpoints(session), *witnesses],
        lambda c: signature_valid(trusted_keys, c.key_id, c.signature, c.message()),
        lookup,
    )


def head_checkpoint(session: Session) -> Checkpoint | None:
    """The signed head as it stands, for keeping outside the database as a witness."""
    head = session.get(AuditHeadRow, HEAD_ROW_ID)
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


def export(session: Session, out: IO[str], fmt: ExportFormat, org_id: int | None = None) -> int:
    """Write every event (or one organization's) in sequence order; return how many."""
    statement = select(AuditEventRow).order_by(AuditEventRow.seq)
    if org_id is not None:
        statement = statement.where(AuditEventRow.org_id == org_id)
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(EXPORT_COLUMNS)
    count = 0
    rows = session.execute(statement.execution_options(yield_per=_VERIFY_BATCH)).scalars()
    for row in rows:
        record = event_as_dict(row)
        if writer is not None:
            writer.writerow([record[c] if c != "payload" else row.payload for c in EXPORT_COLUMNS])
        else:
            out.write(canonical_json(record) + "\n")
        count += 1
    return count


def event_as_dict(row: AuditEventRow) -> dict[str, object]:
    """One event as JSON-ready data (payload parsed)."""
    return {
        "seq": row.seq,
        "at": row.at.isoformat(),
        "actor": row.actor,
        "org_id": row.org_id,
        "action": row.action,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "payload": json.loads(row.payload),
        "prev_hash": row.prev_hash,
        "hash": row.hash,
    }


def export_to_path(session: Session, path: Path, fmt: ExportFormat) -> int:
    """Export into a file, replacing it only when the export completed."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("w", encoding="utf-8", newline="") as handle:
        count = export(session, handle, fmt)
    temporary.replace(path)
    return count
