"""Install windows and downtime on a real file-backed device: the installer downloads at any
time but leaves clinical service only inside the window, and its record says when the device
left service and came back, across power losses in between."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from medfleet.agent.install_state import Outcome, Phase
from medfleet.agent.installer import Checkpoint, Installer
from medfleet.agent.window import InstallWindow
from medfleet.clock import FrozenClock
from tests.agent.test_installer import (
    COMMIT_PATH,
    ROLLBACK_PATH,
    PowerLossError,
    World,
    assert_settled,
    crash_at,
    world,
)

__all__ = ["world"]  # the fixture, shared with test_installer

SATURDAY = datetime(2026, 3, 7, tzinfo=UTC)
OPENS, CLOSES = SATURDAY + timedelta(hours=7), SATURDAY + timedelta(hours=11)
WINDOW = InstallWindow(OPENS, CLOSES)
WAITING = "waiting for the maintenance window 2026-03-07T07:00Z\u201311:00Z"
CLOSED = (
    "the maintenance window 2026-03-07T07:00Z\u201311:00Z has closed; waiting for a new instruction"
)


def installer(
    world: World, clock: FrozenClock, observer: Callable[[Checkpoint], None] | None = None
) -> Installer:
    return world.device.installer(clock=clock, observer=observer)


def downloaded(world: World) -> bool:
    partial = world.device.state_dir / "downloads" / f"{world.target.sha256}.partial"
    return partial.exists() and partial.stat().st_size == world.target.length


def test_the_window_is_named_as_reports_show_it() -> None:
    assert WINDOW.describe() == "2026-03-07T07:00Z\u201311:00Z"
    overnight = InstallWindow(OPENS + timedelta(hours=15), CLOSES + timedelta(days=1, seconds=30))
    assert overnight.describe() == "2026-03-07T22:00Z\u20132026-03-08T11:00:30Z"
    assert InstallWindow(OPENS).describe() == "from 2026-03-07T07:00Z"
    assert InstallWindow(None, CLOSES).describe() == "until 2026-03-07T11:00Z"
    assert InstallWindow().wait_reason(SATURDAY) is None


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (OPENS - timedelta(microseconds=1), WAITING),
        (OPENS, None),
        (CLOSES - timedelta(microseconds=1), None),
        (CLOSES, CLOSED),
    ],
)
def test_the_window_includes_its_start_and_excludes_its_end(
    now: datetime, reason: str | None
) -> None:
    assert WINDOW.wait_reason(now) == reason


def test_before_the_window_the_image_is_downloaded_but_not_installed(world: World) -> None:
    clock = FrozenClock(OPENS - timedelta(hours=1))
    result = installer(world, clock).install(world.target, world.source, WINDOW)

    assert (result.outcome, result.phase, result.detail) == (
        Outcome.DEFERRED,
        Phase.DOWNLOADED,
        WAITING,
    )
    assert downloaded(world)
    assert not world.device.slots.image_path("b").exists()
    assert world.device.running_slot() == "a"
    content = installer(world, clock).report_content(result)
    assert (content.outcome, content.detail, content.left_service_at) == ("deferred", WAITING, None)

    world.new_image.unlink()  # the window opens: the verified download is all it needs
    clock.advance(timedelta(hours=1, minutes=30))
    done = installer(world, clock).install(world.target, world.source, WINDOW)

    assert done.outcome is Outcome.COMMITTED
    assert done.record is not None
    assert done.record.left_service_at == OPENS + timedelta(minutes=30)
    assert_settled(world, "2.0")


def test_inside_the_window_the_install_runs_and_records_its_downtime(world: World) -> None:
    clock = FrozenClock(OPENS + timedelta(minutes=10))
    steps = {"effect:reboot": timedelta(minutes=3), "effect:health_check": timedelta(seconds=40)}

    def time_passes(checkpoint: Checkpoint) -> None:
        clock.advance(steps.get(checkpoint.label, timedelta(0)))

    subject = installer(world, clock, time_passes)
    result = subject.install(world.target, world.source, WINDOW)

    assert result.outcome is Outcome.COMMITTED
    content = subject.report_content(result)
    assert content.left_service_at == OPENS + timedelta(minutes=10)
    assert content.returned_to_service_at == OPENS + timedelta(minutes=13, seconds=40)
    assert content.in_clinical_use is False


def test_after_the_window_closed_nothing_is_installed(world: World) -> None:
    clock = FrozenClock(CLOSES)
    result = installer(world, clock).install(world.target, world.source, WINDOW)

    assert (result.outcome, result.phase, result.detail) == (
        Outcome.DEFERRED,
        Phase.DOWNLOADED,
        CLOSED,
    )
    assert not world.device.slots.image_path("b").exists()
    assert world.device.running_slot() == "a"
    assert result.record is not None

    # The director renews the instruction with next Saturday's window: the paused attempt
    # at the same target resumes there.
    next_week = InstallWindow(OPENS + timedelta(days=7), CLOSES + timedelta(days=7))
    clock.advance(timedelta(days=7) - timedelta(hours=3))
    again = installer(world, clock).install(world.target, world.source, next_week)
    assert again.outcome is Outcome.COMMITTED
    assert again.record is not None
    assert again.record.attempt_id == result.record.attempt_id


def test_a_window_that_closes_during_the_download_stops_before_the_write(world: World) -> None:
    clock = FrozenClock(CLOSES - timedelta(minutes=1))

    def slow_download(checkpoint: Checkpoint) -> None:
        if checkpoint.label == "effect:fetch":
            clock.advance(timedelta(minutes=5))

    result = installer(world, clock, slow_download).install(world.target, world.source, WINDOW)

    assert (result.outcome, result.phase, result.detail) == (
        Outcome.DEFERRED,
        Phase.DOWNLOADED,
        CLOSED,
    )
    assert downloaded(world)
    assert not world.device.slots.image_path("b").exists()


def test_a_window_that_closes_after_the_write_stops_before_the_trial(world: World) -> None:
    clock = FrozenClock(CLOSES - timedelta(minutes=1))

    def slow_write(checkpoint: Checkpoint) -> None:
        if checkpoint.label == "effect:write_slot":
            clock.advance(timedelta(minutes=5))

    result = installer(world, clock, slow_write).install(world.target, world.source, WINDOW)

    assert (result.outcome, result.phase, result.detail) == (
        Outcome.DEFERRED,
        Phase.WRITTEN,
        CLOSED,
    )
    assert not world.device.boot_control.env().upgrade_available
    assert world.device.running_slot() == "a"


def test_a_window_that_closes_once_the_device_left_service_does_not_cut_the_install_short(
    world: World,
) -> None:
    clock = FrozenClock(CLOSES - timedelta(minutes=1))

    def slow_reboot(checkpoint: Checkpoint) -> None:
        if checkpoint.label == "effect:reboot":
            clock.advance(timedelta(minutes=5))

    result = installer(world, clock, slow_reboot).install(world.target, world.source, WINDOW)

    assert result.outcome is Outcome.COMMITTED
    assert result.record is not None
    assert result.record.left_service_at == CLOSES - timedelta(minutes=1)
    assert result.record.returned_to_service_at == CLOSES + timedelta(minutes=4)


def test_a_rolled_back_attempt_records_its_downtime_and_a_failed_one_none(world: World) -> None:
    clock = FrozenClock(OPENS)
    world.device.set_health_failure("occlusion sensor self-test failed")
    rolled = installer(world, clock).install(world.target, world.source, WINDOW)
    assert rolled.outcome is Outcome.ROLLED_BACK
    assert rolled.record is not None
    assert rolled.record.left_service_at == rolled.record.returned_to_service_at == OPENS

    world.device.set_health_failure(None)
    world.new_image.write_bytes(bytes(world.target.length))  # wrong bytes: fails pre-trial
    failed = installer(world, clock).install(world.target, world.source, WINDOW)
    assert failed.outcome is Outcome.FAILED
    content = installer(world, clock).report_content(failed)
    assert (content.left_service_at, content.returned_to_service_at) == (None, None)


OUT_OF_SERVICE = [
    (path, index)
    for path in (COMMIT_PATH, ROLLBACK_PATH)
    for index in range(path.index("persisted:trial_boot"), len(path))
    if path[index] not in ("persisted:committed", "persisted:rolled_back", "effect:cleanup")
]


@pytest.mark.parametrize(
    ("path", "index"),
    OUT_OF_SERVICE,
    ids=[f"{'good' if p is COMMIT_PATH else 'bad'}-{p[i]}-{i}" for p, i in OUT_OF_SERVICE],
)
def test_a_power_loss_between_leaving_and_returning_keeps_the_departure(
    world: World, path: list[str], index: int
) -> None:
    if path is ROLLBACK_PATH:
        world.device.set_health_failure("self-test failed")
    clock = FrozenClock(OPENS + timedelta(minutes=2))
    seen: list[str] = []
    with pytest.raises(PowerLossError):
        installer(world, clock, crash_at(index, seen)).install(world.target, world.source, WINDOW)
    assert seen[-1] == path[index]

    clock.advance(timedelta(minutes=45))  # the power comes back three quarters of an hour later
    world.device.power_cycle()
    restarted = installer(world, clock)
    result = restarted.recover()

    assert result.outcome in (Outcome.COMMITTED, Outcome.ROLLED_BACK)
    content = restarted.report_content(result)
    assert content.left_service_at == OPENS + timedelta(minutes=2)
    assert content.returned_to_service_at == OPENS + timedelta(minutes=47)
    running = world.device.running_version()
    assert running is not None
    assert_settled(world, running.version)
