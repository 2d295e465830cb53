"""SBOMs of releases: import CycloneDX 1.4-1.6 or SPDX 2.3 JSON, read, export CycloneDX 1.6.

Who may do what:

- manufacturer engineers, QA/RA and admins import; every manufacturer user reads the SBOMs of
  its organization's releases;
- hospital users read the SBOM of a release that has been released (also after a withdrawal:
  devices may still run it), as FDA expects SBOMs to be available to device users; drafts and
  releases under review are "not found"; they never import (403).

How an import relates to the release record, whose signatures cover ``release.sbom_sha256``:

- a **draft** takes the imported document as its attached SBOM (``records.attach_sbom``:
  audited, and earlier signatures stop being valid as for any edit), unless it is attached
  already;
- a release **past draft with an attached SBOM** imports only that very document (give none to
  import the attached blob); another one is a ``SbomConflictError`` (reopen a verified release);
- a release **past draft without an attached SBOM** (from before SBOMs were attached) imports
  the document without attaching it; the audit event says ``attached: false``.

A re-import replaces the SBOM: the old ``Sbom`` row goes, its components and their findings
with it (ON DELETE CASCADE), new rows are written, and ``findings.match_releases`` recomputes
the release's findings. Refused documents change nothing. Services never commit.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.accounts.tables import User
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.releases import records
from medfleet.releases.blobs import BlobStore
from medfleet.releases.errors import BlobCorruptError, ReleaseNotFoundError
from medfleet.releases.model import ReleaseState
from medfleet.releases.tables import Release
from medfleet.vulns import findings, sbom_read
from medfleet.vulns.errors import (
    InvalidSbomError,
    SbomConflictError,
    SbomNotFoundError,
    VulnsPermissionError,
)
from medfleet.vulns.sbom_export import export_cyclonedx
from medfleet.vulns.sbom_model import Component, Hash, ParsedSbom, SupportLevel
from medfleet.vulns.tables import Sbom, SbomComponent

IMPORT_ROLES = records.AUTHOR_ROLES
JSON_FORMATS = ("cyclonedx-json", "spdx-json")
_MAX_SERIAL = 200


@dataclass(frozen=True)
class SbomImport:
    """What one import did."""

    release: Release
    sbom: Sbom
    parsed: ParsedSbom
    replaced_components: int | None  # the previous SBOM's count; None: there was none
    attached: bool  # the document was (re)attached to the draft release record

    def as_dict(self) -> dict[str, Any]:
        """The import summary the CLI and the API show."""
        return {
            "model": self.release.model,
            "version": self.release.version,
            "format": self.parsed.format,
            "spec_version": self.parsed.spec_version,
            "document_sha256": self.sbom.document_sha256,
            "components": len(self.parsed.components),
            "unmatchable": self.parsed.unmatchable,
            "replaced_components": self.replaced_components,
            "attached": self.attached,
        }


def check_importer(session: Session, principal: Principal, model: str, version: str) -> Release:
    """The release, if the caller may import its SBOM (called before a body is read).

    Raises:
        VulnsPermissionError: hospital staff, or a manufacturer user without an import role.
        ReleaseNotFoundError: no such release of the caller's organization.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER:
        raise VulnsPermissionError("SBOMs are imported by the manufacturer, not by hospitals")
    if not principal.has_any(*IMPORT_ROLES):
        names = ", ".join(role.value for role in IMPORT_ROLES)
        raise VulnsPermissionError(f"importing an SBOM needs one of the roles {names}")
    return records.get(session, principal, model, version)


def import_sbom(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    blobs: BlobStore,
    model: str,
    version: str,
    document: bytes | None,
    now: datetime,
) -> SbomImport:
    """Import ``document`` (None: the release's attached SBOM) as the release's SBOM.

    Raises:
        VulnsPermissionError, ReleaseNotFoundError: see ``check_importer``.
        SbomNotFoundError: no document given and none attached.
        SbomConflictError: another document than the one a non-draft release has attached.
        InvalidSbomError and its subclasses: see ``sbom_read.read_document``.
    """
    release = check_importer(session, principal, model, version)
    data = _attached_document(blobs, release) if document is None else document
    parsed = sbom_read.read_document(data)
    sha256 = hashlib.sha256(data).hexdigest()
    attached = _attach(session, audit, blobs, principal, release, parsed, data, sha256)
    previous = session.scalar(select(Sbom).where(Sbom.release_pk == release.id))
    replaced = previous.component_count if previous is not None else None
    if previous is not None:
        session.delete(previous)
        session.flush()
    serial = parsed.serial_number
    sbom = Sbom(
        release_pk=release.id,
        format=parsed.format,
        spec_version=parsed.spec_version,
        document_sha256=sha256,
        serial_number=serial if serial and len(serial) <= _MAX_SERIAL else None,
        component_count=len(parsed.components),
        imported_by=principal.user_id,
        imported_at=now,
    )
    session.add(sbom)
    session.flush()
    if parsed.components:
        rows = [_row(component, sbom.id, release.id) for component in parsed.components]
        session.execute(insert(SbomComponent), rows)
    findings.match_releases(session, [release.id], now, audit=audit, principal=principal)
    done = SbomImport(release, sbom, parsed, replaced, attached)
    audit.record(
        session,
        NewEvent(
            principal.actor,
            release.org_id,
            "vulns.sbom_imported",
            "release",
            str(release.id),
            done.as_dict(),
        ),
    )
    return done


def _attached_document(blobs: BlobStore, release: Release) -> bytes:
    if release.sbom_sha256 is None:
        raise SbomNotFoundError(
            f"release {release.model} {release.version} has no attached SBOM; give the document"
        )
    if release.sbom_format not in JSON_FORMATS:
        raise InvalidSbomError(
            f"the attached SBOM is {release.sbom_format}; only {', '.join(JSON_FORMATS)} "
            "are imported"
        )
    with blobs.open(release.sbom_sha256) as stream:
        data = stream.read(sbom_read.MAX_DOCUMENT_BYTES + 1)
    if (
        len(data) <= sbom_read.MAX_DOCUMENT_BYTES
        and hashlib.sha256(data).hexdigest() != release.sbom_sha256
    ):
        raise BlobCorruptError(f"the stored SBOM blob {release.sbom_sha256} is damaged")
    return data


def _attach(
    session: Session,
    audit: AuditLog,
    blobs: BlobStore,
    principal: Principal,
    release: Release,
    parsed: ParsedSbom,
    data: bytes,
    sha256: str,
) -> bool:
    """Keep the release record's attached SBOM the imported one (see the module docstring)."""
    declared = f"{parsed.format}-json"
    if release.sbom_sha256 == sha256 and release.sbom_format == declared:
        return False
    if release.release_state is ReleaseState.DRAFT:
        blob = blobs.put_bytes(data)
        records.attach_sbom(
            session, audit, blobs, principal, release.model, release.version, declared, blob
        )
        return True
    if release.sbom_sha256 is None:
        return False
    label = f"release {release.model} {release.version} is {release.state}"
    if release.sbom_sha256 == sha256:
        raise SbomConflictError(
            f"{label}; its record has this SBOM attached as {release.sbom_format}, "
            f"but it is {parsed.label}"
        )
    raise SbomConflictError(
        f"{label} and its signed record covers another SBOM ({release.sbom_sha256[:12]}…); "
        "import that one (give no document), or reopen the release to change it"
    )


def _row(component: Component, sbom_id: int, release_pk: int) -> dict[str, Any]:
    return {
        "sbom_id": sbom_id,
        "release_pk": release_pk,
        "bom_ref": component.bom_ref,
        "kind": component.kind,
        "name": component.name,
        "version": component.version,
        "purl": component.purl,
        "package_key": component.package_key,
        "cpe": component.cpe,
        "cpe_key": component.cpe_key,
        "supplier": component.supplier,
        "hashes": [{"alg": h.alg, "content": h.content} for h in component.hashes],
        "support_level": component.support_level.value if component.support_level else None,
        "end_of_support": component.end_of_support,
    }


def component_of(row: SbomComponent) -> Component:
    """A stored component as the pure model's ``Component``."""
    return Component(
        bom_ref=row.bom_ref,
        kind=row.kind,
        name=row.name,
        version=row.version,
        purl=row.purl,
        package_key=row.package_key,
        cpe=row.cpe,
        cpe_key=row.cpe_key,
        supplier=row.supplier,
        hashes=tuple(sorted(Hash(h["alg"], h["content"]) for h in row.hashes)),
        support_level=SupportLevel(row.support_level) if row.support_level else None,
        end_of_support=row.end_of_support,
    )


def component_dict(row: SbomComponent) -> dict[str, Any]:
    """A stored component as the CLI's JSON and the API show it."""
    return {
        "bom_ref": row.bom_ref,
        "kind": row.kind,
        "name": row.name,
        "version": row.version,
        "purl": row.purl,
        "package_key": row.package_key,
        "cpe": row.cpe,
        "cpe_key": row.cpe_key,
        "supplier": row.supplier,
        "hashes": [dict(h) for h in row.hashes],
        "support_level": row.support_level,
        "end_of_support": row.end_of_support.isoformat() if row.end_of_support else None,
        "matchable": row.purl is not None or row.cpe is not None,
    }


@dataclass(frozen=True)
class SbomView:
    """A release's SBOM as a reader sees it (``imported_by`` only for manufacturer users)."""

    release: Release
    sbom: Sbom
    unmatchable: int
    imported_by: str | None

    def as_dict(self) -> dict[str, Any]:
        """The SBOM summary."""
        summary = {
            "model": self.release.model,
            "version": self.release.version,
            "release_state": self.release.state,
            "format": self.sbom.format,
            "spec_version": self.sbom.spec_version,
            "document_sha256": self.sbom.document_sha256,
            "serial_number": self.sbom.serial_number,
            "components": self.sbom.component_count,
            "unmatchable": self.unmatchable,
            "imported_at": self.sbom.imported_at.isoformat(),
        }
        if self.imported_by is not None:
            summary["imported_by"] = self.imported_by
        return summary


def readable_release(session: Session, principal: Principal, model: str, version: str) -> Release:
    """The release whose SBOM the caller may read (see the module docstring).

    Raises:
        ReleaseNotFoundError: none the caller may see.
    """
    if principal.org_kind is OrgKind.MANUFACTURER:
        return records.get(session, principal, model, version)
    release = session.scalar(
        select(Release)
        .where(
            Release.model == model,
            Release.version == version,
            Release.released_at.is_not(None),
        )
        .order_by(Release.id)
        .limit(1)
    )
    if release is None:
        raise ReleaseNotFoundError(f"no released release {model} {version}")
    return release


def get_sbom(session: Session, principal: Principal, model: str, version: str) -> SbomView:
    """The summary of a release's imported SBOM.

    Raises:
        ReleaseNotFoundError: see ``readable_release``.
        SbomNotFoundError: the release has no imported SBOM.
    """
    release = readable_release(session, principal, model, version)
    sbom = session.scalar(select(Sbom).where(Sbom.release_pk == release.id))
    if sbom is None:
        raise SbomNotFoundError(f"release {model} {version} has no imported SBOM")
    unmatchable = session.scalar(
        select(func.count())
        .select_from(SbomComponent)
        .where(
            SbomComponent.sbom_id == sbom.id,
            SbomComponent.purl.is_(None),
            SbomComponent.cpe.is_(None),
        )
    )
    importer = None
    if principal.org_kind is OrgKind.MANUFACTURER:
        importer = session.scalar(select(User.username).where(User.id == sbom.imported_by))
    return SbomView(release, sbom, unmatchable or 0, importer)


def components(session: Session, view: SbomView, search: str | None = None) -> list[SbomComponent]:
    """The SBOM's components by name, optionally those whose name or purl contains ``search``
    (case-insensitive)."""
    statement = select(SbomComponent).where(SbomComponent.sbom_id == view.sbom.id)
    if search:
        needle = search.lower()
        statement = statement.where(
            or_(
                func.lower(SbomComponent.name).contains(needle, autoescape=True),
                func.lower(SbomComponent.purl).contains(needle, autoescape=True),
            )
        )
    order = (SbomComponent.name, SbomComponent.version, SbomComponent.bom_ref)
    return list(session.scalars(statement.order_by(*order)))


def export_sbom(session: Session, principal: Principal, model: str, version: str) -> str:
    """The release's SBOM as CycloneDX 1.6 JSON (``sbom_export``), deterministic per import.

    Raises:
        ReleaseNotFoundError, SbomNotFoundError: see ``get_sbom``.
    """
    view = get_sbom(session, principal, model, version)
    release, sbom = view.release, view.sbom
    name = f"urn:medfleet:sbom:{release.org_id}:{model}:{version}:{sbom.document_sha256}"
    return export_cyclonedx(
        release.model,
        release.version,
        [component_of(row) for row in components(session, view)],
        serial_number=uuid5(NAMESPACE_URL, name),
        timestamp=sbom.imported_at,
    )
