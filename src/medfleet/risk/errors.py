"""The risk domain's errors; each concrete error also derives from a medfleet.errors category."""

from __future__ import annotations

from medfleet.errors import Conflict, Forbidden, InvalidInput, MedfleetError, NotFound


class RiskError(MedfleetError):
    """Base of every risk-file error."""


class InvalidMatrixError(RiskError, InvalidInput):
    """A risk matrix is malformed: wrong size, empty or repeated names, unknown values."""


class InvalidItemError(RiskError, InvalidInput):
    """A hazard, hazardous situation or risk control has a missing, unknown or bad field."""


class InvalidDeltaError(RiskError, InvalidInput):
    """A proposed change breaks the risk file: dangling reference, no change, orphaned items."""


class RiskItemNotFoundError(RiskError, NotFound):
    """No such hazard, situation or control (or it is outside the caller's organization)."""


class RiskMatrixNotFoundError(RiskError, NotFound):
    """The caller's organization keeps no risk file (hospital staff)."""


class RiskNotAllowedError(RiskError, Forbidden):
    """The caller's role may not do this to the risk file."""


class DeltaClosedError(RiskError, Conflict):
    """The change request no longer takes risk-file changes (its state, or already applied)."""


class StaleDeltaError(RiskError, Conflict):
    """The risk file changed since the delta was proposed; the delta must be proposed again."""
