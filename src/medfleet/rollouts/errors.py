"""The rollouts domain's errors; ``api/`` and ``cli/`` map them to HTTP and exit codes.

Every error derives from ``RolloutsError`` and from one category of ``medfleet.errors``
(``InvalidInput``, ``Conflict``, ``NotFound``...), which decides its HTTP status and exit code.
"""

from __future__ import annotations

from typing import Any

from medfleet.errors import Conflict, InvalidInput, MedfleetError, NotFound


class RolloutsError(MedfleetError):
    """Base of every rollouts error."""


class InvalidPolicyError(RolloutsError, InvalidInput):
    """A campaign policy is malformed or breaks a rule; ``field`` names where (``phases[1]``)."""

    def __init__(self, message: str, field: str = "") -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)

    def problem_members(self) -> dict[str, Any]:
        """Extension member ``field``: the path of the offending value in the policy document."""
        return {"field": self.field} if self.field else {}


class InvalidSelectionError(RolloutsError, InvalidInput):
    """A campaign's target selection is malformed; ``field`` names where (``site_ids[3]``)."""

    def __init__(self, message: str, field: str = "") -> None:
        self.field = field
        super().__init__(f"{field}: {message}" if field else message)

    def problem_members(self) -> dict[str, Any]:
        """Extension member ``field``: the path of the offending value in the selection."""
        return {"field": self.field} if self.field else {}


class CampaignStateError(RolloutsError, Conflict):
    """The campaign's state does not allow this action (the message names what is allowed)."""


class InvalidPlanInputError(RolloutsError, InvalidInput):
    """The inputs of a campaign plan do not fit together (column lengths, an unknown index)."""


class UnknownDeviceError(RolloutsError, NotFound):
    """A policy group names devices that are not in the fleet given; ``device_ids`` lists them."""

    def __init__(self, device_ids: list[str]) -> None:
        self.device_ids = device_ids
        shown = ", ".join(device_ids[:10]) + (" ..." if len(device_ids) > 10 else "")
        super().__init__(f"unknown device ids in the policy's phase groups: {shown}")

    def problem_members(self) -> dict[str, Any]:
        """Extension member ``device_ids``: every unknown id."""
        return {"device_ids": list(self.device_ids)}


class InvalidProgressError(RolloutsError, InvalidInput):
    """Progress counts that cannot be (more finished than assigned, negative counts...)."""
