"""The run loop end to end: real repositories signed by the server code, served over real HTTP.

Each test enrolls a file-backed device (``SimulatedDevice``) running ``V1`` (version 100) over
HTTP, then drives ``Agent.check_once`` directly; the agent's clock is a ``FrozenClock`` moved
explicitly, so nothing sleeps. Reports are checked with the server's own ``verify_report``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from medfleet.agent.decision import Rejected, RejectReason
from medfleet.agent.errors import AgentError
from medfleet.agent.installer import Checkpoint
from medfleet.agent.reports import StatusReport, verify_report
from medfleet.agent.runner import Agent
from medfleet.agent.status import Action
from medfleet.clock import FrozenClock
from medfleet.signing.tuf_api import TargetFile
from tests.agent.http_fixture import (
    V1,
    V2,
    World,
    export_bundle,
    make_agent,
    served_world,
    target_url,
)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with served_world(tmp_path) as world:
        yield world


@pytest.fixture
def v1(world: World) -> TargetFile:
    return world.publish(100, V1)


@pytest.fixture
def agent(world: World, v1: TargetFile, tmp_path: Path) -> Agent:
    return make_agent(world, tmp_path / "devices")


def clock_of(agent: Agent) -> FrozenClock:
    assert isinstance(agent.clock, FrozenClock)
    return agent.clock


def delivered(world: World, agent: Agent) -> list[StatusReport]:
    """Every report the server acknowledged, verified with the device's enrolled key."""
    reports = []
    for device_id, document in world.server.reports:
        assert device_id == agent.config.device_id
        reports.append(verify_report(agent.key.public_key_bytes, document).report)
    return reports


def test_a_full_image_assigned_by_the_director_is_installed_and_reported(
    world: World, agent: Agent
) -> None:
    v2 = world.publish(200, V2)
    world.assign("pump-1", v2)

    outcome = agent.check_once()

    assert outcome.action is Action.INSTALLED, outcome
    assert outcome.ok
    assert outcome.source == "full"
    assert agent.device.running_slot() == "b"
    assert agent.device.slots.image_path("b").read_bytes() == V2
    running = agent.device.running_version()
    assert running is not None
    assert (running.version, running.version_number) == ("2.0.0", 200)
    first, last = delivered(world, agent)
    assert (first.seq, last.seq) == (1, 2)
    assert first.content.install_phase == "idle"  # the attestation after enrollment
    assert first.content.active_version == "1.0.0"
    assert last.content.outcome == "committed"
    assert (last.content.active_slot, last.content.active_version) == ("b", "2.0.0")
    assert last.content.target is not None
    assert last.content.target.sha256 == v2.hashes["sha256"]
    assert (outcome.reports_sent, outcome.reports_pending) == (2, 0)
    assert agent.status()["pending_reports"] == 0


def test_the_delta_is_used_when_it_starts_from_the_running_image(
    world: World, agent: Agent, v1: TargetFile
) -> None:
    v2 = world.publish(200, V2)
    delta = world.publish_delta(v1, V1, v2, V2)
    world.assign("pump-1", v2, delta)
    mark = world.server.mark()

    outcome = agent.check_once()

    assert outcome.action is Action.INSTALLED
    assert outcome.source == "delta"
    fetched = [r.path for r in world.server.since(mark) if "/targets/" in r.path]
    assert fetched == [target_url(delta)]
    assert agent.device.slots.image_path("b").read_bytes() == V2
    assert list(agent.layout.downloads_dir.glob("*")) == []


def test_a_corrupt_delta_falls_back_to_the_full_image(
    world: World, agent: Agent, v1: TargetFile
) -> None:
    v2 = world.publish(200, V2)
    delta = world.publish_delta(v1, V1, v2, V2[::-1])  # its header promises V2, it builds junk
    world.assign("pump-1", v2, delta)
    mark = world.server.mark()

    outcome = agent.check_once()

    assert outcome.action is Action.INSTALLED
    assert outcome.source == "full"
    fetched = [r.path for r in world.server.since(mark) if "/targets/" in r.path]
    assert fetched == [target_url(delta), target_url(v2)]
    assert agent.device.slots.image_path("b").read_bytes() == V2


def test_clinical_use_defers_the_install_until_it_ends(world: World, agent: Agent) -> None:
    v2 = world.publish(200, V2)
    world.assign("pump-1", v2)
    agent.device.set_clinical_use(True)

    deferred = agent.check_once()
    again = agent.check_once()

    assert deferred.action is Action.DEFERRED
    assert deferred.ok
    assert again.action is Action.DEFERRED
    assert agent.device.running_slot() == "a"
    assert agent.device.slots.version_of("b") is None  # nothing written while in use
    reports = delivered(world, agent)
    assert [r.content.outcome for r in reports] == [None, "deferred"]  # not repeated
    assert reports[1].content.install_phase == "downloaded"

    agent.device.set_clinical_use(False)
    installed = agent.check_once()

    assert installed.action is Action.INSTALLED
    assert installed.source is None  # the download was complete already
    assert agent.device.running_slot() == "b"
    assert delivered(world, agent)[-1].content.outcome == "committed"


def test_an_anti_rollback_assignment_is_rejected_and_reported_once(
    world: World, tmp_path: Path
) -> None:
    v2 = world.publish(200, V2)
    agent = make_agent(world, tmp_path / "devices", version_number=300)
    world.assign("pump-1", v2)
    agent.full_check_interval = timedelta(0)  # every cycle decides again

    first = agent.check_once()
    second = agent.check_once()

    for outcome in (first, second):
        assert outcome.action is Action.REJECTED
        assert not outcome.ok
        assert isinstance(outcome.decision, Rejected)
        assert outcome.decision.reason is RejectReason.ANTI_ROLLBACK
    assert agent.device.running_slot() == "a"
    assert agent.device.slots.version_of("b") is None
    assert agent.installer.record() is None
    reports = delivered(world, agent)
    assert len(reports) == 2  # the attestation and one rejection, not one per cycle
    assert reports[1].content.outcome == "failed"
    assert reports[1].content.detail is not None
    assert reports[1].content.detail.startswith("rejected anti-rollback")


def test_an_image_for_other_hardware_is_not_installed(world: World, tmp_path: Path) -> None:
    v2 = world.publish(200, V2)
    agent = make_agent(world, tmp_path / "devices", hardware_revision="C")
    world.assign("pump-1", v2)

    outcome = agent.check_once()

    assert isinstance(outcome.decision, Rejected)
    assert outcome.decision.reason is RejectReason.WRONG_HARDWARE_REVISION
    assert agent.device.running_slot() == "a"


def test_a_304_poll_skips_the_full_check(world: World, agent: Agent) -> None:
    assert agent.check_once().action is Action.UP_TO_DATE
    mark = world.server.mark()

    outcome = agent.check_once()

    assert outcome.action is Action.NOT_MODIFIED
    requests = [(r.method, r.path, r.status) for r in world.server.since(mark)]
    assert requests == [("GET", "/repo/director/pump-1/metadata/timestamp.json", 304)]

    clock_of(agent).advance(timedelta(days=1))  # the daily full check happens regardless
    mark = world.server.mark()
    assert agent.check_once().action is Action.UP_TO_DATE
    assert any("/repo/image/metadata/" in r.path for r in world.server.since(mark))


def test_a_new_instruction_changes_the_etag_and_is_acted_on(world: World, agent: Agent) -> None:
    agent.check_once()
    world.assign("pump-1", world.publish(200, V2))

    assert agent.check_once().action is Action.INSTALLED


def test_an_unreachable_repository_is_transient_and_keeps_no_etag(
    world: World, agent: Agent
) -> None:
    world.server.stop()

    outcome = agent.check_once()

    assert outcome.action is Action.REJECTED
    assert isinstance(outcome.decision, Rejected)
    assert outcome.decision.transient
    assert agent.layout.load_poll_state().etag is None
    assert outcome.reports_pending == 1  # the attestation waits for the server


def test_report_delivery_is_retried_after_a_server_error(world: World, agent: Agent) -> None:
    world.server.report_statuses = [500]
    world.assign("pump-1", world.publish(200, V2))

    installed = agent.check_once()

    assert installed.action is Action.INSTALLED
    assert (installed.reports_sent, installed.reports_pending) == (0, 2)
    assert world.server.reports == []
    assert agent.check_once().reports_sent == 0  # backing off: not due yet

    clock_of(agent).advance(timedelta(minutes=1))
    retried = agent.check_once()

    assert retried.action is Action.NOT_MODIFIED
    assert (retried.reports_sent, retried.reports_pending) == (2, 0)
    failed_document = world.server.report_posts[0][1]
    assert world.server.reports[0][1] == failed_document  # the same signed bytes, resent
    assert [r.seq for r in delivered(world, agent)] == [1, 2]


def test_a_refused_report_is_dropped_and_counted(world: World, agent: Agent) -> None:
    world.server.report_statuses = [403]

    outcome = agent.check_once()

    assert (outcome.reports_sent, outcome.reports_pending) == (1, 0)
    status = agent.status()
    assert status["reports_refused"] == 1
    assert status["last_refusal"] == "HTTP 403: scripted answer 403"


def test_a_409_counts_as_delivered(world: World, agent: Agent) -> None:
    world.server.report_statuses = [409]

    outcome = agent.check_once()

    assert (outcome.reports_sent, outcome.reports_pending) == (1, 0)
    assert agent.status()["reports_refused"] == 0


def test_a_failed_health_check_rolls_back(world: World, agent: Agent) -> None:
    world.assign("pump-1", world.publish(200, V2))
    agent.device.set_health_failure("occlusion sensor self-test failed")

    outcome = agent.check_once()

    assert outcome.action is Action.ROLLED_BACK
    assert not outcome.ok
    assert agent.device.running_slot() == "a"
    assert delivered(world, agent)[-1].content.outcome == "rolled_back"


class PowerLossError(Exception):
    """The device loses power at a chosen installer checkpoint."""


def test_an_install_interrupted_by_power_loss_is_recovered_and_reported(
    world: World, agent: Agent
) -> None:
    world.assign("pump-1", world.publish(200, V2))

    def lose_power(checkpoint: Checkpoint) -> None:
        if checkpoint.label == "effect:arm_trial":
            raise PowerLossError

    crashing = Agent.open(agent.layout.root, observer=lose_power, clock=agent.clock)
    with pytest.raises(PowerLossError):
        crashing.check_once()
    agent.device.power_cycle()  # the bootloader starts the new slot on trial

    outcome = Agent.open(agent.layout.root, clock=agent.clock).check_once()

    assert agent.device.running_slot() == "b"
    # Recovery committed it before the poll; the crashed cycle stored no ETag, so this one
    # checks in full and finds the new image installed.
    assert outcome.action is Action.UP_TO_DATE
    assert outcome.detail == "already-installed"
    assert delivered(world, agent)[-1].content.outcome == "committed"


def test_install_bundle_installs_offline_and_reports_on_the_next_run(
    world: World, agent: Agent, tmp_path: Path
) -> None:
    v2 = world.publish(200, V2)
    world.assign("pump-1", v2)
    bundle = export_bundle(world, "pump-1", v2, tmp_path / "field.tar")
    posts = len(world.server.report_posts)

    outcome = agent.install_bundle(bundle)

    assert outcome.action is Action.INSTALLED
    assert outcome.source == "bundle"
    assert agent.device.running_slot() == "b"
    assert outcome.reports_pending == 1
    assert len(world.server.report_posts) == posts  # offline: nothing sent yet

    assert agent.check_once().reports_sent == 1
    assert delivered(world, agent)[-1].content.outcome == "committed"
    assert not (agent.layout.downloads_dir / "bundle").exists()


def test_a_bundle_for_another_device_is_rejected(
    world: World, agent: Agent, tmp_path: Path
) -> None:
    v2 = world.publish(200, V2)
    world.register("pump-2")
    world.assign("pump-2", v2)
    bundle = export_bundle(world, "pump-2", v2, tmp_path / "other.tar")

    outcome = agent.install_bundle(bundle)

    assert isinstance(outcome.decision, Rejected)
    assert outcome.decision.reason is RejectReason.BUNDLE_NOT_FOR_DEVICE
    assert agent.device.running_slot() == "a"


def test_next_delay_adds_jitter_and_comes_early_for_a_due_report(
    world: World, agent: Agent
) -> None:
    delays = [agent.next_delay(100, 20) for _ in range(20)]
    assert all(100 <= delay <= 120 for delay in delays)
    assert len(set(delays)) > 1

    world.server.report_statuses = [500]
    agent.check_once()  # the attestation fails: retried within the backoff (<= 5 s)

    assert agent.next_delay(100, 20) <= 5


def test_run_forever_checks_until_stopped(world: World, agent: Agent) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            agent.run_forever(stop, interval=3600, jitter=0)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    assert world.server.polled.wait(timeout=30)
    stop.set()
    thread.join(timeout=30)

    assert not thread.is_alive()
    assert errors == []
    assert agent.status()["last_check"]["action"] == "up-to-date"


def test_open_without_a_device_is_a_configuration_error(agent: Agent, tmp_path: Path) -> None:
    with pytest.raises(AgentError, match="no device at"):
        Agent.open(agent.layout.root, tmp_path / "nowhere")


def test_outcomes_serialise_to_json(world: World, agent: Agent) -> None:
    world.assign("pump-1", world.publish(200, V2))

    data: dict[str, Any] = agent.check_once().to_dict()

    assert data["action"] == "installed"
    assert data["ok"] is True
    assert data["decision"]["kind"] == "install"
    assert data["decision"]["version_number"] == 200
    assert data["install"] == {"outcome": "committed", "phase": "committed", "detail": None}
    assert data["reports"] == {"sent": 2, "pending": 0}
