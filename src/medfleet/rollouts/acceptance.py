"""Hospital acceptance of releases: decisions per site, auto-approval policies, pending releases.

A hospital's admin or biomed engineer reads what a release changes (notes, risk summary,
expected downtime, compatibility) and approves or declines it for each of its sites; after the
site's test devices installed it, they confirm that production devices may follow. A standing
auto-approval per campaign urgency can replace the per-release decision. Only released,
not-withdrawn releases can be decided on. Hospital users see and change only their own sites;
another hospital's site is "not found". The manufacturer's staff read every site's stance (to
plan campaigns) but never decide for a hospital. ``site_stances`` is what the campaign
scheduler asks; it takes no principal. Every change is audited in its own transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.accounts.tables import Site
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.releases.model import ReleaseState
from medfleet.releases.tables import Release
from medfleet.rollouts.acceptance_errors import (
    AcceptanceNotAllowedError,
    AcceptanceNotFoundError,
    AcceptanceStateError,
    InvalidAcceptanceError,
)
from medfleet.rollouts.acceptance_model import Decision, Urgency
from medfleet.rollouts.acceptance_tables import SiteAcceptance

DECIDERS = (Role.ADMIN, Role.HOSPITAL_BIOMED)
MAX_COMMENT = 2000


def parse_urgency(value: str) -> Urgency:
    """``routine`` or ``critical``.

    Raises:
        InvalidAcceptanceError: anything else.
    """
    try:
        return Urgency(value.strip().lower())
    except ValueError:
        raise InvalidAcceptanceError(
            f"unknown urgency {value!r} (known: routine, critical)"
        ) from None


def released(session: Session, model: str, version: str) -> Release:
    """The released, not-withdrawn release ``model`` ``version`` (hospitals see only these).

    Raises:
        AcceptanceNotFoundError: no such release, or it is not released (or was withdrawn).
    """
    release = session.scalar(
        select(Release).where(Release.model == model, Release.version == version)
    )
    if release is None or release.state != ReleaseState.RELEASED:
        raise AcceptanceNotFoundError(f"no released release {model} {version}")
    return release


def _deciding_site(session: Session, principal: Principal, site_id: int) -> Site:
    site = session.get(Site, site_id)
    if (
        site is None
        or principal.org_kind is not OrgKind.HOSPITAL
        or site.org_id != principal.org_id
    ):
        raise AcceptanceNotFoundError(f"no site {site_id} of your hospital")
    if not principal.has_any(*DECIDERS):
        raise AcceptanceNotAllowedError(
            "deciding on releases needs the hospital's admin or biomed role"
        )
    return site


def _event(
    audit: AuditLog,
    session: Session,
    principal: Principal,
    action: str,
    row: Any,
    data: dict[str, Any],
) -> None:
    audit.record(
        session,
        NewEvent(principal.actor, principal.org_id, action, "site_acceptance", str(row.id), data),
    )


def decide(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    *,
    model: str,
    version: str,
    site_id: int,
    approve: bool,
    comment: str | None = None,
    out_of_cycle_consent: bool = False,
) -> SiteAcceptance:
    """Approve or decline ``model`` ``version`` for one of the caller's sites.

    A new decision replaces the site's earlier one and clears its production confirmation.
    Out-of-cycle consent (critical campaigns may install outside the maintenance windows)
    needs an approval.

    Raises:
        AcceptanceNotFoundError: no such released release, or not the caller's site.
        AcceptanceNotAllowedError: the caller is not the hospital's admin or biomed.
        InvalidAcceptanceError: a comment too long, or consent given with a decline.
    """
    site = _deciding_site(session, principal, site_id)
    release = released(session, model, version)
    if comment is not None and len(comment) > MAX_COMMENT:
        raise InvalidAcceptanceError(f"a comment is at most {MAX_COMMENT} characters")
    if out_of_cycle_consent and not approve:
        raise InvalidAcceptanceError("out-of-cycle consent needs an approval, not a decline")
    now = audit.clock.now()
    row = session.scalar(
        select(SiteAcceptance).where(
            SiteAcceptance.release_pk == release.id, SiteAcceptance.site_id == site.id
        )
    )
    if row is None:
        row = SiteAcceptance(release_pk=release.id, org_id=site.org_id, site_id=site.id)
        session.add(row)
    row.decision = (Decision.APPROVED if approve else Decision.DECLINED).value
    row.comment = comment
    row.out_of_cycle_consent = out_of_cycle_consent
    row.decided_by = principal.user_id
    row.decided_at = now
    row.production_confirmed_by = None
    row.production_confirmed_at = None
    session.flush()
    _event(
        audit,
        session,
        principal,
        "release.site_" + row.decision,
        row,
        {
            "release": release.release_id,
            "site_id": site.id,
            "site": site.name,
            "comment": comment,
            "out_of_cycle_consent": out_of_cycle_consent,
        },
    )
    return row


def confirm_production(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    *,
    model: str,
    version: str,
    site_id: int,
) -> SiteAcceptance:
    """Confirm that the site's production devices may follow its test devices.

    The campaign still holds production devices until the site's test devices succeeded;
    the confirmation is the site's consent, the test results are the campaign's check.

    Raises:
        AcceptanceNotFoundError, AcceptanceNotAllowedError: as ``decide``.
        AcceptanceStateError: the site has not approved the release.
    """
    site = _deciding_site(session, principal, site_id)
    release = released(session, model, version)
    row = session.scalar(
        select(SiteAcceptance).where(
            SiteAcceptance.release_pk == release.id, SiteAcceptance.site_id == site.id
        )
    )
    if row is None or row.decision != Decision.APPROVED:
        raise AcceptanceStateError(
            f"{site.name} has not approved {release.release_id}; approve it first"
        )
    row.production_confirmed_by = principal.user_id
    row.production_confirmed_at = audit.clock.now()
    _event(
        audit,
        session,
        principal,
        "release.site_production_confirmed",
        row,
        {"release": release.release_id, "site_id": site.id, "site": site.name},
    )
    return row
