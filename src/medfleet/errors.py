"""Error categories shared by every domain's error tree.

Each domain defines its own tree (``AccountsError``, ``ChangesError``, ...) and each concrete
error also derives from one category below. The API maps categories to HTTP status codes and the
CLI to exit codes, so neither needs to know every domain's errors.
"""

from __future__ import annotations


class MedfleetError(Exception):
    """Base of every error medfleet raises on purpose."""


class InvalidInput(MedfleetError):  # noqa: N818 - a category, not a concrete error
    """The request is malformed or breaks a rule; nothing was changed."""


class NotFound(MedfleetError):  # noqa: N818
    """The object does not exist or is outside the caller's scope."""


class Conflict(MedfleetError):  # noqa: N818
    """The request conflicts with the current state (duplicate, wrong state)."""


class Forbidden(MedfleetError):  # noqa: N818
    """The caller is known but not allowed to do this."""


class Unauthenticated(MedfleetError):  # noqa: N818
    """The caller could not be authenticated."""


class Unavailable(MedfleetError):  # noqa: N818
    """A dependency (database, key) is not ready."""
