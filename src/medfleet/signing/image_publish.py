"""Publishing released images and deltas into the image repository (the release signing step).

The release approval calls ``publish_image`` with the signers of the QA/RA users who just
re-authenticated; only signatures that reach the model role's threshold get a target into
metadata. Each publication writes, in this order: the target file
(``targets/<model>/<sha256>.<filename>``, hard-linked from the blob store when possible), the
model role's next version, the snapshot, the timestamp.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from medfleet.agent.contract import CUSTOM_KEY, DeltaInfo, ImageInfo
from medfleet.signing.errors import RollbackError, SigningInputError, TargetConflictError
from medfleet.signing.files import file_digests, place_immutable
from medfleet.signing.image_repo import (
    DELTAS,
    MODEL_ROLE_LIFETIME,
    ImageRepository,
    model_role_name,
    signers_for,
)
from medfleet.signing.layout import stored_target_path
from medfleet.signing.tuf_api import Signer, TargetFile, Targets
from medfleet.signing.tufrepo import bump, require_threshold, sign

_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")


def target_kind(target: TargetFile) -> str | None:
    """``"image"``, ``"delta"`` or None: the ``kind`` in a target's medfleet custom fields."""
    custom = target.custom
    section = custom.get(CUSTOM_KEY) if isinstance(custom, dict) else None
    kind = section.get("kind") if isinstance(section, dict) else None
    return kind if isinstance(kind, str) else None


def publish_image(
    repo: ImageRepository,
    artifact: Path,
    filename: str,
    info: ImageInfo,
    signers: Sequence[Signer],
) -> TargetFile:
    """Publish a released image as ``<model>/<filename>`` in its model's role.

    The target carries length, sha256, sha512 and ``info`` as its custom fields. Idempotent:
    publishing the same file with the same fields again returns the existing target and
    writes nothing (a retried release approval is harmless).

    Raises:
        UnknownModelError: ``info.model`` has no delegated role (``add_model`` first).
        RollbackError: ``info.version_number`` is not above every published image's.
        TargetConflictError: the path is already published with other content.
        InsufficientSignaturesError: ``signers`` do not reach the model role's threshold.
        SigningInputError: bad model or file name, empty release id or hardware revisions,
            a version number below 1 or a minimum from-version not below it.
    """

    def not_a_rollback(published: dict[str, TargetFile]) -> None:
        numbers = [
            ImageInfo.from_custom(target.custom).version_number
            for target in published.values()
            if target_kind(target) == "image"
        ]
        if numbers and info.version_number <= max(numbers):
            raise RollbackError(
                f"version number {info.version_number} of {info.model} is not above "
                f"{max(numbers)}, the highest already published"
            )

    _check_image_info(info)
    path = f"{info.model}/{_check_filename(filename)}"
    return _publish(repo, artifact, path, info.model, info.to_custom(), signers, not_a_rollback)


def publish_delta(
    repo: ImageRepository,
    artifact: Path,
    filename: str,
    info: DeltaInfo,
    signers: Sequence[Signer],
) -> TargetFile:
    """Publish a delta as ``<model>/deltas/<filename>`` between two published images.

    Raises:
        UnknownModelError: ``info.model`` has no delegated role.
        SigningInputError: ``to_path`` is not a published image of the model, no published
            image of the model has sha256 ``from_sha256``, or a bad file name.
        TargetConflictError, InsufficientSignaturesError: as for ``publish_image``.
    """

    def between_published_images(published: dict[str, TargetFile]) -> None:
        images = {p: t for p, t in published.items() if target_kind(t) == "image"}
        if info.to_path not in images:
            raise SigningInputError(f"{info.to_path!r} is not a published {info.model} image")
        if not any(t.hashes.get("sha256") == info.from_sha256 for t in images.values()):
            raise SigningInputError(f"no published {info.model} image has that from_sha256")

    path = f"{info.model}/{DELTAS}/{_check_filename(filename)}"
    custom = info.to_custom()
    return _publish(repo, artifact, path, info.model, custom, signers, between_published_images)


def _publish(
    repo: ImageRepository,
    artifact: Path,
    path: str,
    model: str,
    custom: dict[str, Any],
    signers: Sequence[Signer],
    check: Callable[[dict[str, TargetFile]], None],
) -> TargetFile:
    role = model_role_name(model)
    length, hashes = file_digests(artifact)
    target = TargetFile(length, hashes, path, {"custom": custom})
    with repo.lock():
        chain = repo.chain()
        top = repo.top_targets(chain).signed
        delegation = repo.delegation(top, role)
        current = repo.role(chain, role)
        published = dict(current.signed.targets) if current else {}
        existing = published.get(path)
        if existing is not None:
            if existing == target:
                return existing
            raise TargetConflictError(f"{path!r} is already published with other content")
        check(published)
        now = repo.clock.now()
        if current is None:  # the role's first version (``add_model`` normally writes it)
            payload = Targets(expires=now + MODEL_ROLE_LIFETIME, targets={})
        else:
            payload = bump(current.signed, now, MODEL_ROLE_LIFETIME)
        payload.targets[path] = target
        signed = sign(payload, signers_for(delegation.keyids, signers))
        require_threshold(top, role, signed)
        place_immutable(artifact, stored_target_path(repo.targets_dir, path, hashes["sha256"]))
        repo.commit(chain.root, chain, {role: signed})
    return target


def _check_filename(filename: str) -> str:
    if not _FILENAME.fullmatch(filename):
        raise SigningInputError(
            f"file name {filename!r} must be 1-200 letters, digits, '.', '_', '+' or '-'"
        )
    return filename


def _check_image_info(info: ImageInfo) -> None:
    if not info.release_id or not info.hardware_revisions:
        raise SigningInputError("an image needs a release id and at least one hardware revision")
    if info.version_number < 1:
        raise SigningInputError(f"version number {info.version_number} must be at least 1")
    floor = info.min_from_version_number
    if floor is not None and floor >= info.version_number:
        raise SigningInputError(
            f"min_from_version_number {floor} must be below version number {info.version_number}"
        )
