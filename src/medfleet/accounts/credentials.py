"""Credentials: password checks with lockout, and bearer tokens.

Password checks return a ``LoginFailure`` rather than raising, so that the failure count and
its audit event are committed before the caller raises (see ``medfleet.accounts.auth``).
Tokens are 256-bit random strings; only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.errors import AccountLockedError, AuthenticationError
from medfleet.accounts.model import LockoutPolicy, Principal, check_name
from medfleet.accounts.passwords import password_matches
from medfleet.accounts.service import principal_of
from medfleet.accounts.tables import ApiToken, User
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog

TOKEN_PREFIX = "mf_"  # noqa: S105 - a prefix, not a secret


@dataclass(frozen=True)
class LoginFailure:
    """Why a login failed; returned (not raised) so the failure count can be committed."""

    error: AuthenticationError


def check_credentials(
    session: Session,
    audit: AuditLog,
    hasher: PasswordHasher,
    policy: LockoutPolicy,
    username: str,
    password: str,
    purpose: str = "login",
) -> Principal | LoginFailure:
    """Check a user name and password, counting failures and locking the account.

    Returns a ``LoginFailure`` instead of raising so that the caller commits the failure
    count and its audit event before it raises ``failure.error``.
    """
    now = audit.clock.now()
    user = session.scalar(select(User).where(User.username == username).with_for_update())
    if user is None or not user.active:
        return LoginFailure(AuthenticationError("user name or password is wrong"))
    if user.locked_until is not None and user.locked_until > now:
        return LoginFailure(
            AccountLockedError(
                f"account locked after repeated failed logins until {user.locked_until:%H:%M} UTC",
                user.locked_until.isoformat(),
            )
        )
    if not password_matches(hasher, user.password_hash, password):
        user.failed_logins, user.locked_until = policy.after_failure(user.failed_logins, now)
        locked = user.locked_until is not None
        audit.record(
            session,
            NewEvent(
                f"user:{user.username}",
                user.org_id,
                "user.locked" if locked else f"{purpose}.failed",
                "user",
                str(user.id),
                {"failed_logins": user.failed_logins},
            ),
        )
        return LoginFailure(AuthenticationError("user name or password is wrong"))
    if user.failed_logins or user.locked_until is not None:
        user.failed_logins, user.locked_until = 0, None
    return principal_of(user)


def token_digest(token: str) -> str:
    """What is stored for a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A new bearer token, shown to its owner once, and when it stops working."""

    token: str
    expires_at: datetime


def issue_token(
    session: Session, audit: AuditLog, principal: Principal, label: str, ttl: timedelta
) -> IssuedToken:
    """Create an API token for the caller; the plain token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = audit.clock.now()
    row = ApiToken(
        user_id=principal.user_id,
        token_sha256=token_digest(token),
        label=check_name("token label", label),
        created_at=now,
        expires_at=now + ttl,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "token.issued",
            "api_token",
            str(row.id),
            {"label": row.label, "expires_at": row.expires_at.isoformat()},
        ),
    )
    return IssuedToken(token, row.expires_at)


def principal_for_token(session: Session, token: str, now: datetime) -> Principal:
    """The principal a bearer token stands for.

    Raises:
        AuthenticationError: unknown, expired or revoked token, or an inactive user.
    """
    row = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == token_digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise AuthenticationError("token is unknown, expired or revoked")
    if not row.user.active:
        raise AuthenticationError("token is unknown, expired or revoked")
    return principal_of(row.user)
