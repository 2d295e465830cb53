"""A/B slots and the boot environment on files: the file-backed store and boot control, and
the simulated clinical state and health check (the pure rules are in ``test_boot_env``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from medfleet.agent.boot_env import BootEnv
from medfleet.agent.device import FileClinicalState, FileHealthCheck
from medfleet.agent.errors import BootControlError, SlotError, StateCorruptError
from medfleet.agent.slots import FileBootControl, FileSlotStore, SlotVersion


def version_of(data: bytes, version: str = "2.0") -> SlotVersion:
    return SlotVersion(
        version, 200, len(data), hashlib.sha256(data).hexdigest(), hashlib.sha512(data).hexdigest()
    )


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
