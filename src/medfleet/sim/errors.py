"""The fleet simulator's errors: one tree rooted at ``SimulationError``.

Each concrete error also derives from a ``medfleet.errors`` category, so the CLI maps it to an
exit code like any other domain's error.
"""

from __future__ import annotations

from medfleet.errors import Conflict, InvalidInput, MedfleetError, Unavailable


class SimulationError(MedfleetError):
    """Base of every error the simulator raises on purpose."""


class InvalidScenarioError(SimulationError, InvalidInput):
    """A scenario asked for something impossible (a clock moved backwards, an unknown
    installer checkpoint, an unknown device)."""


class SimServerError(SimulationError, Unavailable):
    """The in-process server did not start or stop."""


class SimApiError(SimulationError, Conflict):
    """The server refused or failed an API call the simulator made; ``status`` is the HTTP
    status (0 when the server could not be reached)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status
