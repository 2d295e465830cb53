"""Rollback campaigns on SQLite and PostgreSQL: the devices a campaign updated go back to the
release they ran before, and only those."""

from __future__ import annotations

from typing import Any

import pytest

from medfleet.db.engine import transaction
from medfleet.rollouts import rollback, service
from medfleet.rollouts.campaign_errors import (
    CampaignNotFoundError,
    CampaignReleaseError,
    InvalidCampaignError,
)
from medfleet.rollouts.errors import CampaignStateError
from medfleet.rollouts.model import Urgency
from tests.rollouts.campaign_support import Camp, Dev, camp

__all__ = ["camp"]

NO_TESTS = {"test_devices": "exclude"}


def roll_back(camp: Camp, key: str, **kw: Any) -> str:
    with transaction(camp.rt.sessions) as session:
        return rollback.create_rollback(session, camp.rt.audit, camp.world.admin, key, **kw).key


def updated(camp: Camp, devices: list[Dev], failing: int = 0) -> str:
    """A critical update to 4.2.0 in which all but the last ``failing`` devices succeeded,
    aborted afterwards."""
    key = camp.create(
        policy={"phases": [{"percent": 100, "error_threshold": 100}]},
        selection=NO_TESTS,
        urgency="critical",
    )
    camp.start(key)
    camp.advance()
    for index, device in enumerate(devices):
        failed = index >= len(devices) - failing
        camp.finish(device, "4.2.0", "failed" if failed else "committed")
    camp.advance()
    return key


def test_a_rollback_returns_the_updated_devices_to_their_previous_release(camp: Camp) -> None:
    world = camp.world
    camp.auto_approve(world.biomed_a, Urgency.CRITICAL, out_of_cycle=True)
    devices = camp.devices(3, world.site_a)
    update = camp.create(selection=NO_TESTS, urgency="critical")
    camp.start(update)
    camp.advance()
    camp.finish(devices[0], "4.2.0")
    camp.finish(devices[1], "4.2.0")
    with pytest.raises(CampaignStateError, match="pause or abort it"):
        roll_back(camp, update)
    with transaction(camp.rt.sessions) as session:
        service.abort(session, camp.rt.audit, world.admin, update, "field reports")

    key = roll_back(camp, update)
    shown = camp.show(key)
    assert (shown["kind"], shown["state"], shown["rollback_of"]) == ("rollback", "draft", update)
    assert shown["release"]["release_id"] == "IP-100-4.1.0"
    assert shown["urgency"] == "critical"  # the original's
    assert set(camp.statuses(key)) == {devices[0].device_id, devices[1].device_id}
    with pytest.raises(CampaignStateError, match="rollback campaign itself"):
        roll_back(camp, key)

    camp.start(key)
    camp.advance()
    for device in devices[:2]:
        instruction = camp.instruction(device)
        assert instruction is not None
        assert (instruction.release_id, instruction.version_number) == ("IP-100-4.1.0", 410)
    for device in devices[:2]:
        camp.finish(device, "4.1.0")
    camp.advance()
    shown = camp.show(key)
    assert shown["state"] == "completed"
    assert shown["statuses"]["succeeded"] == 2
    assert all(device.running == ("4.1.0", 410) for device in devices[:2])


def test_a_rollback_takes_only_devices_that_ran_that_release_before(camp: Camp) -> None:
    world = camp.world
    camp.auto_approve(world.biomed_a, Urgency.CRITICAL, out_of_cycle=True)
    usual = camp.devices(2, world.site_a)
    older = camp.device(world.site_a, running=("4.0.0", 400))  # 4.0.0 is no release here
    failing = camp.device(world.site_a)
    key = updated(camp, [*usual, older, failing], failing=1)
    assert camp.show(key)["state"] == "completed"

    back = roll_back(camp, key, name="Back to 4.1.0")
    shown = camp.show(back)
    assert shown["name"] == "Back to 4.1.0"
    assert set(camp.statuses(back)) == {d.device_id for d in usual}
    assert shown["plan"]["statuses"]["not_previous_release"] == 1  # the one from 4.0.0
    with pytest.raises(CampaignNotFoundError, match=r"no release IP-100 4\.0\.0"):
        roll_back(camp, key, version="4.0.0")


def test_rollbacks_that_cannot_be(camp: Camp) -> None:
    world = camp.world
    camp.auto_approve(world.biomed_a, Urgency.CRITICAL, out_of_cycle=True)
    device = camp.device(world.site_a)
    nothing = updated(camp, [device], failing=1)
    with pytest.raises(InvalidCampaignError, match="nothing to roll back"):
        roll_back(camp, nothing)
    other = camp.device(world.site_a)
    worked = updated(camp, [other])
    camp.withdraw("4.1.0", "never again")
    with pytest.raises(CampaignReleaseError, match="withdrawn"):
        roll_back(camp, worked)
    with transaction(camp.rt.sessions) as session, pytest.raises(CampaignNotFoundError):
        rollback.create_rollback(session, camp.rt.audit, world.biomed_a, worked)
