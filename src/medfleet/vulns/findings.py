"""Findings: which releases' components carry which vulnerabilities, and why.

``match_releases`` recomputes the findings of some releases (after an SBOM import) and
``match_vulnerabilities`` those of some vulnerabilities over every SBOM (after an advisory
import); both load in bulk (``findings_load``), run the pure engine (``matching``) and
reconcile the ``Finding`` rows:

- a new match is inserted, active, with ``first_matched_at``;
- an existing finding is written only when something changed: it was inactive (it becomes
  active again, keeping its first match time) or its advisory, route or reason differ;
- an active finding in scope that no longer matches (advisory withdrawn or revised, component
  gone from the SBOM) becomes inactive, except when its component could not be evaluated this
  time (a skipped, unreadable version): what cannot be decided is left as it was.

A second run with nothing new writes nothing (idempotent). Neither function commits; given an
``audit`` log and a ``principal``, a run that changed something writes one summary event
(``vulns.findings_matched``). ``run_matching`` is the use case behind ``medfleet vulns match``
and ``POST /vulns/match``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.releases.tables import Release
from medfleet.vulns.errors import FindingsReleaseNotFoundError, VulnsPermissionError
from medfleet.vulns.findings_load import (
    chunks,
    components_by_keys,
    components_of_releases,
    rule_keys_of_vulnerabilities,
    rules_for_keys,
)
from medfleet.vulns.matching import Component, Hit, MatchIndex, Skip
from medfleet.vulns.tables import Finding, Sbom, Vulnerability

MATCHERS = (Role.ENGINEER, Role.QA_RA, Role.ADMIN)
RELEASE_BATCH = 200  # releases whose components are matched together
SKIPS_SHOWN = 100
_Key = tuple[int, int, int]  # release_pk, component_id, vulnerability_id


@dataclass
class MatchSummary:
    """What one matching run looked at and changed."""

    scope: str  # "releases" | "vulnerabilities"
    scope_ids: list[int] = field(default_factory=list)
    components: int = 0
    rules: int = 0
    matched: int = 0
    created: int = 0
    reactivated: int = 0
    updated: int = 0
    deactivated: int = 0
    skipped: list[Skip] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """True when the run wrote any finding."""
        return bool(self.created or self.reactivated or self.updated or self.deactivated)

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON (skips: the first ``SKIPS_SHOWN``, and their count)."""
        return {
            "scope": self.scope,
            self.scope: self.scope_ids,
            "components": self.components,
            "rules": self.rules,
            "matched": self.matched,
            "created": self.created,
            "reactivated": self.reactivated,
            "updated": self.updated,
            "deactivated": self.deactivated,
            "changed": self.changed,
            "skipped_count": len(self.skipped),
            "skipped": [skip._asdict() for skip in self.skipped[:SKIPS_SHOWN]],
        }


def match_releases(
    session: Session,
    release_pks: Collection[int],
    now: datetime,
    *,
    audit: AuditLog | None = None,
    principal: Principal | None = None,
) -> MatchSummary:
    """Recompute the findings of these releases against every live advisory.

    Releases are matched ``RELEASE_BATCH`` at a time with one growing rule index, so all of a
    manufacturer's releases can be matched in one call.
    """
    session.flush()
    pks = sorted(set(release_pks))
    summary = MatchSummary("releases", pks)
    index = MatchIndex()
    package_keys: set[str] = set()
    cpe_keys: set[str] = set()
    for batch in chunks(pks, RELEASE_BATCH):
        components = components_of_releases(session, batch)
        _load_rules(session, index, components, package_keys, cpe_keys)
        result = index.match(components)
        existing = _existing(session, Finding.release_pk, batch)
        _reconcile(session, summary, list(result.hits()), list(result.skips()), existing, now)
        summary.components += result.components
    summary.rules = len(index)
    _finish(session, summary, audit, principal)
    return summary


def match_vulnerabilities(
    session: Session,
    vulnerability_ids: Collection[int],
    now: datetime,
    *,
    audit: AuditLog | None = None,
    principal: Principal | None = None,
) -> MatchSummary:
    """Recompute the findings of these vulnerabilities over every SBOM component.

    The components looked at are those with a key the vulnerabilities' live advisories name,
    and those the vulnerabilities already have findings for (so a withdrawn advisory's findings
    are deactivated). They are matched against every rule of their keys, so the decision for a
    component is the same as ``match_releases`` makes (the route depends on all its rules).
    """
    session.flush()
    ids = sorted(set(vulnerability_ids))
    summary = MatchSummary("vulnerabilities", ids)
    wanted = frozenset(ids)
    package_keys, cpe_keys = rule_keys_of_vulnerabilities(session, ids)
    existing = _existing(session, Finding.vulnerability_id, ids)
    components = components_by_keys(
        session, package_keys, cpe_keys, {row.component_id for row in existing}
    )
    index = MatchIndex()
    _load_rules(session, index, components, set(), set())
    result = index.match(components)
    hits = [hit for hit in result.hits() if hit.vulnerability_id in wanted]
    skips = [skip for skip in result.skips() if skip.vulnerability_id in wanted]
    _reconcile(session, summary, hits, skips, existing, now)
    summary.components, summary.rules = result.components, len(index)
    _finish(session, summary, audit, principal)
    return summary


def run_matching(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    *,
    model: str | None = None,
    version: str | None = None,
) -> MatchSummary:
    """Recompute the findings of one release (``model`` and ``version``) or of every release
    of the caller's manufacturer that has an SBOM; audited when something changed.

    Raises:
        VulnsPermissionError: the caller is not the manufacturer's engineer, QA/RA or admin.
        FindingsReleaseNotFoundError: no such release of the caller's manufacturer.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER or not principal.has_any(*MATCHERS):
        raise VulnsPermissionError("matching needs the manufacturer's engineer, QA/RA or admin")
    if model is not None or version is not None:
        pks = [release_of(session, principal, model or "", version or "").id]
    else:
        pks = list(
            session.scalars(
                select(Sbom.release_pk)
                .join(Release, Release.id == Sbom.release_pk)
                .where(Release.org_id == principal.org_id)
            )
        )
    return match_releases(session, pks, audit.clock.now(), audit=audit, principal=principal)


def release_of(session: Session, principal: Principal, model: str, version: str) -> Release:
    """The caller's manufacturer's release ``model`` ``version``.

    Raises:
        FindingsReleaseNotFoundError: there is none.
    """
    release = session.scalar(
        select(Release).where(
            Release.org_id == principal.org_id,
            Release.model == model.strip(),
            Release.version == version.strip(),
        )
    )
    if release is None:
        raise FindingsReleaseNotFoundError(f"no release {model} {version}")
    return release


def _load_rules(
    session: Session,
    index: MatchIndex,
    components: Iterable[Component],
    package_keys: set[str],
    cpe_keys: set[str],
) -> None:
    """Add to ``index`` the rules of the components' keys not loaded yet (``*_keys``: loaded)."""
    packages: set[str] = set()
    cpes: set[str] = set()
    for component in components:
        package_key, cpe_key = component.package.package_key, component.package.cpe_key
        if package_key is not None and package_key not in package_keys:
            packages.add(package_key)
        if cpe_key is not None and cpe_key not in cpe_keys:
            cpes.add(cpe_key)
    if packages or cpes:
        index.add(rules_for_keys(session, packages, cpes))
        package_keys |= packages
        cpe_keys |= cpes


def _existing(
    session: Session, column: InstrumentedAttribute[int], values: Sequence[int]
) -> list[Any]:
    query = select(
        Finding.id,
        Finding.release_pk,
        Finding.component_id,
        Finding.vulnerability_id,
        Finding.advisory_id,
        Finding.matched_by,
        Finding.reason,
        Finding.active,
    )
    return [
        row for chunk in chunks(values) for row in session.execute(query.where(column.in_(chunk)))
    ]


def _reconcile(
    session: Session,
    summary: MatchSummary,
    hits: Sequence[Hit],
    skipped: Sequence[Skip],
    existing: Sequence[Any],
    now: datetime,
) -> None:
    desired: dict[_Key, Hit] = {(h.release_pk, h.component_id, h.vulnerability_id): h for h in hits}
    undecided = {(s.release_pk, s.component_id, s.vulnerability_id) for s in skipped}
    summary.matched += len(desired)
    summary.skipped.extend(skipped)
    changes: list[dict[str, Any]] = []
    gone: list[int] = []
    for row in existing:
        key = (row.release_pk, row.component_id, row.vulnerability_id)
        hit = desired.pop(key, None)
        if hit is None:
            if row.active and key not in undecided:
                gone.append(row.id)
            continue
        if not row.active:
            summary.reactivated += 1
        elif (row.advisory_id, row.matched_by, row.reason) != hit[3:]:
            summary.updated += 1
        else:
            continue
        changes.append(
            {"id": row.id, "active": True, "advisory_id": hit.advisory_id,
             "matched_by": hit.matched_by, "reason": hit.reason, "updated_at": now}
        )  # fmt: skip
    new = [
        {"release_pk": h.release_pk, "component_id": h.component_id,
         "vulnerability_id": h.vulnerability_id, "advisory_id": h.advisory_id,
         "matched_by": h.matched_by, "reason": h.reason, "active": True,
         "first_matched_at": now, "updated_at": now}
        for h in desired.values()
    ]  # fmt: skip
    for batch in chunks(new, 1000):
        session.execute(insert(Finding), batch)
    if changes:
        session.execute(update(Finding), changes)
    for ids in chunks(gone):
        session.execute(
            update(Finding)
            .where(Finding.id.in_(ids))
            .values(active=False, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    summary.created += len(new)
    summary.deactivated += len(gone)


def _finish(
    session: Session, summary: MatchSummary, audit: AuditLog | None, principal: Principal | None
) -> None:
    """Expire loaded findings (the bulk writes bypassed them) and audit a run that changed."""
    if not summary.changed:
        return
    for instance in list(session.identity_map.values()):
        if isinstance(instance, Finding):
            session.expire(instance)
    if audit is None or principal is None:
        return
    payload = {k: v for k, v in summary.as_dict().items() if k not in {"skipped", "changed"}}
    if summary.scope == "vulnerabilities":
        keys = session.scalars(
            select(Vulnerability.key).where(Vulnerability.id.in_(summary.scope_ids[:SKIPS_SHOWN]))
        )
        payload["vulnerability_keys"] = sorted(keys)
    payload[summary.scope] = summary.scope_ids[:SKIPS_SHOWN]
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "vulns.findings_matched",
            "vuln_findings",
            summary.scope,
            payload,
        ),
    )
