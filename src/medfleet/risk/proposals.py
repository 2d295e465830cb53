"""Proposing risk-file changes within a change request: add, modify, remove, withdraw.

Each call is one use case in the caller's transaction with one audit event, and changes nothing
when it refuses. Engineers, QA/RA and admins of the manufacturer propose, while the change
request's state is draft, impact_analysis, assessment or implementation (the state is read with
``getattr(change, "state", "draft")`` while that column is being introduced) and its delta has
not been merged. A key (H-n, HS-n, RC-n) is allocated when an item is first proposed and never
reused. Proposing again on a key of the same change request updates its one delta entry; an
item added and then removed in the same change request disappears from the delta.

Refused: a reference to an item that is neither in the file nor in the same delta, a
modification that changes nothing, removing a hazard that situations still use or a situation
that controls still act on, and a situation whose stated residual risk is unacceptable without
a benefit-risk analysis (ISO 14971 §7.4).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal, Role
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.changes import service as changes
from medfleet.changes.tables import ChangeRequest
from medfleet.risk import service
from medfleet.risk.errors import (
    DeltaClosedError,
    InvalidDeltaError,
    InvalidItemError,
    RiskItemNotFoundError,
    RiskNotAllowedError,
)
from medfleet.risk.items import (
    PREFIXES,
    HazardousSituation,
    Item,
    ItemKind,
    item_from_content,
    normal_key,
    with_changes,
)
from medfleet.risk.model import DeltaAnalysis, DeltaEntry, RiskDelta, RiskFile
from medfleet.risk.tables import RiskDeltaEntryRow, RiskKeySequence

AUTHOR_ROLES = (Role.ENGINEER, Role.QA_RA, Role.ADMIN)


@dataclass(frozen=True)
class DeltaView:
    """A change request's delta as people read it: entries, analysis, what blocks merging."""

    change_request: str
    change_request_id: int
    state: str
    open: bool
    applied: bool
    delta: RiskDelta
    analysis: DeltaAnalysis
    stale: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "change_request": self.change_request,
            "change_request_id": self.change_request_id,
            "state": self.state,
            "open": self.open,
            "applied": self.applied,
            "entries": [entry.as_dict() for entry in self.delta.entries],
            "analysis": self.analysis.as_dict(),
            "stale": list(self.stale),
        }


def delta_view(session: Session, principal: Principal, change_key: str) -> DeltaView:
    """A change request's delta with its analysis against the current file.

    Raises:
        ChangeRequestNotFoundError: hospital staff, or no such change request.
    """
    change = changes.get(session, principal, change_key)
    delta = service.delta_for(session, change.org_id, change.id)
    file = service.current_file(session, change.org_id)
    applied = service.is_applied(session, change.id)
    state = service.state_of(change)
    return DeltaView(
        change_request=change.key,
        change_request_id=change.id,
        state=state,
        open=state in service.OPEN_STATES and not applied,
        applied=applied,
        delta=delta,
        analysis=delta.analyse(file, service.matrix_for(session, change.org_id)),
        stale=() if applied else tuple(delta.stale_keys(file)),
    )


@dataclass
class _Context:
    session: Session
    audit: AuditLog
    principal: Principal
    change: ChangeRequest
    file: RiskFile
    rows: dict[str, RiskDeltaEntryRow]

    @property
    def delta(self) -> RiskDelta:
        return RiskDelta(tuple(service.entry_of(row) for row in self.rows.values()))

    def latest(self, key: str) -> Item | None:
        """The item as this change request currently proposes it (or as the file has it)."""
        row = self.rows.get(key)
        if row is None:
            return self.file.get(key)
        entry = service.entry_of(row)
        return entry.after


def _open(session: Session, audit: AuditLog, principal: Principal, change_key: str) -> _Context:
    service.check_staff(principal)
    if not principal.has_any(*AUTHOR_ROLES):
        raise RiskNotAllowedError("proposing risk-file changes needs engineer, qa_ra or admin")
    change = changes.get(session, principal, change_key)
    state = service.state_of(change)
    if state not in service.OPEN_STATES:
        raise DeltaClosedError(f"{change.key} is {state}: its risk delta can no longer change")
    if service.is_applied(session, change.id):
        raise DeltaClosedError(f"the risk delta of {change.key} was merged already")
    rows = {row.key: row for row in service.delta_rows(session, change.id)}
    return _Context(
        session, audit, principal, change, service.current_file(session, change.org_id), rows
    )


def _allocate(session: Session, org_id: int, kind: ItemKind) -> str:
    prefix = PREFIXES[kind]
    counter = session.scalar(
        select(RiskKeySequence)
        .where(RiskKeySequence.org_id == org_id, RiskKeySequence.prefix == prefix)
        .with_for_update()
    )
    if counter is None:
        counter = RiskKeySequence(org_id=org_id, prefix=prefix, last=0)
        session.add(counter)
    counter.last += 1
    session.flush()
    return f"{prefix}-{counter.last}"


def _check_residual(item: Item | None, ctx: _Context) -> None:
    if not isinstance(item, HazardousSituation) or item.benefit_risk:
        return
    severity, probability = item.residual_severity, item.residual_probability
    if severity is None or probability is None:
        return
    matrix = service.matrix_for(ctx.session, ctx.change.org_id)
    if not matrix.acceptable(severity, probability):
        raise InvalidDeltaError(
            f"{item.key}: the residual risk ({matrix.severity_name(severity)} x "
            f"{matrix.probability_name(probability)}) is unacceptable: "
            "reduce it further or give a benefit_risk analysis (ISO 14971 §7.4)"
        )


def _dependents(ctx: _Context, proposed: RiskFile, key: str) -> list[str]:
    item = ctx.latest(key)
    if item is None:
        return []
    if item.item_kind is ItemKind.HAZARD:
        return [s.key for s in proposed.situations_of(key)]
    if item.item_kind is ItemKind.SITUATION:
        return [c.key for c in proposed.controls_of(key)]
    return []


def _set(ctx: _Context, key: str, after: Item | None, what: str) -> DeltaEntry | None:
    """Make the delta turn the file's ``key`` into ``after``; validate; store; audit."""
    row = ctx.rows.get(key)
    before = service.entry_of(row).before if row is not None else ctx.file.get(key)
    entry = None if what == "withdrawn" else DeltaEntry.between(before, after)
    old_errors = set(ctx.delta.overlay(ctx.file).reference_errors())
    new_rows = {k: v for k, v in ctx.rows.items() if k != key}
    entries = [service.entry_of(r) for r in new_rows.values()]
    proposed = RiskDelta(tuple(entries + ([entry] if entry else []))).overlay(ctx.file)
    if after is None:
        users = _dependents(ctx, proposed, key)
        if users:
            raise InvalidDeltaError(
                f"{key} is still used by {', '.join(users)}: remove or change those first"
            )
    new_errors = [e for e in proposed.reference_errors() if e not in old_errors]
    if new_errors:
        raise InvalidDeltaError("; ".join(new_errors) + " (in the file or this change request)")
    _check_residual(after, ctx)
    now = ctx.audit.clock.now()
    if entry is None:
        if row is not None:
            ctx.session.delete(row)
    else:
        if row is None:
            current = service.current_records(ctx.session, ctx.change.org_id).get(key)
            row = RiskDeltaEntryRow(
                org_id=ctx.change.org_id,
                change_request_id=ctx.change.id,
                kind=entry.kind.value,
                key=key,
                base_version=None if current is None else current.version,
            )
            ctx.session.add(row)
        row.action = entry.action.value
        row.before = None if entry.before is None else entry.before.content()
        row.after = None if entry.after is None else entry.after.content()
        row.author, row.updated_at = ctx.principal.actor, now
    ctx.session.flush()
    ctx.audit.record(
        ctx.session,
        NewEvent(
            ctx.principal.actor,
            ctx.principal.org_id,
            f"risk.delta_{what}",
            "change_request",
            str(ctx.change.id),
            {
                "change_request": ctx.change.key,
                "key": key,
                "entry": None if entry is None else entry.as_dict(),
            },
        ),
    )
    return entry


def propose_addition(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    change_key: str,
    kind: ItemKind,
    fields: Mapping[str, Any],
) -> DeltaEntry:
    """Add a new hazard, situation or control under a fresh key.

    Raises:
        RiskItemNotFoundError / ChangeRequestNotFoundError: hospital staff; no such CR.
        RiskNotAllowedError: not engineer, QA/RA or admin.
        DeltaClosedError: the change request no longer takes risk changes.
        InvalidItemError: a field is missing or malformed.
        InvalidDeltaError: a reference to nothing, or an unjustified unacceptable residual risk.
    """
    ctx = _open(session, audit, principal, change_key)
    key = _allocate(session, ctx.change.org_id, kind)
    entry = _set(ctx, key, item_from_content(kind, key, fields), "proposed")
    assert entry is not None
    return entry


def _existing(ctx: _Context, key: str) -> tuple[str, Item]:
    try:
        canonical = normal_key(key)
    except InvalidItemError as exc:
        raise RiskItemNotFoundError(str(exc)) from None
    item = ctx.latest(canonical)
    if item is None:
        if canonical in ctx.rows:
            raise InvalidDeltaError(
                f"{canonical} is proposed for removal in {ctx.change.key}; withdraw that first"
            )
        raise RiskItemNotFoundError(
            f"{canonical} is neither in the risk file nor proposed in {ctx.change.key}"
        )
    return canonical, item


def propose_modification(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    change_key: str,
    key: str,
    changes_: Mapping[str, Any],
) -> DeltaEntry | None:
    """Change fields of an item (as the file or this change request has it); ``None`` in
    ``changes_`` clears an optional field. Returns ``None`` when the item is back as released.

    Raises:
        RiskItemNotFoundError: no such item in the file or the delta (or hospital staff).
        InvalidDeltaError: nothing would change; a reference to nothing; the item is proposed
            for removal; an unjustified unacceptable residual risk.
        and those of ``propose_addition``.
    """
    ctx = _open(session, audit, principal, change_key)
    canonical, item = _existing(ctx, key)
    changed = with_changes(item, changes_)
    if changed == item:
        raise InvalidDeltaError(f"the modification of {canonical} changes nothing")
    return _set(ctx, canonical, changed, "proposed")


def propose_removal(
    session: Session, audit: AuditLog, principal: Principal, change_key: str, key: str
) -> DeltaEntry | None:
    """Remove an item; one added in this same change request simply leaves the delta (``None``).

    Raises:
        RiskItemNotFoundError: no such item (or hospital staff).
        InvalidDeltaError: situations still use the hazard, or controls still act on the
            situation.
        and those of ``propose_addition``.
    """
    ctx = _open(session, audit, principal, change_key)
    canonical, _item = _existing(ctx, key)
    return _set(ctx, canonical, None, "proposed")


def withdraw(
    session: Session, audit: AuditLog, principal: Principal, change_key: str, key: str
) -> None:
    """Drop this change request's proposal for ``key``: the item is as released again.

    Raises:
        RiskItemNotFoundError: the delta has no entry for ``key`` (or hospital staff).
        InvalidDeltaError: other proposals still need what it adds.
        and those of ``propose_addition``.
    """
    ctx = _open(session, audit, principal, change_key)
    try:
        canonical = normal_key(key)
    except InvalidItemError as exc:
        raise RiskItemNotFoundError(str(exc)) from None
    if canonical not in ctx.rows:
        raise RiskItemNotFoundError(f"{ctx.change.key} proposes nothing for {canonical}")
    _set(ctx, canonical, ctx.file.get(canonical), "withdrawn")
