"""The agent's errors: one tree rooted at ``AgentError``.

The agent imports nothing from the server, so these do not derive from ``medfleet.errors``
categories; the server code that calls ``medfleet.agent.reports.verify_report`` maps
``ReportError`` to its own category.
"""

from __future__ import annotations


class AgentError(Exception):
    """Base of every error the agent raises on purpose."""


class StateCorruptError(AgentError):
    """A persisted state file exists but cannot be read as what it should be."""


class InvalidTransitionError(AgentError):
    """An install record was asked to move to a phase its current phase does not allow."""


class InvalidTargetError(AgentError):
    """The target handed to the installer is malformed (bad length or hash)."""


class SlotError(AgentError):
    """A slot cannot be read or written (unknown slot, missing image, I/O failure)."""


class BootControlError(AgentError):
    """The boot environment is unreadable or the requested change is not allowed now."""


class FetchError(AgentError):
    """An artifact source could not deliver (the partial file is kept to resume later)."""


class InstallError(AgentError):
    """An install cannot proceed."""


class DeviceNotSettledError(InstallError):
    """The boot environment has a trial pending that no install record accounts for."""


class InstallStuckError(InstallError):
    """The install loop made no progress (the device does not do what it is told)."""


class IdentityError(AgentError):
    """The device key is missing, unreadable or readable by others."""


class ReportError(AgentError):
    """A status report document is not acceptable."""


class MalformedReportError(ReportError):
    """Not a well-formed report document (bad JSON, missing or mistyped field, too big)."""


class ReportSignatureError(ReportError):
    """The signature is missing, made with another key, or does not verify."""


class UnsignedReportError(ReportSignatureError):
    """The document carries no signature at all."""


class DeliveryError(AgentError):
    """A report transport did not get the report acknowledged; the outbox retries later."""
