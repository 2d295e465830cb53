"""The run loop with install windows and clinical use, against the real director over HTTP.

The window travels in the director's signed instruction (``medfleet.signing.director``) and
reaches the agent through python-tuf; the agent's clock is a ``FrozenClock`` moved explicitly.
Reports are checked with the server's own ``verify_report``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from medfleet.agent.contract import utc_text
from medfleet.agent.decision import Install
from medfleet.agent.reports import StatusReport, verify_report
from medfleet.agent.runner import Agent
from medfleet.agent.status import Action
from medfleet.agent.window import short_utc
from medfleet.clock import FrozenClock
from medfleet.signing.tuf_api import TargetFile
from tests.agent.http_fixture import V1, V2, World, make_agent, served_world


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
    return [
        verify_report(agent.key.public_key_bytes, document).report
        for _, document in world.server.reports
    ]


def test_an_install_waits_for_its_window_and_reports_its_downtime(
    world: World, agent: Agent
) -> None:
    now = clock_of(agent).now().replace(second=0, microsecond=0)
    opens, closes = now + timedelta(hours=2), now + timedelta(hours=6)
    world.assign("pump-1", world.publish(200, V2), install_after=opens, install_before=closes)

    waiting = agent.check_once()
    again = agent.check_once()

    assert waiting.action is Action.DEFERRED
    assert isinstance(waiting.decision, Install)
    instruction = waiting.decision.instruction  # signed by the director, read by python-tuf
    assert (instruction.install_after, instruction.install_before) == (opens, closes)
    shown = waiting.to_dict()["decision"]
    assert (shown["install_after"], shown["install_before"]) == (utc_text(opens), utc_text(closes))
    assert waiting.detail is not None
    assert waiting.detail.startswith(f"waiting for the maintenance window {short_utc(opens)}")
    assert again.action is Action.DEFERRED
    assert agent.device.slots.version_of("b") is None
    reports = delivered(world, agent)
    assert [(r.content.outcome, r.content.detail) for r in reports] == [
        (None, None),
        ("deferred", waiting.detail),
    ]  # the deferral once, not once per poll
    assert reports[1].content.target is not None

    clock_of(agent).advance(timedelta(hours=2, minutes=1))
    inside = clock_of(agent).now()
    installed = agent.check_once()

    assert installed.action is Action.INSTALLED
    assert installed.source is None  # downloaded while waiting
    last = delivered(world, agent)[-1].content
    assert last.outcome == "committed"
    assert last.in_clinical_use is False
    assert opens < inside < closes
    assert last.left_service_at == last.returned_to_service_at == inside  # the clock is frozen


def test_an_instruction_whose_window_closed_is_not_installed(world: World, agent: Agent) -> None:
    now = clock_of(agent).now()
    world.assign(
        "pump-1",
        world.publish(200, V2),
        install_after=now - timedelta(hours=5),
        install_before=now - timedelta(hours=1),
    )

    outcome = agent.check_once()

    assert outcome.action is Action.DEFERRED
    assert outcome.detail is not None
    assert outcome.detail.endswith("has closed; waiting for a new instruction")
    assert agent.device.running_slot() == "a"
    assert agent.device.slots.version_of("b") is None


def test_a_deferral_is_reported_again_when_its_reason_changes(world: World, agent: Agent) -> None:
    now = clock_of(agent).now()
    world.assign(
        "pump-1",
        world.publish(200, V2),
        install_after=now + timedelta(hours=1),
        install_before=now + timedelta(hours=3),
    )
    agent.device.set_clinical_use(True)
    clock_of(agent).advance(timedelta(hours=1, minutes=30))  # inside the window, but in use

    agent.check_once()
    clock_of(agent).advance(timedelta(hours=2))  # the procedure outlasts the window
    agent.device.set_clinical_use(False)
    agent.check_once()

    details = [(r.content.outcome, r.content.detail) for r in delivered(world, agent)]
    assert details[1][1] == "device in clinical use; install waits at downloaded"
    assert details[2] == (None, "clinical use ended")
    assert details[3][0] == "deferred"
    assert details[3][1] is not None
    assert details[3][1].endswith("has closed; waiting for a new instruction")
    assert len(details) == 4


def test_a_change_of_clinical_use_alone_is_reported_once(world: World, agent: Agent) -> None:
    assert agent.check_once().action is Action.UP_TO_DATE
    assert delivered(world, agent)[0].content.in_clinical_use is False

    agent.device.set_clinical_use(True)
    started = agent.check_once()
    agent.check_once()
    agent.check_once()
    agent.device.set_clinical_use(False)
    agent.check_once()
    agent.check_once()

    assert started.action is Action.NOT_MODIFIED  # reported without a full check
    reports = delivered(world, agent)
    assert [(r.content.in_clinical_use, r.content.detail) for r in reports] == [
        (False, None),
        (True, "clinical use began"),
        (False, "clinical use ended"),
    ]
    assert all(r.content.outcome is None and r.content.target is None for r in reports)
    assert [r.seq for r in reports] == [1, 2, 3]
