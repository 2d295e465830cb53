"""Row builders the vulns test scenes share (no tests here): releases, SBOMs, vulnerabilities,
findings, inserted straight through the ORM in the caller's session.

They let a test of one part (VEX, exposure, deadlines, matching) set up what the other parts
would have written, without running SBOM import, advisory import or matching. Keys of purls and
CPEs are derived as the real import derives them (``medfleet.vulns.keys``) unless given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from medfleet.releases.tables import Release
from medfleet.vulns.keys import cpe_key, package_key
from medfleet.vulns.tables import Finding, Sbom, SbomComponent, Vulnerability, VulnerabilityAlias
from tests.builders import World


def release_row(
    session: Session,
    world: World,
    model: str,
    version: str,
    number: int,
    now: datetime,
    *,
    state: str = "released",
    org_id: int | None = None,
    **fields: Any,
) -> Release:
    """A release of the world's manufacturer (or of ``org_id``) in ``state``, never signed
    (``released_at`` set when released)."""
    release = Release(
        org_id=world.admin.org_id if org_id is None else org_id,
        model=model,
        version=version,
        version_number=number,
        build_id=f"build-{model}-{number}",
        hardware_revisions=["B"],
        notes_what_changed="",
        notes_risk_summary="",
        notes_compatibility="",
        author_id=world.engineer.user_id,
        state=state,
        created_at=now,
        updated_at=now,
        released_at=now if state == "released" else None,
        **fields,
    )
    session.add(release)
    session.flush()
    return release


def sbom_row(
    session: Session,
    world: World,
    release_pk: int,
    now: datetime,
    component_count: int,
    *,
    serial: str | None = None,
) -> Sbom:
    """An imported CycloneDX 1.6 SBOM of the release (its components added separately)."""
    sbom = Sbom(
        release_pk=release_pk,
        format="cyclonedx",
        spec_version="1.6",
        document_sha256=f"{release_pk:064d}",
        serial_number=serial,
        component_count=component_count,
        imported_by=world.engineer.user_id,
        imported_at=now,
    )
    session.add(sbom)
    session.flush()
    return sbom


def component_row(
    session: Session,
    sbom: Sbom,
    *,
    bom_ref: str,
    name: str,
    version: str | None,
    purl: str | None = None,
    cpe: str | None = None,
    supplier: str | None = None,
    keys: tuple[str | None, str | None] | None = None,
) -> SbomComponent:
    """A component of ``sbom``; ``keys`` (package key, CPE key) replace the derived ones."""
    derived = (
        None if purl is None else package_key(purl),
        None if cpe is None else cpe_key(cpe),
    )
    package, cpe_name = keys if keys is not None else derived
    component = SbomComponent(
        sbom_id=sbom.id,
        release_pk=sbom.release_pk,
        bom_ref=bom_ref,
        kind="library",
        name=name,
        version=version,
        purl=purl,
        package_key=package,
        cpe=cpe,
        cpe_key=cpe_name,
        supplier=supplier,
        hashes=[],
        support_level=None,
        end_of_support=None,
    )
    session.add(component)
    session.flush()
    return component


def vulnerability_row(
    session: Session, key: str, *aliases: str, now: datetime, **fields: Any
) -> Vulnerability:
    """A vulnerability known by ``key`` and ``aliases`` (summary "KEY summary" unless given)."""
    vulnerability = Vulnerability(
        key=key, summary=fields.pop("summary", f"{key} summary"), first_seen_at=now, **fields
    )
    session.add(vulnerability)
    session.flush()
    session.add_all(
        VulnerabilityAlias(alias=alias, vulnerability_id=vulnerability.id)
        for alias in (key, *aliases)
    )
    session.flush()
    return vulnerability


def finding_row(
    session: Session,
    component: SbomComponent,
    vulnerability_id: int,
    now: datetime,
    *,
    matched_by: str = "purl",
    reason: str = "in the affected range",
    active: bool = True,
) -> Finding:
    """A finding: ``component`` carries the vulnerability."""
    finding = Finding(
        release_pk=component.release_pk,
        component_id=component.id,
        vulnerability_id=vulnerability_id,
        advisory_id=None,
        matched_by=matched_by,
        reason=reason,
        active=active,
        first_matched_at=now,
        updated_at=now,
    )
    session.add(finding)
    session.flush()
    return finding
