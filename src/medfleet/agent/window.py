"""Install windows: when the device may take itself out of service to install. Pure, no I/O.

The director's instruction may bound the install to ``[install_after, install_before)`` (UTC,
``medfleet.agent.contract.Instruction``). Downloading is allowed at any time; writing the
inactive slot and the trial reboot happen only inside the window (``Installer`` feeds
``InstallWindow.wait_reason`` into the state machine as ``DeviceFacts.window_wait``). Once the
device has left service inside the window, the attempt is finished even if the window ends
meanwhile: stopping half-way would only lengthen the downtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from medfleet.agent.contract import Instruction

EN_DASH = "\u2013"


def short_utc(value: datetime) -> str:
    """``2026-03-07T07:00Z`` (seconds shown only when not zero): how reports name instants."""
    value = value.astimezone(UTC)
    if value.second or value.microsecond:
        return value.isoformat(timespec="seconds").removesuffix("+00:00") + "Z"
    return value.strftime("%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True, slots=True)
class InstallWindow:
    """``[after, before)`` in UTC; None leaves that side open (both None: always open)."""

    after: datetime | None = None
    before: datetime | None = None

    @classmethod
    def of(cls, instruction: Instruction) -> InstallWindow:
        """The window an instruction names (open when it names none)."""
        return cls(instruction.install_after, instruction.install_before)

    def describe(self) -> str:
        """How reports name the window: ``<start> EN_DASH <end>`` without spaces, e.g.
        ``2026-03-07T07:00Z`` to ``11:00Z`` (the end's date shown only when it differs),
        ``from …``, ``until …`` or ``always``."""
        after, before = self.after, self.before
        if after is not None and before is not None:
            end = short_utc(before)
            if after.astimezone(UTC).date() == before.astimezone(UTC).date():
                end = end.partition("T")[2]
            return f"{short_utc(after)}{EN_DASH}{end}"
        if after is not None:
            return f"from {short_utc(after)}"
        if before is not None:
            return f"until {short_utc(before)}"
        return "always"

    def opens_later(self, now: datetime) -> bool:
        """True before the window opens."""
        return self.after is not None and now < self.after

    def closed(self, now: datetime) -> bool:
        """True once the window has ended (``now >= before``)."""
        return self.before is not None and now >= self.before

    def wait_reason(self, now: datetime) -> str | None:
        """None when ``now`` is inside the window; otherwise why the install must wait."""
        if self.opens_later(now):
            return f"waiting for the maintenance window {self.describe()}"
        if self.closed(now):
            return (
                f"the maintenance window {self.describe()} has closed; "
                "waiting for a new instruction"
            )
        return None
