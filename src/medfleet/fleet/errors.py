"""The fleet domain's errors."""

from __future__ import annotations

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
