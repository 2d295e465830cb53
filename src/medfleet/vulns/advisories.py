"""Importing advisory records (OSV, NVD): idempotent, alias-merging, withdrawal-aware, batched.

``import_advisories`` writes one ``Advisory`` per (source, source id):

- a record whose ``content_sha256`` equals the stored one is unchanged and touches nothing, not
  even a timestamp; a re-import of the same files writes only the one summary audit event;
- a changed record replaces its row's fields and its ``AdvisoryPackage`` rows; one older than
  the stored version (by ``modified``) is skipped, as is the older of two copies in one batch;
- a withdrawn record keeps its row with ``withdrawn_at`` set; its packages stay stored but stop
  matching (``matchable_packages`` is what matching reads). A vulnerability is withdrawn when
  all its advisories are, and is live again as soon as one is not;
- a record's id and aliases resolve to one vulnerability, merging vulnerabilities it bridges
  (``identity``).

A vulnerability shows the best of its live advisories (all of them once all are withdrawn): CVSS
score, vector and severity from NVD first, then OSV (GHSA's ``database_specific.severity``); the
summary from OSV first (a one-line title), then NVD's description; the earliest ``published`` and
the latest ``modified``. Then matching is asked to recompute the touched vulnerabilities.

The work is batched for large imports (OSV's ``all.zip``): stored advisories and aliases are
looked up a thousand at a time, and rows are inserted and updated in bulk statements.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, insert, select, update
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.vulns.advisory_facts import Facts, best_of, facts_of_row
from medfleet.vulns.advisory_model import ParsedAdvisory
from medfleet.vulns.errors import VulnsPermissionError
from medfleet.vulns.findings import match_vulnerabilities
from medfleet.vulns.identity import CHUNK, resolve_many
from medfleet.vulns.tables import Advisory, AdvisoryPackage, Vulnerability

IMPORTERS = (Role.ENGINEER, Role.QA_RA, Role.ADMIN)
IMPORTED_EVENT = "vulns.advisories_imported"
AUDIT_LISTED = 500  # changed records named in the audit event; the digest covers all of them

RecordKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record (or part of one) that was not imported, and why."""

    record: str
    reason: str


@dataclass
class ImportSummary:
    """What one import did; ``withdrawn`` counts records that became withdrawn with it."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    merged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    ignored: list[Skipped] = field(default_factory=list)
    vulnerabilities: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "withdrawn": self.withdrawn,
            "merged": self.merged,
            "skipped": [{"record": s.record, "reason": s.reason} for s in self.skipped],
            "ignored": [{"record": s.record, "reason": s.reason} for s in self.ignored],
            "vulnerabilities": self.vulnerabilities,
        }


@dataclass(frozen=True, slots=True)
class _Stored:
    id: int
    vulnerability_id: int
    content_sha256: str
    modified_at: datetime | None
    withdrawn_at: datetime | None


def check_importer(principal: Principal) -> None:
    """Only the manufacturer's engineers, QA/RA and admins import advisories.

    Raises:
        VulnsPermissionError: anyone else.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER or not principal.has_any(*IMPORTERS):
        raise VulnsPermissionError(
            "importing advisories needs the manufacturer's engineer, qa_ra or admin role"
        )


def matchable_packages() -> Select[AdvisoryPackage]:
    """The affected packages matching may use: those of advisories that are not withdrawn."""
    return (
        select(AdvisoryPackage)
        .join(Advisory, Advisory.id == AdvisoryPackage.advisory_id)
        .where(Advisory.withdrawn_at.is_(None))
    )


def import_advisories(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    advisories: Sequence[ParsedAdvisory],
    now: datetime,
) -> ImportSummary:
    """Import parsed advisory records (see the module docstring); never commits.

    Raises:
        VulnsPermissionError: the caller may not import advisories.
        InvalidIdentifierError: a record's id or alias is not an id.
    """
    check_importer(principal)
    summary = ImportSummary()
    batch = _latest_copies(advisories, summary)
    stored = _stored(session, [(a.source.value, a.source_id) for a in batch])
    changed: list[ParsedAdvisory] = []
    for advisory in batch:
        row = stored.get(_key(advisory))
        if row is not None and row.content_sha256 == advisory.content_sha256:
            summary.unchanged += 1
        elif row is not None and _older(advisory, row.modified_at):
            summary.skipped.append(Skipped(_label(advisory), "the stored version is newer"))
        else:
            changed.append(advisory)
    resolution = resolve_many(
        session,
        [advisory.ids for advisory in changed],
        now,
        belongs_to=[_vulnerability_of(stored.get(_key(a))) for a in changed],
        audit=audit,
        principal=principal,
    )
    summary.merged = len(resolution.merges)
    _write(session, changed, resolution.vulnerability_ids, stored, now, summary)
    touched = set(resolution.vulnerability_ids)
    fresh = {_key(a): a for a in changed}
    summary.vulnerabilities = _refresh(session, touched, fresh)
    match_vulnerabilities(session, sorted(touched), now, audit=audit, principal=principal)
    _audit(session, audit, principal, batch, changed, summary)
    return summary


def _key(advisory: ParsedAdvisory) -> RecordKey:
    return advisory.source.value, advisory.source_id


def _label(advisory: ParsedAdvisory) -> str:
    return f"{advisory.source.value}:{advisory.source_id}"


def _vulnerability_of(row: _Stored | None) -> int | None:
    return None if row is None else row.vulnerability_id


def _older(advisory: ParsedAdvisory, than: datetime | None) -> bool:
    """Whether the record was modified before ``than`` (unknown times are never older)."""
    return than is not None and advisory.modified is not None and advisory.modified < than


def _latest_copies(
    advisories: Sequence[ParsedAdvisory], summary: ImportSummary
) -> list[ParsedAdvisory]:
    """One copy per record: the latest by ``modified`` (the later one on a tie)."""
    latest: dict[RecordKey, ParsedAdvisory] = {}
    for advisory in advisories:
        seen = latest.get(_key(advisory))
        if seen is None or not _older(advisory, seen.modified):
            if seen is not None:
                summary.skipped.append(Skipped(_label(seen), "a newer copy is in this import"))
            latest[_key(advisory)] = advisory
        else:
            summary.skipped.append(Skipped(_label(advisory), "a newer copy is in this import"))
    return list(latest.values())


def _by_source(keys: Sequence[RecordKey]) -> Iterator[tuple[str, list[str]]]:
    """The source ids of ``keys`` per source, a thousand at a time (one indexed IN each)."""
    grouped: dict[str, list[str]] = {}
    for source, source_id in keys:
        grouped.setdefault(source, []).append(source_id)
    for source, ids in grouped.items():
        for start in range(0, len(ids), CHUNK):
            yield source, ids[start : start + CHUNK]


def _stored(session: Session, keys: Sequence[RecordKey]) -> dict[RecordKey, _Stored]:
    found: dict[RecordKey, _Stored] = {}
    for source, ids in _by_source(keys):
        rows = session.execute(
            select(
                Advisory.id,
                Advisory.source_id,
                Advisory.vulnerability_id,
                Advisory.content_sha256,
                Advisory.modified_at,
                Advisory.withdrawn_at,
            ).where(Advisory.source == source, Advisory.source_id.in_(ids))
        )
        for row in rows:
            found[(source, row.source_id)] = _Stored(
                row.id, row.vulnerability_id, row.content_sha256, row.modified_at, row.withdrawn_at
            )
    return found


def _write(
    session: Session,
    changed: Sequence[ParsedAdvisory],
    vulnerability_ids: Sequence[int],
    stored: dict[RecordKey, _Stored],
    now: datetime,
    summary: ImportSummary,
) -> None:
    """Insert new advisories, update changed ones, and replace their affected packages."""
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for advisory, vulnerability_id in zip(changed, vulnerability_ids, strict=True):
        row = stored.get(_key(advisory))
        values = {
            "vulnerability_id": vulnerability_id,
            "summary": advisory.summary,
            "modified_at": advisory.modified,
            "withdrawn_at": advisory.withdrawn,
            "content_sha256": advisory.content_sha256,
            "document": dict(advisory.document),
            "imported_at": now,
        }
        if row is None:
            inserts.append({"source": advisory.source.value, "source_id": advisory.source_id})
            inserts[-1].update(values)
            summary.created += 1
        else:
            updates.append({"id": row.id, **values})
            summary.updated += 1
        if advisory.withdrawn is not None and (row is None or row.withdrawn_at is None):
            summary.withdrawn += 1
        summary.ignored.extend(Skipped(_label(advisory), reason) for reason in advisory.ignored)
    ids = {key: row.id for key, row in stored.items()}
    for start in range(0, len(inserts), CHUNK):
        returned = session.execute(
            insert(Advisory).returning(Advisory.id, Advisory.source, Advisory.source_id),
            inserts[start : start + CHUNK],
        )
        ids.update({(r.source, r.source_id): r.id for r in returned})
    if updates:
        session.execute(update(Advisory), updates)
        replaced = [u["id"] for u in updates]
        for start in range(0, len(replaced), CHUNK):
            session.execute(
                delete(AdvisoryPackage).where(
                    AdvisoryPackage.advisory_id.in_(replaced[start : start + CHUNK])
                )
            )
    packages = [
        {"advisory_id": ids[_key(a)], "vulnerability_id": v, **package.as_row()}
        for a, v in zip(changed, vulnerability_ids, strict=True)
        for package in a.packages
    ]
    if packages:
        session.execute(insert(AdvisoryPackage), packages)


def _refresh(
    session: Session, vulnerability_ids: Iterable[int], fresh: dict[RecordKey, ParsedAdvisory]
) -> list[str]:
    """Set each vulnerability's summary, severity, CVSS, dates and withdrawal from its
    advisories; return the keys of the vulnerabilities refreshed."""
    wanted = sorted(vulnerability_ids)
    facts: dict[int, list[Facts]] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        rows = session.execute(
            select(
                Advisory.vulnerability_id,
                Advisory.source,
                Advisory.source_id,
                Advisory.summary,
                Advisory.withdrawn_at,
                Advisory.modified_at,
            ).where(Advisory.vulnerability_id.in_(chunk))
        ).all()
        stale = [r for r in rows if (r.source, r.source_id) not in fresh]
        documents = _documents(session, [(r.source, r.source_id) for r in stale])
        for row in rows:
            key = (row.source, row.source_id)
            facts.setdefault(row.vulnerability_id, []).append(
                facts_of_row(row.source, row.summary, row.withdrawn_at, row.modified_at,
                             fresh.get(key), documents.get(key))
            )  # fmt: skip
    keys: list[str] = []
    changes: list[dict[str, Any]] = []
    for current in _current(session, wanted):
        best = best_of(facts.get(current["id"], []))
        if any(current[name] != value for name, value in best.items()):
            changes.append({"id": current["id"], **best})
        keys.append(current["key"])
    if changes:
        session.execute(update(Vulnerability), changes)
        for held in list(session.identity_map.values()):  # bulk updates bypass loaded objects
            if isinstance(held, Vulnerability):
                session.expire(held)
    return sorted(keys)


def _documents(session: Session, keys: Sequence[RecordKey]) -> dict[RecordKey, dict[str, Any]]:
    found: dict[RecordKey, dict[str, Any]] = {}
    for source, ids in _by_source(keys):
        rows = session.execute(
            select(Advisory.source_id, Advisory.document).where(
                Advisory.source == source, Advisory.source_id.in_(ids)
            )
        )
        found.update({(source, r.source_id): r.document for r in rows})
    return found


_SHOWN = (
    Vulnerability.summary,
    Vulnerability.severity,
    Vulnerability.cvss_score,
    Vulnerability.cvss_vector,
    Vulnerability.published_at,
    Vulnerability.modified_at,
    Vulnerability.withdrawn_at,
)


def _current(session: Session, ids: Sequence[int]) -> list[dict[str, Any]]:
    """Id, key and the shown columns of each vulnerability, as stored."""
    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(Vulnerability.id, Vulnerability.key, *_SHOWN).where(
                Vulnerability.id.in_(ids[start : start + CHUNK])
            )
        )
        found.extend(dict(row._mapping) for row in rows)
    return found


def _audit(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    batch: Sequence[ParsedAdvisory],
    changed: Sequence[ParsedAdvisory],
    summary: ImportSummary,
) -> None:
    """One summary event; its object id is a digest of every record of the batch."""
    lines = sorted(f"{_label(a)} {a.content_sha256}" for a in batch)
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    labels = sorted(_label(a) for a in changed)
    payload = {
        "records": len(batch),
        "records_sha256": digest,
        **{k: v for k, v in summary.as_dict().items() if k not in {"ignored", "vulnerabilities"}},
        "ignored": len(summary.ignored),
        "changed": labels[:AUDIT_LISTED],
        "changed_total": len(labels),
    }
    audit.record(
        session,
        NewEvent(
            principal.actor, principal.org_id, IMPORTED_EVENT, "advisory_import", digest, payload
        ),
    )
