"""Key rotation and revocation for the director.

A change of any director role's keys is a root update: ``N+1.root.json`` is signed by the
current root threshold AND the new one and kept in ``repo/director/_root/``; then every device
directory gets the new root (hard link) before its targets, snapshot and timestamp are
re-signed with the new keys, so a device walks the rotation from the root it enrolled with and
metadata signed by a revoked key stops verifying. If the process stops half-way, the worker's
``Director.refresh_expiring`` finishes the devices that were not reached.
"""

from __future__ import annotations

from collections.abc import Sequence

from medfleet.signing.director import DIRECTOR_LIFETIMES, DIRECTOR_ONLINE_ROLES, Director
from medfleet.signing.errors import InsufficientSignaturesError, SigningInputError
from medfleet.signing.files import locked
from medfleet.signing.tuf_api import Key, Metadata, Root, Signer
from medfleet.signing.tufrepo import changed_root, load_chain, require_online_signers, sign_root


def change_director_keys(
    director: Director,
    role: str,
    *,
    add: Sequence[Key] = (),
    revoke: Sequence[str] = (),
    threshold: int | None = None,
    root_signers: Sequence[Signer],
) -> Metadata[Root]:
    """Write the director's next root with ``role``'s keys changed, then re-sign every device.

    With nothing to change it renews the root's expiry. ``root_signers`` must reach the current
    and the new root threshold; new online keys must be in this server's key store
    (``KeyStore.generate_online_key``); revoked online keys are deleted from it.

    Raises:
        SigningInputError: unknown role, a revoked key the role lacks, impossible threshold.
        InsufficientSignaturesError: a threshold is not reached (nothing is written).
    """
    with locked(director.history.path):
        current = director.root()
        new_root = changed_root(
            current.signed,
            role,
            director.clock.now(),
            DIRECTOR_LIFETIMES.root,
            add=add,
            revoke=revoke,
            threshold=threshold,
        )
        root_metadata = sign_root(current.signed, new_root, root_signers)
        require_online_signers(director.keys, new_root, DIRECTOR_ONLINE_ROLES)
        director.history.write_root(root_metadata)
        for device_id in director.devices():
            directory = director.device_dir(device_id)
            with locked(directory.path):
                director.link_roots(directory)
                chain = load_chain(directory, root_metadata)
                director.sign_device(directory, root_metadata, chain, None)
    for key_id in revoke:
        if key_id not in new_root.keys:
            director.keys.delete_online_key(key_id)
    return root_metadata


def rotate_director_online_key(
    director: Director, role: str, root_signers: Sequence[Signer]
) -> str:
    """Replace the targets, snapshot or timestamp key by a new online key; return its id.

    Raises:
        SigningInputError: ``role`` is root (root keys are offline: ``change_director_keys``).
        InsufficientSignaturesError: ``root_signers`` do not reach the root threshold.
    """
    if role not in DIRECTOR_ONLINE_ROLES:
        raise SigningInputError(f"{role!r} is not an online director role")
    old = list(director.root().signed.roles[role].keyids)
    new = director.keys.generate_online_key()
    try:
        change_director_keys(
            director, role, add=[new.public_key], revoke=old, root_signers=root_signers
        )
    except (InsufficientSignaturesError, SigningInputError):
        director.keys.delete_online_key(new.public_key.keyid)
        raise
    return str(new.public_key.keyid)
