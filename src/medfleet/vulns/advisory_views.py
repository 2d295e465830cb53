"""Reading vulnerabilities and advisories: lists and one vulnerability by any of its ids.

Advisory content is public information, so every signed-in user may read it, hospital users
included. Hospital users see only what public sources (OSV, NVD) published: advisories from
other sources (a manufacturer's VEX documents) and vulnerabilities known only through them stay
with the manufacturer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.vulns.advisory_model import Severity, Source
from medfleet.vulns.errors import VulnerabilityNotFoundError
from medfleet.vulns.identity import find_vulnerability
from medfleet.vulns.tables import Advisory, AdvisoryPackage, Vulnerability, VulnerabilityAlias

PUBLIC_SOURCES = (Source.OSV.value, Source.NVD.value)
MAX_PAGE = 500


def _public_only(principal: Principal) -> bool:
    return principal.org_kind is OrgKind.HOSPITAL


def _visible_advisory(principal: Principal) -> ColumnElement[bool]:
    if _public_only(principal):
        return Advisory.source.in_(PUBLIC_SOURCES)
    return Advisory.id.is_not(None)


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def vulnerability_dict(vulnerability: Vulnerability, aliases: Sequence[str]) -> dict[str, Any]:
    """A vulnerability's own fields and aliases as JSON-ready data."""
    return {
        "key": vulnerability.key,
        "aliases": sorted(aliases),
        "summary": vulnerability.summary,
        "severity": vulnerability.severity,
        "cvss_score": vulnerability.cvss_score,
        "cvss_vector": vulnerability.cvss_vector,
        "published_at": _time(vulnerability.published_at),
        "modified_at": _time(vulnerability.modified_at),
        "withdrawn": vulnerability.withdrawn_at is not None,
        "withdrawn_at": _time(vulnerability.withdrawn_at),
        "first_seen_at": _time(vulnerability.first_seen_at),
    }


def _aliases(session: Session, ids: Sequence[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {vulnerability_id: [] for vulnerability_id in ids}
    rows = session.execute(
        select(VulnerabilityAlias.vulnerability_id, VulnerabilityAlias.alias).where(
            VulnerabilityAlias.vulnerability_id.in_(ids)
        )
    )
    for row in rows:
        found[row.vulnerability_id].append(row.alias)
    return found


def list_vulnerabilities(
    session: Session,
    principal: Principal,
    *,
    severity: Severity | None = None,
    include_withdrawn: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """One page of vulnerabilities, most recently published first: ``{"items", "total",
    "limit", "offset"}``."""
    limit = max(1, min(limit, MAX_PAGE))
    conditions: list[ColumnElement[bool]] = []
    if severity is not None:
        conditions.append(Vulnerability.severity == severity.value)
    if not include_withdrawn:
        conditions.append(Vulnerability.withdrawn_at.is_(None))
    if _public_only(principal):
        conditions.append(
            exists().where(
                Advisory.vulnerability_id == Vulnerability.id,
                Advisory.source.in_(PUBLIC_SOURCES),
            )
        )
    total = session.scalar(select(func.count(Vulnerability.id)).where(*conditions)) or 0
    rows = list(
        session.scalars(
            select(Vulnerability)
            .where(*conditions)
            .order_by(Vulnerability.published_at.desc().nulls_last(), Vulnerability.key)
            .limit(limit)
            .offset(max(0, offset))
        )
    )
    aliases = _aliases(session, [row.id for row in rows])
    return {
        "items": [vulnerability_dict(row, aliases[row.id]) for row in rows],
        "total": total,
        "limit": limit,
        "offset": max(0, offset),
    }


def vulnerability_detail(
    session: Session, principal: Principal, id_or_alias: str
) -> dict[str, Any]:
    """A vulnerability by any of its ids, with its advisories and their affected packages.

    Raises:
        VulnerabilityNotFoundError: no vulnerability goes by it (or, for a hospital user, none
            that a public source published).
        InvalidIdentifierError: not an id at all.
    """
    vulnerability = find_vulnerability(session, id_or_alias)
    advisories = list(
        session.scalars(
            select(Advisory)
            .where(Advisory.vulnerability_id == vulnerability.id, _visible_advisory(principal))
            .order_by(Advisory.source, Advisory.source_id)
        )
    )
    if _public_only(principal) and not advisories:
        raise VulnerabilityNotFoundError(f"no vulnerability goes by {id_or_alias.strip()}")
    packages: dict[int, list[dict[str, Any]]] = {advisory.id: [] for advisory in advisories}
    for package in session.scalars(
        select(AdvisoryPackage)
        .where(AdvisoryPackage.advisory_id.in_(list(packages)))
        .order_by(AdvisoryPackage.id)
    ):
        packages[package.advisory_id].append(
            {
                "package_key": package.package_key,
                "cpe_key": package.cpe_key,
                "ecosystem": package.ecosystem,
                "ranges": package.ranges,
                "versions": package.versions,
            }
        )
    document = vulnerability_dict(
        vulnerability, _aliases(session, [vulnerability.id])[vulnerability.id]
    )
    document["advisories"] = [
        {**advisory_dict(advisory), "packages": packages[advisory.id]} for advisory in advisories
    ]
    return document


def advisory_dict(advisory: Advisory) -> dict[str, Any]:
    """An advisory's fields (not its document) as JSON-ready data."""
    return {
        "source": advisory.source,
        "source_id": advisory.source_id,
        "summary": advisory.summary,
        "modified_at": _time(advisory.modified_at),
        "withdrawn": advisory.withdrawn_at is not None,
        "withdrawn_at": _time(advisory.withdrawn_at),
        "imported_at": _time(advisory.imported_at),
        "content_sha256": advisory.content_sha256,
    }


def list_advisories(
    session: Session, principal: Principal, *, include_withdrawn: bool = False
) -> list[dict[str, Any]]:
    """Every advisory with its vulnerability's key and its number of affected packages."""
    counts = (
        select(AdvisoryPackage.advisory_id, func.count(AdvisoryPackage.id).label("packages"))
        .group_by(AdvisoryPackage.advisory_id)
        .subquery()
    )
    query = (
        select(Advisory, Vulnerability.key, func.coalesce(counts.c.packages, 0))
        .join(Vulnerability, Vulnerability.id == Advisory.vulnerability_id)
        .outerjoin(counts, counts.c.advisory_id == Advisory.id)
        .where(_visible_advisory(principal))
        .order_by(Advisory.source, Advisory.source_id)
    )
    if not include_withdrawn:
        query = query.where(Advisory.withdrawn_at.is_(None))
    return [
        {**advisory_dict(advisory), "vulnerability": key, "packages": count}
        for advisory, key, count in session.execute(query)
    ]
