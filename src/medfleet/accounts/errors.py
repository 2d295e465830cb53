"""The accounts domain's errors; ``api/`` and ``cli/`` map them to HTTP and exit codes."""

from __future__ import annotations

from medfleet.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MedfleetError,
    NotFound,
    Unauthenticated,
)


class AccountsError(MedfleetError):
    """Base of every accounts error."""


class InvalidInputError(AccountsError, InvalidInput):
    """A value is malformed or not allowed (name, time zone, role for this kind of org)."""


class NotFoundError(AccountsError, NotFound):
    """The object does not exist, or the caller's organization may not see it."""


class ConflictError(AccountsError, Conflict):
    """The object already exists (a user name, a site name within an organization)."""


class PermissionDeniedError(AccountsError, Forbidden):
    """The caller is authenticated but lacks the role for this action."""


class AuthenticationError(AccountsError, Unauthenticated):
    """User name, password or token is wrong; deliberately says no more than that."""


class AccountLockedError(AuthenticationError):
    """Too many failed logins: the account is locked until ``until``."""

    def __init__(self, message: str, until: str) -> None:
        super().__init__(message)
        self.until = until


class SignatureError(AccountsError, Conflict):
    """An electronic signature cannot be applied."""


class SeparationOfDutiesError(Forbidden, SignatureError):
    """The signer authored the record and may not also approve it."""
