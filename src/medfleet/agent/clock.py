"""Where the agent's "now" comes from: injected everywhere, the machine's clock by default.

The agent imports nothing of the server, so it has its own ``Clock`` protocol; the server's
``medfleet.clock.FrozenClock`` satisfies it and is what tests and simulations pass in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """A source of timezone-aware UTC time (``medfleet.clock.FrozenClock`` fits)."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(UTC)
