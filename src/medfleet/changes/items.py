"""Software items (IEC 62304 §5.3) and their safety classes: the register change requests cite.

A change request's safety class is the highest class of the items it touches, so an item's
class can only be raised or lowered by QA/RA or an admin, and every change is audited.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.changes.access import DECIDER_ROLES, check_staff, require_role
from medfleet.changes.errors import (
    DuplicateSoftwareItemError,
    InvalidChangeRequestError,
    SoftwareItemNotFoundError,
)
from medfleet.changes.model import SafetyClass
from medfleet.changes.tables import SoftwareItem

MAX_NAME = 120


def parse_safety_class(value: str) -> SafetyClass:
    """``A``, ``B`` or ``C`` (any case).

    Raises:
        InvalidChangeRequestError: anything else.
    """
    try:
        return SafetyClass(value.strip().upper())
    except ValueError:
        raise InvalidChangeRequestError(
            f"unknown software safety class {value!r} (IEC 62304: A, B or C)"
        ) from None


def register(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    name: str,
    safety_class: SafetyClass,
    description: str = "",
) -> SoftwareItem:
    """Add a software item with its safety class (QA/RA or admin).

    Raises:
        ChangeRequestNotFoundError: hospital staff. ChangeNotAllowedError: wrong role.
        InvalidChangeRequestError: empty or overlong name.
        DuplicateSoftwareItemError: the name is taken.
    """
    check_staff(principal, "software items")
    require_role(principal, DECIDER_ROLES, "registering a software item")
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidChangeRequestError(f"a software item needs a name of 1-{MAX_NAME} characters")
    if _find(session, principal.org_id, name) is not None:
        raise DuplicateSoftwareItemError(f"software item {name!r} exists already")
    item = SoftwareItem(
        org_id=principal.org_id,
        name=name,
        safety_class=safety_class.value,
        description=description.strip(),
        created_at=audit.clock.now(),
    )
    session.add(item)
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "software_item.registered",
            "software_item",
            str(item.id),
            {"name": name, "safety_class": safety_class.value},
        ),
    )
    return item


def _find(session: Session, org_id: int, name: str) -> SoftwareItem | None:
    return session.scalar(
        select(SoftwareItem).where(SoftwareItem.org_id == org_id, SoftwareItem.name == name)
    )


def get_items(session: Session, principal: Principal, names: list[str]) -> list[SoftwareItem]:
    """The named items of the caller's organization, in the order given, without repeats.

    Raises:
        SoftwareItemNotFoundError: a name is not registered (all unknown names are listed).
    """
    check_staff(principal, "software items")
    found: dict[str, SoftwareItem] = {}
    missing = []
    for name in dict.fromkeys(n.strip() for n in names):
        item = _find(session, principal.org_id, name)
        if item is None:
            missing.append(name)
        else:
            found[name] = item
    if missing:
        raise SoftwareItemNotFoundError(
            "unknown software items: " + ", ".join(missing) + " (register them first)"
        )
    return list(found.values())


def list_items(session: Session, principal: Principal) -> list[SoftwareItem]:
    """Every software item of the caller's organization by name (empty for hospitals)."""
    if principal.org_kind is not OrgKind.MANUFACTURER:
        return []
    return list(
        session.scalars(
            select(SoftwareItem)
            .where(SoftwareItem.org_id == principal.org_id)
            .order_by(SoftwareItem.name)
        )
    )
