"""Slot names and the bootloader's A/B environment as pure values: no I/O, no clock.

The boot environment follows the U-Boot/GRUB A/B convention (as RAUC and Mender use it):

- ``boot_order=a b``: the first slot is the primary, the second the fallback;
- ``upgrade_available=1``: the primary is on trial and not yet marked good;
- ``boot_a_left`` / ``boot_b_left``: boot tries left for a slot on trial.

``next_boot`` is what the bootloader does at power-on, as a pure function: a primary on trial
with tries left is booted and its counter decremented; a primary on trial with none left is
abandoned (boot order swapped, trial cleared) and the fallback boots; a good primary boots.

Guarantees: every ``BootEnv`` operation returns a new value and never touches a file or the
clock; ``BootEnv.from_text`` raises ``BootControlError`` unless all four variables are present
and valid (two distinct slots, tries never negative), and it reads back exactly what
``to_text`` wrote. Persisting the environment (one atomic write per change, as ``fw_setenv``
with a redundant environment does) is ``medfleet.agent.slots.FileBootControl``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from medfleet.agent.errors import BootControlError, SlotError

SlotName = Literal["a", "b"]
SLOTS: tuple[SlotName, SlotName] = ("a", "b")


def parse_slot(value: str) -> SlotName:
    """``value`` as a slot name.

    Raises:
        SlotError: not ``a`` or ``b``.
    """
    if value == "a":
        return "a"
    if value == "b":
        return "b"
    raise SlotError(f"unknown slot {value!r}")


def other_slot(slot: SlotName) -> SlotName:
    """The other slot of the pair."""
    return "b" if slot == "a" else "a"


@dataclass(frozen=True, slots=True)
class BootEnv:
    """The bootloader's persistent A/B variables (pure; see the module docstring)."""

    boot_order: tuple[SlotName, SlotName] = ("a", "b")
    upgrade_available: bool = False
    tries_left: tuple[int, int] = (0, 0)

    @property
    def primary(self) -> SlotName:
        """The slot the bootloader tries first."""
        return self.boot_order[0]

    def tries_of(self, slot: SlotName) -> int:
        """Boot tries left for ``slot``."""
        return self.tries_left[SLOTS.index(slot)]

    def with_tries(self, slot: SlotName, tries: int) -> BootEnv:
        """The same environment with ``slot``'s tries left set to ``tries``."""
        pair = (tries, self.tries_left[1]) if slot == "a" else (self.tries_left[0], tries)
        return replace(self, tries_left=pair)

    def with_trial(self, slot: SlotName, tries: int) -> BootEnv:
        """``slot`` becomes the primary, on trial, with ``tries`` boots to prove itself."""
        order = (slot, other_slot(slot))
        return replace(self, boot_order=order, upgrade_available=True).with_tries(slot, tries)

    def marked_good(self) -> BootEnv:
        """The primary is good: the trial ends and the primary stays (idempotent)."""
        return replace(self, upgrade_available=False).with_tries(self.primary, 0)

    def marked_bad(self, slot: SlotName) -> BootEnv:
        """``slot`` must not boot: if it is the primary the other slot becomes primary."""
        if self.primary != slot:
            return self.with_tries(slot, 0)
        order = (other_slot(slot), slot)
        return replace(self, boot_order=order, upgrade_available=False).with_tries(slot, 0)

    def to_text(self) -> str:
        """The environment as ``fw_printenv`` prints it."""
        return (
            f"boot_order={' '.join(self.boot_order)}\n"
            f"upgrade_available={int(self.upgrade_available)}\n"
            f"boot_a_left={self.tries_left[0]}\n"
            f"boot_b_left={self.tries_left[1]}\n"
        )

    @classmethod
    def from_text(cls, text: str) -> BootEnv:
        """Parse ``to_text`` output.

        Raises:
            BootControlError: a variable is missing or has an invalid value.
        """
        variables = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        try:
            first, second = (parse_slot(s) for s in variables["boot_order"].split())
            trial = {"0": False, "1": True}[variables["upgrade_available"]]
            tries = (int(variables["boot_a_left"]), int(variables["boot_b_left"]))
        except (KeyError, ValueError, SlotError) as exc:
            raise BootControlError(f"boot environment is invalid: {exc}") from exc
        if first == second or min(tries) < 0:
            raise BootControlError("boot environment is invalid: bad order or tries")
        return cls((first, second), trial, tries)


def next_boot(env: BootEnv) -> tuple[SlotName, BootEnv]:
    """What the bootloader does at power-on: the slot it boots and the environment it leaves."""
    if not env.upgrade_available:
        return env.primary, env
    left = env.tries_of(env.primary)
    if left > 0:
        return env.primary, env.with_tries(env.primary, left - 1)
    fallback = env.boot_order[1]
    return fallback, replace(env, boot_order=(fallback, env.primary), upgrade_available=False)
