"""The vulnerability domain's errors; ``api/`` and ``cli/`` map them to HTTP and exit codes."""

from __future__ import annotations

from medfleet.errors import InvalidInput, MedfleetError


class VulnsError(MedfleetError):
    """Base of every vulnerability-management error."""


class InvalidVersionRangeError(VulnsError, InvalidInput):
    """An advisory's affected range or a component's version cannot be read."""
