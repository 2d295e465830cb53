"""Export a release's VEX: CycloneDX 1.6 (built with cyclonedx-python-lib) and OpenVEX JSON.

Both hold the statements in force for the release. A component statement is about the
components of the release's current SBOM with that purl (or bom-ref); one whose component is no
longer in the SBOM is left out. With ``include_untriaged`` (the default) each vulnerability
with active findings but no statement holding for them is added as ``in_triage`` (OpenVEX
``under_investigation``), marked implicit (a ``medfleet:vex:implicit`` property, an OpenVEX
status note) so a customer sees every match while a re-import skips these entries.

CycloneDX: ``metadata.component`` is the release (bom-ref and purl ``release_purl``); each
statement is one vulnerability with its id, source, aliases as references, ratings when the
vulnerability has a severity or CVSS score, the analysis (state, justification, responses,
detail, and the statement time as ``firstIssued``/``lastUpdated``), its author as the
``medfleet:vex:author`` property, and ``affects`` refs: BOM-links to the release SBOM's
bom-refs (plain bom-refs when the SBOM has no UUID serial), or the release's own bom-ref.

OpenVEX: one statement per statement, its product the release purl, narrowed to the component
(purl, else bom-ref) as subcomponent; the analysis is mapped by ``vex.to_openvex``. OpenVEX has
one author per document: the statements' author if they share one, else the manufacturer.
Both documents re-import to the same statements (``vex_documents``); OpenVEX loses what the
mapping loses (see ``medfleet.vulns.vex``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from cyclonedx.model import Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.contact import OrganizationalContact, OrganizationalEntity
from cyclonedx.model.impact_analysis import (
    ImpactAnalysisJustification,
    ImpactAnalysisResponse,
    ImpactAnalysisState,
)
from cyclonedx.model.vulnerability import (
    BomTarget,
    VulnerabilityAnalysis,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.model.vulnerability import (
    Vulnerability as CdxVulnerability,
)
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL
from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.accounts.tables import Organization
from medfleet.releases.tables import Release
from medfleet.vulns import vex
from medfleet.vulns.tables import Sbom, SbomComponent, Vulnerability, VulnerabilityAlias
from medfleet.vulns.vex_parsing import AUTHOR_PROPERTY, IMPLICIT_NOTE, IMPLICIT_PROPERTY
from medfleet.vulns.vex_service import (
    FindingVex,
    component_ref_of,
    findings_with_vex,
    readable_release,
    statements_in_force,
)
from medfleet.vulns.vex_targets import bom_link, release_purl

OPENVEX_CONTEXT_V020 = "https://openvex.dev/ns/v0.2.0"


@dataclass(frozen=True)
class Entry:
    """One exported statement: what it says, about which components (empty: the release)."""

    key: str
    vulnerability_id: int
    analysis: vex.Analysis
    author: str
    stated_at: datetime
    components: tuple[SbomComponent, ...]
    implicit: bool = False


@dataclass(frozen=True)
class ReleaseVex:
    """A release's VEX, ready to render: release, SBOM, manufacturer, entries, vulnerabilities."""

    release: Release
    sbom: Sbom | None
    manufacturer: str
    entries: tuple[Entry, ...]
    vulnerabilities: dict[int, Vulnerability]
    aliases: dict[int, tuple[str, ...]]

    @property
    def purl(self) -> str:
        """The release's purl, by which both documents name it."""
        return release_purl(self.release.model, self.release.version)


def release_vex(
    session: Session,
    principal: Principal,
    model: str,
    version: str,
    *,
    include_untriaged: bool = True,
) -> ReleaseVex:
    """The VEX of a release the caller may read, as entries (see the module docstring).

    Raises:
        ReleaseNotFoundError: no such release for the caller.
    """
    release = readable_release(session, principal, model, version)
    sbom = session.scalar(select(Sbom).where(Sbom.release_pk == release.id))
    components: dict[str, list[SbomComponent]] = defaultdict(list)
    for component in session.scalars(
        select(SbomComponent)
        .where(SbomComponent.release_pk == release.id)
        .order_by(SbomComponent.id)
    ):
        components[component_ref_of(component)].append(component)
    entries: list[Entry] = []
    for statement in statements_in_force(session, release):
        about: tuple[SbomComponent, ...] = ()
        if statement.component_ref is not None:
            about = tuple(components.get(statement.component_ref, ()))
            if not about:
                continue  # its component left the SBOM: it is about nothing in this release
        analysis = vex.Analysis(
            vex.AnalysisState(statement.state),
            vex.Justification(statement.justification) if statement.justification else None,
            tuple(vex.Response(value) for value in statement.responses),
            statement.detail,
            (
                vex.OpenVexJustification(statement.openvex_justification)
                if statement.openvex_justification
                else None
            ),
        )
        entries.append(
            Entry(
                f"vex-{statement.id}",
                statement.vulnerability_id,
                analysis,
                statement.author,
                statement.stated_at,
                about,
            )
        )
    manufacturer = session.get_one(Organization, release.org_id).name
    if include_untriaged:
        entries.extend(_untriaged(session, release, components, manufacturer))
    vulnerabilities, aliases = _vulnerabilities(session, {e.vulnerability_id for e in entries})
    return ReleaseVex(release, sbom, manufacturer, tuple(entries), vulnerabilities, aliases)


def _untriaged(
    session: Session,
    release: Release,
    components: dict[str, list[SbomComponent]],
    manufacturer: str,
) -> list[Entry]:
    pending: dict[int, list[FindingVex]] = defaultdict(list)
    for entry in findings_with_vex(session, release_pk=release.id):
        if entry.statement is None:
            pending[entry.finding.vulnerability_id].append(entry)
    in_triage = vex.Analysis(vex.AnalysisState.IN_TRIAGE, None, (), "")
    untriaged = []
    for vulnerability_id, found in sorted(pending.items()):
        refs = dict.fromkeys(entry.component_ref for entry in found)
        about = tuple(component for ref in refs for component in components.get(ref, ()))
        first = min(entry.finding.first_matched_at for entry in found)
        untriaged.append(
            Entry(
                f"untriaged-{vulnerability_id}",
                vulnerability_id,
                in_triage,
                manufacturer,
                first,
                about,
                implicit=True,
            )
        )
    return untriaged


def _vulnerabilities(
    session: Session, ids: set[int]
) -> tuple[dict[int, Vulnerability], dict[int, tuple[str, ...]]]:
    rows = session.scalars(select(Vulnerability).where(Vulnerability.id.in_(ids)))
    found = {row.id: row for row in rows}
    aliases: dict[int, list[str]] = defaultdict(list)
    for alias in session.scalars(
        select(VulnerabilityAlias)
        .where(VulnerabilityAlias.vulnerability_id.in_(ids))
        .order_by(VulnerabilityAlias.alias)
    ):
        if alias.alias != found[alias.vulnerability_id].key:
            aliases[alias.vulnerability_id].append(alias.alias)
    return found, {key: tuple(aliases[key]) for key in found}


def export_cyclonedx(data: ReleaseVex, now: datetime) -> str:
    """The release's VEX as a CycloneDX 1.6 JSON document."""
    release = data.release
    bom = Bom(
        metadata=BomMetaData(
            timestamp=now,
            authors=[OrganizationalContact(name=data.manufacturer)],
            manufacturer=OrganizationalEntity(name=data.manufacturer),
            component=Component(
                type=ComponentType.FIRMWARE,
                name=release.model,
                version=release.version,
                bom_ref=data.purl,
                purl=PackageURL.from_string(data.purl),
            ),
        )
    )
    serial = data.sbom.serial_number if data.sbom else None
    for entry in data.entries:
        vulnerability = data.vulnerabilities[entry.vulnerability_id]
        refs = [bom_link(serial, c.bom_ref) or c.bom_ref for c in entry.components]
        properties = [Property(name=AUTHOR_PROPERTY, value=entry.author)]
        if entry.implicit:
            properties.append(Property(name=IMPLICIT_PROPERTY, value="true"))
        bom.vulnerabilities.add(
            CdxVulnerability(
                bom_ref=entry.key,
                id=vulnerability.key,
                source=_source(vulnerability.key),
                references=[
                    VulnerabilityReference(id=alias, source=_source(alias))
                    for alias in data.aliases[entry.vulnerability_id]
                ],
                ratings=_ratings(vulnerability),
                description=vulnerability.summary or None,
                analysis=_analysis(entry),
                affects=[BomTarget(ref=ref) for ref in dict.fromkeys(refs or [data.purl])],
                properties=properties,
            )
        )
    return JsonV1Dot6(bom).output_as_string(indent=2)


def _analysis(entry: Entry) -> VulnerabilityAnalysis:
    analysis = entry.analysis
    return VulnerabilityAnalysis(
        state=ImpactAnalysisState(analysis.state.value),
        justification=(
            ImpactAnalysisJustification(analysis.justification.value)
            if analysis.justification
            else None
        ),
        responses=[ImpactAnalysisResponse(response.value) for response in analysis.responses],
        detail=analysis.detail or None,
        first_issued=entry.stated_at,
        last_updated=entry.stated_at,
    )


def _source(vulnerability_id: str) -> VulnerabilitySource:
    if vulnerability_id.startswith("CVE-"):
        return VulnerabilitySource(
            name="NVD", url=XsUri(f"https://nvd.nist.gov/vuln/detail/{vulnerability_id}")
        )
    if vulnerability_id.startswith("GHSA-"):
        return VulnerabilitySource(
            name="GitHub", url=XsUri(f"https://github.com/advisories/{vulnerability_id}")
        )
    return VulnerabilitySource(
        name="OSV", url=XsUri(f"https://osv.dev/vulnerability/{vulnerability_id}")
    )


def _ratings(vulnerability: Vulnerability) -> list[VulnerabilityRating]:
    if vulnerability.cvss_score is None and vulnerability.severity is None:
        return []
    severity = None
    if vulnerability.severity:
        try:
            severity = VulnerabilitySeverity(vulnerability.severity.lower())
        except ValueError:
            severity = None
    vector = vulnerability.cvss_vector
    return [
        VulnerabilityRating(
            score=Decimal(str(vulnerability.cvss_score))
            if vulnerability.cvss_score is not None
            else None,
            severity=severity,
            method=VulnerabilityScoreSource.get_from_vector(vector) if vector else None,
            vector=vector,
        )
    ]


def export_openvex(data: ReleaseVex, now: datetime) -> dict[str, Any]:
    """The release's VEX as an OpenVEX v0.2.0 document."""
    authors = {entry.author for entry in data.entries if not entry.implicit}
    statements = []
    for entry in data.entries:
        mapped = vex.to_openvex(entry.analysis)
        statement: dict[str, Any] = {
            "vulnerability": {
                "name": data.vulnerabilities[entry.vulnerability_id].key,
                "aliases": list(data.aliases[entry.vulnerability_id]),
            },
            "timestamp": entry.stated_at.isoformat(),
            "products": [_product(data.purl, entry.components)],
            "status": mapped.status.value,
        }
        if mapped.justification:
            statement["justification"] = mapped.justification.value
        for key, text in (
            ("impact_statement", mapped.impact_statement),
            ("action_statement", mapped.action_statement),
            ("status_notes", IMPLICIT_NOTE if entry.implicit else mapped.status_notes),
        ):
            if text:
                statement[key] = text
        statements.append(statement)
    return {
        "@context": OPENVEX_CONTEXT_V020,
        "@id": f"urn:uuid:{uuid.uuid4()}",
        "author": authors.pop() if len(authors) == 1 else data.manufacturer,
        "role": "manufacturer",
        "timestamp": now.isoformat(),
        "version": 1,
        "tooling": "medfleet",
        "statements": statements,
    }


def _product(release: str, components: tuple[SbomComponent, ...]) -> dict[str, Any]:
    product: dict[str, Any] = {"@id": release}
    refs = dict.fromkeys(component.purl or component.bom_ref for component in components)
    if refs:
        product["subcomponents"] = [{"@id": ref} for ref in refs]
    return product
