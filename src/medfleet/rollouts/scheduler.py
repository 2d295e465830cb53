"""The campaign scheduler: one idempotent cycle that moves every campaign on.

``advance_campaigns`` (the worker's ``advance-campaigns`` job, ``medfleet campaign advance``):

1. starts the scheduled campaigns that are due;
2. for every running or paused campaign, in a transaction of its own holding the campaign's row
   lock (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a second worker skips a campaign the first
   is working on; SQLite runs one writer at a time anyway):

   * new install results become device statuses (``outcomes.record_outcomes``: a finished
     intermediate hop routes the device on);
   * a campaign whose release was withdrawn is aborted, its unfinished devices let go;
   * instructed devices that never reported time out; instructions for a withdrawn
     intermediate release are withdrawn (the device is routed around it when next due);
   * hospital acceptance sets who waits, is held or awaits acceptance
     (``assigning.refresh_waiting``);
   * the progress decision (``progress.evaluate_campaign``, ``campaign_model.settle``) starts
     the next phase, pauses (instructions of devices without an outcome are withdrawn),
     aborts or completes the campaign;
   * the waiting devices of the started phases that may start now get their instruction
     (``assigning.assign_due``);

   a paused campaign only counts results that still arrive (and is aborted if its release is
   withdrawn);
3. brings the director in line with the committed assignments (``director_sync``).

Running a cycle again without anything new (results, time, acceptance, windows) changes
nothing and records nothing: every step writes only what differs. A campaign whose step fails
(a medfleet or database error) is rolled back, reported in the summary's ``failed`` and logged;
the other campaigns still move on. All audit events of a
campaign's step are recorded at the end of its transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from medfleet.audit.model import NewEvent
from medfleet.db.engine import transaction
from medfleet.errors import MedfleetError
from medfleet.fleet.tables import Device
from medfleet.releases.model import ReleaseState
from medfleet.releases.tables import Release
from medfleet.rollouts.assigning import assign_due, refresh_waiting
from medfleet.rollouts.campaign_model import phase_stats, settle
from medfleet.rollouts.campaign_rows import (
    cancel_unfinished,
    event,
    status_counts,
    transition,
    unassign_all,
)
from medfleet.rollouts.director_sync import sync_director
from medfleet.rollouts.fleet_loader import site_facts
from medfleet.rollouts.model import CampaignAction, CampaignState
from medfleet.rollouts.outcomes import (
    SYSTEM_ACTOR,
    record_outcomes,
    router_for,
    time_out,
    withdrawn_steps,
)
from medfleet.rollouts.policy import Policy
from medfleet.rollouts.policy_parse import parse_policy
from medfleet.rollouts.progress import Abort, Advance, Complete, Pause, evaluate_campaign
from medfleet.rollouts.tables import Campaign, CampaignDevice
from medfleet.runtime import Runtime

LOG = logging.getLogger(__name__)
OnLocked = Callable[[str], None]
"""Called with a campaign's key once its row is locked (a hook for tests and fault injection)."""


@dataclass
class CycleSummary:
    """What one cycle did, per campaign key (``#id`` for a campaign skipped because another
    worker holds it, or that failed)."""

    started: list[str] = field(default_factory=list)
    worked: list[str] = field(default_factory=list)
    skipped_locked: list[str] = field(default_factory=list)
    phases_started: dict[str, int] = field(default_factory=dict)
    paused: list[str] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    events: int = 0
    director: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "started": self.started,
            "worked": self.worked,
            "skipped_locked": self.skipped_locked,
            "phases_started": self.phases_started,
            "paused": self.paused,
            "aborted": self.aborted,
            "completed": self.completed,
            "failed": self.failed,
            "events": self.events,
            "director": self.director,
        }


def _lock(session: Session, campaign_id: int, states: list[str]) -> Campaign | None:
    return session.scalar(
        select(Campaign)
        .where(Campaign.id == campaign_id, Campaign.state.in_(states))
        .with_for_update(skip_locked=True)
    )


def _withdrawn(release: Release) -> str | None:
    if release.state != ReleaseState.WITHDRAWN.value:
        return None
    return f"release {release.release_id} was withdrawn: {release.withdrawn_reason}"


def start_due(session: Session, campaign: Campaign, now: datetime) -> list[NewEvent]:
    """Start a due scheduled campaign (abort it if its release was withdrawn meanwhile)."""
    release = session.get(Release, campaign.release_pk)
    assert release is not None  # a foreign key
    reason = _withdrawn(release)
    if reason is not None:
        return _abort(session, campaign, reason, now)
    return [transition(campaign, CampaignAction.START, SYSTEM_ACTOR, now, {"scheduled": True})]


def _abort(session: Session, campaign: Campaign, reason: str, now: datetime) -> list[NewEvent]:
    cancelled = cancel_unfinished(session, campaign, f"campaign aborted: {reason}", now)
    campaign.abort_reason = reason
    payload = {"reason": reason, "cancelled": cancelled}
    return [transition(campaign, CampaignAction.ABORT, SYSTEM_ACTOR, now, payload)]


def _decide(
    session: Session, campaign: Campaign, policy: Policy, now: datetime, summary: CycleSummary
) -> list[NewEvent]:
    events: list[NewEvent] = []
    for _ in range(policy.phase_count + 1):
        counts = status_counts(session, campaign.id)
        stats = phase_stats(counts, policy.phase_count)
        decision = settle(
            evaluate_campaign(
                policy, campaign.current_phase, stats, acknowledged=campaign.acknowledged
            ),
            current_phase=campaign.current_phase,
            counts=counts,
        )
        if isinstance(decision, Advance):
            campaign.current_phase = decision.next_phase
            summary.phases_started[campaign.key] = decision.next_phase
            payload = {"phase": decision.next_phase, "why": decision.message}
            events.append(event(campaign, SYSTEM_ACTOR, "phase_started", payload))
            continue
        if isinstance(decision, Pause):
            withdrawn = unassign_all(session, campaign)
            campaign.pause_reason = decision.message
            payload = {
                "reason": decision.message,
                "cause": decision.reason.value,
                "phase": decision.phase,
                "withdrawn": len(withdrawn),
            }
            events.append(transition(campaign, CampaignAction.PAUSE, SYSTEM_ACTOR, now, payload))
            summary.paused.append(campaign.key)
        elif isinstance(decision, Abort):
            events.extend(_abort(session, campaign, decision.message, now))
            summary.aborted.append(campaign.key)
        elif isinstance(decision, Complete):
            payload = {"why": decision.message}
            events.append(transition(campaign, CampaignAction.COMPLETE, SYSTEM_ACTOR, now, payload))
            summary.completed.append(campaign.key)
        break
    return events


def advance_one(
    session: Session, campaign: Campaign, now: datetime, summary: CycleSummary
) -> list[NewEvent]:
    """One step of one running or paused campaign whose row the caller locked (see the
    module docstring); returns the audit events to record."""
    release = session.get(Release, campaign.release_pk)
    assert release is not None  # a foreign key
    router = router_for(session, campaign, release)
    events = record_outcomes(session, campaign, router, now)
    reason = _withdrawn(release)
    if reason is not None:
        summary.aborted.append(campaign.key)
        return events + _abort(session, campaign, reason, now)
    if campaign.state != CampaignState.RUNNING:
        return events
    events += time_out(session, campaign, now)
    events += withdrawn_steps(session, campaign)
    policy = parse_policy(campaign.policy)
    sites = session.scalars(
        select(Device.site_id)
        .distinct()
        .join(CampaignDevice, CampaignDevice.device_pk == Device.id)
        .where(CampaignDevice.campaign_id == campaign.id, Device.site_id.is_not(None))
    )
    facts = site_facts(
        session,
        campaign.release_pk,
        policy.urgency,
        [s for s in sites if s],
        now,
        with_openings=False,
    )
    held, gated = refresh_waiting(session, campaign, facts)
    events += gated
    events += _decide(session, campaign, policy, now, summary)
    if campaign.state == CampaignState.RUNNING:
        events += assign_due(
            session, campaign, policy=policy, router=router, facts=facts, held=held, now=now
        )
    return events


def _ids(runtime: Runtime, *where: ColumnElement[bool]) -> list[int]:
    with transaction(runtime.sessions) as session:
        return list(session.scalars(select(Campaign.id).where(*where).order_by(Campaign.id)))


def advance_campaigns(runtime: Runtime, *, on_locked: OnLocked | None = None) -> dict[str, object]:
    """Run one scheduler cycle over every campaign (see the module docstring); returns a
    JSON-ready summary. Safe to run concurrently and repeatedly.

    ``on_locked`` is called with a campaign's key right after its row lock was taken.
    """
    summary = CycleSummary()
    now = runtime.clock.now()
    scheduled = CampaignState.SCHEDULED.value
    due = _ids(
        runtime,
        Campaign.state == scheduled,
        or_(Campaign.scheduled_for.is_(None), Campaign.scheduled_for <= now),
    )
    for campaign_id in due:
        with transaction(runtime.sessions) as session:
            campaign = _lock(session, campaign_id, [scheduled])
            if campaign is None:
                continue
            events = start_due(session, campaign, now)
            runtime.audit.record_many(session, events)
            summary.events += len(events)
            started = campaign.state == CampaignState.RUNNING
            (summary.started if started else summary.aborted).append(campaign.key)
    active = [CampaignState.RUNNING.value, CampaignState.PAUSED.value]
    for campaign_id in _ids(runtime, Campaign.state.in_(active)):
        try:
            _step(runtime, campaign_id, active, now, summary, on_locked)
        except (MedfleetError, SQLAlchemyError) as error:  # this campaign only; rolled back
            LOG.error("campaign #%s could not advance: %s", campaign_id, error)
            summary.failed[f"#{campaign_id}"] = str(error).strip().splitlines()[0]
    summary.director = sync_director(runtime)
    return summary.as_dict()


def _step(
    runtime: Runtime,
    campaign_id: int,
    active: list[str],
    now: datetime,
    summary: CycleSummary,
    on_locked: OnLocked | None,
) -> None:
    with transaction(runtime.sessions) as session:
        campaign = _lock(session, campaign_id, active)
        if campaign is None:
            summary.skipped_locked.append(f"#{campaign_id}")
            return
        if on_locked is not None:
            on_locked(campaign.key)
        events = advance_one(session, campaign, now, summary)
        runtime.audit.record_many(session, events)
        summary.events += len(events)
        summary.worked.append(campaign.key)
