"""The installer on a real file-backed device: installs, rollbacks, deferrals, bad bytes, and a
crash (with or without a power cycle) at every persisted state and after every effect."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from medfleet.agent.device import SimulatedDevice, target_for
from medfleet.agent.errors import DeviceNotSettledError
from medfleet.agent.install_state import InstallRecord, Outcome, Phase, Target
from medfleet.agent.installer import (
    RECORD_FILE,
    Checkpoint,
    InstallResult,
    LocalFileSource,
)

COMMIT_PATH = [
    "persisted:downloading",
    "effect:fetch",
    "effect:verify_download",
    "persisted:downloaded",
    "persisted:writing",
    "effect:write_slot",
    "effect:verify_slot",
    "persisted:written",
    "effect:backup_config",
    "persisted:trial_boot",
    "effect:arm_trial",
    "effect:reboot",
    "persisted:health_check",
    "effect:health_check",
    "effect:mark_good",
    "persisted:committed",
    "effect:cleanup",
]
ROLLBACK_PATH = [
    *COMMIT_PATH[: COMMIT_PATH.index("effect:health_check") + 1],
    "persisted:rolling_back",
    "effect:mark_bad",
    "effect:reboot",
    "effect:mark_bad",
    "effect:restore_config",
    "persisted:rolled_back",
    "effect:cleanup",
]


class PowerLossError(Exception):
    """Raised from the observer: the agent stops dead at that checkpoint."""


@dataclass
class World:
    device: SimulatedDevice
    old_image: Path
    new_image: Path
    target: Target
    config_before: dict[str, bytes]

    @property
    def source(self) -> LocalFileSource:
        return LocalFileSource(self.new_image, chunk_size=16 * 1024)


@pytest.fixture
def world(tmp_path: Path) -> World:
    old_image, new_image = tmp_path / "pump-1.0.img", tmp_path / "pump-2.0.img"
    old_image.write_bytes(os.urandom(96 * 1024))
    new_image.write_bytes(os.urandom(128 * 1024))
    device = SimulatedDevice.create(
        tmp_path / "device", image=old_image, version="1.0", version_number=100
    )
    target = target_for(new_image, "2.0", 200, path="IP-100/pump-2.0.img")
    return World(device, old_image, new_image, target, device.config_snapshot())


def crash_at(index: int, seen: list[str]) -> Callable[[Checkpoint], None]:
    def observer(checkpoint: Checkpoint) -> None:
        seen.append(checkpoint.label)
        if len(seen) == index + 1:
            raise PowerLossError(checkpoint.label)

    return observer


def restart(world: World, observer: Callable[[Checkpoint], None] | None = None) -> InstallResult:
    """The agent starting again: recover, then resume (or start) the install of the same target;
    a finished attempt is not retried."""
    installer = world.device.installer(observer=observer)
    result = installer.recover()
    if result.record is None or result.outcome is Outcome.IN_PROGRESS:
        result = installer.install(world.target, world.source)
    return result


def assert_settled(world: World, version: str) -> None:
    """Running ``version`` for good: boot env settled, image intact, record and config agree."""
    device = world.device
    for _ in range(2):
        env = device.boot_control.env()
        assert not env.upgrade_available
        assert device.running_slot() == env.primary
        running = device.running_version()
        assert running is not None
        assert running.version == version
        digest = device.slots.digest(device.running_slot(), running.length)
        assert digest.sha256 == running.sha256
        device.power_cycle()
    record = device.installer().record()
    assert record is not None
    if version == world.target.version:
        assert record.phase is Phase.COMMITTED
        schema = json.loads((device.config_dir / "schema.json").read_text())
        assert schema["migrated_by"] == version
    else:
        assert record.phase in (Phase.ROLLED_BACK, Phase.FAILED)
        assert device.config_snapshot() == world.config_before
    assert list((device.state_dir / "downloads").iterdir()) == []
    assert not (device.state_dir / "config-backup").exists()
    assert not [p for p in device.state_dir.iterdir() if p.name.endswith(".tmp")]


def test_install_commits_through_every_checkpoint_in_order(world: World) -> None:
    seen: list[str] = []
    installer = world.device.installer(observer=lambda c: seen.append(c.label))
    result = installer.install(world.target, world.source)
    assert (result.outcome, result.phase) == (Outcome.COMMITTED, Phase.COMMITTED)
    assert seen == COMMIT_PATH
    assert world.device.running_slot() == "b"
    assert world.device.slots.version_of("a") is not None
    assert_settled(world, "2.0")
    content = installer.report_content(result)
    assert (content.active_slot, content.active_version, content.outcome) == (
        "b",
        "2.0",
        "committed",
    )
    assert content.target is not None
    assert content.target.sha256 == world.target.sha256


def test_failed_health_check_rolls_back_and_restores_the_configuration(world: World) -> None:
    world.device.set_health_failure("infusion self-test failed")
    seen: list[str] = []
    result = world.device.installer(observer=lambda c: seen.append(c.label)).install(
        world.target, world.source
    )
    assert (result.outcome, result.detail) == (Outcome.ROLLED_BACK, "infusion self-test failed")
    assert seen == ROLLBACK_PATH
    assert world.device.boot_control.env().tries_of("b") == 0
    assert_settled(world, "1.0")


def test_clinical_use_defers_writing_and_the_resume_needs_no_second_download(world: World) -> None:
    world.device.set_clinical_use(True)
    installer = world.device.installer()
    result = installer.install(world.target, world.source)
    assert (result.outcome, result.phase) == (Outcome.DEFERRED, Phase.DOWNLOADED)
    assert world.device.slots.version_of("b") is None
    assert not world.device.slots.image_path("b").exists()
    world.new_image.unlink()  # the verified download is all the resume may use
    world.device.set_clinical_use(False)
    assert installer.install(world.target, world.source).outcome is Outcome.COMMITTED
    assert_settled(world, "2.0")


def test_clinical_use_that_starts_after_the_write_defers_the_trial_reboot(world: World) -> None:
    def start_a_procedure(checkpoint: Checkpoint) -> None:
        if checkpoint.label == "persisted:written":
            world.device.set_clinical_use(True)

    installer = world.device.installer(observer=start_a_procedure)
    result = installer.install(world.target, world.source)
    assert (result.outcome, result.phase) == (Outcome.DEFERRED, Phase.WRITTEN)
    assert world.device.running_slot() == "a"
    assert not world.device.boot_control.env().upgrade_available
    world.device.set_clinical_use(False)
    assert installer.install(world.target, world.source).outcome is Outcome.COMMITTED


def test_wrong_bytes_fail_the_install_and_leave_the_old_version(world: World) -> None:
    world.new_image.write_bytes(os.urandom(world.target.length))
    result = world.device.installer().install(world.target, world.source)
    assert (result.outcome, result.phase) == (Outcome.FAILED, Phase.FAILED)
    assert result.detail is not None
    assert "hashes" in result.detail
    assert not world.device.slots.image_path("b").exists()
    assert_settled(world, "1.0")


def test_a_slot_that_reads_back_wrong_fails_before_anything_boots_it(world: World) -> None:
    def bit_rot(checkpoint: Checkpoint) -> None:
        if checkpoint.label == "effect:write_slot":
            with world.device.slots.image_path("b").open("r+b") as slot:
                slot.seek(1000)
                byte = slot.read(1)
                slot.seek(1000)
                slot.write(bytes([byte[0] ^ 0x01]))

    result = world.device.installer(observer=bit_rot).install(world.target, world.source)
    assert (result.outcome, result.phase) == (Outcome.FAILED, Phase.FAILED)
    assert result.detail == "slot b read back does not match the target"
    assert world.device.slots.version_of("b") is None
    assert_settled(world, "1.0")


def test_a_slot_that_cannot_be_written_fails_the_install(world: World) -> None:
    # fsync on a character device fails: a partition that reports write errors.
    world.device.slots.image_path("b").symlink_to(os.devnull)
    result = world.device.installer().install(world.target, world.source)
    assert (result.outcome, result.phase) == (Outcome.FAILED, Phase.FAILED)
    assert result.detail is not None
    assert result.detail.startswith("cannot write slot b")
    assert_settled(world, "1.0")


def test_an_interrupted_download_resumes_from_the_partial_file(world: World) -> None:
    data = world.new_image.read_bytes()
    world.new_image.write_bytes(data[:50_000])
    installer = world.device.installer()
    first = installer.install(world.target, world.source)
    assert (first.outcome, first.phase) == (Outcome.IN_PROGRESS, Phase.DOWNLOADING)
    assert first.detail == f"download incomplete: 50000 of {len(data)} bytes"
    # A refetch from zero would take these zeros and fail the hash check; a resume does not.
    world.new_image.write_bytes(bytes(50_000) + data[50_000:])
    assert installer.install(world.target, world.source).outcome is Outcome.COMMITTED
    assert_settled(world, "2.0")


def test_a_source_that_sends_too_much_is_discarded_and_fetched_again(world: World) -> None:
    data = world.new_image.read_bytes()
    world.new_image.write_bytes(data + b"endless")
    installer = world.device.installer()
    first = installer.install(world.target, world.source)
    assert first.outcome is Outcome.IN_PROGRESS
    assert list((world.device.state_dir / "downloads").iterdir()) == []
    world.new_image.write_bytes(data)
    assert installer.install(world.target, world.source).outcome is Outcome.COMMITTED


def test_a_paused_install_of_another_target_is_superseded(world: World, tmp_path: Path) -> None:
    world.device.set_clinical_use(True)
    installer = world.device.installer()
    assert installer.install(world.target, world.source).outcome is Outcome.DEFERRED
    newer_image = tmp_path / "pump-2.1.img"
    newer_image.write_bytes(os.urandom(64 * 1024))
    newer = target_for(newer_image, "2.1", 210)
    world.device.set_clinical_use(False)
    result = installer.install(newer, LocalFileSource(newer_image))
    assert result.outcome is Outcome.COMMITTED
    assert [p.name for p in (world.device.state_dir / "downloads").iterdir()] == []
    running = world.device.running_version()
    assert running is not None
    assert running.version == "2.1"


def test_a_record_from_another_boot_slot_fails_instead_of_writing_the_running_slot(
    world: World,
) -> None:
    stale = InstallRecord("stale", world.target, "b", None, 3, Phase.WRITING)
    (world.device.state_dir / RECORD_FILE).write_text(json.dumps(stale.to_dict()))
    before = world.device.slots.digest("a", 1 << 30)
    result = world.device.installer().recover()
    assert result.outcome is Outcome.FAILED
    assert world.device.slots.digest("a", 1 << 30) == before
    assert_settled(world, "1.0")


def test_an_unaccounted_trial_refuses_a_new_install(world: World) -> None:
    world.device.boot_control.set_trial("b", 3)
    with pytest.raises(DeviceNotSettledError):
        world.device.installer().install(world.target, world.source)


def test_recover_with_nothing_to_do_is_idle(world: World) -> None:
    result = world.device.installer().recover()
    assert (result.outcome, result.phase, result.record) == (None, Phase.IDLE, None)


CRASH_POINTS = [(True, i) for i in range(len(COMMIT_PATH))] + [
    (False, i) for i in range(len(ROLLBACK_PATH))
]


@pytest.mark.parametrize("power_cycle", [True, False], ids=["power-cycle", "agent-restart"])
@pytest.mark.parametrize(
    ("healthy", "index"),
    CRASH_POINTS,
    ids=[
        f"{'good' if ok else 'bad'}-{i}-{(COMMIT_PATH if ok else ROLLBACK_PATH)[i]}"
        for ok, i in CRASH_POINTS
    ],
)
def test_crash_at_any_checkpoint_ends_old_or_new_committed(
    world: World, index: int, healthy: bool, power_cycle: bool
) -> None:
    path = COMMIT_PATH if healthy else ROLLBACK_PATH
    if not healthy:
        world.device.set_health_failure("self-test failed")
    seen: list[str] = []
    installer = world.device.installer(observer=crash_at(index, seen))
    with pytest.raises(PowerLossError):
        installer.install(world.target, world.source)
    assert seen[-1] == path[index]
    if power_cycle:
        world.device.power_cycle()
    restart(world)
    # Only a crash after trial_boot is persisted but before the trial is armed is ambiguous
    # to the agent; it rolls back rather than re-arming.
    ends_new = healthy and path[index] != "persisted:trial_boot"
    assert_settled(world, "2.0" if ends_new else "1.0")


@pytest.mark.parametrize("healthy", [True, False], ids=["good-image", "bad-image"])
def test_a_second_crash_during_recovery_still_ends_old_or_new(
    tmp_path: Path, healthy: bool
) -> None:
    """First crash from the configuration backup on (before it, recovery is a plain resume,
    covered above), second crash at every checkpoint of the recovery that follows."""
    path = COMMIT_PATH if healthy else ROLLBACK_PATH
    ends = {"1.0": 0, "2.0": 0}
    for first in range(path.index("effect:backup_config"), len(path)):
        for second in range(40):
            world = _fresh_world(tmp_path / f"{first}-{second}", healthy)
            with pytest.raises(PowerLossError):
                world.device.installer(observer=crash_at(first, [])).install(
                    world.target, world.source
                )
            world.device.power_cycle()
            try:
                restart(world, crash_at(second, []))
            except PowerLossError:
                world.device.power_cycle()
                restart(world)
                crashed_again = True
            else:
                crashed_again = False
            running = world.device.running_version()
            assert running is not None
            assert_settled(world, running.version)
            ends[running.version] += 1
            if not crashed_again:
                break
    assert ends["1.0"] > 0
    assert (ends["2.0"] > 0) == healthy


def _fresh_world(root: Path, healthy: bool) -> World:
    root.mkdir(parents=True)
    old_image, new_image = root / "pump-1.0.img", root / "pump-2.0.img"
    old_image.write_bytes(os.urandom(8 * 1024))
    new_image.write_bytes(os.urandom(12 * 1024))
    device = SimulatedDevice.create(
        root / "device", image=old_image, version="1.0", version_number=100
    )
    if not healthy:
        device.set_health_failure("self-test failed")
    target = target_for(new_image, "2.0", 200)
    return World(device, old_image, new_image, target, device.config_snapshot())
