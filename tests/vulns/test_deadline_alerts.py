"""The overdue check: a missed deadline alerts once, a met one never; the worker runs it.

Time moves with the ``clock`` fixture: an uncontrolled risk assessed at 2026-01-15 09:00 is due
for its notice on 2026-02-14 and for its fix on 2026-03-16.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from medfleet import worker
from medfleet.clock import FrozenClock
from medfleet.config import Settings
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from medfleet.vulns import deadline_alerts
from medfleet.vulns.deadline_alerts import DeadlineCheck, check_deadlines
from medfleet.vulns.deadlines import DAY
from medfleet.vulns.tables import DeadlineAlert, VulnAssessment
from tests.builders import World
from tests.vulns.support_deadline import (
    HEARTBLEED,
    OPENSSL_3,
    assess,
    customers_informed,
    events,
    view,
    world,
)

__all__ = ["world"]


def check(rt: Runtime) -> DeadlineCheck:
    with transaction(rt.sessions) as session:
        return check_deadlines(session, rt.audit, rt.clock.now())


def overdue_events(rt: Runtime) -> list[dict[str, object]]:
    return [payload for _, action, payload in events(rt) if action == "vulns.deadline_overdue"]


def test_an_uncontrolled_risk_goes_pending_overdue_alerted_once_then_met(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    assess(runtime, world.engineer)
    aware = clock.now()
    assert check(runtime).alerts == []

    clock.advance(30 * DAY)  # the last instant of the 30 days: still pending
    seen = view(runtime, world.auditor)
    assert seen.inform is not None
    assert (seen.inform.state, seen.inform.days_left) == ("pending", 0)
    assert check(runtime).alerts == []

    clock.advance(DAY)
    first = check(runtime)
    assert [a.as_dict() for a in first.alerts] == [
        {
            "vulnerability": HEARTBLEED,
            "kind": "inform",
            "due_at": (aware + 30 * DAY).isoformat(),
            "days_overdue": 1,
        }
    ]
    [payload] = overdue_events(runtime)
    assert payload["kind"] == "inform"
    assert payload["days_overdue"] == 1
    assert events(runtime)[-1][0] == "system:deadline-check"
    audited = len(events(runtime))
    assert check(runtime).alerts == []  # idempotent: nothing new, nothing written
    assert len(events(runtime)) == audited
    clock.advance(3 * DAY)
    assert check(runtime).alerts == []  # still overdue, but alerted already

    customers_informed(runtime, HEARTBLEED, clock.now())  # notices went out (late)
    seen = view(runtime, world.auditor)
    assert seen.inform is not None
    assert (seen.inform.state, seen.inform.late) == ("met", True)
    assert (seen.fix.state, seen.fix.days_left) == ("pending", 26)

    clock.advance(27 * DAY)
    [fix_alert] = check(runtime).alerts
    assert (fix_alert.kind, fix_alert.days_overdue) == ("fix", 1)
    assert check(runtime).alerts == []
    assert view(runtime, world.auditor).overdue

    distributed = clock.now() - DAY / 2
    assess(runtime, world.engineer, fix_distributed_at=distributed)
    seen = view(runtime, world.auditor)
    assert (seen.fix.state, seen.fix.met_at, seen.overdue) == ("met", distributed, False)
    clock.advance(100 * DAY)
    assert check(runtime).alerts == []
    assert [p["kind"] for p in overdue_events(runtime)] == ["inform", "fix"]


def test_met_in_time_never_alerts(runtime: Runtime, world: World, clock: FrozenClock) -> None:
    assess(runtime, world.engineer)
    clock.advance(10 * DAY)
    customers_informed(runtime, HEARTBLEED, clock.now())
    assess(runtime, world.engineer, fix_distributed_at=clock.now())
    clock.advance(365 * DAY)
    assert check(runtime).alerts == []
    assert overdue_events(runtime) == []


def test_a_controlled_risk_alerts_only_its_routine_fix(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    assess(runtime, world.engineer, OPENSSL_3, risk="controlled")
    clock.advance(89 * DAY)
    assert check(runtime).alerts == []
    clock.advance(2 * DAY)
    [alert] = check(runtime).alerts
    assert (alert.vulnerability, alert.kind) == (OPENSSL_3, "fix")


def test_a_changed_deadline_alerts_again_once(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    assess(runtime, world.engineer, risk="controlled")
    clock.advance(91 * DAY)
    assert [a.kind for a in check(runtime).alerts] == ["fix"]
    # the risk is uncontrolled after all: both deadlines change and are overdue at once
    assess(runtime, world.engineer)
    assert [a.kind for a in check(runtime).alerts] == ["inform", "fix"]
    assert check(runtime).alerts == []
    # a re-assessment that keeps the due dates keeps the alerts
    assess(runtime, world.engineer, planned_fix="4.2.0")
    assert check(runtime).alerts == []
    assert events(runtime, "vulns.reassessed")[0][2]["alerts_reset"] == ["fix"]


def test_the_worker_runs_the_check(runtime: Runtime, world: World, clock: FrozenClock) -> None:
    jobs = {job.name: job for job in worker.DEFAULT_JOBS}
    assert "check-deadlines" in jobs
    assess(runtime, world.engineer)
    clock.advance(31 * DAY)
    [result] = worker.run_cycle(runtime, [jobs["check-deadlines"]])
    assert result.ok, result.error
    assert [a["kind"] for a in result.summary["alerts"]] == ["inform"]  # type: ignore[attr-defined]
    [again] = worker.run_cycle(runtime, [jobs["check-deadlines"]])
    assert again.summary == {"alerts": [], "fixes_distributed": []}


@pytest.fixture
def second_worker(settings: Settings, runtime: Runtime) -> Iterator[Runtime]:
    """Another worker process's runtime on the same database."""
    other = Runtime(settings, clock=runtime.clock)
    try:
        yield other
    finally:
        other.close()


@pytest.mark.parametrize(
    "settings", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_two_workers_at_once_alert_once(
    runtime: Runtime,
    world: World,
    clock: FrozenClock,
    second_worker: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assess(runtime, world.engineer)
    clock.advance(31 * DAY)
    claiming = threading.Event()
    real_claim = deadline_alerts._claim

    def claim(*args: object) -> bool:
        claiming.set()
        return real_claim(*args)  # type: ignore[arg-type]

    second: list[DeadlineCheck] = []
    failures: list[BaseException] = []

    def run_second() -> None:
        try:
            second.append(check(second_worker))
        except BaseException as error:  # reported in the test's thread
            failures.append(error)

    with transaction(runtime.sessions) as session:
        first = check_deadlines(session, runtime.audit, clock.now())
        assert [a.kind for a in first.alerts] == ["inform"]
        # the second worker read the deadlines before the first committed: it tries the same
        # alert, waits for the first's transaction, then finds the alert taken
        monkeypatch.setattr(deadline_alerts, "_claim", claim)
        thread = threading.Thread(target=run_second)
        thread.start()
        assert claiming.wait(timeout=60)
    thread.join(timeout=60)
    assert not failures, failures
    assert second[0].alerts == []
    assert len(overdue_events(runtime)) == 1
    with transaction(runtime.sessions) as session:
        assert session.scalar(select(func.count(DeadlineAlert.id))) == 1
        assert session.scalar(select(func.count(VulnAssessment.id))) == 1
