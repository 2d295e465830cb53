"""Exporting the audit trail for inspection: CSV or JSON lines, in sequence order.

Values are written as they were hashed (canonical time, hex hashes), so an inspector can
re-verify the export on its own: each JSON line without its ``hash`` is the canonical document
whose SHA-256 is that hash.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO, Any, Literal, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from medfleet.audit.model import canonical_json
from medfleet.audit.tables import AuditEventRow

ExportFormat = Literal["csv", "jsonl"]
EXPORT_COLUMNS = (
    "seq", "at", "actor", "org_id", "action", "object_type", "object_id", "payload", "prev_hash",
    "hash",
)  # fmt: skip
_EVENTS = cast(Table, AuditEventRow.__table__)
_BATCH = 1000


def export(session: Session, out: IO[str], fmt: ExportFormat, org_id: int | None = None) -> int:
    """Write every event (or one organization's) in sequence order; return how many.

    Values are written as they were hashed (canonical time, hex hashes; the payload as its
    canonical JSON text in CSV, parsed in JSON lines), so the export can be re-verified.
    """
    statement = select(_EVENTS.c.doc, _EVENTS.c.hash).order_by(_EVENTS.c.seq)
    if org_id is not None:
        statement = statement.where(_EVENTS.c.org_id == org_id)
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(EXPORT_COLUMNS)
    count = 0
    for doc, chain_hash in session.execute(statement.execution_options(yield_per=_BATCH)):
        record = document_as_dict(doc, chain_hash)
        if writer is not None:
            record["payload"] = canonical_json(record["payload"])
            writer.writerow([record[column] for column in EXPORT_COLUMNS])
        else:
            out.write(canonical_json(record) + "\n")
        count += 1
    return count


def document_as_dict(doc: str, chain_hash: str) -> dict[str, Any]:
    """One stored event as JSON-ready data: its hashed document, parsed, plus its hash."""
    record: dict[str, Any] = json.loads(doc)
    record["hash"] = chain_hash
    return record


def event_as_dict(row: AuditEventRow) -> dict[str, Any]:
    """One event as JSON-ready data (payload parsed, time in its canonical hashed form)."""
    return document_as_dict(row.doc, row.hash)


def export_to_path(session: Session, path: Path, fmt: ExportFormat) -> int:
    """Export into a file, replacing it only when the export completed."""
    temporary = path.with_suffix(path.suffix + ".tmp")
    with temporary.open("w", encoding="utf-8", newline="") as handle:
        count = export(session, handle, fmt)
    temporary.replace(path)
    return count
