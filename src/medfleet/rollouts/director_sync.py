"""Bringing the director in line with the campaigns' ``ActiveAssignment`` rows.

Order of the two writes, and why it survives a crash anywhere: the database decides first, the
director follows. A campaign takes a device by committing its ``ActiveAssignment`` row with
``instructed_at`` null (and withdraws it by committing ``clear_pending``); only afterwards does
``sync_director`` sign the device's director metadata, and then it records that in the row
(``instructed_at`` set, or the row deleted after a clear) in a second transaction.

* A crash after the first commit and before the director write leaves a row that still says
  "to do"; the next sync (every scheduler cycle runs one) writes it.
* A crash after the director write and before the second commit leaves the row as it was; the
  next sync writes the very same instruction (or clear) again, which is harmless: a device
  acts on the target and its hashes, not on the metadata version.
* A device's row is deleted only after the director cleared its instruction, or handed over
  to the next campaign (``assigning.claim``), whose instruction then replaces the old one: as
  long as any instruction for a device may exist, exactly one row names the campaign whose
  instruction the director must end up with, and no other campaign can take the device.

The other order (director first) could leave a signed instruction that no row knows about: a
device installing what no campaign tracks, and open to a second campaign. Rows are locked with
``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so concurrent syncs never write one device twice, and
an instruction whose release was withdrawn meanwhile is not written (the scheduler withdraws
it). Every batch records what it wrote in the audit trail.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from medfleet.agent.contract import ContractError, Instruction
from medfleet.audit.model import NewEvent
from medfleet.db.engine import transaction
from medfleet.fleet.tables import Device
from medfleet.releases.model import ReleaseState
from medfleet.releases.tables import Release
from medfleet.rollouts.campaign_rows import event
from medfleet.rollouts.outcomes import SYSTEM_ACTOR
from medfleet.rollouts.tables import ActiveAssignment, Campaign, CampaignDevice
from medfleet.runtime import Runtime
from medfleet.signing.director import Director
from medfleet.signing.errors import SigningError, TargetNotListedError

LOG = logging.getLogger(__name__)
BATCH = 200


def instruction_for(
    director: Director,
    device_id: str,
    release: Release,
    installed_version: str | None,
    after: datetime | None,
    before: datetime | None,
) -> None:
    """Sign ``release`` into the device's director metadata with the install window
    ``[after, before)`` and, when the image repository has one, the delta from the version
    the device runs.

    Raises:
        TargetNotListedError: the image repository does not list the release's image.
        SigningError, ContractError: the director refused the instruction.
    """
    path = release.target_path
    image = director.images.image_target(path) if path else None
    if path is None or image is None:
        raise TargetNotListedError(f"the image repository does not list {release.release_id}")
    delta = next(
        (
            str(entry["path"])
            for entry in release.target_deltas or []
            if installed_version is not None and entry.get("from_version") == installed_version
        ),
        None,
    )
    instruction = Instruction(
        device_id, release.release_id, release.version_number, delta, after, before
    )
    director.assign(device_id, path, image.length, dict(image.hashes), instruction)


def _pending(session: Session, after: int) -> list[tuple[Any, ...]]:
    statement = (
        select(
            ActiveAssignment,
            Device.device_id,
            Device.installed_version,
            Release,
            CampaignDevice.install_after,
            CampaignDevice.install_before,
            Campaign,
        )
        .join(Device, Device.id == ActiveAssignment.device_pk)
        .join(Release, Release.id == ActiveAssignment.release_pk)
        .join(CampaignDevice, CampaignDevice.id == ActiveAssignment.campaign_device_id)
        .join(Campaign, Campaign.id == ActiveAssignment.campaign_id)
        .where(
            ActiveAssignment.device_pk > after,
            or_(ActiveAssignment.clear_pending, ActiveAssignment.instructed_at.is_(None)),
        )
        .order_by(ActiveAssignment.device_pk)
        .limit(BATCH)
        .with_for_update(of=ActiveAssignment, skip_locked=True)
    )
    return [tuple(row) for row in session.execute(statement)]


def sync_director(runtime: Runtime) -> dict[str, int]:
    """Write every pending instruction and clear every withdrawn one (see the module
    docstring); returns how many were written, cleared, failed (kept for the next sync, the
    reason in the row's ``error``; ``failed_again`` with the same reason as before) and left
    for the scheduler (``withdrawn_release``)."""
    summary = dict.fromkeys(
        ("instructed", "cleared", "failed", "failed_again", "withdrawn_release"), 0
    )
    last = 0
    while True:
        with transaction(runtime.sessions) as session:
            rows = _pending(session, last)
            if not rows:
                break
            director = runtime.distribution.director
            done: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
            campaigns: dict[int, Campaign] = {}
            for row, device_id, installed, release, after, before, campaign in rows:
                last = row.device_pk
                campaigns[campaign.id] = campaign
                outcome = _apply(
                    session, director, row, device_id, installed, release, after, before
                )
                summary[outcome] += 1
                done[campaign.id][outcome].append(device_id)
            events = [_event(campaigns[cid], lists) for cid, lists in sorted(done.items())]
            runtime.audit.record_many(session, [e for e in events if e is not None])
        if len(rows) < BATCH:
            break
    return summary


def _apply(
    session: Session,
    director: Director,
    row: ActiveAssignment,
    device_id: str,
    installed: str | None,
    release: Release,
    after: datetime | None,
    before: datetime | None,
) -> str:
    try:
        if row.clear_pending:
            director.clear(device_id)
            session.delete(row)
            return "cleared"
        if release.state == ReleaseState.WITHDRAWN.value:
            return "withdrawn_release"
        instruction_for(director, device_id, release, installed, after, before)
    except (SigningError, ContractError) as error:
        LOG.error("director instruction for %s failed: %s", device_id, error)
        if row.error == str(error):
            return "failed_again"  # nothing new: no change, no audit event
        row.error = str(error)
        return "failed"
    row.instructed_at = director.clock.now()
    row.error = None
    return "instructed"


def _event(campaign: Campaign, lists: dict[str, list[str]]) -> NewEvent | None:
    silent = ("withdrawn_release", "failed_again")
    payload = {name: sorted(ids) for name, ids in sorted(lists.items()) if name not in silent}
    if not payload:
        return None
    return event(campaign, SYSTEM_ACTOR, "instructions_synced", payload)
