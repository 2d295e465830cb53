"""Campaign use cases: create, schedule, start, pause, resume, abort.

Each runs in the caller's transaction (one per use case) and records an audit event for every
change. Campaigns belong to the manufacturer: hospital staff get "not found" for every campaign
and an empty list; manufacturer staff read them all, and admins and fleet operators change them.
Every state change goes through ``model.next_state``. A release can be rolled out only while it
is released; a withdrawn one never (``CampaignReleaseError``).

Pausing and aborting first count the install results that arrived since the scheduler's last
cycle, then withdraw instructions already given: the devices' ``ActiveAssignment`` rows
are marked for clearing in the use case's transaction; the caller then runs
``director_sync.sync_director`` after the commit (the scheduler would, on its next cycle) to
clear them in the director. Rollback campaigns are created by ``medfleet.rollouts.rollback``;
reading is in ``medfleet.rollouts.campaign_views``, access rules in ``campaign_access``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.releases.tables import Release
from medfleet.rollouts.campaign_access import (
    check_manager,
    check_name,
    check_reason,
    check_rollable,
    find_campaign,
    parse_urgency,
    rollable_release,
)
from medfleet.rollouts.campaign_errors import InvalidCampaignError
from medfleet.rollouts.campaign_model import acknowledge, phase_stats
from medfleet.rollouts.campaign_rows import (
    cancel_unfinished,
    event,
    status_counts,
    transition,
    unassign_all,
)
from medfleet.rollouts.columns import relevant_tags
from medfleet.rollouts.compat import release_info
from medfleet.rollouts.fleet_loader import load_fleet, plan_and_store, release_infos
from medfleet.rollouts.model import (
    CampaignAction,
    CampaignKind,
    CampaignState,
    next_state,
)
from medfleet.rollouts.outcomes import record_outcomes, router_for
from medfleet.rollouts.policy import Policy
from medfleet.rollouts.policy_parse import parse_policy
from medfleet.rollouts.selection import Selection, parse_selection
from medfleet.rollouts.tables import Campaign


def new_campaign(
    session: Session,
    principal: Principal,
    *,
    name: str,
    release: Release,
    kind: CampaignKind,
    selection: Selection,
    policy: Policy,
    now: datetime,
    rollback_of: int | None = None,
) -> Campaign:
    """A draft campaign row with the organization's next number (flushed, so it has an id)."""
    highest = session.scalar(
        select(func.max(Campaign.number)).where(Campaign.org_id == principal.org_id)
    )
    campaign = Campaign(
        org_id=principal.org_id,
        number=(highest or 0) + 1,
        name=name,
        release_pk=release.id,
        kind=kind.value,
        urgency=policy.urgency.value,
        state=CampaignState.DRAFT.value,
        selection=selection.as_dict(),
        policy=policy.as_dict(),
        plan_summary={},
        current_phase=0,
        acknowledged=[],
        notified=0,
        created_by=principal.user_id,
        created_at=now,
        rollback_of=rollback_of,
    )
    session.add(campaign)
    session.flush()
    return campaign


def create_campaign(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    *,
    model: str,
    version: str,
    name: str,
    policy: Mapping[str, object],
    selection: Mapping[str, object] | None = None,
    urgency: str | None = None,
) -> Campaign:
    """A draft campaign rolling ``model`` ``version`` out to the selected devices.

    ``selection`` and ``policy`` are JSON objects (``selection.parse_selection``,
    ``policy_parse.parse_policy``); ``urgency`` (``routine`` or ``critical``), when given,
    replaces the policy's. The fleet is planned at once (``planning.plan_campaign``): every
    enrolled device the selection takes and that can install the release (directly or through
    intermediate releases) and is not busy in another active campaign gets a phase; the plan's
    counts (also of the devices left out, with why) are kept as ``plan_summary``.

    Raises:
        CampaignNotFoundError: hospital staff, or no such release.
        CampaignNotAllowedError: manufacturer staff who may not change campaigns.
        CampaignReleaseError: the release is not released, or withdrawn.
        InvalidCampaignError: a bad name or urgency.
        InvalidSelectionError, InvalidPolicyError: naming the offending field.
        UnknownDeviceError: a phase group names devices that do not exist.
    """
    check_manager(principal)
    name = check_name(name)
    release = rollable_release(session, principal.org_id, model, version)
    parsed_selection = parse_selection(selection or {})
    parsed_policy = parse_policy(policy)
    if urgency is not None:
        parsed_policy = dataclasses.replace(parsed_policy, urgency=parse_urgency(urgency))
    now = audit.clock.now()
    campaign = new_campaign(
        session,
        principal,
        name=name,
        release=release,
        kind=CampaignKind.UPDATE,
        selection=parsed_selection,
        policy=parsed_policy,
        now=now,
    )
    plan = plan_and_store(
        session,
        campaign,
        fleet=load_fleet(session, model, relevant_tags(parsed_selection, parsed_policy)),
        kind=CampaignKind.UPDATE,
        selection=parsed_selection,
        policy=parsed_policy,
        target=release_info(release),
        available=release_infos(session, model),
        now=now,
    )
    campaign.plan_summary = plan.summary()
    audit.record(
        session,
        event(
            campaign,
            principal.actor,
            "created",
            {
                "name": name,
                "release": release.release_id,
                "kind": campaign.kind,
                "urgency": campaign.urgency,
                "selection": campaign.selection,
                "policy": campaign.policy,
                "plan": {
                    "in_campaign": sum(plan.phase_counts),
                    "phases": list(plan.phase_counts),
                    "statuses": {s.code: n for s, n in plan.status_counts.items() if n},
                },
            },
        ),
    )
    return campaign


def _release_of(session: Session, campaign: Campaign) -> Release:
    release = session.get(Release, campaign.release_pk)
    assert release is not None  # a foreign key
    return release


def _results_so_far(session: Session, campaign: Campaign, now: datetime) -> list[NewEvent]:
    """Count the install results that arrived since the scheduler's last cycle, so that a
    pause or abort never loses an outcome a device already reported."""
    router = router_for(session, campaign, _release_of(session, campaign))
    return record_outcomes(session, campaign, router, now)


def schedule(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    key: str,
    at: datetime | None = None,
) -> Campaign:
    """Schedule a draft to start at ``at`` (aware; None or a past time: the scheduler's next
    cycle starts it).

    Raises:
        CampaignNotFoundError, CampaignNotAllowedError: as ``find_campaign``/``check_manager``.
        InvalidCampaignError: ``at`` has no time zone.
        CampaignStateError: the campaign is not a draft.
        CampaignReleaseError: its release was withdrawn meanwhile.
    """
    check_manager(principal)
    if at is not None and at.tzinfo is None:
        raise InvalidCampaignError("the start time needs a time zone (e.g. 2026-03-07T07:00Z)")
    campaign = find_campaign(session, principal, key, lock=True)
    check_rollable(_release_of(session, campaign))
    now = audit.clock.now()
    when = now if at is None else at
    done = transition(
        campaign, CampaignAction.SCHEDULE, principal.actor, now, {"at": when.isoformat()}
    )
    campaign.scheduled_for = when
    audit.record(session, done)
    return campaign


def start(session: Session, audit: AuditLog, principal: Principal, key: str) -> Campaign:
    """Start a scheduled campaign now (a draft is scheduled for now first; both recorded).

    Raises:
        CampaignNotFoundError, CampaignNotAllowedError, CampaignReleaseError: as ``schedule``.
        CampaignStateError: the campaign is running, paused or finished.
    """
    check_manager(principal)
    campaign = find_campaign(session, principal, key, lock=True)
    check_rollable(_release_of(session, campaign))
    now = audit.clock.now()
    if campaign.state == CampaignState.DRAFT:
        audit.record(
            session,
            transition(
                campaign, CampaignAction.SCHEDULE, principal.actor, now, {"at": now.isoformat()}
            ),
        )
        campaign.scheduled_for = now
    audit.record(session, transition(campaign, CampaignAction.START, principal.actor, now))
    return campaign


def pause(
    session: Session, audit: AuditLog, principal: Principal, key: str, reason: str | None = None
) -> Campaign:
    """Pause a running campaign: no device gets an instruction until it resumes, and the
    instructions of devices without an outcome are withdrawn (they wait again; a result that
    still arrives is counted).

    Raises:
        CampaignNotFoundError, CampaignNotAllowedError: as ``find_campaign``/``check_manager``.
        InvalidCampaignError: a reason longer than 2000 characters.
        CampaignStateError: the campaign is not running.
    """
    check_manager(principal)
    text = check_reason(reason, required=False) or f"paused by {principal.username}"
    campaign = find_campaign(session, principal, key, lock=True)
    next_state(CampaignState(campaign.state), CampaignAction.PAUSE)  # refuse before changing
    results = _results_so_far(session, campaign, audit.clock.now())
    withdrawn = unassign_all(session, campaign)
    payload = {"reason": text, "withdrawn": len(withdrawn)}
    done = transition(campaign, CampaignAction.PAUSE, principal.actor, audit.clock.now(), payload)
    campaign.pause_reason = text
    audit.record_many(session, [*results, done])  # last: see campaign_rows
    return campaign


def resume(session: Session, audit: AuditLog, principal: Principal, key: str) -> Campaign:
    """Resume a paused campaign. The failures of every started phase are acknowledged: the
    same failures never pause it again (new ones do).

    Raises:
        CampaignNotFoundError, CampaignNotAllowedError: as ``find_campaign``/``check_manager``.
        CampaignStateError: the campaign is not paused.
        CampaignReleaseError: its release was withdrawn meanwhile.
    """
    check_manager(principal)
    campaign = find_campaign(session, principal, key, lock=True)
    check_rollable(_release_of(session, campaign))
    policy = parse_policy(campaign.policy)
    stats = phase_stats(status_counts(session, campaign.id), policy.phase_count)
    acknowledged = acknowledge(stats, campaign.current_phase)
    now = audit.clock.now()
    done = transition(
        campaign, CampaignAction.RESUME, principal.actor, now, {"acknowledged": acknowledged}
    )
    campaign.acknowledged = acknowledged
    audit.record(session, done)
    return campaign


def abort(
    session: Session, audit: AuditLog, principal: Principal, key: str, reason: str
) -> Campaign:
    """Abort a campaign that has not finished: every device without an outcome is cancelled
    and its instruction withdrawn.

    Raises:
        CampaignNotFoundError, CampaignNotAllowedError: as ``find_campaign``/``check_manager``.
        InvalidCampaignError: no reason, or one longer than 2000 characters.
        CampaignStateError: the campaign is completed or aborted already.
    """
    check_manager(principal)
    text = check_reason(reason, required=True)
    assert text is not None
    campaign = find_campaign(session, principal, key, lock=True)
    now = audit.clock.now()
    next_state(CampaignState(campaign.state), CampaignAction.ABORT)  # refuse before changing
    results = _results_so_far(session, campaign, now)
    cancelled = cancel_unfinished(session, campaign, f"campaign aborted: {text}", now)
    payload = {"reason": text, "cancelled": cancelled}
    done = transition(campaign, CampaignAction.ABORT, principal.actor, now, payload)
    campaign.abort_reason = text
    audit.record_many(session, [*results, done])  # last: see campaign_rows
    return campaign
