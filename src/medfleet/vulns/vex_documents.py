"""Import VEX documents (CycloneDX VEX 1.4 to 1.6, OpenVEX) as VEX statements.

``vex_parsing`` reads the document apart and checks it; ``vex_targets`` says which releases and
components each reference names among the importer's organization's releases (a purl is looked
up in every release's SBOM, compared with and without version; a CycloneDX document whose
``metadata.component`` names a release is confined to that release). Each vulnerability is
resolved by ``identity.resolve_vulnerability`` over its name and aliases, so aliases merge; the
author and time come from the document and the source is ``cyclonedx-vex`` or ``openvex``.

A statement already recorded identically is skipped (``vex_service.add_statement``), so a
re-import changes nothing. The report lists the statements applied and what was skipped, with
why (no matching release or component, already recorded, not a statement). A document that
breaks a rule raises ``InvalidVexError`` and changes nothing. One audit event per import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.releases.tables import Release
from medfleet.vulns.identity import resolve_vulnerability
from medfleet.vulns.tables import Vulnerability
from medfleet.vulns.vex_parsing import DocumentStatement, Product, parse_document
from medfleet.vulns.vex_service import add_statement, require_author
from medfleet.vulns.vex_targets import Target, TargetResolver


@dataclass
class ImportReport:
    """What an import did: statements applied and references skipped, with why."""

    source: str
    document_id: str
    applied: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def skip(self, vulnerability: str, ref: str, reason: str) -> None:
        """Note something skipped."""
        self.skipped.append({"vulnerability": vulnerability, "ref": ref, "reason": reason})

    def as_dict(self) -> dict[str, Any]:
        """The report as a JSON document."""
        return {
            "source": self.source,
            "document_id": self.document_id,
            "applied": self.applied,
            "skipped": self.skipped,
        }


def import_document(
    session: Session, audit: AuditLog, principal: Principal, document: Any, now: datetime
) -> ImportReport:
    """Import a VEX document (decoded JSON) as statements about the caller's releases.

    Raises:
        VulnsPermissionError: the caller may not write VEX.
        InvalidVexError: the document is not valid CycloneDX VEX or OpenVEX, or breaks a VEX
            rule (see ``vex_parsing``); nothing is changed.
    """
    require_author(principal)
    parsed = parse_document(document)
    resolver = TargetResolver(session, principal.org_id)
    context = resolver.release_of_purl(parsed.release_purl) if parsed.release_purl else None
    context = context or resolver.release_named(parsed.release_model, parsed.release_version)
    report = ImportReport(parsed.source, parsed.document_id)
    for name, why in parsed.unusable:
        report.skip(name, "", why)
    for statement in parsed.statements:
        if statement.implicit:
            report.skip(statement.ids[0], "", "implicit in_triage entry of a medfleet export")
            continue
        targets = _targets_of(resolver, statement, context, parsed.release_ref, report)
        if targets:
            vulnerability = resolve_vulnerability(
                session, statement.ids, now, audit=audit, principal=principal
            )
            _apply(session, resolver, statement, vulnerability, targets, parsed.source, now, report)
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "vex.document_imported",
            "vex_document",
            parsed.document_id[:200],
            {
                "source": parsed.source,
                "applied": [entry["id"] for entry in report.applied],
                "skipped": len(report.skipped),
            },
        ),
    )
    return report


def _targets_of(
    resolver: TargetResolver,
    statement: DocumentStatement,
    context: Release | None,
    context_ref: str | None,
    report: ImportReport,
) -> list[Target]:
    targets: dict[Target, None] = {}
    for product in statement.products:
        for ref, found, reason in _product_targets(resolver, product, context, context_ref):
            targets.update(dict.fromkeys(found))
            if not found:
                report.skip(statement.ids[0], ref, reason)
    return list(targets)


def _product_targets(
    resolver: TargetResolver, product: Product, context: Release | None, context_ref: str | None
) -> list[tuple[str, tuple[Target, ...], str]]:
    """Per reference, what it names (a product's subcomponents within the product's releases)."""
    resolved = resolver.resolve(product.ref, context=context, context_ref=context_ref)
    if not resolved.targets or not product.subcomponents:
        return [(product.ref, resolved.targets, resolved.reason)]
    scope = {target.release_pk for target in resolved.targets}
    # a bom-ref is only meaningful within one release's SBOM
    within = resolver.release(next(iter(scope))) if len(scope) == 1 else None
    narrowed = []
    for ref in product.subcomponents:
        found = resolver.resolve(ref, scope=scope, context=within)
        narrowed.append((ref, found.targets, found.reason))
    return narrowed


def _apply(
    session: Session,
    resolver: TargetResolver,
    statement: DocumentStatement,
    vulnerability: Vulnerability,
    targets: list[Target],
    source: str,
    now: datetime,
    report: ImportReport,
) -> None:
    for target in targets:
        release = resolver.release(target.release_pk)
        where = f"{release.model} {release.version}"
        recorded = add_statement(
            session,
            subject=(target.release_pk, target.component_ref, vulnerability.id),
            analysis=statement.analysis,
            author=statement.author,
            author_user_id=None,
            source=source,
            stated_at=statement.stated_at,
            recorded_at=now,
        )
        if recorded is None:
            report.skip(statement.ids[0], target.component_ref or where, "already recorded")
            continue
        report.applied.append(
            {
                "id": recorded.id,
                "release": where,
                "component": target.component_ref,
                "vulnerability": vulnerability.key,
                "state": recorded.state,
                "justification": recorded.justification,
            }
        )
