"""Authentication as its own unit of work, so that failures are counted even when refused.

``authenticate`` commits the failed-attempt counter and its audit event, then raises; a
successful check returns the principal. Used for logins, token issuing and the password
re-entry that every e-signature requires.
"""

from __future__ import annotations

from medfleet.accounts.credentials import LoginFailure, check_credentials
from medfleet.accounts.model import Principal
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime


def authenticate(
    runtime: Runtime, username: str, password: str, purpose: str = "login"
) -> Principal:
    """Check ``username`` and ``password`` in a transaction of their own.

    Raises:
        AuthenticationError: wrong user name or password (the failure is recorded).
        AccountLockedError: too many failures; locked until the time it names.
    """
    with transaction(runtime.sessions) as session:
        outcome = check_credentials(
            session, runtime.audit, runtime.passwords, runtime.lockout, username, password, purpose
        )
    if isinstance(outcome, LoginFailure):
        raise outcome.error
    return outcome
