"""Moving a change request through its life, and classifying it during impact analysis.

Every transition goes through ``model.check_transition`` and then the gate of the state it
leaves: impact analysis needs a class, a device model and the software items touched; the
regulatory assessment needs a current, QA/RA-signed assessment; ``released`` is reached only
when a release record that includes the change is signed into the image repository
(``mark_released``), never by hand. Each move is one audit event with the reason given.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.changes import assessment_status, service
from medfleet.changes import items as software_items
from medfleet.changes.access import AUTHOR_ROLES, DECIDER_ROLES, require_role
from medfleet.changes.errors import ChangeStateError, InvalidChangeRequestError
from medfleet.changes.model import (
    ChangeClass,
    ChangeState,
    TransitionNotAllowed,
    check_transition,
)
from medfleet.changes.tables import ChangeRequest

MAX_MODEL = 64
MAX_REASON = 2000


def parse_class(value: str) -> ChangeClass:
    """A change class from its name.

    Raises:
        InvalidChangeRequestError: not minor, major, cybersecurity or ai_model.
    """
    try:
        return ChangeClass(value.strip().lower().replace("-", "_"))
    except ValueError:
        known = ", ".join(c.value for c in ChangeClass)
        raise InvalidChangeRequestError(
            f"unknown change class {value!r} (known: {known})"
        ) from None


def parse_state(value: str) -> ChangeState:
    """A change-request state from its name.

    Raises:
        InvalidChangeRequestError: no such state.
    """
    try:
        return ChangeState(value.strip().lower().replace("-", "_"))
    except ValueError:
        known = ", ".join(s.value for s in ChangeState)
        raise InvalidChangeRequestError(f"unknown state {value!r} (known: {known})") from None


def classify(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    key: str,
    change_class: ChangeClass,
    device_model: str,
    item_names: Sequence[str],
) -> ChangeRequest:
    """Set the class, the device model and the software items a change touches.

    The change's IEC 62304 safety class follows from the items (the highest of them).

    Raises:
        ChangeRequestNotFoundError, ChangeNotAllowedError, SoftwareItemNotFoundError,
        InvalidChangeRequestError: no items or a bad model name,
        ChangeStateError: the change is frozen (verification or later).
    """
    change = service.get(session, principal, key)
    require_role(principal, AUTHOR_ROLES, "classifying a change request")
    service.require_editable(change)
    model = device_model.strip()
    if not model or len(model) > MAX_MODEL or "/" in model:
        raise InvalidChangeRequestError(f"device model must be 1-{MAX_MODEL} characters, no '/'")
    if not item_names:
        raise InvalidChangeRequestError("name at least one software item the change touches")
    chosen = software_items.get_items(session, principal, list(item_names))
    before = {
        "change_class": change.change_class,
        "device_model": change.device_model,
        "software_items": [item.name for item in change.items],
    }
    change.change_class = change_class.value
    change.device_model = model
    change.items = chosen
    change.updated_at = audit.clock.now()
    safety = change.safety_class
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "change_request.classified",
            "change_request",
            str(change.id),
            {
                "key": change.key,
                "before": before,
                "after": {
                    "change_class": change_class.value,
                    "device_model": model,
                    "software_items": [item.name for item in chosen],
                    "safety_class": safety.value if safety else None,
                },
            },
        ),
    )
    return change


def _gate(
    session: Session,
    change: ChangeRequest,
    target: ChangeState,
    trusted_keys: dict[str, Ed25519PublicKey],
) -> list[str]:
    """What is missing before ``change`` may leave its state towards ``target``."""
    current = change.status
    if target in (ChangeState.REJECTED, ChangeState.WITHDRAWN) or (
        target is not ChangeState.RELEASED
        and list(ChangeState).index(target) < list(ChangeState).index(current)
    ):
        return []
    missing = []
    if current is ChangeState.IMPACT_ANALYSIS:
        if change.kind is None:
            missing.append("a change class (minor, major, cybersecurity, ai_model)")
        if change.device_model is None:
            missing.append("the device model it changes")
        if not change.items:
            missing.append("the software items it touches (their safety class)")
    if current is ChangeState.ASSESSMENT:
        missing += assessment_status.assessment_missing(session, change, trusted_keys)
    return missing


def move(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    key: str,
    target: ChangeState,
    trusted_keys: dict[str, Ed25519PublicKey],
    reason: str = "",
) -> ChangeRequest:
    """Move a change request to ``target`` if the state machine and the gate allow it.

    Rejecting needs QA/RA or an admin; ``released`` cannot be set by hand. ``trusted_keys``
    (``Runtime.trusted_keys()``) check the e-signatures a gate asks for.

    Raises:
        ChangeRequestNotFoundError, ChangeNotAllowedError,
        ChangeStateError: no such transition, ``released`` asked for, or the gate lists
            what is missing.
    """
    change = service.get(session, principal, key)
    roles = DECIDER_ROLES if target is ChangeState.REJECTED else AUTHOR_ROLES
    require_role(principal, roles, f"moving a change request to {target.value}")
    if target is ChangeState.RELEASED:
        raise ChangeStateError(
            f"{change.key} becomes released when a release record that includes it is "
            "published, not by hand"
        )
    if len(reason) > MAX_REASON:
        raise InvalidChangeRequestError(f"reason is longer than {MAX_REASON} characters")
    try:
        check_transition(change.status, target)
    except TransitionNotAllowed as exc:
        raise ChangeStateError(str(exc)) from None
    missing = _gate(session, change, target, trusted_keys)
    if missing:
        raise ChangeStateError(
            f"{change.key} cannot leave {change.state} yet; missing: " + "; ".join(missing)
        )
    _record_move(session, audit, principal.actor, principal.org_id, change, target, reason)
    return change


def mark_released(
    session: Session, audit: AuditLog, actor: str, change: ChangeRequest, release_label: str
) -> None:
    """Mark ``change`` released because ``release_label`` was signed into the repository.

    Called by release publishing in its own transaction.

    Raises:
        ChangeStateError: the change is not in approval.
    """
    try:
        check_transition(change.status, ChangeState.RELEASED)
    except TransitionNotAllowed as exc:
        raise ChangeStateError(str(exc)) from None
    _record_move(
        session, audit, actor, change.org_id, change, ChangeState.RELEASED, f"in {release_label}"
    )


def _record_move(
    session: Session,
    audit: AuditLog,
    actor: str,
    org_id: int,
    change: ChangeRequest,
    target: ChangeState,
    reason: str,
) -> None:
    before = change.state
    change.state = target.value
    change.updated_at = audit.clock.now()
    audit.record(
        session,
        NewEvent(
            actor,
            org_id,
            "change_request.moved",
            "change_request",
            str(change.id),
            {"key": change.key, "from": before, "to": target.value, "reason": reason.strip()},
        ),
    )
