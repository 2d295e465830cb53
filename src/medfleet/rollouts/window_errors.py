"""The maintenance-window domain's errors; ``api/`` and ``cli/`` map them by category."""

from __future__ import annotations

from medfleet.errors import Conflict, Forbidden, InvalidInput, MedfleetError, NotFound


class MaintenanceWindowError(MedfleetError):
    """Base of every maintenance-window and blackout error."""


class InvalidWindowError(MaintenanceWindowError, InvalidInput):
    """A window rule (zone, start, RRULE, duration) or a blackout is not acceptable.

    The message names the offending part and why; nothing was changed.
    """


class WindowNotFoundError(MaintenanceWindowError, NotFound):
    """No such maintenance window, or it belongs to another hospital."""


class BlackoutNotFoundError(MaintenanceWindowError, NotFound):
    """No such blackout period, or it belongs to another hospital."""


class WindowScopeNotFoundError(MaintenanceWindowError, NotFound):
    """The site, department or hospital does not exist or is outside the caller's scope."""


class WindowNotAllowedError(MaintenanceWindowError, Forbidden):
    """The caller may not read or change maintenance windows (role or organization kind)."""


class DuplicateWindowError(MaintenanceWindowError, Conflict):
    """A window of that name already exists for the same site or department."""
