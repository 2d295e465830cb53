"""Assessing vulnerabilities: deadlines from awareness and the patch policy, re-assessment in
place, awareness that only moves earlier, the fixed release, roles, and the patch policy."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from medfleet.audit.tables import AuditEventRow
from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.errors import MedfleetError
from medfleet.releases.errors import ReleaseNotFoundError
from medfleet.runtime import Runtime
from medfleet.vulns import deadline_views, patch_policy
from medfleet.vulns.deadlines import DAY
from medfleet.vulns.errors import (
    AssessmentNotFoundError,
    AwarenessMovedLaterError,
    FixReleaseError,
    InvalidAssessmentError,
    VulnerabilityNotFoundError,
    VulnsPermissionError,
)
from medfleet.vulns.tables import VulnAssessment
from tests.builders import World
from tests.vulns.support_deadline import (
    HEARTBLEED,
    HEARTBLEED_GHSA,
    OPENSSL_3,
    add_release,
    add_sbom,
    assess,
    events,
    view,
    world,
)

__all__ = ["world"]


def counts(rt: Runtime) -> tuple[int, int]:
    """Assessments and audit events: a refused request must leave both as they were."""
    with transaction(rt.sessions) as session:
        rows = session.scalar(select(func.count(VulnAssessment.id))) or 0
        audited = session.scalar(select(func.count(AuditEventRow.seq))) or 0
        return rows, audited


def refused(rt: Runtime, error: type[MedfleetError], match: str, **call: object) -> None:
    before = counts(rt)
    with pytest.raises(error, match=match):
        assess(rt, **call)  # type: ignore[arg-type]
    assert counts(rt) == before


def test_an_uncontrolled_risk_is_due_in_30_and_60_days(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    seen = assess(
        runtime, world.engineer, HEARTBLEED_GHSA, critical=True,
        compensating_controls="Block TLS heartbeat at the hospital firewall.",
        planned_fix="OpenSSL 1.0.1g in IP-100 4.2.0",
    )  # fmt: skip
    now = clock.now()
    assert seen.vulnerability == HEARTBLEED  # found by its alias, shown by its key
    document = seen.as_dict()
    assert document["aware_at"] == now.isoformat()
    assert document["inform"] == {
        "kind": "inform", "due_at": (now + 30 * DAY).isoformat(), "state": "pending",
        "met_at": None, "late": False, "days_left": 30, "days_overdue": None,
    }  # fmt: skip
    assert document["fix"]["due_at"] == (now + 60 * DAY).isoformat()
    assert document["fix"]["days_left"] == 60
    assert (document["critical"], document["overdue"]) == (True, False)
    assert document["compensating_controls"] == "Block TLS heartbeat at the hospital firewall."
    [(actor, action, payload)] = events(runtime)
    assert (actor, action) == ("user:eng", "vulns.assessed")
    assert payload["vulnerability"] == HEARTBLEED
    assert payload["fix_due_at"] == (now + 60 * DAY).isoformat()
    assert payload["terms"] == {
        "routine_cycle_days": 90,
        "inform_within_days": 30,
        "fix_within_days": 60,
    }
    assert payload["previous"] is None


def test_awareness_may_lie_in_the_past_but_not_in_the_future(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    refused(
        runtime, InvalidAssessmentError, "in the future",
        who=world.qa, aware_at=clock.now() + timedelta(minutes=1),
    )  # fmt: skip
    refused(
        runtime, InvalidAssessmentError, "time zone",
        who=world.qa, aware_at=clock.now().replace(tzinfo=None),
    )  # fmt: skip
    seen = assess(runtime, world.qa, aware_at=clock.now() - 40 * DAY)
    assert seen.inform is not None
    assert (seen.inform.state, seen.inform.days_overdue) == ("overdue", 10)
    assert (seen.fix.state, seen.fix.days_left) == ("pending", 20)


def test_reassessment_updates_in_place_and_awareness_only_moves_earlier(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    first = assess(runtime, world.engineer)
    aware = first.assessment.aware_at
    clock.advance(5 * DAY)
    # without an awareness date the earlier one holds: re-assessing buys no time
    again = assess(runtime, world.qa, risk="controlled", rationale="Heartbeat disabled in build")
    assert again.assessment.id == first.assessment.id
    assert again.assessment.aware_at == aware
    assert again.inform is None
    assert again.fix.due_at == aware + 90 * DAY
    refused(
        runtime, AwarenessMovedLaterError, "never later",
        who=world.qa, aware_at=aware + DAY,
    )  # fmt: skip
    earlier = assess(runtime, world.qa, aware_at=aware - 10 * DAY)
    assert earlier.fix.due_at == aware + 50 * DAY
    assert earlier.inform is not None
    assert earlier.inform.due_at == aware + 20 * DAY
    actions = [action for _, action, _ in events(runtime)]
    assert actions == ["vulns.assessed", "vulns.reassessed", "vulns.reassessed"]
    payload = events(runtime)[-1][2]
    assert payload["previous"]["risk"] == "controlled"
    assert payload["aware_at"] == (aware - 10 * DAY).isoformat()
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count(VulnAssessment.id))) == 1


def test_bad_input_changes_nothing(runtime: Runtime, world: World) -> None:
    refused(runtime, InvalidAssessmentError, "unknown risk", who=world.engineer, risk="low")
    refused(runtime, InvalidAssessmentError, "rationale", who=world.engineer, rationale="  ")
    refused(
        runtime, InvalidAssessmentError, "longer than",
        who=world.engineer, planned_fix="x" * 20_001,
    )  # fmt: skip
    refused(
        runtime, VulnerabilityNotFoundError, "CVE-2099-0001",
        who=world.engineer, vuln="CVE-2099-0001",
    )  # fmt: skip


@pytest.mark.parametrize("who", ["auditor", "biomed_a", "admin_b"])
def test_only_manufacturer_engineers_qa_and_admins_assess(
    runtime: Runtime, world: World, who: str
) -> None:
    message = "engineer, qa_ra or admin role|internal to the manufacturer"
    refused(runtime, VulnsPermissionError, message, who=getattr(world, who))


def test_the_manufacturers_staff_read_hospitals_do_not(runtime: Runtime, world: World) -> None:
    assess(runtime, world.admin)
    assert view(runtime, world.auditor).assessment.risk == "uncontrolled"
    with pytest.raises(VulnsPermissionError, match="internal to the manufacturer"):
        view(runtime, world.admin_a)
    with pytest.raises(AssessmentNotFoundError, match=f"{OPENSSL_3} has not been assessed"):
        view(runtime, world.auditor, OPENSSL_3)
    with transaction(runtime.sessions) as session:
        with pytest.raises(VulnsPermissionError):
            deadline_views.list_deadlines(session, world.biomed_a, runtime.clock.now())
        listed = deadline_views.list_deadlines(session, world.auditor, runtime.clock.now())
    assert [v.vulnerability for v in listed] == [HEARTBLEED]


def test_the_fixed_release_must_exist_be_live_and_not_affected(
    runtime: Runtime, world: World
) -> None:
    affected = add_release(runtime, world, "4.1.0", 410)
    add_sbom(runtime, world, affected, "1.0.1f", carries=(HEARTBLEED,))
    fixed = add_release(runtime, world, "4.2.0", 420)
    add_sbom(runtime, world, fixed, "1.0.1g")
    add_release(runtime, world, "4.0.0", 400, state="withdrawn")
    refused(
        runtime, ReleaseNotFoundError, "9.9.9",
        who=world.engineer, fixed_release=("IP-100", "9.9.9"),
    )  # fmt: skip
    refused(
        runtime, FixReleaseError, "withdrawn",
        who=world.engineer, fixed_release=("IP-100", "4.0.0"),
    )  # fmt: skip
    refused(
        runtime, FixReleaseError, f"itself affected by {HEARTBLEED}",
        who=world.engineer, fixed_release=("IP-100", "4.1.0"),
    )  # fmt: skip
    seen = assess(runtime, world.engineer, fixed_release=("IP-100", "4.2.0"))
    assert seen.fixed_release == "IP-100-4.2.0"
    # a re-assessment that names no release keeps it
    assert assess(runtime, world.engineer).fixed_release == "IP-100-4.2.0"
    # released but no campaign has started: the fix is not distributed yet
    assert seen.fix.state == "pending"
    assert events(runtime)[0][2]["fixed_release"] == "IP-100-4.2.0"


def test_an_explicit_fix_distribution_meets_the_fix_deadline(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    assess(runtime, world.engineer)
    clock.advance(20 * DAY)
    refused(
        runtime, InvalidAssessmentError, "in the future",
        who=world.engineer, fix_distributed_at=clock.now() + DAY,
    )  # fmt: skip
    seen = assess(runtime, world.engineer, fix_distributed_at=clock.now() - DAY)
    assert (seen.fix.state, seen.fix.met_at, seen.fix.late) == ("met", clock.now() - DAY, False)
    # later re-assessments keep it
    assert assess(runtime, world.engineer).fix.state == "met"


def test_policy_defaults_set_and_rules(runtime: Runtime, world: World) -> None:
    with transaction(runtime.sessions) as session:
        shown = patch_policy.get_policy(session, world.auditor).as_dict()
    assert shown == {
        "routine_cycle_days": 90, "inform_within_days": 30, "fix_within_days": 60,
        "declared": False, "updated_by": None, "updated_at": None,
    }  # fmt: skip
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        declared = patch_policy.set_policy(
            session, runtime.audit, world.qa, routine_cycle_days=30, inform_within_days=14,
            fix_within_days=45, now=now,
        )  # fmt: skip
    assert declared.as_dict()["updated_by"] == "qa"
    for who, days, error in [
        (world.auditor, (30, 14, 45), VulnsPermissionError),
        (world.admin_a, (30, 14, 45), VulnsPermissionError),
        (world.qa, (30, 31, 45), InvalidAssessmentError),
        (world.qa, (30, 14, 61), InvalidAssessmentError),
    ]:
        with pytest.raises(error), transaction(runtime.sessions) as session:
            patch_policy.set_policy(
                session, runtime.audit, who, routine_cycle_days=days[0],
                inform_within_days=days[1], fix_within_days=days[2], now=now,
            )  # fmt: skip
    with transaction(runtime.sessions) as session:
        with pytest.raises(VulnsPermissionError):
            patch_policy.get_policy(session, world.biomed_b)
        assert patch_policy.get_policy(session, world.engineer).as_dict()["fix_within_days"] == 45
    [(_, action, payload)] = events(runtime, "vulns.patch_policy")
    assert (action, payload["previous"]) == ("vulns.patch_policy_set", None)


def test_stored_deadlines_keep_the_policy_of_their_assessment(
    runtime: Runtime, world: World
) -> None:
    first = assess(runtime, world.engineer, risk="controlled")
    assert first.fix.due_at == first.assessment.aware_at + 90 * DAY
    with transaction(runtime.sessions) as session:
        patch_policy.set_policy(
            session, runtime.audit, world.admin, routine_cycle_days=28, inform_within_days=14,
            fix_within_days=30, now=runtime.clock.now(),
        )  # fmt: skip
    assert view(runtime, world.engineer).fix.due_at == first.fix.due_at
    again = assess(runtime, world.engineer, risk="controlled")
    assert again.fix.due_at == first.assessment.aware_at + 28 * DAY
    uncontrolled = assess(runtime, world.engineer)
    assert uncontrolled.inform is not None
    assert uncontrolled.inform.due_at == first.assessment.aware_at + 14 * DAY
    assert uncontrolled.fix.due_at == first.assessment.aware_at + 30 * DAY
