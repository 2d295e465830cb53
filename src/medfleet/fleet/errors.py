"""The fleet domain's errors."""

from __future__ import annotations

from typing import Any

from medfleet.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    MedfleetError,
    NotFound,
    Unauthenticated,
)


class FleetError(MedfleetError):
    """Base of every fleet error."""


class DeviceNotFoundError(FleetError, NotFound):
    """No such device that the caller may see."""


class InvalidDeviceError(FleetError, InvalidInput):
    """A field of a device registration is not acceptable."""


class DeviceExistsError(FleetError, Conflict):
    """A device with this model and serial number is already registered."""


class FleetNotAllowedError(FleetError, Forbidden):
    """The caller's role or organization may not do this to devices."""


class EnrollmentRefusedError(FleetError, Unauthenticated):
    """The enrollment token is unknown, used or expired (deliberately not saying which)."""


class ReportRejectedError(FleetError, InvalidInput):
    """A status report is malformed: not canonical JSON, or not a well-formed report."""


class ReportNotTrustedError(FleetError, Forbidden):
    """A status report is unsigned, signed by another key, or speaks for another device."""


class ReportReplayedError(FleetError, Conflict):
    """A status report reuses a sequence number the device already reported with other content."""


class InvalidUdiError(InvalidDeviceError):
    """A UDI cannot be parsed, has a bad check digit or a non-date, or does not fit the device."""


class DeviceModelNotFoundError(FleetError, NotFound):
    """No such device model in the catalogue."""


class InvalidDeviceModelError(FleetError, InvalidInput):
    """A field of a device model or hardware revision is not acceptable; nothing changed."""


class DeviceModelExistsError(FleetError, Conflict):
    """A device model with this name (or GTIN) is already in the catalogue."""


class HardwareRevisionExistsError(FleetError, Conflict):
    """The device model already has a hardware revision with this name."""


class CatalogNotAllowedError(FleetError, Forbidden):
    """The caller's role or organization may not change the device-model catalogue."""


class PlaceNotFoundError(FleetError, NotFound):
    """No hospital, site or department by this name or id that the caller may see."""


class CsvImportError(FleetError, InvalidInput):
    """A device CSV has problems; every one is listed in ``problems`` and nothing was imported.

    Each problem is ``{"line": n, "column": name or None, "message": text}``; ``line`` counts
    the header as line 1, as an editor shows the file.
    """

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems
        shown = "".join(
            f"\n  line {p['line']}"
            + (f", {p['column']}" if p["column"] else "")
            + f": {p['message']}"
            for p in problems
        )
        super().__init__(f"the CSV has {len(problems)} problem(s); nothing was imported:{shown}")

    def problem_members(self) -> dict[str, Any]:
        """Extension members of the HTTP problem and the CLI's JSON: ``problems``."""
        return {"problems": [dict(problem) for problem in self.problems]}
