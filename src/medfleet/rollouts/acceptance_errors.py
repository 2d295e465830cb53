"""Errors of hospital acceptance; ``api/`` and ``cli/`` map them to HTTP and exit codes."""

from __future__ import annotations

from medfleet.errors import Conflict, Forbidden, InvalidInput, MedfleetError, NotFound


class AcceptanceError(MedfleetError):
    """Base of every hospital-acceptance error."""


class AcceptanceNotFoundError(AcceptanceError, NotFound):
    """No such released release, site or policy visible to the caller."""


class AcceptanceNotAllowedError(AcceptanceError, Forbidden):
    """The caller's role may not decide for the hospital's sites."""


class InvalidAcceptanceError(AcceptanceError, InvalidInput):
    """A malformed decision or policy; nothing was changed."""


class AcceptanceStateError(AcceptanceError, Conflict):
    """The decision does not allow this now (e.g. confirming production before approving)."""
