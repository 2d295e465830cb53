"""The fix counts as distributed once the named fixed release is released and a campaign
installing it has started; the deadline check notes it once, so its deadline is met."""

from __future__ import annotations

from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.rollouts.campaign_views import get_campaign
from medfleet.runtime import Runtime
from medfleet.vulns.deadline_alerts import DeadlineCheck, check_deadlines
from medfleet.vulns.deadlines import DAY
from tests.rollouts.campaign_support import Camp, camp
from tests.vulns.support_deadline import (
    HEARTBLEED,
    assess,
    clean_sbom,
    events,
    view,
    vulnerable_camp,
)

__all__ = ["camp", "vulnerable_camp"]


def check(rt: Runtime) -> DeadlineCheck:
    with transaction(rt.sessions) as session:
        return check_deadlines(session, rt.audit, rt.clock.now())


def test_a_started_campaign_of_the_fixed_release_meets_the_fix_deadline(
    vulnerable_camp: Camp, clock: FrozenClock
) -> None:
    camp, world = vulnerable_camp, vulnerable_camp.world
    clean_sbom(camp)
    camp.device(world.site_a)
    assess(camp.rt, world.engineer, fixed_release=("IP-100", "4.2.0"))
    key = camp.create(name="Routine 4.2.0")
    assert check(camp.rt).fixes_distributed == []  # a draft distributes nothing
    assert view(camp.rt, world.auditor).fix.state == "pending"

    clock.advance(DAY)
    camp.start(key)
    with transaction(camp.rt.sessions) as session:
        started_at = get_campaign(session, world.admin, key)["started_at"]
    clock.advance(DAY)
    noted = check(camp.rt)
    assert noted.fixes_distributed == [HEARTBLEED]
    [(actor, _, payload)] = events(camp.rt, "vulns.fix_distributed")
    assert actor == "system:deadline-check"
    assert (payload["campaign"], payload["release"]) == (key, "IP-100-4.2.0")
    seen = view(camp.rt, world.auditor)
    assert seen.fix.state == "met"
    assert seen.fix.met_at is not None
    assert seen.fix.met_at.isoformat() == started_at
    assert check(camp.rt).fixes_distributed == []  # noted once
    assert len(events(camp.rt, "vulns.fix_distributed")) == 1


def test_assessing_after_the_campaign_started_takes_its_start(
    vulnerable_camp: Camp, clock: FrozenClock
) -> None:
    camp, world = vulnerable_camp, vulnerable_camp.world
    clean_sbom(camp)
    camp.device(world.site_a)
    key = camp.create()
    camp.start(key)
    clock.advance(DAY)
    seen = assess(camp.rt, world.engineer, fixed_release=("IP-100", "4.2.0"))
    assert seen.fix.state == "met"
    assert seen.fix.met_at == camp.rt.clock.now() - DAY
    assert events(camp.rt, "vulns.assessed")[0][2]["fix_distributed_by_campaign"] == key


def test_a_fix_distributed_late_is_met_late_and_not_alerted(
    vulnerable_camp: Camp, clock: FrozenClock
) -> None:
    camp, world = vulnerable_camp, vulnerable_camp.world
    clean_sbom(camp)
    camp.device(world.site_a)
    assess(camp.rt, world.engineer, fixed_release=("IP-100", "4.2.0"))
    clock.advance(61 * DAY)  # both deadlines passed, nothing alerted yet
    camp.start(camp.create())
    noted = check(camp.rt)
    assert noted.fixes_distributed == [HEARTBLEED]
    assert [alert.kind for alert in noted.alerts] == ["inform"]  # the fix went out, late
    seen = view(camp.rt, world.auditor)
    assert (seen.fix.state, seen.fix.late) == ("met", True)
    assert check(camp.rt).alerts == []
