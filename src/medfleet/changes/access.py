"""Who may do what in change control, checked the same way by every use case."""

from __future__ import annotations

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.changes.errors import ChangeNotAllowedError, ChangeRequestNotFoundError

AUTHOR_ROLES = (Role.ENGINEER, Role.QA_RA, Role.ADMIN)
DECIDER_ROLES = (Role.QA_RA, Role.ADMIN)


def check_staff(principal: Principal, what: str = "change requests") -> None:
    """Only the manufacturer's staff see change control; others get 'not found'.

    Raises:
        ChangeRequestNotFoundError: the caller is hospital staff.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER:
        raise ChangeRequestNotFoundError(f"{what} belong to the manufacturer")


def require_role(principal: Principal, roles: tuple[Role, ...], doing: str) -> None:
    """Refuse a caller without one of ``roles``, naming what they tried.

    Raises:
        ChangeNotAllowedError: none of the roles.
    """
    if not principal.has_any(*roles):
        names = ", ".join(role.value for role in roles)
        raise ChangeNotAllowedError(f"{doing} needs one of the roles: {names}")
