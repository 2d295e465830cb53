"""Moving a release through review: e-sign, verify, reopen, approve, withdraw.

Each use case is one transaction with its audit event; a refused step changes nothing. The
approval IS the "approved" e-signature of a QA/RA user who re-entered their password, and is
given only when ``readiness.blockers`` is empty; otherwise ``ReleaseNotReadyError`` lists
every blocker. Releasing (signing into TUF) lives in ``medfleet.releases.publishing``.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal, Role
from medfleet.accounts.signatures import Meaning, apply_signature
from medfleet.accounts.tables import ElectronicSignature
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.releases import readiness
from medfleet.releases.blobs import BlobStore
from medfleet.releases.errors import InvalidReleaseError, ReleaseNotReadyError, ReleaseStateError
from medfleet.releases.model import Blocker, ReleaseAction, ReleaseState, next_state
from medfleet.releases.records import AUTHOR_ROLES, get, require
from medfleet.releases.tables import Release

VERIFY_ROLES = (Role.ENGINEER, Role.QA_RA)
WITHDRAW_ROLES = (Role.QA_RA, Role.ADMIN)
SIGNABLE_STATES = frozenset({ReleaseState.DRAFT, ReleaseState.VERIFIED})
MAX_REASON = 2000


def record_transition(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    release: Release,
    action: ReleaseAction,
    details: dict[str, object] | None = None,
) -> None:
    """Move ``release`` by ``action`` and write ``release.<past tense>`` in this transaction.

    Raises:
        ReleaseStateError: the state machine does not allow ``action`` now.
    """
    before = release.release_state
    after = next_state(before, action)
    release.state = after.value
    release.updated_at = audit.clock.now()
    payload = {
        "model": release.model,
        "version": release.version,
        "from": before.value,
        "to": after.value,
        **(details or {}),
    }
    name = {ReleaseAction.REOPEN: "reopened", ReleaseAction.WITHDRAW: "withdrawn"}.get(
        action, after.value
    )
    audit.record(
        session,
        NewEvent(
            principal.actor, release.org_id, f"release.{name}", "release", str(release.id), payload
        ),
    )


def sign(
    session: Session,
    audit: AuditLog,
    signer: Principal,
    model: str,
    version: str,
    meaning: Meaning,
    comment: str | None = None,
) -> ElectronicSignature:
    """E-sign a draft or verified release as authored or reviewed (``signer`` re-authenticated).

    Raises:
        ReleaseNotFoundError: no such release in the signer's organization.
        InvalidReleaseError: "approved" and "released" are given by approving and releasing.
        ReleaseStateError: the release is past review.
        PermissionDeniedError, SignatureError: see ``accounts.signatures.apply_signature``.
    """
    release = get(session, signer, model, version)
    if meaning not in (Meaning.AUTHORED, Meaning.REVIEWED):
        raise InvalidReleaseError(
            f"a release is signed {meaning.value!r} by "
            f"{'approving' if meaning is Meaning.APPROVED else 'releasing'} it, not here"
        )
    if release.release_state not in SIGNABLE_STATES:
        raise ReleaseStateError(f"a {release.state} release takes no more review signatures")
    return apply_signature(session, audit, signer, release, meaning, comment)


def verification_gaps(release: Release, blobs: BlobStore) -> list[Blocker]:
    """What a draft lacks before it can be verified (empty when it is complete)."""
    gaps: list[Blocker] = []
    if release.artifact_sha256 is None or not blobs.contains(release.artifact_sha256):
        gaps.append(Blocker("artifact", "no image artifact is attached (upload the image)"))
    gaps += [Blocker("notes", part) for part in release.notes.missing()]
    if not release.change_requests:
        gaps.append(Blocker("change_requests", "at least one change request must be included"))
    if not release.build_id:
        gaps.append(Blocker("build_id", "the build id is not set"))
    if not release.hardware_revisions:
        gaps.append(Blocker("hardware_revisions", "at least one hardware revision is needed"))
    return gaps


def verify(
    session: Session,
    audit: AuditLog,
    blobs: BlobStore,
    principal: Principal,
    model: str,
    version: str,
) -> Release:
    """Check a draft is complete and mark it verified (engineers and QA/RA).

    Raises:
        ReleaseNotFoundError, ReleaseNotAllowedError.
        ReleaseStateError: the release is not a draft.
        ReleaseNotReadyError: listing everything missing (image, notes, change requests, build).
    """
    release = get(session, principal, model, version)
    require(principal, VERIFY_ROLES, "verifying a release")
    next_state(release.release_state, ReleaseAction.VERIFY)
    gaps = verification_gaps(release, blobs)
    if gaps:
        raise ReleaseNotReadyError(
            f"{release.label} cannot be verified", [gap.as_dict() for gap in gaps]
        )
    record_transition(session, audit, principal, release, ReleaseAction.VERIFY)
    return release


def reopen(
    session: Session, audit: AuditLog, principal: Principal, model: str, version: str
) -> Release:
    """Send a verified release back to draft so it can be edited.

    Raises:
        ReleaseNotFoundError, ReleaseNotAllowedError, ReleaseStateError.
    """
    release = get(session, principal, model, version)
    require(principal, AUTHOR_ROLES, "reopening a release")
    record_transition(session, audit, principal, release, ReleaseAction.REOPEN)
    return release


def approve(
    session: Session,
    audit: AuditLog,
    signer: Principal,
    model: str,
    version: str,
    *,
    trusted_keys: dict[str, Ed25519PublicKey],
    blobs: BlobStore,
    comment: str | None = None,
) -> Release:
    """Approve a verified release: the QA/RA signer's "approved" e-signature, then the state.

    ``signer`` must have re-entered their password for this request.

    Raises:
        ReleaseNotFoundError, ReleaseNotAllowedError (not QA/RA).
        ReleaseNotReadyError: every blocker of ``readiness.blockers``; nothing changed.
        SeparationOfDutiesError, SignatureError: see ``apply_signature``.
    """
    release = get(session, signer, model, version)
    require(signer, (Role.QA_RA,), "approving a release")
    found = readiness.blockers(
        session, release, approver=signer, trusted_keys=trusted_keys, blobs=blobs
    )
    if found:
        raise ReleaseNotReadyError(
            f"{release.label} cannot be approved", [blocker.as_dict() for blocker in found]
        )
    signature = apply_signature(session, audit, signer, release, Meaning.APPROVED, comment)
    record_transition(
        session,
        audit,
        signer,
        release,
        ReleaseAction.APPROVE,
        {"signature_id": signature.id, "content_sha256": signature.content_sha256},
    )
    return release


def withdraw(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    model: str,
    version: str,
    reason: str,
) -> Release:
    """Withdraw a verified, approved or released release, with a reason (QA/RA or admin).

    The signed target stays in the image repository for now: campaigns honour the withdrawn
    state and assign it to no device (removing the target from TUF metadata is a later issue).

    Raises:
        ReleaseNotFoundError, ReleaseNotAllowedError, ReleaseStateError.
        InvalidReleaseError: no reason, or one longer than ``MAX_REASON``.
    """
    release = get(session, principal, model, version)
    require(principal, WITHDRAW_ROLES, "withdrawing a release")
    reason = reason.strip()
    if not reason:
        raise InvalidReleaseError("withdrawing a release needs a reason")
    if len(reason) > MAX_REASON:
        raise InvalidReleaseError(f"the reason is longer than {MAX_REASON} characters")
    record_transition(
        session,
        audit,
        principal,
        release,
        ReleaseAction.WITHDRAW,
        {"reason": reason, "target_path": release.target_path},
    )
    release.withdrawn_at = audit.clock.now()
    release.withdrawn_reason = reason
    return release
