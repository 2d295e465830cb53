"""The campaign scheduler on SQLite and PostgreSQL: starting due campaigns, time-outs, the rate
limit, and the director following the database across a crash between the two writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.fleet.tables import Device
from medfleet.releases.tables import Release
from medfleet.rollouts import service
from medfleet.rollouts.campaign_errors import InvalidCampaignError
from medfleet.rollouts.director_sync import instruction_for, sync_director
from medfleet.rollouts.model import Urgency
from medfleet.rollouts.scheduler import CycleSummary, advance_one
from medfleet.rollouts.tables import Campaign
from tests.rollouts.campaign_support import Camp, camp

__all__ = ["camp"]

NO_TESTS = {"test_devices": "exclude"}
FORGIVING = {"phases": [{"percent": 100, "error_threshold": 100}]}


def test_a_scheduled_campaign_starts_when_it_is_due(camp: Camp, clock: FrozenClock) -> None:
    world = camp.world
    camp.auto_approve(world.biomed_a, Urgency.CRITICAL, out_of_cycle=True)
    device = camp.device(world.site_a)
    key = camp.create(selection=NO_TESTS, urgency="critical")
    with transaction(camp.rt.sessions) as session, pytest.raises(InvalidCampaignError):
        service.schedule(session, camp.rt.audit, world.admin, key, datetime(2026, 1, 15, 12))
    at = clock.now() + timedelta(hours=2)
    with transaction(camp.rt.sessions) as session:
        service.schedule(session, camp.rt.audit, world.admin, key, at)
    assert camp.advance()["started"] == []
    assert (camp.show(key)["state"], camp.instruction(device)) == ("scheduled", None)

    clock.advance(timedelta(hours=2))
    summary = camp.advance()
    assert summary["started"] == [key]
    assert summary["worked"] == [key]  # started and moved on in the same cycle
    shown = camp.show(key)
    assert (shown["state"], shown["started_at"]) == ("running", at.isoformat())
    assert camp.statuses(key) == {device.device_id: "assigned"}
    [(_action, payload)] = camp.events("campaign.started")
    assert payload["scheduled"] is True


def test_instructed_devices_that_never_report_time_out(camp: Camp, clock: FrozenClock) -> None:
    world = camp.world
    camp.auto_approve(world.biomed_a)
    camp.auto_approve(world.biomed_b, Urgency.CRITICAL, out_of_cycle=True)
    in_window = camp.device(world.site_a)
    out_of_cycle = camp.device(world.site_b, world.hospital_b)
    camp.window(world.biomed_a, world.site_a, datetime(2026, 1, 1, 8, 0))  # 07:00-11:00 UTC
    routine = camp.create(policy=FORGIVING, selection={**NO_TESTS, "site_ids": [world.site_a]})
    critical = camp.create(
        policy=FORGIVING,
        selection={**NO_TESTS, "site_ids": [world.site_b]},
        urgency="critical",
        name="critical",
    )
    camp.start(routine)
    camp.start(critical)
    camp.advance()
    window_closed = datetime(2026, 1, 15, 11, tzinfo=UTC)

    clock.advance(window_closed + timedelta(hours=12) - clock.now() - timedelta(minutes=1))
    camp.advance()
    assert camp.statuses(routine) == {in_window.device_id: "assigned"}
    clock.advance(timedelta(minutes=1))
    camp.advance()
    assert camp.statuses(routine) == {in_window.device_id: "timed_out"}
    assert camp.instruction(in_window) is None
    assert camp.show(routine)["state"] == "completed"  # the one device finished (timed out)
    assert camp.statuses(critical) == {out_of_cycle.device_id: "assigned"}

    clock.advance(timedelta(days=3) - timedelta(hours=14))  # 3 days after the instruction
    camp.advance()
    assert camp.statuses(critical) == {out_of_cycle.device_id: "timed_out"}
    (_action, payload), *_later = camp.events("campaign.devices_timed_out")
    assert payload["devices"] == [in_window.device_id]


def test_the_exponential_rate_limits_instructions_per_minute(
    camp: Camp, clock: FrozenClock
) -> None:
    world = camp.world
    camp.auto_approve(world.biomed_a, Urgency.CRITICAL, out_of_cycle=True)
    devices = camp.devices(7, world.site_a)
    policy = {
        **FORGIVING,
        "rate": {
            "base_per_minute": 2,
            "increment_factor": 2,
            "notify_threshold": 2,
            "maximum_per_minute": 3,
        },
    }
    key = camp.create(policy=policy, selection=NO_TESTS, urgency="critical")
    camp.start(key)

    def assigned() -> int:
        return list(camp.statuses(key).values()).count("assigned")

    camp.advance()
    assert assigned() == 2  # the base rate
    camp.advance()
    assert assigned() == 3  # 2 notified: the rate doubled, capped at 3 a minute, 2 sent
    camp.advance()
    assert assigned() == 3  # this minute's 3 are used up
    clock.advance(timedelta(seconds=61))
    camp.advance()
    assert assigned() == 6
    clock.advance(timedelta(seconds=61))
    camp.advance()
    assert assigned() == len(devices)


def _commit_without_director(camp: Camp, key: str) -> None:
    """What a worker that died right after its commit leaves behind: the scheduler's step
    committed, the director not written (``advance_campaigns`` would sync it next)."""
    with transaction(camp.rt.sessions) as session:
        campaign = session.scalar(select(Campaign).where(Campaign.number == int(key[4:])))
        assert campaign is not None
        events = advance_one(session, campaign, camp.rt.clock.now(), CycleSummary())
        camp.rt.audit.record_many(session, events)


def test_the_director_follows_the_database_after_a_crash_between_them(camp: Camp) -> None:
    world = camp.world
    camp.auto_approve(world.biomed_a, Urgency.CRITICAL, out_of_cycle=True)
    device = camp.device(world.site_a)
    key = camp.create(selection=NO_TESTS, urgency="critical")
    camp.start(key)

    _commit_without_director(camp, key)
    assert camp.statuses(key) == {device.device_id: "assigned"}
    assert camp.instruction(device) is None
    [(campaign_id, instructed, clearing)] = camp.assignments().values()
    assert (instructed, clearing) == (False, False)  # still to be written: nobody else takes it

    # a crash after the director write, before the row was marked: the write is repeated
    with transaction(camp.rt.sessions) as session:
        release = session.scalar(select(Release).where(Release.version == "4.2.0"))
        installed = session.scalar(
            select(Device.installed_version).where(Device.device_id == device.device_id)
        )
        assert release is not None
        instruction_for(
            camp.rt.distribution.director, device.device_id, release, installed, None, None
        )
    assert sync_director(camp.rt)["instructed"] == 1
    instruction = camp.instruction(device)
    assert instruction is not None
    assert instruction.version_number == 420
    assert camp.assignments() == {device.pk: (campaign_id, True, False)}
    assert sync_director(camp.rt)["instructed"] == 0  # nothing left to do

    # an abort marks the instruction for clearing; the next campaign that takes the device
    # takes the row over (one owner at any time) and its instruction replaces the old one
    with transaction(camp.rt.sessions) as session:
        service.abort(session, camp.rt.audit, world.admin, key, "stop")
    assert camp.assignments() == {device.pk: (campaign_id, True, True)}
    director = camp.rt.distribution.director
    written = director.device_dir(device.device_id).versions("targets")[-1]
    other = camp.create(selection=NO_TESTS, urgency="critical", name="next")
    camp.start(other)
    _commit_without_director(camp, other)
    assert camp.statuses(other) == {device.device_id: "assigned"}
    [(owner, instructed, clearing)] = camp.assignments().values()
    assert (owner != campaign_id, instructed, clearing) == (True, False, False)
    synced = sync_director(camp.rt)
    assert (synced["instructed"], synced["cleared"]) == (1, 0)  # replaced, not cleared first
    assert director.device_dir(device.device_id).versions("targets")[-1] == written + 1
    instruction = camp.instruction(device)
    assert instruction is not None
    assert instruction.version_number == 420


def test_a_campaign_that_cannot_advance_does_not_stop_the_others(camp: Camp) -> None:
    world = camp.world
    camp.auto_approve(world.biomed_a, Urgency.CRITICAL, out_of_cycle=True)
    camp.auto_approve(world.biomed_b, Urgency.CRITICAL, out_of_cycle=True)
    camp.device(world.site_a)
    fine_device = camp.device(world.site_b, world.hospital_b)
    broken = camp.create(selection={**NO_TESTS, "site_ids": [world.site_a]}, urgency="critical")
    fine = camp.create(
        selection={**NO_TESTS, "site_ids": [world.site_b]}, urgency="critical", name="fine"
    )
    camp.start(broken)
    camp.start(fine)
    with transaction(camp.rt.sessions) as session:  # a policy no parser would accept
        session.execute(
            update(Campaign).where(Campaign.number == 1).values(policy={"phases": "all"})
        )
    summary = camp.advance()
    assert list(summary["failed"]) == ["#1"]
    assert "phases: must be a list" in summary["failed"]["#1"]
    assert summary["worked"] == [fine]
    assert camp.statuses(fine) == {fine_device.device_id: "assigned"}
    assert set(camp.statuses(broken).values()) == {"waiting"}  # rolled back, untouched
