"""Releasing: signing an approved release into the image repository, and the keys it needs.

``publish`` is the "release" step: the QA/RA releaser's "released" e-signature, the included
change requests marked released and their risk-file deltas merged into the risk file, the
releaser's targets key unlocked with the password they just entered,
``signing.release_signing.sign_release`` (the only way an image reaches TUF targets metadata),
the signed target recorded on the release.
The database work runs first and signing last, in the same transaction: when signing is
refused (too few signatures, no key, a rollback) the transaction rolls back and nothing in the
database changes; signing itself writes nothing when it refuses. Publishing the same image
again is idempotent, so a retry after a failed commit is harmless.

``create_signing_key`` and ``delegate_model`` set up who may sign: a user's targets key
(encrypted with their password) and a device model's delegated role listing its holders.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import Principal, Role
from medfleet.accounts.signatures import Meaning, apply_signature
from medfleet.accounts.tables import User
from medfleet.agent.contract import ImageInfo
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.changes import workflow
from medfleet.releases.approval import record_transition
from medfleet.releases.errors import (
    InvalidReleaseError,
    ReleaseSigningRefusedError,
    SigningKeyMissingError,
    VersionOrderError,
)
from medfleet.releases.model import ReleaseAction, check_model, next_state
from medfleet.releases.readiness import highest_released_number
from medfleet.releases.records import check_staff, get, require
from medfleet.releases.tables import Release
from medfleet.risk import service as risk
from medfleet.signing.distribution import Distribution
from medfleet.signing.errors import InsufficientSignaturesError, KeyNotFoundError
from medfleet.signing.image_repo import model_role_name
from medfleet.signing.keys import KeyStore
from medfleet.signing.release_signing import ReleaseToSign, SignedRelease, sign_release
from medfleet.signing.tuf_api import Signer

SIGNING_ADMIN_ROLES = (Role.QA_RA, Role.ADMIN)
MAX_HOLDERS = 20


def unlock(keys: KeyStore, username: str, password: str) -> Signer:
    """``username``'s targets key, decrypted with ``password``.

    Raises:
        SigningKeyMissingError: the user has no targets key.
        WrongPasswordError: the password does not decrypt it.
    """
    try:
        return keys.unlock_user_key(username, password)
    except KeyNotFoundError as exc:
        raise SigningKeyMissingError(
            f"{username} has no targets key; create it with "
            f"'medfleet release signing-key --user {username}'"
        ) from exc


def publish(
    session: Session,
    audit: AuditLog,
    distribution: Distribution,
    releaser: Principal,
    password: str,
    model: str,
    version: str,
    comment: str | None = None,
) -> tuple[Release, SignedRelease]:
    """Sign an approved release into the image repository and mark it released.

    ``releaser`` re-authenticated with ``password`` for this request; the same password
    unlocks their targets key, which must hold the model role (threshold 1 for now).

    Raises:
        ReleaseNotFoundError, ReleaseNotAllowedError (not QA/RA), ReleaseStateError.
        VersionOrderError: a higher version of the model was released meanwhile.
        SeparationOfDutiesError: the releaser authored the release.
        SigningKeyMissingError, WrongPasswordError: the releaser's targets key.
        ReleaseSigningRefusedError: the key does not reach the model role's threshold.
        UnknownModelError: the model has no delegated role (``delegate_model`` first).
        RollbackError, TargetConflictError, BlobNotFoundError: see ``sign_release``.
    """
    release = get(session, releaser, model, version)
    require(releaser, (Role.QA_RA,), "releasing")
    next_state(release.release_state, ReleaseAction.RELEASE)
    highest = highest_released_number(session, release)
    if highest is not None and release.version_number <= highest:
        raise VersionOrderError(
            f"version number {release.version_number} is not above {highest}, "
            f"already released for {release.model}"
        )
    if release.artifact_sha256 is None or release.artifact_filename is None:
        raise InvalidReleaseError(f"{release.label} has no image")
    signature = apply_signature(session, audit, releaser, release, Meaning.RELEASED, comment)
    for change in release.change_requests:
        workflow.mark_released(session, audit, releaser.actor, change, release.label)
        if not risk.is_applied(session, change.id):
            risk.apply_delta(session, audit, change.org_id, change.id, releaser.actor)
    signer = unlock(distribution.keys, releaser.username, password)
    info = ImageInfo(
        release_id=release.release_id,
        model=release.model,
        hardware_revisions=tuple(release.hardware_revisions),
        version=release.version,
        version_number=release.version_number,
        min_from_version_number=release.min_from_version_number,
    )
    to_sign = ReleaseToSign(release.artifact_sha256, release.artifact_filename, info)
    try:
        signed = sign_release(distribution, to_sign, [signer])
    except InsufficientSignaturesError as exc:
        raise ReleaseSigningRefusedError(
            f"the targets key of {releaser.username} does not hold the role "
            f"{model_role_name(release.model)} (ask an admin to run 'medfleet release "
            f"delegate-model {release.model} --holder {releaser.username}'): {exc}"
        ) from exc
    published = signed.as_dict()
    release.target_path = signed.image_path
    release.target_sha256 = str(published["sha256"])
    release.target_length = signed.image.length
    release.target_deltas = [
        {"path": d.path, "from_version": d.from_version, "length": d.length} for d in signed.deltas
    ]
    release.released_at = audit.clock.now()
    record_transition(
        session,
        audit,
        releaser,
        release,
        ReleaseAction.RELEASE,
        {
            "release_id": release.release_id,
            "target_path": signed.image_path,
            "sha256": release.target_sha256,
            "length": signed.image.length,
            "deltas": [d.path for d in signed.deltas],
            "skipped_deltas": list(signed.skipped_deltas),
            "signature_id": signature.id,
        },
    )
    return release, signed


@dataclass(frozen=True)
class SigningKey:
    """A user's targets key: who holds it, its TUF key id, whether this call created it."""

    username: str
    key_id: str
    created: bool

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {"username": self.username, "key_id": self.key_id, "created": self.created}


def create_signing_key(
    session: Session, audit: AuditLog, keys: KeyStore, principal: Principal, password: str
) -> SigningKey:
    """Give the caller a targets key encrypted with ``password`` (their re-entered password).

    Idempotent: an existing key is returned unchanged (``created`` false, no audit event).

    Raises:
        ReleaseNotFoundError: hospital staff.
        ReleaseNotAllowedError: not QA/RA or admin.
    """
    check_staff(principal)
    require(principal, SIGNING_ADMIN_ROLES, "holding a targets key")
    if keys.has_user_key(principal.username):
        key = keys.user_public_key(principal.username)
        return SigningKey(principal.username, str(key.keyid), created=False)
    key = keys.generate_user_key(principal.username, password)
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "release.signing_key_created",
            "user",
            str(principal.user_id),
            {"username": principal.username, "key_id": key.keyid},
        ),
    )
    return SigningKey(principal.username, str(key.keyid), created=True)


@dataclass(frozen=True)
class ModelRole:
    """A device model's delegated role as ``delegate_model`` created it."""

    model: str
    role: str
    holders: tuple[str, ...]
    key_ids: tuple[str, ...]
    threshold: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "model": self.model,
            "role": self.role,
            "holders": list(self.holders),
            "key_ids": list(self.key_ids),
            "threshold": self.threshold,
        }


def _holders(session: Session, principal: Principal, names: list[str], threshold: int) -> None:
    if not names:
        raise InvalidReleaseError("a model role needs at least one holder")
    if len(names) > MAX_HOLDERS or len(set(names)) != len(names):
        raise InvalidReleaseError(f"holders must be 1-{MAX_HOLDERS} different users")
    if not 1 <= threshold <= len(names):
        raise InvalidReleaseError(
            f"threshold {threshold} must be between 1 and the {len(names)} holder(s)"
        )
    for name in names:
        user = session.scalar(
            select(User).where(User.username == name, User.org_id == principal.org_id)
        )
        if user is None or not user.active:
            raise InvalidReleaseError(f"holder {name!r} is not an active user of the manufacturer")
        if Role.QA_RA not in user.roles:
            raise InvalidReleaseError(f"holder {name!r} needs the qa_ra role to release")


def delegate_model(
    session: Session,
    audit: AuditLog,
    distribution: Distribution,
    principal: Principal,
    password: str,
    model: str,
    holders: list[str],
    threshold: int,
    holder_passwords: Mapping[str, str],
) -> ModelRole:
    """Create ``model``'s delegated role, held by ``holders``' targets keys.

    The caller's targets key (unlocked with ``password``) must be the top-level targets key.
    The role's first, empty version must carry ``threshold`` signatures of its holders, so
    that many holders type their passwords too (``holder_passwords``; the caller's own
    password is used when the caller is a holder).

    Raises:
        ReleaseNotFoundError, ReleaseNotAllowedError (not QA/RA or admin).
        InvalidReleaseError: bad model name, holders or threshold.
        SigningKeyMissingError: the caller or a holder has no targets key.
        WrongPasswordError: a password does not decrypt its key.
        ReleaseSigningRefusedError: the caller's key is not the top-level targets key, or too
            few holders signed.
        ModelExistsError: the model already has a role.
    """
    check_staff(principal)
    require(principal, SIGNING_ADMIN_ROLES, "delegating a device model")
    model = check_model(model.strip())
    _holders(session, principal, holders, threshold)
    keys = distribution.keys
    public = []
    for name in holders:
        if not keys.has_user_key(name):
            raise SigningKeyMissingError(
                f"holder {name} has no targets key; they create it with "
                f"'medfleet release signing-key --user {name}'"
            )
        public.append(keys.user_public_key(name))
    top = unlock(keys, principal.username, password)
    passwords = {principal.username: password, **holder_passwords}
    model_signers = [unlock(keys, name, passwords[name]) for name in holders if name in passwords]
    role = ModelRole(
        model,
        model_role_name(model),
        tuple(holders),
        tuple(str(key.keyid) for key in public),
        threshold,
    )
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "release.model_delegated",
            "model_role",
            model,
            role.as_dict(),
        ),
    )
    try:
        distribution.image.add_model(
            model, public, threshold, targets_signers=[top], model_signers=model_signers
        )
    except InsufficientSignaturesError as exc:
        raise ReleaseSigningRefusedError(
            f"delegating {model} needs the top-level targets key and {threshold} holder "
            f"signature(s): {exc}"
        ) from exc
    return role
