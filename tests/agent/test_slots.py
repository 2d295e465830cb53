"""A/B slots and the boot environment: the bootloader's rules, the file-backed store and
control, and the simulated clinical state and health check."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfleet.agent.device import FileClinicalState, FileHealthCheck
from medfleet.agent.errors import BootControlError, SlotError, StateCorruptError
from medfleet.agent.slots import (
    SLOTS,
    BootEnv,
    FileBootControl,
    FileSlotStore,
    SlotName,
    SlotVersion,
    next_boot,
    other_slot,
    parse_slot,
)

slots = st.sampled_from(SLOTS)
envs = st.builds(
    lambda first, trial, a, b: BootEnv((first, other_slot(first)), trial, (a, b)),
    slots,
    st.booleans(),
    st.integers(0, 5),
    st.integers(0, 5),
)


def version_of(data: bytes, version: str = "2.0") -> SlotVersion:
    return SlotVersion(
        version, 200, len(data), hashlib.sha256(data).hexdigest(), hashlib.sha512(data).hexdigest()
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


def control(tmp_path: Path) -> FileBootControl:
    return FileBootControl.initialize(tmp_path / "bootenv", tmp_path / "cmdline", "a")


def test_file_boot_control_trial_commit_cycle(tmp_path: Path) -> None:
    boot = control(tmp_path)
    assert boot.status().booted_slot == "a"
    boot.set_trial("b", 2)
    status = boot.status()
    assert (status.booted_slot, status.primary_slot, status.trial_pending) == ("a", "b", True)
    with pytest.raises(BootControlError):
        boot.mark_good()  # still running a: the trial has not booted yet
    assert boot.boot() == "b"
    assert boot.status().tries_left == 1
    boot.mark_good()
    assert "upgrade_available=0" in (tmp_path / "bootenv").read_text()
    assert [boot.boot() for _ in range(3)] == ["b", "b", "b"]


def test_file_boot_control_falls_back_when_the_trial_runs_out(tmp_path: Path) -> None:
    boot = control(tmp_path)
    boot.set_trial("b", 1)
    assert [boot.boot(), boot.boot(), boot.boot()] == ["b", "a", "a"]
    assert boot.env() == BootEnv(("a", "b"), False, (0, 0))
    with pytest.raises(BootControlError):
        boot.set_trial("b", 0)


def test_file_boot_control_mark_bad_and_missing_env(tmp_path: Path) -> None:
    boot = control(tmp_path)
    boot.set_trial("b", 3)
    boot.boot()
    boot.mark_bad("b")
    assert boot.boot() == "a"
    (tmp_path / "bootenv").unlink()
    with pytest.raises(BootControlError):
        boot.status()


def test_slot_store_writes_reads_back_and_records_versions(tmp_path: Path) -> None:
    store = FileSlotStore(tmp_path / "slots")
    store.directory.mkdir()
    image = tmp_path / "image"
    data = os.urandom(3 * (1 << 20) + 17)
    image.write_bytes(data)
    store.write_image("b", image)
    assert store.image_path("b").read_bytes() == data
    digest = store.digest("b", len(data))
    assert (digest.length, digest.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert store.digest("b", 10).sha256 == hashlib.sha256(data[:10]).hexdigest()
    assert store.digest("a", 10).length == 0
    assert store.version_of("b") is None
    store.set_version("b", version_of(data))
    assert store.version_of("b") == version_of(data)


def test_a_write_clears_the_slot_version_before_touching_the_image(tmp_path: Path) -> None:
    store = FileSlotStore(tmp_path)
    image = tmp_path / "image"
    image.write_bytes(b"v2")
    store.write_image("b", image)
    store.set_version("b", version_of(b"v2"))
    with pytest.raises(SlotError):
        store.write_image("b", tmp_path / "missing")
    assert store.version_of("b") is None


def test_slot_version_files_are_checked(tmp_path: Path) -> None:
    store = FileSlotStore(tmp_path)
    (tmp_path / "a.json").write_text('{"version": "1.0", "version_number": "100"}')
    with pytest.raises(StateCorruptError):
        store.version_of("a")


def test_clinical_state_flag(tmp_path: Path) -> None:
    clinical = FileClinicalState(tmp_path / "clinical-use")
    assert not clinical.in_clinical_use()
    clinical.set(True)
    assert clinical.in_clinical_use()
    clinical.set(False)
    assert not clinical.in_clinical_use()


def test_health_check_passes_only_an_intact_verified_image(tmp_path: Path) -> None:
    store = FileSlotStore(tmp_path)
    health = FileHealthCheck(store, tmp_path / "health-failure")
    image = tmp_path / "image"
    image.write_bytes(b"firmware 2.0")
    assert not health.check("b").ok
    store.write_image("b", image)
    store.set_version("b", version_of(b"firmware 2.0"))
    assert health.check("b").ok
    health.set_failure("pump motor self-test failed")
    assert health.check("b").detail == "pump motor self-test failed"
    health.set_failure(None)
    store.image_path("b").write_bytes(b"firmware 2.X")
    result = health.check("b")
    assert not result.ok
    assert "does not match" in result.detail
