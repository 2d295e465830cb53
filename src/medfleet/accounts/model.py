"""Pure account rules: kinds of organization, roles, who may hold which role, lockout, principal.

No I/O here; services apply these decisions inside their transactions.
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from medfleet.accounts.errors import InvalidInputError


class OrgKind(enum.StrEnum):
    """A manufacturer (the release authority) or a hospital (a customer running devices)."""

    MANUFACTURER = "manufacturer"
    HOSPITAL = "hospital"


class Role(enum.StrEnum):
    """What a user may do; a user holds one or more."""

    ADMIN = "admin"
    ENGINEER = "engineer"
    QA_RA = "qa_ra"
    FLEET_OPERATOR = "fleet_operator"
    HOSPITAL_BIOMED = "hospital_biomed"
    HOSPITAL_IT = "hospital_it"
    AUDITOR = "auditor"


ROLES_BY_KIND: dict[OrgKind, frozenset[Role]] = {
    OrgKind.MANUFACTURER: frozenset(
        {Role.ADMIN, Role.ENGINEER, Role.QA_RA, Role.FLEET_OPERATOR, Role.AUDITOR}
    ),
    OrgKind.HOSPITAL: frozenset({Role.ADMIN, Role.HOSPITAL_BIOMED, Role.HOSPITAL_IT, Role.AUDITOR}),
}

USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{1,62}$")
MIN_PASSWORD_LENGTH = 12


def check_roles_for_kind(kind: OrgKind, roles: frozenset[Role]) -> None:
    """Refuse an empty role set, or a role that this kind of organization cannot hold.

    Raises:
        InvalidInputError: naming the offending roles.
    """
    if not roles:
        raise InvalidInputError("a user needs at least one role")
    wrong = sorted(role.value for role in roles - ROLES_BY_KIND[kind])
    if wrong:
        allowed = ", ".join(sorted(r.value for r in ROLES_BY_KIND[kind]))
        raise InvalidInputError(
            f"role(s) {', '.join(wrong)} not allowed in a {kind.value} organization "
            f"(allowed: {allowed})"
        )


def parse_roles(names: list[str] | tuple[str, ...]) -> frozenset[Role]:
    """Role names to roles.

    Raises:
        InvalidInputError: an unknown role name.
    """
    roles = set()
    for name in names:
        try:
            roles.add(Role(name.strip()))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise InvalidInputError(f"unknown role {name!r} (known: {known})") from None
    return frozenset(roles)


def check_username(username: str) -> str:
    """Validate a login name: lower-case, starts with a letter, 2-63 of ``a-z0-9._-``.

    Raises:
        InvalidInputError: the name does not match.
    """
    if not USERNAME_PATTERN.match(username):
        raise InvalidInputError(
            f"user name {username!r} must be 2-63 characters of a-z, 0-9, '.', '_', '-' "
            "and start with a letter"
        )
    return username


def check_password_strength(password: str) -> None:
    """Refuse passwords shorter than ``MIN_PASSWORD_LENGTH``.

    Raises:
        InvalidInputError: the password is too short.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")


def check_name(what: str, value: str, max_length: int = 200) -> str:
    """A display name: stripped, non-empty, bounded.

    Raises:
        InvalidInputError: empty or too long.
    """
    stripped = value.strip()
    if not stripped:
        raise InvalidInputError(f"{what} must not be empty")
    if len(stripped) > max_length:
        raise InvalidInputError(f"{what} is longer than {max_length} characters")
    return stripped


def check_timezone(name: str) -> str:
    """An IANA time zone name such as ``Europe/Berlin``.

    Raises:
        InvalidInputError: not a known IANA zone (abbreviations like ``CET`` or ``EST`` included).
    """
    if name not in _iana_zones() or ("/" not in name and name != "UTC"):
        raise InvalidInputError(
            f"time zone {name!r} is not an IANA zone name such as 'Europe/Berlin'"
        )
    try:
        ZoneInfo(name)
    except ZoneInfoNotFoundError:
        raise InvalidInputError(f"time zone {name!r} has no tz data on this system") from None
    return name


@functools.cache
def _iana_zones() -> frozenset[str]:
    return frozenset(available_timezones())


@dataclass(frozen=True)
class LockoutPolicy:
    """How many consecutive failures lock an account, and for how long."""

    max_failures: int
    lock_for: timedelta

    def after_failure(self, failures_before: int, now: datetime) -> tuple[int, datetime | None]:
        """The failure count and lock expiry after one more failed attempt."""
        failures = failures_before + 1
        if failures >= self.max_failures:
            return failures, now + self.lock_for
        return failures, None


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as every service sees it."""

    user_id: int
    username: str
    full_name: str
    org_id: int
    org_kind: OrgKind
    roles: frozenset[Role]

    @property
    def actor(self) -> str:
        """How the audit trail names this caller."""
        return f"user:{self.username}"

    def has_any(self, *roles: Role) -> bool:
        """True when the caller holds at least one of ``roles``."""
        return bool(self.roles.intersection(roles))

    def can_see_org(self, org_id: int) -> bool:
        """Manufacturer staff see every organization; hospital staff only their own."""
        return self.org_kind is OrgKind.MANUFACTURER or self.org_id == org_id
