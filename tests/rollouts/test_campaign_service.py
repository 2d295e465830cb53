"""Campaigns end to end at the service level, on SQLite and PostgreSQL: planning, phases and
thresholds, pause/resume/abort, abort criteria, windows, hospital acceptance, intermediate
releases, withdrawn releases and idempotent scheduling.

Devices are real (registered, enrolled, reporting signed status reports through the server's
intake); what a device is told comes from its director metadata.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from medfleet.audit.tables import AuditEventRow
from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.rollouts import service
from medfleet.rollouts.campaign_errors import (
    CampaignNotAllowedError,
    CampaignNotFoundError,
    CampaignReleaseError,
    InvalidCampaignError,
)
from medfleet.rollouts.errors import CampaignStateError, InvalidPolicyError
from medfleet.rollouts.model import Urgency
from medfleet.rollouts.tables import ActiveAssignment, Campaign, CampaignDevice
from tests.rollouts.campaign_support import Camp, Dev, camp

__all__ = ["camp"]

CRITICAL = Urgency.CRITICAL
NO_TESTS = {"test_devices": "exclude"}


def ids(devices: list[Dev]) -> set[str]:
    return {d.device_id for d in devices}


def having(statuses: dict[str, str], status: str) -> set[str]:
    return {device for device, now in statuses.items() if now == status}


def consenting_hospital_a(camp: Camp) -> None:
    """Hospital A approves critical campaigns everywhere, production and out of cycle too."""
    camp.auto_approve(camp.world.biomed_a, CRITICAL, out_of_cycle=True)


def rows(camp: Camp) -> dict[str, int]:
    with transaction(camp.rt.sessions) as session:

        def count(column: Any) -> int:
            return session.scalar(select(func.count(column))) or 0

        return {
            "campaigns": count(Campaign.id),
            "devices": count(CampaignDevice.id),
            "assignments": count(ActiveAssignment.device_pk),
            "audit": count(AuditEventRow.seq),
        }


# -- creating: planning over the fleet ------------------------------------------------------


def test_create_plans_the_selected_fleet_into_phases(camp: Camp) -> None:
    world = camp.world
    tests = camp.devices(2, world.site_a, test=True)
    production_a = camp.devices(6, world.site_a)
    production_b = camp.devices(4, world.site_b, world.hospital_b)
    current = camp.device(world.site_a, running=("4.2.0", 420))
    policy = {"phases": [{"cumulative_percent": 50}, {"cumulative_percent": 100}]}

    key = camp.create(policy=policy)

    shown = camp.show(key)
    assert (shown["key"], shown["state"], shown["kind"], shown["urgency"]) == (
        "CMP-1", "draft", "update", "routine",
    )  # fmt: skip
    assert shown["release"]["release_id"] == "IP-100-4.2.0"
    assert shown["devices"] == 12
    assert shown["phases"][0]["devices"] == 2
    assert shown["phases"][1]["devices"] + shown["phases"][2]["devices"] == 10
    assert shown["plan"]["statuses"]["up_to_date"] == 1
    assert shown["plan"]["test_sites"] == 1
    statuses = camp.statuses(key)
    assert set(statuses) == ids(tests + production_a + production_b)
    assert current.device_id not in statuses
    # nobody accepted the release yet
    assert set(statuses.values()) == {"awaiting_acceptance"}
    [(_action, payload)] = camp.events("campaign.created")
    assert payload["release"] == "IP-100-4.2.0"
    assert payload["plan"]["in_campaign"] == 12

    only_b = camp.create(selection={"site_ids": [world.site_b]}, name="Bayview only")
    assert set(camp.statuses(only_b)) == ids(production_b)


def test_bad_requests_are_refused_and_change_nothing(camp: Camp) -> None:
    world = camp.world
    camp.devices(2, world.site_a)
    before = rows(camp)

    def create(who: Any = None, **kw: Any) -> None:
        args: dict[str, Any] = {
            "model": "IP-100", "version": "4.2.0", "name": "x", "policy": {"phases": [
                {"percent": 100}]},
        }  # fmt: skip
        with transaction(camp.rt.sessions) as session:
            service.create_campaign(session, camp.rt.audit, who or world.admin, **(args | kw))

    with pytest.raises(CampaignNotFoundError):
        create(world.biomed_a)  # campaigns do not exist for hospitals
    with pytest.raises(CampaignNotAllowedError):
        create(world.engineer)
    with pytest.raises(CampaignNotFoundError, match=r"no release IP-100 9\.9\.9"):
        create(version="9.9.9")
    with pytest.raises(InvalidPolicyError) as bad_policy:
        create(policy={"phases": [{"percent": 60}, {"percent": 30}]})
    assert bad_policy.value.field == "phases"
    with pytest.raises(InvalidCampaignError, match="urgency"):
        create(urgency="whenever")
    with pytest.raises(InvalidCampaignError, match="name"):
        create(name="  ")
    camp.withdraw("4.2.0")
    with pytest.raises(CampaignReleaseError, match="withdrawn"):
        create()
    assert rows(camp) == {**before, "audit": before["audit"] + 1}  # only the withdrawal


# -- phases, thresholds, pause, resume, abort -----------------------------------------------


def test_canary_first_then_phases_advance_on_their_success_threshold(camp: Camp) -> None:
    world = camp.world
    consenting_hospital_a(camp)
    tests = camp.devices(2, world.site_a, test=True)
    production = camp.devices(8, world.site_a)
    policy = {
        "phases": [
            {"name": "first", "cumulative_percent": 50, "success_threshold": 50},
            {"name": "rest", "cumulative_percent": 100},
        ]
    }
    key = camp.create(policy=policy, urgency="critical")
    phase_of = {d["device_id"]: d["phase"] for d in _devices(camp, key)}
    first = {d for d, phase in phase_of.items() if phase == 1}
    rest = {d for d, phase in phase_of.items() if phase == 2}
    assert first
    assert rest
    assert first | rest == ids(production)
    camp.start(key)

    camp.advance()
    statuses = camp.statuses(key)
    assert having(statuses, "assigned") == ids(tests)
    assert having(statuses, "held") == ids(production)  # the site's test devices go first
    instruction = camp.instruction(tests[0])
    assert instruction is not None
    assert (instruction.release_id, instruction.install_after) == ("IP-100-4.2.0", None)
    assert camp.instruction(production[0]) is None

    camp.finish(tests[0], "4.2.0")
    camp.advance()
    assert camp.show(key)["current_phase"] == 0  # 1 of 2 test devices: below 100 %
    assert having(camp.statuses(key), "held") == ids(production)

    camp.finish(tests[1], "4.2.0")
    camp.advance()
    shown = camp.show(key)
    assert shown["current_phase"] == 1
    statuses = camp.statuses(key)
    assert having(statuses, "assigned") == first
    assert having(statuses, "waiting") == rest  # phase 2 has not started

    by_id = {d.device_id: d for d in production}
    needed = -(-len(first) // 2)  # 50 % of phase 1, rounded up
    for device_id in sorted(first)[:needed]:
        camp.finish(by_id[device_id], "4.2.0")
    camp.advance()
    assert camp.show(key)["current_phase"] == 2
    assert having(camp.statuses(key), "assigned") == rest | (first - set(sorted(first)[:needed]))

    for device_id in sorted(first)[needed:] + sorted(rest):
        camp.finish(by_id[device_id], "4.2.0")
    camp.advance()
    shown = camp.show(key)
    assert shown["state"] == "completed"
    assert shown["statuses"]["succeeded"] == 10
    assert [p["phase"] for _a, p in camp.events("campaign.phase_started")] == [1, 2]
    assert all(camp.instruction(d) is None for d in tests + production)  # all cleared


def test_an_error_threshold_breach_pauses_and_resume_goes_on(camp: Camp) -> None:
    world = camp.world
    consenting_hospital_a(camp)
    devices = camp.devices(5, world.site_a)
    policy = {"phases": [{"percent": 100, "success_threshold": 100, "error_threshold": 20}]}
    key = camp.create(policy=policy, selection=NO_TESTS, urgency="critical")
    camp.start(key)
    camp.advance()
    assert having(camp.statuses(key), "assigned") == ids(devices)

    camp.finish(devices[0], "4.2.0", "failed")
    camp.advance()
    assert camp.show(key)["state"] == "running"  # 1 of 5 = 20 %: not above the threshold

    camp.finish(devices[1], "4.2.0", "rolled_back")
    camp.advance()
    shown = camp.show(key)
    assert shown["state"] == "paused"
    assert "above the error threshold of 20 %" in shown["pause_reason"]
    statuses = camp.statuses(key)
    assert having(statuses, "waiting") == ids(devices[2:])  # instructions withdrawn
    assert all(camp.instruction(d) is None for d in devices)
    camp.advance()
    assert camp.show(key)["state"] == "paused"  # nothing is assigned while paused

    with transaction(camp.rt.sessions) as session:
        service.resume(session, camp.rt.audit, world.admin, key)
    assert camp.show(key)["acknowledged_failures"] == [0, 2]
    camp.advance()
    assert having(camp.statuses(key), "assigned") == ids(devices[2:])
    assert all(camp.instruction(d) is not None for d in devices[2:])

    camp.finish(devices[2], "4.2.0", "failed")  # a new failure pauses again
    camp.advance()
    assert camp.show(key)["state"] == "paused"
    with transaction(camp.rt.sessions) as session:
        service.resume(session, camp.rt.audit, world.admin, key)
    camp.advance()
    for device in devices[3:]:
        camp.finish(device, "4.2.0")
    camp.advance()
    shown = camp.show(key)
    assert shown["state"] == "completed"  # below the success threshold, failures acknowledged
    assert (shown["statuses"]["succeeded"], shown["statuses"]["failed"]) == (2, 2)
    assert shown["statuses"]["rolled_back"] == 1
    actions = [a for a, _p in camp.events("campaign.") if a.endswith(("paused", "resumed"))]
    assert actions == ["campaign.paused", "campaign.resumed"] * 2


def test_abort_criteria_abort_once_enough_devices_finished(camp: Camp) -> None:
    world = camp.world
    consenting_hospital_a(camp)
    devices = camp.devices(6, world.site_a)
    policy = {
        "phases": [{"percent": 100, "error_threshold": 100}],
        "abort_criteria": [{"failure_type": "any", "threshold_percent": 50, "min_finished": 4}],
    }
    key = camp.create(policy=policy, selection=NO_TESTS, urgency="critical")
    camp.start(key)
    camp.advance()
    camp.finish(devices[0], "4.2.0", "failed")
    camp.finish(devices[1], "4.2.0", "failed")
    camp.finish(devices[2], "4.2.0")
    camp.advance()
    assert camp.show(key)["state"] == "running"  # 2 of 3 failed, but only 3 finished

    camp.finish(devices[3], "4.2.0", "rolled_back")
    camp.advance()
    shown = camp.show(key)
    assert shown["state"] == "aborted"
    assert "3 of 4 finished devices (75 %)" in shown["abort_reason"]
    assert having(camp.statuses(key), "cancelled") == ids(devices[4:])
    assert all(camp.instruction(d) is None for d in devices)
    assert camp.assignments() == {}


def test_pause_resume_and_abort_by_people(camp: Camp) -> None:
    world = camp.world
    consenting_hospital_a(camp)
    devices = camp.devices(3, world.site_a)
    key = camp.create(selection=NO_TESTS, urgency="critical")

    def act(name: str, *args: Any) -> None:
        with transaction(camp.rt.sessions) as session:
            getattr(service, name)(session, camp.rt.audit, world.admin, key, *args)

    with pytest.raises(CampaignStateError, match="cannot pause a draft campaign"):
        act("pause")
    camp.start(key)
    camp.advance()
    act("pause", "hospital asked to wait")
    camp.advance()  # the cycle clears the withdrawn instructions in the director
    shown = camp.show(key)
    assert (shown["state"], shown["pause_reason"]) == ("paused", "hospital asked to wait")
    assert all(camp.instruction(d) is None for d in devices)
    with pytest.raises(CampaignStateError, match="cannot pause a paused campaign"):
        act("pause")
    with pytest.raises(InvalidCampaignError, match="reason"):
        act("abort", " ")
    act("resume")
    camp.advance()
    assert having(camp.statuses(key), "assigned") == ids(devices)
    camp.finish(devices[0], "4.2.0")
    act("abort", "wrong release for these pumps")
    camp.advance()
    shown = camp.show(key)
    assert (shown["state"], shown["abort_reason"]) == ("aborted", "wrong release for these pumps")
    statuses = camp.statuses(key)
    assert statuses[devices[0].device_id] == "succeeded"
    assert having(statuses, "cancelled") == ids(devices[1:])
    assert all(camp.instruction(d) is None for d in devices)
    with pytest.raises(CampaignStateError, match="it is final"):
        act("resume")


# -- windows, urgency and hospital acceptance -----------------------------------------------


def test_routine_campaigns_assign_around_windows_and_carry_them(
    camp: Camp, clock: FrozenClock
) -> None:
    world = camp.world
    camp.auto_approve(world.biomed_a)
    camp.auto_approve(world.biomed_b)
    site_c = camp.site(world.hospital_a, "Annex")  # no window at all
    evening = camp.devices(2, world.site_a)  # 20:00-24:00 Berlin = 19:00-23:00 UTC, 10 h ahead
    night = camp.devices(2, world.site_b, world.hospital_b)  # 00:00 New York, 20 h ahead
    never = camp.devices(1, site_c)
    camp.window(world.biomed_a, world.site_a, datetime(2026, 1, 1, 20, 0))
    camp.window(world.biomed_b, world.site_b, datetime(2026, 1, 1, 0, 0), hours=3)
    key = camp.create(selection=NO_TESTS)
    camp.start(key)

    camp.advance()
    statuses = camp.statuses(key)
    assert having(statuses, "assigned") == ids(evening)
    assert having(statuses, "waiting") == ids(night + never)
    instruction = camp.instruction(evening[0])
    assert instruction is not None
    assert instruction.install_after == datetime.fromisoformat("2026-01-15T19:00:00+00:00")
    assert instruction.install_before == datetime.fromisoformat("2026-01-15T23:00:00+00:00")

    clock.advance(timedelta(hours=11))  # 20:00 UTC: New York's window is 9 h ahead now
    camp.advance()
    statuses = camp.statuses(key)
    assert having(statuses, "assigned") == ids(evening + night)
    assert having(statuses, "waiting") == ids(never)  # routine: no window, no install
    instruction = camp.instruction(night[0])
    assert instruction is not None
    assert instruction.install_after == datetime.fromisoformat("2026-01-16T05:00:00+00:00")


def test_critical_campaigns_go_out_of_cycle_only_where_the_site_consented(camp: Camp) -> None:
    world = camp.world
    consenting = camp.devices(2, world.site_a)
    windowless = camp.devices(2, world.site_b, world.hospital_b)
    camp.approve(world.biomed_a, world.site_a, consent=True)
    camp.approve(world.biomed_b, world.site_b)  # approved, but no out-of-cycle consent
    key = camp.create(selection=NO_TESTS, urgency="critical")
    camp.start(key)
    camp.advance()
    statuses = camp.statuses(key)
    assert having(statuses, "assigned") == ids(consenting)
    assert having(statuses, "waiting") == ids(windowless)
    instruction = camp.instruction(consenting[0])
    assert instruction is not None
    assert (instruction.install_after, instruction.install_before) == (None, None)


def test_production_waits_for_the_sites_test_devices_and_its_confirmation(camp: Camp) -> None:
    world = camp.world
    tests = camp.devices(2, world.site_a, test=True)
    production_a = camp.devices(3, world.site_a)
    production_b = camp.devices(2, world.site_b, world.hospital_b)  # B has no test devices
    camp.window(world.biomed_a, world.site_a, datetime(2026, 1, 1, 8, 0))  # open now
    camp.window(world.biomed_b, world.site_b, datetime(2026, 1, 1, 3, 0), hours=3)  # open now
    key = camp.create()
    camp.start(key)
    camp.advance()
    assert set(camp.statuses(key).values()) == {"awaiting_acceptance"}

    camp.approve(world.biomed_a, world.site_a)
    camp.approve(world.biomed_b, world.site_b)
    camp.advance()
    statuses = camp.statuses(key)
    assert having(statuses, "assigned") == ids(tests)
    assert having(statuses, "held") == ids(production_a)
    assert having(statuses, "waiting") == ids(production_b)  # phase 1 has not started

    for device in tests:
        camp.finish(device, "4.2.0")
    camp.advance()
    statuses = camp.statuses(key)
    assert camp.show(key)["current_phase"] == 1
    assert having(statuses, "held") == ids(production_a)  # site A has not confirmed
    assert having(statuses, "assigned") == ids(production_b)

    camp.confirm(world.biomed_a, world.site_a)
    camp.advance()
    assert having(camp.statuses(key), "assigned") == ids(production_a + production_b)


# -- routing and withdrawn releases ---------------------------------------------------------


def test_devices_go_through_an_intermediate_release(camp: Camp) -> None:
    world = camp.world
    camp.release("4.3.0", 430, min_from=420)
    consenting_hospital_a(camp)
    behind = camp.device(world.site_a)  # runs 4.1.0: needs 4.2.0 first
    close = camp.device(world.site_a, running=("4.2.0", 420))
    key = camp.create("4.3.0", selection=NO_TESTS, urgency="critical")
    steps = camp.show(key)["plan"]["steps"]
    assert steps == [
        {"release_id": "IP-100-4.3.0", "devices": 1},
        {"release_id": "IP-100-4.2.0", "devices": 1},
    ]
    camp.start(key)
    camp.advance()
    first = camp.instruction(behind)
    assert first is not None
    assert first.release_id == "IP-100-4.2.0"
    direct = camp.instruction(close)
    assert direct is not None
    assert direct.release_id == "IP-100-4.3.0"

    camp.finish(behind, "4.2.0")
    camp.advance()  # the hop is done: on to 4.3.0 in the same cycle
    [row] = [d for d in _devices(camp, key) if d["device_id"] == behind.device_id]
    assert (row["status"], row["step_version"], row["hops"]) == ("assigned", "4.3.0", 1)
    second = camp.instruction(behind)
    assert second is not None
    assert second.release_id == "IP-100-4.3.0"
    assert camp.show(key)["state"] == "running"

    camp.finish(behind, "4.3.0")
    camp.finish(close, "4.3.0")
    camp.advance()
    assert camp.show(key)["state"] == "completed"


def test_a_withdrawn_intermediate_release_is_never_assigned(camp: Camp) -> None:
    world = camp.world
    camp.release("4.3.0", 430, min_from=420)
    consenting_hospital_a(camp)
    behind = camp.device(world.site_a)
    close = camp.device(world.site_a, running=("4.2.0", 420))
    key = camp.create("4.3.0", selection=NO_TESTS, urgency="critical")
    camp.start(key)
    camp.advance()
    camp.withdraw("4.2.0")
    camp.advance()
    statuses = camp.statuses(key)
    assert statuses[behind.device_id] == "cancelled"  # no other way up from 4.1.0
    assert camp.instruction(behind) is None
    assert statuses[close.device_id] == "assigned"
    assert camp.show(key)["state"] == "running"


def test_a_withdrawn_release_stops_its_campaign(camp: Camp) -> None:
    world = camp.world
    consenting_hospital_a(camp)
    devices = camp.devices(3, world.site_a)
    key = camp.create(selection=NO_TESTS, urgency="critical")
    draft = camp.create(selection=NO_TESTS, urgency="critical", name="not started")
    camp.start(key)
    camp.advance()
    camp.finish(devices[0], "4.2.0")
    camp.withdraw("4.2.0", "occlusion alarm regression")
    summary = camp.advance()
    assert summary["aborted"] == [key]
    shown = camp.show(key)
    assert shown["state"] == "aborted"
    assert "withdrawn: occlusion alarm regression" in shown["abort_reason"]
    statuses = camp.statuses(key)
    assert statuses[devices[0].device_id] == "succeeded"
    assert having(statuses, "cancelled") == ids(devices[1:])
    assert all(camp.instruction(d) is None for d in devices)
    with pytest.raises(CampaignReleaseError, match="withdrawn"):
        camp.start(draft)


# -- the scheduler's idempotency ------------------------------------------------------------


def _devices(camp: Camp, key: str) -> list[dict[str, Any]]:
    from medfleet.rollouts import campaign_views

    with transaction(camp.rt.sessions) as session:
        return campaign_views.list_devices(
            session, camp.world.admin, key, campaign_views.DeviceFilter(limit=1000)
        )


def _director_versions(camp: Camp, devices: list[Dev]) -> dict[str, int]:
    """Each device's newest director targets version: every instruction or clear adds one."""
    director = camp.rt.distribution.director
    return {d.device_id: director.device_dir(d.device_id).versions("targets")[-1] for d in devices}


def test_advancing_again_without_news_changes_nothing(camp: Camp) -> None:
    world = camp.world
    consenting_hospital_a(camp)
    tests = camp.devices(1, world.site_a, test=True)
    production = camp.devices(3, world.site_a)
    key = camp.create(policy={"phases": [{"percent": 100, "error_threshold": 50}]},
                      urgency="critical")  # fmt: skip
    camp.start(key)
    camp.advance()
    camp.finish(tests[0], "4.2.0")
    camp.advance()
    camp.finish(production[0], "4.2.0", "failed")
    camp.advance()
    before = (
        rows(camp), _devices(camp, key), camp.show(key), camp.assignments(),
        _director_versions(camp, tests + production),
    )  # fmt: skip
    again = camp.advance()
    assert again["events"] == 0
    assert again["director"] == dict.fromkeys(again["director"], 0)
    after = (
        rows(camp), _devices(camp, key), camp.show(key), camp.assignments(),
        _director_versions(camp, tests + production),
    )  # fmt: skip
    assert after == before
    assert camp.show(key)["state"] == "running"
    assert len(having(camp.statuses(key), "assigned")) == 2
