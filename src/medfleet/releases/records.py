"""Release record use cases: create, read, list, edit, attach the image and the SBOM.

Manufacturer staff only: hospital staff get ``ReleaseNotFoundError`` for any release and empty
lists. Content changes only while the release is a draft, each in one transaction with its
audit event; an edit keeps earlier signatures but they show as invalid (the content they were
bound to is gone). Artifacts are stored in the blob store first (content-addressed, so an
unreferenced blob is harmless) and then recorded on the release.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.accounts.tables import ElectronicSignature
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.changes import service as changes
from medfleet.changes.errors import ChangeRequestNotFoundError
from medfleet.changes.tables import ChangeRequest
from medfleet.releases.blobs import BlobInfo, BlobStore
from medfleet.releases.errors import (
    BlobNotFoundError,
    DuplicateReleaseError,
    InvalidReleaseError,
    ReleaseNotAllowedError,
    ReleaseNotFoundError,
    VersionOrderError,
)
from medfleet.releases.model import (
    ReleaseNotes,
    ReleaseState,
    check_build_id,
    check_editable,
    check_filename,
    check_model,
    check_numbers,
    check_revisions,
    check_sbom_format,
    check_version,
)
from medfleet.releases.readiness import highest_released_number
from medfleet.releases.tables import Release

AUTHOR_ROLES = (Role.ENGINEER, Role.QA_RA, Role.ADMIN)
MAX_IMAGE_BYTES = 4 * 1024**3
"""The largest image accepted (streamed and bounded: never more is read)."""
MAX_SBOM_BYTES = 64 * 1024**2
"""The largest SBOM document accepted."""
MAX_CHANGE_REQUESTS = 200


class Keep(enum.Enum):
    """Marks a field an edit leaves as it is (where None is a value of its own)."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True)
class ReleaseFields:
    """Fields to set on a release; None (or ``KEEP``) leaves a field as it is."""

    version_number: int | None = None
    min_from_version_number: int | Keep | None = KEEP
    build_id: str | None = None
    hardware_revisions: list[str] | None = None
    what_changed: str | None = None
    risk_summary: str | None = None
    downtime_minutes: int | None = None
    compatibility: str | None = None
    change_requests: list[str] | None = None


def check_staff(principal: Principal) -> None:
    """Refuse anyone outside the manufacturer as if nothing existed.

    Raises:
        ReleaseNotFoundError: the caller is hospital staff.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER:
        raise ReleaseNotFoundError("release records belong to the manufacturer")


def require(principal: Principal, roles: tuple[Role, ...], doing: str) -> None:
    """Refuse a caller holding none of ``roles``.

    Raises:
        ReleaseNotAllowedError: naming the roles needed.
    """
    if not principal.has_any(*roles):
        names = ", ".join(role.value for role in roles)
        raise ReleaseNotAllowedError(f"{doing} needs one of the roles {names}")


def get(session: Session, principal: Principal, model: str, version: str) -> Release:
    """The caller's organization's release of ``model`` with ``version``.

    Raises:
        ReleaseNotFoundError: none, or the caller is hospital staff.
    """
    check_staff(principal)
    release = session.scalar(
        select(Release).where(
            Release.org_id == principal.org_id,
            Release.model == model,
            Release.version == version,
        )
    )
    if release is None:
        raise ReleaseNotFoundError(f"release {model} {version} not found")
    return release


def list_all(session: Session, principal: Principal, model: str | None = None) -> list[Release]:
    """Releases of the caller's organization (optionally one model), newest first."""
    if principal.org_kind is not OrgKind.MANUFACTURER:
        return []
    statement = select(Release).where(Release.org_id == principal.org_id)
    if model is not None:
        statement = statement.where(Release.model == model)
    return list(session.scalars(statement.order_by(Release.created_at.desc(), Release.id.desc())))


def _check_number(session: Session, release: Release) -> None:
    statement = select(Release.version).where(
        Release.org_id == release.org_id,
        Release.model == release.model,
        Release.version_number == release.version_number,
        Release.state != ReleaseState.WITHDRAWN.value,
    )
    if release.id is not None:
        statement = statement.where(Release.id != release.id)
    same = session.scalar(statement.limit(1))
    if same is not None:
        raise DuplicateReleaseError(
            f"{release.model} {same} already has version number {release.version_number}"
        )
    highest = highest_released_number(session, release)
    if highest is not None and release.version_number <= highest:
        raise VersionOrderError(
            f"version number {release.version_number} must be above {highest}, "
            f"the highest released for {release.model}"
        )


def _changes(session: Session, principal: Principal, keys: list[str]) -> list[ChangeRequest]:
    if len(keys) > MAX_CHANGE_REQUESTS:
        raise InvalidReleaseError(f"at most {MAX_CHANGE_REQUESTS} change requests per release")
    found: dict[int, ChangeRequest] = {}
    for key in keys:
        try:
            change = changes.get(session, principal, key)
        except ChangeRequestNotFoundError as exc:
            raise InvalidReleaseError(f"cannot include {key!r}: {exc}") from exc
        found[change.id] = change
    return sorted(found.values(), key=lambda change: change.number)


def _apply(session: Session, principal: Principal, release: Release, fields: ReleaseFields) -> None:
    if fields.version_number is not None:
        release.version_number = fields.version_number
    if not isinstance(fields.min_from_version_number, Keep):
        release.min_from_version_number = fields.min_from_version_number
    check_numbers(release.version_number, release.min_from_version_number)
    if fields.build_id is not None:
        release.build_id = check_build_id(fields.build_id)
    if fields.hardware_revisions is not None:
        release.hardware_revisions = check_revisions(fields.hardware_revisions)
    notes = ReleaseNotes(
        fields.what_changed if fields.what_changed is not None else release.notes_what_changed,
        fields.risk_summary if fields.risk_summary is not None else release.notes_risk_summary,
        fields.downtime_minutes
        if fields.downtime_minutes is not None
        else release.notes_downtime_minutes,
        fields.compatibility if fields.compatibility is not None else release.notes_compatibility,
    ).checked()
    release.notes_what_changed = notes.what_changed
    release.notes_risk_summary = notes.risk_summary
    release.notes_downtime_minutes = notes.downtime_minutes
    release.notes_compatibility = notes.compatibility
    if fields.change_requests is not None:
        release.change_requests = _changes(session, principal, fields.change_requests)
    _check_number(session, release)


def _event(
    principal: Principal, release: Release, action: str, details: dict[str, Any]
) -> NewEvent:
    payload = {"model": release.model, "version": release.version, **details}
    return NewEvent(principal.actor, release.org_id, action, "release", str(release.id), payload)


def create(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    model: str,
    version: str,
    fields: ReleaseFields,
) -> Release:
    """A draft release of ``model`` ``version`` authored by the caller.

    Raises:
        ReleaseNotFoundError: the caller is hospital staff.
        ReleaseNotAllowedError: the caller is not an engineer, QA/RA or admin.
        InvalidReleaseError: a malformed field or an unknown change request.
        DuplicateReleaseError: the version (or version number) exists for the model.
        VersionOrderError: the version number is not above the model's released ones.
    """
    check_staff(principal)
    require(principal, AUTHOR_ROLES, "creating a release")
    if fields.version_number is None:
        raise InvalidReleaseError("a release needs a version number")
    model, version = check_model(model.strip()), version.strip()
    check_version(model, version)
    exists = session.scalar(
        select(Release.id).where(
            Release.org_id == principal.org_id, Release.model == model, Release.version == version
        )
    )
    if exists is not None:
        raise DuplicateReleaseError(f"release {model} {version} already exists")
    now = audit.clock.now()
    release = Release(
        org_id=principal.org_id,
        model=model,
        version=version,
        version_number=fields.version_number,
        min_from_version_number=None,
        build_id="",
        hardware_revisions=[],
        notes_what_changed="",
        notes_risk_summary="",
        notes_downtime_minutes=None,
        notes_compatibility="",
        author_id=principal.user_id,
        state=ReleaseState.DRAFT.value,
        created_at=now,
        updated_at=now,
        change_requests=[],
    )
    _apply(session, principal, release, fields)
    session.add(release)
    session.flush()
    session.refresh(release, ["author"])
    audit.record(session, _event(principal, release, "release.created", _summary(release)))
    return release


def _summary(release: Release) -> dict[str, Any]:
    content = release.canonical_content()
    content.pop("author")
    return content


def _invalidated(session: Session, release: Release) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(ElectronicSignature)
            .where(
                ElectronicSignature.record_type == release.record_type,
                ElectronicSignature.record_id == release.record_id,
            )
        )
        or 0
    )


def edit(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    model: str,
    version: str,
    fields: ReleaseFields,
) -> Release:
    """Change a draft release; its earlier signatures stop being valid.

    Raises:
        ReleaseNotFoundError, ReleaseNotAllowedError, InvalidReleaseError,
        DuplicateReleaseError, VersionOrderError: as for ``create``.
        ReleaseStateError: the release is not a draft.
    """
    release = get(session, principal, model, version)
    require(principal, AUTHOR_ROLES, "editing a release")
    check_editable(release.release_state)
    before = _summary(release)
    _apply(session, principal, release, fields)
    return _changed(session, audit, principal, release, "release.edited", before)


def _changed(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    release: Release,
    action: str,
    before: dict[str, Any],
) -> Release:
    after = _summary(release)
    changed = sorted(key for key in after if after[key] != before[key])
    release.updated_at = audit.clock.now()
    session.flush()
    details = {
        "changed": changed,
        "before": {key: before[key] for key in changed},
        "after": {key: after[key] for key in changed},
        "signatures_invalidated": _invalidated(session, release) if changed else 0,
    }
    audit.record(session, _event(principal, release, action, details))
    return release


def check_uploadable(session: Session, principal: Principal, model: str, version: str) -> Release:
    """The release, if the caller may attach files to it now (called before reading a body).

    Raises:
        ReleaseNotFoundError, ReleaseNotAllowedError, ReleaseStateError.
    """
    release = get(session, principal, model, version)
    require(principal, AUTHOR_ROLES, "attaching files to a release")
    check_editable(release.release_state)
    return release


def attach_artifact(
    session: Session,
    audit: AuditLog,
    blobs: BlobStore,
    principal: Principal,
    model: str,
    version: str,
    filename: str,
    blob: BlobInfo,
) -> Release:
    """Record a stored blob as the release's image, published later as ``<model>/<filename>``.

    Raises:
        ReleaseNotFoundError, ReleaseNotAllowedError, ReleaseStateError: see ``check_uploadable``.
        InvalidReleaseError: a bad file name or an empty image.
        BlobNotFoundError: the blob is not in the store.
    """
    release = check_uploadable(session, principal, model, version)
    filename = check_filename(filename)
    if blob.length == 0:
        raise InvalidReleaseError("the image is empty")
    if not blobs.contains(blob.sha256):
        raise BlobNotFoundError(f"no blob {blob.sha256} in the store")
    before = _summary(release)
    release.artifact_sha256 = blob.sha256
    release.artifact_filename = filename
    release.artifact_length = blob.length
    return _changed(session, audit, principal, release, "release.artifact_attached", before)


def attach_sbom(
    session: Session,
    audit: AuditLog,
    blobs: BlobStore,
    principal: Principal,
    model: str,
    version: str,
    sbom_format: str,
    blob: BlobInfo,
) -> Release:
    """Record a stored blob as the release's SBOM in ``sbom_format`` (imported by a later issue).

    Raises:
        ReleaseNotFoundError, ReleaseNotAllowedError, ReleaseStateError: see ``check_uploadable``.
        InvalidReleaseError: an unknown format or an empty document.
        BlobNotFoundError: the blob is not in the store.
    """
    release = check_uploadable(session, principal, model, version)
    sbom_format = check_sbom_format(sbom_format)
    if blob.length == 0:
        raise InvalidReleaseError("the SBOM is empty")
    if not blobs.contains(blob.sha256):
        raise BlobNotFoundError(f"no blob {blob.sha256} in the store")
    before = _summary(release)
    release.sbom_sha256 = blob.sha256
    release.sbom_format = sbom_format
    return _changed(session, audit, principal, release, "release.sbom_attached", before)
