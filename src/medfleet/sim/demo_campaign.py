"""Running the demo's campaign: the fleet, scheduler cycles, device rounds, the summary.

``run_rollout`` builds the releases and hospital side (``medfleet.sim.demo_rollout``), serves
the real app over HTTP (``SimServer``), brings the virtual fleet up, starts the campaign and
then ``drive``s it: a scheduler cycle (``advance_campaigns``, the worker's job), a round in
which every device checks once, and Bayview's production confirmations as its test devices
succeed. When nothing happens the scenario clock jumps to the next maintenance window; the
loop ends once the campaign is paused, completed or aborted and the fleet is quiet.
``summarise`` counts where every device ended, checked against what the server attests.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from medfleet.accounts.auth import authenticate
from medfleet.db.engine import transaction
from medfleet.fleet.tables import Device
from medfleet.rollouts import acceptance, campaign_views, scheduler, window_service
from medfleet.rollouts import service as campaigns
from medfleet.rollouts.tables import Campaign
from medfleet.rollouts.windows import next_opening
from medfleet.runtime import Runtime
from medfleet.sim.api import ApiClient
from medfleet.sim.clock import SimClock
from medfleet.sim.demo_people import DEMO_PASSWORD, People, Step
from medfleet.sim.demo_rollout import (
    MODEL,
    NEW,
    OLD,
    SITES,
    FleetPlan,
    Progress,
    RolloutResult,
    bayview_approves,
    firmware,
    fleet_specs,
    hospitals_prepare,
    policy_for,
    release_both,
)
from medfleet.sim.device import FactoryImage
from medfleet.sim.fleet import FleetSimulator
from medfleet.sim.server import SimServer

MAX_ROUNDS = 120
ACTIVE_STEP = timedelta(minutes=10)


def _next_opening_start(rt: Runtime, people: People, now: datetime) -> datetime | None:
    """The start of the next window opening anywhere, strictly after ``now``."""
    starts = []
    with transaction(rt.sessions) as session:
        for site_id in people.site_ids.values():
            rules, blackouts = window_service.rules_for(session, site_id)
            opening = next_opening(rules, blackouts, now)
            if opening is not None and opening.start <= now:
                opening = next_opening(rules, blackouts, opening.end)
            if opening is not None:
                starts.append(opening.start)
    return min(starts, default=None)


def _confirm_ready_sites(rt: Runtime, people: People, confirmed: set[str], step: Step) -> None:
    """Bayview confirms production at a site as soon as all its test devices run 4.2.0."""
    for site in ("Boston Main", "Seattle Clinic"):
        if site in confirmed:
            continue
        with transaction(rt.sessions) as session:
            versions = session.scalars(
                select(Device.installed_version).where(
                    Device.site_id == people.site_ids[site], Device.is_test_device
                )
            ).all()
        if versions and all(version == NEW for version in versions):
            biomed = authenticate(rt, "h2.biomed", DEMO_PASSWORD)
            with transaction(rt.sessions) as session:
                acceptance.confirm_production(
                    session, rt.audit, biomed, model=MODEL, version=NEW,
                    site_id=people.site_ids[site],
                )  # fmt: skip
            confirmed.add(site)
            step(f"Bayview: test devices at {site} run {NEW}; production confirmed")


def _campaign(rt: Runtime, key: str) -> Campaign:
    with transaction(rt.sessions) as session:
        campaign = session.scalar(select(Campaign).where(Campaign.number == int(key[4:])))
        assert campaign is not None
        session.expunge(campaign)
        return campaign


def drive(
    rt: Runtime,
    clock: SimClock,
    fleet: FleetSimulator,
    people: People,
    key: str,
    step: Step,
    progress: Progress,
) -> int:
    """Scheduler cycles and device rounds until the campaign stops or finishes; rounds run.

    When nothing happens, the scenario clock jumps to the next window opening anywhere.
    """
    confirmed: set[str] = set()
    released_clinical = False
    total = len(fleet.devices)
    for rounds in range(1, MAX_ROUNDS + 1):
        scheduler.advance_campaigns(rt)
        outcome = fleet.run_round()
        counts = outcome.counts
        if not released_clinical and counts.get("deferred", 0) and counts.get("installed", 0):
            released_clinical = fleet.release_clinical() > 0
            if released_clinical:
                step("devices in clinical use deferred their install; released by the nurses")
        _confirm_ready_sites(rt, people, confirmed, step)
        on_new = sum(state.running_version == NEW for state in fleet.states())
        progress(on_new, total)
        campaign = _campaign(rt, key)
        if campaign.state in ("paused", "completed", "aborted") and outcome.quiet:
            return rounds
        later = _next_opening_start(rt, people, clock.now())
        if outcome.quiet and later is not None and later > clock.now() + ACTIVE_STEP:
            clock.advance_to(later + timedelta(minutes=1))
        else:
            clock.advance(ACTIVE_STEP)
    return MAX_ROUNDS


def _start_campaign(rt: Runtime, people: People, step: Step) -> str:
    operator = authenticate(rt, "ops.olga", DEMO_PASSWORD)
    with transaction(rt.sessions) as session:
        campaign = campaigns.create_campaign(
            session, rt.audit, operator, model=MODEL, version=NEW,
            name=f"{MODEL} {NEW}: faster occlusion alarm", policy=policy_for(people),
        )  # fmt: skip
        key = campaign.key
        phases = dict(campaign.plan_summary).get("phases", [])
        campaigns.start(session, rt.audit, operator, key)
    names = ("canary", *SITES)
    sizes = ", ".join(
        f"{names[int(p['phase'])]} {p['devices']}" for p in phases if isinstance(p, dict)
    )
    step(f"campaign {key} started, phases: {sizes} devices")
    return key


def summarise(
    rt: Runtime, fleet: FleetSimulator, key: str, started: datetime, result: RolloutResult
) -> None:
    """Where every device ended, and the campaign's state and paused phases."""
    states = fleet.states()
    with transaction(rt.sessions) as session:
        attested = dict(session.execute(select(Device.serial, Device.installed_version)).all())
    result.devices = len(states)
    for state in states:
        settled = state.settled and state.running_version in (OLD, NEW)
        agrees = attested.get(state.serial) == state.running_version
        if not (settled and agrees):
            result.in_between += 1
        elif state.running_version == NEW:
            result.on_new += 1
        elif NEW in fleet.device(state.serial).faults.fail_health_on:
            result.rolled_back += 1
        else:
            result.on_old_untouched += 1
    with transaction(rt.sessions) as session:
        campaign = session.scalar(select(Campaign).where(Campaign.number == int(key[4:])))
        assert campaign is not None
        result.campaign = campaign_views.describe(session, campaign)
        if campaign.state == "paused":
            phase = result.campaign["phases"][campaign.current_phase]
            result.paused_phases = [str(phase["name"])]
    result.simulated_hours = round((fleet.clock.now() - started).total_seconds() / 3600, 1)
    result.faults = {
        label: sum(state.profile == label for state in states)
        for label in sorted({state.profile for state in states})
    }


def run_rollout(
    rt: Runtime,
    clock: SimClock,
    people: People,
    plan: FleetPlan,
    step: Step,
    progress: Progress,
) -> RolloutResult:
    """Releases, hospital acceptance, the fleet and the campaign (see the module docstring)."""
    result = RolloutResult()
    admin = authenticate(rt, "admin", DEMO_PASSWORD)
    release_both(rt, admin, result, step)
    hospitals_prepare(rt, people, clock.now(), step)
    bayview_approves(rt, people, step)
    with (
        SimServer(rt) as server,
        tempfile.TemporaryDirectory(prefix="medfleet-demo-") as scratch,
    ):
        root = Path(scratch)
        image = root / "factory.img"
        image.write_bytes(firmware(OLD))
        operator = ApiClient.login(server.url, "ops.olga", DEMO_PASSWORD)
        with FleetSimulator(
            server.url, root / "fleet", clock, operator, FactoryImage(image, OLD, 410)
        ) as fleet:
            fleet.add_devices(fleet_specs(plan, people))
            fleet.run_round()
            step(f"{len(fleet.devices)} virtual devices enrolled over HTTP, running {OLD}")
            key = _start_campaign(rt, people, step)
            started = clock.now()
            result.rounds = drive(rt, clock, fleet, people, key, step, progress)
            summarise(rt, fleet, key, started, result)
    return result
