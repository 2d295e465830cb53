"""The change-control domain's errors."""

from __future__ import annotations

from medfleet.errors import Conflict, Forbidden, InvalidInput, MedfleetError, NotFound


class ChangesError(MedfleetError):
    """Base of every change-control error."""


class ChangeRequestNotFoundError(ChangesError, NotFound):
    """No such change request in the caller's organization."""


class InvalidChangeRequestError(ChangesError, InvalidInput):
    """A field of a change request is not acceptable."""


class ChangeNotAllowedError(ChangesError, Forbidden):
    """The caller's role or organization may not do this to change requests."""


class ChangeStateError(ChangesError, Conflict):
    """The change request's state does not allow this (a transition, or an edit once frozen)."""


class ProblemReportNotFoundError(ChangesError, NotFound):
    """No such problem report in the caller's organization."""


class SoftwareItemNotFoundError(ChangesError, NotFound):
    """No software item of that name in the caller's organization."""


class DuplicateSoftwareItemError(ChangesError, Conflict):
    """A software item of that name exists already."""


class AssessmentNotFoundError(ChangesError, NotFound):
    """The change request has no recorded assessment (or no such PCCP, clearance)."""


class RegulatoryRecordError(ChangesError, Conflict):
    """A PCCP, evaluation or clearance conflicts with what is recorded."""
