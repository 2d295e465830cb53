"""The change-control domain's errors."""

from __future__ import annotations

from medfleet.errors import Forbidden, InvalidInput, MedfleetError, NotFound


class ChangesError(MedfleetError):
    """Base of every change-control error."""


class ChangeRequestNotFoundError(ChangesError, NotFound):
    """No such change request in the caller's organization."""


class InvalidChangeRequestError(ChangesError, InvalidInput):
    """A field of a change request is not acceptable."""


class ChangeNotAllowedError(ChangesError, Forbidden):
    """The caller's role or organization may not do this to change requests."""
