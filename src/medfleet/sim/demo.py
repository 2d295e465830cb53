"""The ``medfleet demo`` scenario, run through the same services the API and CLI use.

On a fresh data directory: a manufacturer with its staff and two hospitals with sites in three
time zones (``demo_people``); Part 11 at work on one change request (the author cannot approve
it; an edit invalidates its signatures); two releases taken from a problem report through
assessment, e-signatures and approval into the image repository; hospital acceptance; about
200 virtual devices running the real agent against the real server over HTTP; a phased
campaign across maintenance windows in which a faulty batch rolls back and pauses its phase
(``demo_rollout``); the downtime report per site; and the audit trail verified at the end.

``DemoSummary.as_dict`` is what ``medfleet demo --json`` prints. Its rollout fields:
``devices``, ``on_new``, ``rolled_back``, ``in_between`` (devices neither settled on the new
nor on the old version, or whose server-attested version disagrees: always 0),
``paused_phases`` and ``downtime_minutes_by_site``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from medfleet.accounts import service as accounts
from medfleet.accounts.auth import authenticate
from medfleet.audit import service as audit_service
from medfleet.bootstrap import RootSetup, initialise
from medfleet.db.engine import transaction
from medfleet.errors import Conflict
from medfleet.fleet import downtime_reports
from medfleet.runtime import Runtime
from medfleet.sim.clock import SimClock
from medfleet.sim.demo_campaign import run_rollout
from medfleet.sim.demo_people import (
    DEMO_PASSWORD,
    MANUFACTURER,
    People,
    Step,
    create_people,
    signing_showcase,
)
from medfleet.sim.demo_rollout import FleetPlan, RolloutResult
from medfleet.sim.errors import InvalidScenarioError

# The demo has one root key holder; a production deployment has at least two.
DEMO_ROOT_PASSWORD = "medfleet-demo-root-password"  # noqa: S105
__all__ = ["DEMO_PASSWORD", "MANUFACTURER", "DemoDataDirInUseError", "DemoSummary", "run_demo"]

Progress = Callable[[int, int], None]


class DemoDataDirInUseError(Conflict):
    """The demo needs a fresh data directory and this one already holds a deployment."""


@dataclass
class DemoSummary:
    """What the demo did, for people and for ``--json``."""

    data_dir: str
    manufacturer: str
    people: People = field(default_factory=People)
    rollout: RolloutResult = field(default_factory=RolloutResult)
    hospital_isolation: dict[str, list[str]] = field(default_factory=dict)
    downtime_by_site: list[dict[str, Any]] = field(default_factory=list)
    audit: dict[str, Any] = field(default_factory=dict)

    @property
    def downtime_minutes_by_site(self) -> dict[str, float]:
        """Total downtime minutes of every site with installs."""
        return {row["label"]: row["downtime_minutes_total"] for row in self.downtime_by_site}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        rollout = self.rollout
        return {
            "data_dir": self.data_dir,
            "manufacturer": self.manufacturer,
            "users": self.people.users,
            "hospitals": self.people.hospitals,
            "change_request": self.people.change_request,
            "separation_of_duties_enforced": self.people.separation_of_duties_enforced,
            "hospital_isolation": self.hospital_isolation,
            "releases": rollout.releases,
            "devices": rollout.devices,
            "on_new": rollout.on_new,
            "rolled_back": rollout.rolled_back,
            "in_between": rollout.in_between,
            "on_old_not_started": rollout.on_old_untouched,
            "paused_phases": rollout.paused_phases,
            "downtime_minutes_by_site": self.downtime_minutes_by_site,
            "downtime_by_site": self.downtime_by_site,
            "campaign": rollout.campaign,
            "faults": rollout.faults,
            "rounds": rollout.rounds,
            "simulated_hours": rollout.simulated_hours,
            "audit": self.audit,
            "demo_password": DEMO_PASSWORD,
        }


def demo_clock() -> SimClock:
    """The scenario clock the demo's runtime must be built with (starts at the real time)."""
    return SimClock.at_real_time()


def run_demo(
    rt: Runtime,
    step: Step,
    progress: Progress | None = None,
    plan: FleetPlan | None = None,
) -> DemoSummary:
    """Run the scenario on ``rt``'s (fresh) data directory; ``step`` hears each milestone and
    ``progress`` how many devices run the new version so far.

    ``rt`` must run on a ``SimClock`` (``demo_clock``): the scenario jumps between
    maintenance windows.

    Raises:
        DemoDataDirInUseError: the data directory already holds a deployment.
        InvalidScenarioError: ``rt``'s clock is not a ``SimClock``.
    """
    if not isinstance(rt.clock, SimClock):
        raise InvalidScenarioError("the demo's runtime needs a SimClock (sim.demo.demo_clock)")
    summary = DemoSummary(str(rt.settings.data_dir), MANUFACTURER)
    try:
        initialise(
            rt, MANUFACTURER, "admin", "Demo Administrator", DEMO_PASSWORD,
            RootSetup([DEMO_ROOT_PASSWORD], 1, production=False),
        )  # fmt: skip
    except Conflict as exc:
        raise DemoDataDirInUseError(
            f"{rt.settings.data_dir} already holds a deployment ({exc}); "
            "run the demo with a fresh --data-dir"
        ) from exc
    step(f"initialised {rt.settings.data_dir}")
    create_people(rt, summary.people, step)
    signing_showcase(rt, summary.people, step)
    with transaction(rt.sessions) as s:
        for biomed in summary.people.biomeds:
            visible = [o.name for o in accounts.list_organizations(s, biomed)]
            summary.hospital_isolation[biomed.username] = visible
    step(
        "each hospital sees only itself: "
        + "; ".join(f"{u} -> {v}" for u, v in summary.hospital_isolation.items())
    )
    summary.rollout = run_rollout(
        rt, rt.clock, summary.people, plan or FleetPlan(), step, progress or (lambda _n, _t: None)
    )
    rollout = summary.rollout
    step(
        f"{rollout.on_new} of {rollout.devices} devices run the new version, "
        f"{rollout.rolled_back} rolled back, {rollout.in_between} in between; "
        f"paused phase(s): {', '.join(rollout.paused_phases) or 'none'}"
    )
    operator = authenticate(rt, "ops.olga", DEMO_PASSWORD)
    with transaction(rt.sessions) as s:
        rows = downtime_reports.downtime_report(s, operator, group_by="site")
        summary.downtime_by_site = [row.to_dict() for row in rows]
    step(
        "downtime per site: "
        + "; ".join(f"{k} {v:g} min" for k, v in summary.downtime_minutes_by_site.items())
    )
    with transaction(rt.sessions) as s:
        result = audit_service.verify(s, rt.trusted_keys())
    summary.audit = result.as_dict()
    step(f"audit trail verified: ok={result.ok}, {result.events_checked} events")
    return summary
