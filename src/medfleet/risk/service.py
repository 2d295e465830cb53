"""Risk-file use cases: the matrix, the current file, deltas as the assessment reads them, and
merging a released change request's delta. Proposing changes: ``medfleet.risk.proposals``.

Every use case runs in the caller's one transaction and records an audit event for every state
change in it. The risk file belongs to the manufacturer: hospital staff get ``NotFound`` for
any key and empty lists. Any manufacturer user may read; admins and QA/RA set the matrix.

Functions taking ``org_id`` instead of a principal (``matrix_for``, ``current_file``,
``delta_for``, ``analysis_for``, ``apply_delta``, ``control_keys``) are for other services,
which have already authorised their caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.changes.errors import ChangeRequestNotFoundError
from medfleet.changes.tables import ChangeRequest
from medfleet.risk.errors import (
    DeltaClosedError,
    InvalidItemError,
    RiskItemNotFoundError,
    RiskMatrixNotFoundError,
    RiskNotAllowedError,
)
from medfleet.risk.items import Item, ItemKind, item_from_content, normal_key, sort_key
from medfleet.risk.matrix import DEFAULT_MATRIX
from medfleet.risk.model import (
    DeltaAction,
    DeltaAnalysis,
    DeltaEntry,
    RiskDelta,
    RiskFile,
    RiskMatrix,
)
from medfleet.risk.render import file_document
from medfleet.risk.tables import RiskDeltaEntryRow, RiskItemRow, RiskMatrixRow

MATRIX_ROLES = (Role.ADMIN, Role.QA_RA)
OPEN_STATES = frozenset({"draft", "impact_analysis", "assessment", "implementation"})
CLOSED_STATES = frozenset({"released", "rejected", "withdrawn"})


def check_staff(principal: Principal) -> None:
    """Refuse hospital staff as if nothing existed.

    Raises:
        RiskItemNotFoundError: the caller is not manufacturer staff.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER:
        raise RiskItemNotFoundError("the risk file belongs to the manufacturer")


# --- the matrix -------------------------------------------------------------------------------


def matrix_for(session: Session, org_id: int) -> RiskMatrix:
    """The organization's matrix, or ``DEFAULT_MATRIX`` when it configured none."""
    row = session.scalar(select(RiskMatrixRow).where(RiskMatrixRow.org_id == org_id))
    return DEFAULT_MATRIX if row is None else RiskMatrix.from_dict(row.doc)


def get_matrix(session: Session, principal: Principal) -> RiskMatrix:
    """The caller's organization's matrix (the default until one is set).

    Raises:
        RiskMatrixNotFoundError: the caller is hospital staff.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER:
        raise RiskMatrixNotFoundError("the risk matrix belongs to the manufacturer")
    return matrix_for(session, principal.org_id)


def set_matrix(
    session: Session, audit: AuditLog, principal: Principal, matrix: RiskMatrix
) -> RiskMatrix:
    """Configure the organization's matrix; it judges every residual risk from now on.

    Raises:
        RiskMatrixNotFoundError: hospital staff.
        RiskNotAllowedError: the caller is neither admin nor QA/RA.
    """
    before = get_matrix(session, principal)
    if not principal.has_any(*MATRIX_ROLES):
        raise RiskNotAllowedError("configuring the risk matrix needs admin or qa_ra")
    row = session.scalar(select(RiskMatrixRow).where(RiskMatrixRow.org_id == principal.org_id))
    now = audit.clock.now()
    if row is None:
        row = RiskMatrixRow(org_id=principal.org_id)
        session.add(row)
    row.doc, row.updated_by, row.updated_at = matrix.as_dict(), principal.actor, now
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "risk.matrix_configured",
            "risk_matrix",
            str(row.id),
            {"before": before.as_dict(), "after": matrix.as_dict()},
        ),
    )
    return matrix


# --- the current file -------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemRecord:
    """The current version of an item and where it came from."""

    item: Item
    version: int
    change_request_id: int | None
    created_by: str
    created_at: datetime


def _latest_rows(session: Session, org_id: int) -> list[RiskItemRow]:
    latest = (
        select(RiskItemRow.key, func.max(RiskItemRow.version).label("version"))
        .where(RiskItemRow.org_id == org_id)
        .group_by(RiskItemRow.key)
        .subquery()
    )
    return list(
        session.scalars(
            select(RiskItemRow)
            .join(
                latest,
                and_(RiskItemRow.key == latest.c.key, RiskItemRow.version == latest.c.version),
            )
            .where(RiskItemRow.org_id == org_id)
        )
    )


def _item(row: RiskItemRow) -> Item:
    return item_from_content(ItemKind(row.kind), row.key, row.content)


def current_records(session: Session, org_id: int) -> dict[str, ItemRecord]:
    """The current (latest, not retired) version of every item, by key."""
    return {
        row.key: ItemRecord(
            _item(row), row.version, row.change_request_id, row.created_by, row.created_at
        )
        for row in _latest_rows(session, org_id)
        if not row.retired
    }


def current_file(session: Session, org_id: int) -> RiskFile:
    """The released risk file of the organization."""
    return RiskFile.of(record.item for record in current_records(session, org_id).values())


def list_items(session: Session, principal: Principal) -> list[ItemRecord]:
    """The current items in key order; empty for hospital staff."""
    if principal.org_kind is not OrgKind.MANUFACTURER:
        return []
    records = current_records(session, principal.org_id)
    return [records[key] for key in sorted(records, key=sort_key)]


def get_item(session: Session, principal: Principal, key: str) -> ItemRecord:
    """The current version of one item.

    Raises:
        RiskItemNotFoundError: hospital staff, malformed key, never released or removed.
    """
    check_staff(principal)
    try:
        canonical = normal_key(key)
    except InvalidItemError as exc:
        raise RiskItemNotFoundError(str(exc)) from None
    record = current_records(session, principal.org_id).get(canonical)
    if record is None:
        raise RiskItemNotFoundError(f"{canonical} is not in the risk file")
    return record


# --- deltas -----------------------------------------------------------------------------------


def change_in_org(session: Session, org_id: int, change_request_id: int) -> ChangeRequest:
    """The change request with this id, if it belongs to ``org_id``.

    Raises:
        ChangeRequestNotFoundError: no such change request in the organization.
    """
    change = session.get(ChangeRequest, change_request_id)
    if change is None or change.org_id != org_id:
        raise ChangeRequestNotFoundError(f"change request {change_request_id} not found")
    return change


def state_of(change: ChangeRequest) -> str:
    """The change request's state, read defensively (``draft`` while the column is missing)."""
    return str(getattr(change, "state", "draft") or "draft")


def delta_rows(session: Session, change_request_id: int) -> list[RiskDeltaEntryRow]:
    """A change request's delta entries as stored."""
    return list(
        session.scalars(
            select(RiskDeltaEntryRow).where(
                RiskDeltaEntryRow.change_request_id == change_request_id
            )
        )
    )


def entry_of(row: RiskDeltaEntryRow) -> DeltaEntry:
    """The model entry of a stored row."""
    kind = ItemKind(row.kind)
    return DeltaEntry(
        kind=kind,
        key=row.key,
        action=DeltaAction(row.action),
        before=None if row.before is None else item_from_content(kind, row.key, row.before),
        after=None if row.after is None else item_from_content(kind, row.key, row.after),
    )


def delta_for(session: Session, org_id: int, change_request_id: int) -> RiskDelta:
    """What a change request does to the risk file (empty when it proposes nothing).

    Raises:
        ChangeRequestNotFoundError: no such change request in the organization.
    """
    change_in_org(session, org_id, change_request_id)
    return RiskDelta(tuple(entry_of(row) for row in delta_rows(session, change_request_id)))


def analysis_for(session: Session, org_id: int, change_request_id: int) -> DeltaAnalysis:
    """The change request's delta analysed against the current file with the org's matrix.

    Raises:
        ChangeRequestNotFoundError: no such change request in the organization.
    """
    delta = delta_for(session, org_id, change_request_id)
    return delta.analyse(current_file(session, org_id), matrix_for(session, org_id))


def is_applied(session: Session, change_request_id: int) -> bool:
    """True once the change request's delta was merged into the file."""
    found = session.scalar(
        select(RiskItemRow.id).where(RiskItemRow.change_request_id == change_request_id).limit(1)
    )
    return found is not None


def apply_delta(
    session: Session, audit: AuditLog, org_id: int, change_request_id: int, actor: str
) -> dict[str, int]:
    """Merge a change request's delta into the file as new item versions (at its release).

    Returns each touched key's new version (a removal is a retired version). Atomic: either
    every entry is merged or, on error, none.

    Raises:
        ChangeRequestNotFoundError: no such change request in the organization.
        DeltaClosedError: the delta was merged already.
        StaleDeltaError: an item changed in the file since it was proposed (propose it again).
        InvalidDeltaError: the merged file would have dangling references.
    """
    change = change_in_org(session, org_id, change_request_id)
    if is_applied(session, change_request_id):
        raise DeltaClosedError(f"the risk delta of {change.key} was merged already")
    delta = delta_for(session, org_id, change_request_id)
    delta.apply_to(current_file(session, org_id))  # raises when stale or dangling
    versions = {row.key: row.version for row in _latest_rows(session, org_id)}
    now = audit.clock.now()
    created: dict[str, int] = {}
    events = []
    for entry in delta.entries:
        item = entry.after if entry.after is not None else entry.before
        assert item is not None
        version = versions.get(entry.key, 0) + 1
        session.add(
            RiskItemRow(
                org_id=org_id,
                key=entry.key,
                kind=entry.kind.value,
                version=version,
                content=item.content(),
                retired=entry.action is DeltaAction.REMOVED,
                change_request_id=change_request_id,
                created_by=actor,
                created_at=now,
            )
        )
        created[entry.key] = version
        events.append(
            NewEvent(
                actor,
                org_id,
                f"risk.item_{entry.action.value}",
                "risk_item",
                entry.key,
                {"change_request": change.key, "version": version, "content": item.content()},
            )
        )
    events.append(
        NewEvent(
            actor,
            org_id,
            "risk.delta_applied",
            "change_request",
            str(change.id),
            {"change_request": change.key, "versions": dict(created)},
        )
    )
    session.flush()
    audit.record_many(session, events)
    return created


def control_keys(session: Session, org_id: int) -> set[str]:
    """Controls in the current file plus controls proposed in any open change request's delta
    (one neither merged nor rejected/withdrawn); removals proposed do not count yet."""
    keys = {
        key
        for key, record in current_records(session, org_id).items()
        if record.item.item_kind is ItemKind.CONTROL
    }
    rows = session.execute(
        select(RiskDeltaEntryRow, ChangeRequest)
        .join(ChangeRequest, ChangeRequest.id == RiskDeltaEntryRow.change_request_id)
        .where(
            RiskDeltaEntryRow.org_id == org_id,
            RiskDeltaEntryRow.kind == ItemKind.CONTROL.value,
            RiskDeltaEntryRow.action == DeltaAction.ADDED.value,
        )
    ).all()
    for row, change in rows:
        if state_of(change) not in CLOSED_STATES and not is_applied(session, change.id):
            keys.add(row.key)
    return keys


def export_file(session: Session, principal: Principal) -> dict[str, Any]:
    """The whole risk file as one JSON-ready document: matrix, items with residual risk, and
    what is incomplete (``problems``).

    Raises:
        RiskItemNotFoundError: hospital staff.
    """
    check_staff(principal)
    matrix = matrix_for(session, principal.org_id)
    return file_document(list_items(session, principal), matrix)
