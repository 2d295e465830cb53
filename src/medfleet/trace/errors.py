"""The traceability domain's errors: each derives from ``TraceError`` and one error category."""

from __future__ import annotations

from medfleet.errors import Conflict, Forbidden, InvalidInput, MedfleetError, NotFound


class TraceError(MedfleetError):
    """Base of every traceability error."""


class InvalidRequirementError(TraceError, InvalidInput):
    """A requirement field (key, title, text, kind, software item) is not acceptable."""


class InvalidTestError(TraceError, InvalidInput):
    """A test id or test level is not acceptable."""


class InvalidControlKeyError(TraceError, InvalidInput):
    """A risk control key is malformed (not like ``RC-3``)."""


class InvalidBuildError(TraceError, InvalidInput):
    """A build id is empty, too long or holds characters a build id cannot have."""


class InvalidSafetyClassError(TraceError, InvalidInput):
    """An IEC 62304 software safety class other than A, B or C."""


class JUnitError(TraceError, InvalidInput):
    """A JUnit XML file is malformed, hostile or not JUnit; nothing was imported."""


class UnknownReferenceError(TraceError, InvalidInput):
    """Input names requirements, risk controls or tests that do not exist (listed)."""


class TraceNotFoundError(TraceError, NotFound):
    """No such traceability record in the caller's organization (or the caller is not staff)."""


class RequirementNotFoundError(TraceNotFoundError):
    """No such requirement in the caller's organization."""


class TestNotFoundError(TraceNotFoundError):
    """No such test in the caller's organization."""

    __test__ = False  # not a pytest test class


class LinkNotFoundError(TraceNotFoundError):
    """No such link between a requirement and a test or a risk control."""


class RequirementExistsError(TraceError, Conflict):
    """A requirement with that key exists already (possibly retired)."""


class RequirementRetiredError(TraceError, Conflict):
    """The requirement is retired: it cannot be changed, retired again or linked."""


class RunConflictError(TraceError, Conflict):
    """The same JUnit file was imported for the build already under another change request."""


class TraceNotAllowedError(TraceError, Forbidden):
    """The caller's role may not change traceability records."""
