"""The boot environment as pure values: the bootloader's rules (``next_boot``), the
``fw_printenv`` text form and slot names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfleet.agent.boot_env import SLOTS, BootEnv, SlotName, next_boot, other_slot, parse_slot
from medfleet.agent.errors import BootControlError, SlotError

slots = st.sampled_from(SLOTS)
envs = st.builds(
    lambda first, trial, a, b: BootEnv((first, other_slot(first)), trial, (a, b)),
    slots,
    st.booleans(),
    st.integers(0, 5),
    st.integers(0, 5),
)


@given(envs)
def test_env_text_round_trips(env: BootEnv) -> None:
    assert BootEnv.from_text(env.to_text()) == env


@pytest.mark.parametrize(
    "text",
    [
        "",
        "boot_order=a a\nupgrade_available=0\nboot_a_left=0\nboot_b_left=0\n",
        "boot_order=a c\nupgrade_available=0\nboot_a_left=0\nboot_b_left=0\n",
        "boot_order=a b\nupgrade_available=2\nboot_a_left=0\nboot_b_left=0\n",
        "boot_order=a b\nupgrade_available=1\nboot_a_left=-1\nboot_b_left=0\n",
    ],
)
def test_invalid_env_text_is_rejected(text: str) -> None:
    with pytest.raises(BootControlError):
        BootEnv.from_text(text)


@given(slots, st.integers(1, 5), st.integers(0, 5))
def test_a_trial_slot_boots_exactly_its_tries_then_the_fallback_forever(
    slot: SlotName, tries: int, other_tries: int
) -> None:
    env = BootEnv((other_slot(slot), slot), False, (other_tries, other_tries)).with_trial(
        slot, tries
    )
    booted = []
    for _ in range(tries + 4):
        chosen, env = next_boot(env)
        booted.append(chosen)
    assert booted == [slot] * tries + [other_slot(slot)] * 4
    assert env.primary == other_slot(slot)
    assert not env.upgrade_available


@given(envs)
def test_a_good_primary_always_boots_and_the_env_does_not_change(env: BootEnv) -> None:
    good = env.marked_good()
    assert next_boot(good) == (good.primary, good)
    assert good.marked_good() == good


@given(envs)
def test_a_primary_marked_bad_never_boots_again(env: BootEnv) -> None:
    bad = env.primary
    env = env.marked_bad(bad)
    for _ in range(12):
        chosen, env = next_boot(env)
        assert chosen == other_slot(bad)


def test_marking_the_primary_bad_swaps_the_order_and_ends_the_trial() -> None:
    env = BootEnv().with_trial("b", 3).marked_bad("b")
    assert env == BootEnv(("a", "b"), False, (0, 0))
    assert BootEnv().marked_bad("b") == BootEnv()


def test_slot_names() -> None:
    assert [parse_slot("a"), parse_slot("b")] == ["a", "b"]
    with pytest.raises(SlotError):
        parse_slot("c")
