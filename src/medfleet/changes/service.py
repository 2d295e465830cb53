"""Change request use cases: create, edit, read, list, e-sign. Manufacturer staff only.

Editing a signed change request keeps its signatures but they show as invalid, because the
content they were bound to is gone: it must be signed again.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.accounts.signatures import Meaning, apply_signature
from medfleet.accounts.tables import ElectronicSignature
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.changes.access import AUTHOR_ROLES, check_staff
from medfleet.changes.errors import (
    ChangeNotAllowedError,
    ChangeRequestNotFoundError,
    ChangeStateError,
    InvalidChangeRequestError,
)
from medfleet.changes.model import EDITABLE
from medfleet.changes.numbering import find_by_key, next_number
from medfleet.changes.tables import ChangeRequest

MAX_TITLE = 300


def _clean(title: str, description: str) -> tuple[str, str]:
    title = title.strip()
    if not title:
        raise InvalidChangeRequestError("a change request needs a title")
    if len(title) > MAX_TITLE:
        raise InvalidChangeRequestError(f"title is longer than {MAX_TITLE} characters")
    return title, description.strip()


def create(
    session: Session, audit: AuditLog, principal: Principal, title: str, description: str
) -> ChangeRequest:
    """Open a change request authored by the caller.

    Raises:
        ChangeRequestNotFoundError: the caller is hospital staff.
        ChangeNotAllowedError: the caller may not author change requests.
        InvalidChangeRequestError: empty or overlong title.
    """
    check_staff(principal)
    if not principal.has_any(*AUTHOR_ROLES):
        raise ChangeNotAllowedError("authoring a change request needs engineer, qa_ra or admin")
    title, description = _clean(title, description)
    number = next_number(session, ChangeRequest, principal.org_id)
    now = audit.clock.now()
    change = ChangeRequest(
        org_id=principal.org_id,
        number=number,
        title=title,
        description=description,
        author_id=principal.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(change)
    session.flush()
    session.refresh(change, ["author"])
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "change_request.created",
            "change_request",
            str(change.id),
            {"key": change.key, "title": title},
        ),
    )
    return change


def require_editable(change: ChangeRequest) -> None:
    """Refuse content changes once a change request is past implementation.

    Raises:
        ChangeStateError: the state is verification or later.
    """
    if change.status not in EDITABLE:
        raise ChangeStateError(
            f"{change.key} is in {change.state}: its content is frozen "
            "(move it back to implementation to change it)"
        )


def get(session: Session, principal: Principal, key_or_id: str) -> ChangeRequest:
    """A change request by ``CR-n`` key or by number, within the caller's organization.

    Raises:
        ChangeRequestNotFoundError: missing, malformed key, or not the caller's organization.
    """
    check_staff(principal)
    return find_by_key(
        session,
        ChangeRequest,
        principal.org_id,
        key_or_id,
        "CR",
        "change request",
        ChangeRequestNotFoundError,
    )


def list_all(session: Session, principal: Principal) -> list[ChangeRequest]:
    """The caller's organization's change requests, newest first (empty for hospitals)."""
    if principal.org_kind is not OrgKind.MANUFACTURER:
        return []
    return list(
        session.scalars(
            select(ChangeRequest)
            .where(ChangeRequest.org_id == principal.org_id)
            .order_by(ChangeRequest.number.desc())
        )
    )


def edit(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    key: str,
    title: str | None = None,
    description: str | None = None,
) -> ChangeRequest:
    """Change the title and/or description; existing signatures stop being valid.

    Raises:
        ChangeRequestNotFoundError, ChangeNotAllowedError, InvalidChangeRequestError.
    """
    change = get(session, principal, key)
    if not principal.has_any(*AUTHOR_ROLES):
        raise ChangeNotAllowedError("editing a change request needs engineer, qa_ra or admin")
    require_editable(change)
    new_title, new_description = _clean(
        title if title is not None else change.title,
        description if description is not None else change.description,
    )
    before = {"title": change.title, "description": change.description}
    change.title, change.description = new_title, new_description
    change.updated_at = audit.clock.now()
    signed = (
        session.scalar(
            select(func.count())
            .select_from(ElectronicSignature)
            .where(
                ElectronicSignature.record_type == change.record_type,
                ElectronicSignature.record_id == change.record_id,
            )
        )
        or 0
    )
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "change_request.edited",
            "change_request",
            str(change.id),
            {
                "key": change.key,
                "before": before,
                "after": {"title": new_title, "description": new_description},
                "signatures_invalidated": signed,
            },
        ),
    )
    return change


def sign(
    session: Session,
    audit: AuditLog,
    signer: Principal,
    key: str,
    meaning: Meaning,
    comment: str | None = None,
) -> ElectronicSignature:
    """E-sign a change request; the caller has re-authenticated ``signer`` for this request.

    Raises:
        ChangeRequestNotFoundError and the errors of ``apply_signature``.
    """
    change = get(session, signer, key)
    return apply_signature(session, audit, signer, change, meaning, comment)
