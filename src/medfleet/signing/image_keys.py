"""Key rotation and revocation for the image repository.

- A top-level role's keys (root, targets, snapshot, timestamp) change by a root update: the
  next ``N+1.root.json`` is signed by the current root threshold AND the new one, so a device
  offline for months walks 1 → 2 → … → N. The roles whose keys changed are re-signed at once
  with their new keys (targets by its new key holders, snapshot and timestamp online), so
  metadata signed by a revoked key stops being accepted as soon as clients see the new root.
- A model role's keys change by a top-level targets update, and the model role is re-signed by
  its new key holders in the same commit.

Every check (thresholds of old and new keys, presence of the new online keys) runs before the
first file is written.
"""

from __future__ import annotations

from collections.abc import Sequence

from medfleet.signing.errors import InsufficientSignaturesError, SigningInputError
from medfleet.signing.image_repo import (
    IMAGE_LIFETIMES,
    IMAGE_ONLINE_ROLES,
    MODEL_ROLE_LIFETIME,
    ImageRepository,
    model_role_name,
    signers_for,
)
from medfleet.signing.tuf_api import Key, Metadata, Root, Signer, Targets
from medfleet.signing.tufrepo import (
    TARGETS,
    Chain,
    bump,
    changed_root,
    check_threshold_value,
    require_online_signers,
    require_threshold,
    sign,
    sign_root,
)


def change_image_keys(
    repo: ImageRepository,
    role: str,
    *,
    add: Sequence[Key] = (),
    revoke: Sequence[str] = (),
    threshold: int | None = None,
    root_signers: Sequence[Signer],
    targets_signers: Sequence[Signer] = (),
) -> Metadata[Root]:
    """Write the next root with ``role``'s keys changed; re-sign what those keys sign.

    With nothing to change it only renews the root's expiry. ``root_signers`` must reach the
    current and the new root threshold (both sets of holders when root keys change);
    ``targets_signers`` must reach the new targets threshold when ``role`` is ``targets``.
    New snapshot/timestamp keys must be online keys of this server
    (``KeyStore.generate_online_key``); revoked ones are deleted from the key store.

    Raises:
        SigningInputError: unknown role, a revoked key the role lacks, impossible threshold.
        InsufficientSignaturesError: a threshold is not reached (nothing is written).
    """
    with repo.lock():
        chain = repo.chain()
        now = repo.clock.now()
        new_root = changed_root(
            chain.root.signed,
            role,
            now,
            IMAGE_LIFETIMES.root,
            add=add,
            revoke=revoke,
            threshold=threshold,
        )
        root_metadata = sign_root(chain.root.signed, new_root, root_signers)
        new_targets: dict[str, Metadata[Targets]] = {}
        if role == TARGETS:
            payload = bump(repo.top_targets(chain).signed, now, IMAGE_LIFETIMES.targets)
            signed = sign(payload, signers_for(new_root.roles[TARGETS].keyids, targets_signers))
            require_threshold(new_root, TARGETS, signed)
            new_targets[TARGETS] = signed
        require_online_signers(repo.keys, new_root, IMAGE_ONLINE_ROLES)
        repo.metadata.write_root(root_metadata)
        current = Chain(root_metadata, chain.timestamp, chain.snapshot)
        repo.commit(root_metadata, current, new_targets, resign_snapshot=True)
    for key_id in revoke:
        if key_id not in new_root.keys:
            repo.keys.delete_online_key(key_id)
    return root_metadata


def rotate_image_online_key(
    repo: ImageRepository, role: str, root_signers: Sequence[Signer]
) -> str:
    """Replace the snapshot or timestamp key by a new online key; return the new key id.

    Raises:
        SigningInputError: ``role`` is not snapshot or timestamp.
        InsufficientSignaturesError: ``root_signers`` do not reach the root threshold.
    """
    if role not in IMAGE_ONLINE_ROLES:
        raise SigningInputError(f"only {' and '.join(IMAGE_ONLINE_ROLES)} keys are online")
    old = list(repo.chain().root.signed.roles[role].keyids)
    new = repo.keys.generate_online_key()
    try:
        change_image_keys(repo, role, add=[new.public_key], revoke=old, root_signers=root_signers)
    except (InsufficientSignaturesError, SigningInputError):
        repo.keys.delete_online_key(new.public_key.keyid)
        raise
    return str(new.public_key.keyid)


def change_model_keys(
    repo: ImageRepository,
    model: str,
    *,
    add: Sequence[Key] = (),
    revoke: Sequence[str] = (),
    threshold: int | None = None,
    targets_signers: Sequence[Signer],
    model_signers: Sequence[Signer],
) -> None:
    """Change who signs ``model``'s role (a targets update) and re-sign the role at once.

    ``model_signers`` must reach the new delegation's threshold (they are ignored while the
    model has no published image yet).

    Raises:
        UnknownModelError: the model has no delegated role.
        SigningInputError: a revoked key the role lacks, or an impossible threshold.
        InsufficientSignaturesError: targets or model threshold not reached (nothing written).
    """
    role = model_role_name(model)
    with repo.lock():
        chain = repo.chain()
        now = repo.clock.now()
        top = bump(repo.top_targets(chain).signed, now, IMAGE_LIFETIMES.targets)
        delegation = repo.delegation(top, role)
        for key_id in revoke:
            if key_id not in delegation.keyids:
                raise SigningInputError(f"key {key_id[:16]}… does not sign {role}")
            top.revoke_key(key_id, role)
        for key in add:
            top.add_key(key, role)
        if threshold is not None:
            delegation.threshold = threshold
        check_threshold_value(delegation.threshold, len(delegation.keyids), role)
        new_targets = {TARGETS: repo.sign_top_targets(chain, top, targets_signers)}
        current = repo.role(chain, role)
        if current is not None:
            payload = bump(current.signed, now, MODEL_ROLE_LIFETIME)
            signed = sign(payload, signers_for(delegation.keyids, model_signers))
            require_threshold(top, role, signed)
            new_targets[role] = signed
        repo.commit(chain.root, chain, new_targets)
