"""Row-level steps shared by the campaign use cases and the scheduler.

Each runs in the caller's transaction, on a campaign whose row the caller has locked, and
returns the audit event(s) describing what it changed. The caller records them in the same
transaction, as its last step: recording locks the audit trail's head row, and a transaction
that held it while waiting for an ``ActiveAssignment`` row could deadlock with a director
sync, which locks those rows first and the head last. Devices whose instruction must go are
not cleared here: their ``ActiveAssignment`` is marked ``clear_pending`` and
``medfleet.rollouts.director_sync`` clears the director after the transaction committed (see
there why in that order).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from medfleet.audit.model import NewEvent
from medfleet.rollouts.campaign_model import UNFINISHED, DeviceStatus
from medfleet.rollouts.model import CampaignAction, CampaignState, next_state
from medfleet.rollouts.tables import ActiveAssignment, Campaign, CampaignDevice

PAST_TENSE = {
    CampaignAction.SCHEDULE: "scheduled",
    CampaignAction.START: "started",
    CampaignAction.PAUSE: "paused",
    CampaignAction.RESUME: "resumed",
    CampaignAction.COMPLETE: "completed",
    CampaignAction.ABORT: "aborted",
}


def event(campaign: Campaign, actor: str, action: str, payload: Mapping[str, Any]) -> NewEvent:
    """An audit event ``campaign.<action>`` about ``campaign`` (its key in the payload)."""
    return NewEvent(
        actor,
        campaign.org_id,
        f"campaign.{action}",
        "campaign",
        str(campaign.id),
        {"key": campaign.key, **payload},
    )


def transition(
    campaign: Campaign,
    action: CampaignAction,
    actor: str,
    now: datetime,
    payload: Mapping[str, Any] | None = None,
) -> NewEvent:
    """Move ``campaign`` by ``action`` (``model.next_state``), stamping the time it
    started, paused or finished; returns the audit event.

    Raises:
        CampaignStateError: the action is not allowed in the campaign's state.
    """
    before = CampaignState(campaign.state)
    after = next_state(before, action)
    campaign.state = after.value
    if action is CampaignAction.START:
        campaign.started_at = now
    elif action is CampaignAction.PAUSE:
        campaign.paused_at = now
    elif action is CampaignAction.RESUME:
        campaign.paused_at = None
        campaign.pause_reason = None
    elif action in (CampaignAction.COMPLETE, CampaignAction.ABORT):
        campaign.finished_at = now
    details = {"from": before.value, "to": after.value, **(payload or {})}
    return event(campaign, actor, PAST_TENSE[action], details)


def status_counts(session: Session, campaign_id: int) -> dict[tuple[int, str], int]:
    """How many devices of the campaign are in each (phase, status)."""
    rows = session.execute(
        select(CampaignDevice.phase, CampaignDevice.status, func.count())
        .where(CampaignDevice.campaign_id == campaign_id)
        .group_by(CampaignDevice.phase, CampaignDevice.status)
    )
    return {(phase, status): count for phase, status, count in rows}


def release_instructions(session: Session, campaign_id: int, device_pks: list[int]) -> None:
    """Mark the campaign's instructions of ``device_pks`` for clearing (rows of other
    campaigns, and devices without a row, are left alone)."""
    for offset in range(0, len(device_pks), 1000):
        session.execute(
            update(ActiveAssignment)
            .where(
                ActiveAssignment.campaign_id == campaign_id,
                ActiveAssignment.device_pk.in_(device_pks[offset : offset + 1000]),
            )
            .values(clear_pending=True)
        )


def unassign_all(session: Session, campaign: Campaign) -> list[int]:
    """Withdraw every instruction of the campaign whose device has no outcome yet: back to
    ``waiting`` (its ``assigned_at`` is kept, so a result that still arrives counts); returns
    the devices' primary keys."""
    pks = list(
        session.scalars(
            select(CampaignDevice.device_pk).where(
                CampaignDevice.campaign_id == campaign.id,
                CampaignDevice.status == DeviceStatus.ASSIGNED.value,
            )
        )
    )
    session.execute(
        update(CampaignDevice)
        .where(
            CampaignDevice.campaign_id == campaign.id,
            CampaignDevice.status == DeviceStatus.ASSIGNED.value,
        )
        .values(status=DeviceStatus.WAITING.value, install_after=None, install_before=None)
    )
    release_instructions(session, campaign.id, pks)
    return pks


def cancel_unfinished(session: Session, campaign: Campaign, detail: str, now: datetime) -> int:
    """Let every unfinished device of the campaign go (``cancelled``, with ``detail``) and
    withdraw the campaign's instructions; returns how many devices were cancelled."""
    unfinished = [status.value for status in UNFINISHED]
    count = session.scalar(
        select(func.count()).where(
            CampaignDevice.campaign_id == campaign.id, CampaignDevice.status.in_(unfinished)
        )
    )
    session.execute(
        update(CampaignDevice)
        .where(CampaignDevice.campaign_id == campaign.id, CampaignDevice.status.in_(unfinished))
        .values(status=DeviceStatus.CANCELLED.value, detail=detail, finished_at=now)
    )
    session.execute(
        update(ActiveAssignment)
        .where(ActiveAssignment.campaign_id == campaign.id)
        .values(clear_pending=True)
    )
    return count or 0
