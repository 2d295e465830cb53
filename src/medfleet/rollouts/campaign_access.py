"""Who may read and change campaigns, finding one, and checking what a request names.

Campaigns belong to the manufacturer: hospital staff get "not found" for every campaign (never
"forbidden"), manufacturer staff read them all, and the admins and fleet operators change them.
A release can be rolled out only while it is released; a withdrawn one never.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.releases.model import ReleaseState
from medfleet.releases.tables import Release
from medfleet.rollouts.campaign_errors import (
    CampaignNotAllowedError,
    CampaignNotFoundError,
    CampaignReleaseError,
    InvalidCampaignError,
)
from medfleet.rollouts.campaign_model import parse_key
from medfleet.rollouts.model import Urgency
from medfleet.rollouts.tables import Campaign

MANAGERS = (Role.ADMIN, Role.FLEET_OPERATOR)
MAX_NAME = 200
MAX_REASON = 2000


def check_staff(principal: Principal) -> None:
    """Refuse hospital staff as if no campaign existed.

    Raises:
        CampaignNotFoundError: the caller is not manufacturer staff.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER:
        raise CampaignNotFoundError("campaigns belong to the manufacturer")


def check_manager(principal: Principal) -> None:
    """Only the manufacturer's admins and fleet operators change campaigns.

    Raises:
        CampaignNotFoundError: hospital staff.
        CampaignNotAllowedError: manufacturer staff without one of those roles.
    """
    check_staff(principal)
    if not principal.has_any(*MANAGERS):
        raise CampaignNotAllowedError("changing campaigns needs the admin or fleet_operator role")


def find_campaign(
    session: Session, principal: Principal, key: str, *, lock: bool = False
) -> Campaign:
    """The caller's organization's campaign ``key`` (``CMP-3`` or ``3``), row-locked with
    ``lock`` (other changes of it wait for this transaction).

    Raises:
        CampaignNotFoundError: malformed key, no such campaign, or hospital staff.
    """
    check_staff(principal)
    number = parse_key(key)
    if number is None:
        raise CampaignNotFoundError(f"{key!r} is not a campaign key like CMP-1")
    statement = select(Campaign).where(
        Campaign.org_id == principal.org_id, Campaign.number == number
    )
    if lock:
        statement = statement.with_for_update()
    campaign = session.scalar(statement)
    if campaign is None:
        raise CampaignNotFoundError(f"campaign CMP-{number} not found")
    return campaign


def rollable_release(session: Session, org_id: int, model: str, version: str) -> Release:
    """The organization's release ``model`` ``version``, if it may be rolled out.

    Raises:
        CampaignNotFoundError: no such release.
        CampaignReleaseError: it is not released yet, or withdrawn.
    """
    release = session.scalar(
        select(Release).where(
            Release.org_id == org_id, Release.model == model, Release.version == version
        )
    )
    if release is None:
        raise CampaignNotFoundError(f"no release {model} {version}")
    check_rollable(release)
    return release


def check_rollable(release: Release) -> None:
    """Refuse a release that is not (or no longer) released.

    Raises:
        CampaignReleaseError: withdrawn, or not released yet.
    """
    if release.state == ReleaseState.WITHDRAWN:
        raise CampaignReleaseError(
            f"release {release.release_id} was withdrawn ({release.withdrawn_reason}); "
            "no campaign may install it"
        )
    if release.state != ReleaseState.RELEASED or release.target_path is None:
        raise CampaignReleaseError(
            f"release {release.release_id} is {release.state}; only released releases "
            "can be rolled out"
        )


def parse_urgency(value: str) -> Urgency:
    """``routine`` or ``critical``.

    Raises:
        InvalidCampaignError: anything else.
    """
    try:
        return Urgency(value.strip().lower())
    except ValueError:
        raise InvalidCampaignError(
            f"unknown urgency {value!r} (known: routine, critical)"
        ) from None


def check_name(name: str) -> str:
    """A campaign name: stripped, 1 to 200 characters.

    Raises:
        InvalidCampaignError: empty or too long.
    """
    stripped = name.strip()
    if not 1 <= len(stripped) <= MAX_NAME:
        raise InvalidCampaignError(f"a campaign needs a name of 1 to {MAX_NAME} characters")
    return stripped


def check_reason(reason: str | None, *, required: bool) -> str | None:
    """A reason for the audit trail: stripped, at most 2000 characters.

    Raises:
        InvalidCampaignError: missing although required, or too long.
    """
    text = (reason or "").strip()
    if required and not text:
        raise InvalidCampaignError("this needs a reason (it goes into the audit trail)")
    if len(text) > MAX_REASON:
        raise InvalidCampaignError(f"a reason is at most {MAX_REASON} characters")
    return text or None
