"""Error categories shared by every domain's error tree.

Each domain defines its own tree (``AccountsError``, ``ChangesError``, ...) and each concrete
error also derives from one category below. The API maps categories to HTTP status codes and the
CLI to exit codes, so neither needs to know every domain's errors.
"""

from __future__ import annotations

from typing import Any


class MedfleetError(Exception):
    """Base of every error medfleet raises on purpose."""

    def problem_members(self) -> dict[str, Any]:
        """Structured details beyond the message (a list of what is missing, ...).

        The API adds them to the problem body as extension members and the CLI to its
        ``--json`` error document, so scripts never have to parse the message.
        """
        return {}


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


CATEGORIES: tuple[type[MedfleetError], ...] = (
    InvalidInput,
    NotFound,
    Conflict,
    Forbidden,
    Unauthenticated,
    Unavailable,
)


def category_of(error: MedfleetError) -> type[MedfleetError]:
    """The most specific category of ``error``: the first one met along its class's MRO.

    A class that overrides its parent's category lists the category first among its bases:
    ``SeparationOfDutiesError(Forbidden, SignatureError)`` is ``Forbidden`` although
    ``SignatureError`` is a ``Conflict``. Errors with no category count as ``InvalidInput``.
    """
    for klass in type(error).__mro__:
        if klass in CATEGORIES:
            return klass
    return InvalidInput
