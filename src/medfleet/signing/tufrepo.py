"""One TUF metadata directory on disk, and the signing rules both medfleet repositories follow.

The image repository and every device's director repository are plain TUF repositories with
consistent snapshots: ``N.root.json``, ``N.targets.json``, ``N.<delegated>.json``,
``N.snapshot.json`` and an unversioned ``timestamp.json``. The files on disk are the state:
the current versions are found from ``timestamp.json`` down, nothing else is kept.

``commit`` writes one new consistent state in the only safe order — targets roles first, then
the snapshot that lists them, the timestamp last — after checking that every new file reaches
its role's signature threshold, so a failed check writes nothing and a client never sees a
timestamp that points at a snapshot (or a snapshot at a targets file) that is not there yet.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from tuf.api.exceptions import UnsignedMetadataError

from medfleet.signing.errors import (
    InsufficientSignaturesError,
    RepositoryNotFoundError,
    SigningInputError,
)
from medfleet.signing.files import atomic_write
from medfleet.signing.keys import KeyStore
from medfleet.signing.tuf_api import (
    Key,
    Metadata,
    MetaFile,
    Root,
    Signer,
    Snapshot,
    Targets,
    Timestamp,
)

ROOT = Root.type
TARGETS = Targets.type
SNAPSHOT = Snapshot.type
TIMESTAMP = Timestamp.type
TOP_LEVEL_ROLES = (ROOT, TARGETS, SNAPSHOT, TIMESTAMP)
TIMESTAMP_FILE = "timestamp.json"
# Older consistent-snapshot files a client in the middle of a refresh may still fetch.
KEEP_OLD_VERSIONS = 3

# The same constraint as python-tuf's ``Metadata[T]``.
T = TypeVar("T", Root, Timestamp, Snapshot, Targets)


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """How long each top-level role's metadata is valid after it is signed."""

    root: timedelta
    targets: timedelta
    snapshot: timedelta
    timestamp: timedelta


def sign(signed: T, signers: Sequence[Signer]) -> Metadata[T]:
    """``signed`` wrapped in metadata carrying one signature from each signer."""
    metadata = Metadata(signed)
    for signer in signers:
        metadata.sign(signer, append=True)
    return metadata


def require_threshold(delegator: Root | Targets, role: str, metadata: Metadata[Any]) -> None:
    """Check ``metadata`` carries ``role``'s threshold of signatures as ``delegator`` says.

    Raises:
        InsufficientSignaturesError: it does not (a client would reject it).
    """
    try:
        delegator.verify_delegate(role, metadata.signed_bytes, metadata.signatures)
    except UnsignedMetadataError as exc:
        raise InsufficientSignaturesError(
            f"{role} needs {_threshold(delegator, role)} valid signature(s): {exc}"
        ) from exc


def signed_by_current_keys(delegator: Root | Targets, role: str, metadata: Metadata[Any]) -> bool:
    """True when ``metadata`` has signatures from ``role``'s threshold of listed keys.

    A key-id check without cryptography (cheap enough to run over every device on each
    refresh): it spots metadata this server signed before an interrupted key rotation, not
    forgeries, which the clients' full verification rejects anyway.
    """
    role_keys = set(delegator.get_delegated_role(role).keyids)
    return len(role_keys & set(metadata.signatures)) >= _threshold(delegator, role)


def _threshold(delegator: Root | Targets, role: str) -> int:
    return delegator.get_delegated_role(role).threshold


def require_root_threshold(previous: Root | None, metadata: Metadata[Root]) -> None:
    """Check a new root is signed by the previous root's threshold AND its own.

    That is what lets a device that missed any number of rotations walk 1 → 2 → … → N.

    Raises:
        InsufficientSignaturesError: either threshold is not reached.
    """
    result = metadata.signed.get_root_verification_result(
        previous, metadata.signed_bytes, metadata.signatures
    )
    if not result.verified:
        old = result.first.threshold
        new = result.second.threshold
        raise InsufficientSignaturesError(
            f"root v{metadata.signed.version} needs {old} signature(s) from the current root "
            f"keys and {new} from the new ones"
        )


def check_threshold_value(threshold: int, key_count: int, role: str) -> None:
    """Check 1 <= threshold <= number of keys.

    Raises:
        SigningInputError: it is not.
    """
    if not 1 <= threshold <= key_count:
        raise SigningInputError(
            f"{role} threshold {threshold} must be between 1 and its {key_count} key(s)"
        )


def require_signers(
    role: str, keyids: Sequence[str], threshold: int, signers: Sequence[Signer]
) -> None:
    """Check that ``signers`` hold at least ``threshold`` of ``keyids`` before anything is made.

    Raises:
        InsufficientSignaturesError: they do not.
    """
    held = {signer.public_key.keyid for signer in signers} & set(keyids)
    if len(held) < threshold:
        raise InsufficientSignaturesError(
            f"{role} needs {threshold} signature(s); the keys given hold {len(held)}"
        )


def require_online_signers(keys: KeyStore, root: Root, roles: Sequence[str]) -> None:
    """Check this server holds enough online keys to sign ``roles`` as ``root`` lists them.

    Raises:
        InsufficientSignaturesError: a role's online keys are missing here.
    """
    for role in roles:
        keyids = root.roles[role].keyids
        signers = keys.online_signers(keyids)
        require_signers(role, keyids, root.roles[role].threshold, signers)


def bump(signed: T, now: datetime, lifetime: timedelta) -> T:
    """A copy of ``signed`` with the next version, expiring ``lifetime`` after ``now``."""
    bumped = copy.deepcopy(signed)
    bumped.version += 1
    bumped.expires = now + lifetime
    return bumped


def meta_file(version: int, data: bytes) -> MetaFile:
    """The snapshot/timestamp entry for metadata bytes: version, length and sha256."""
    return MetaFile(version, len(data), {"sha256": hashlib.sha256(data).hexdigest()})


class MetadataDir:
    """One directory of TUF metadata files, read and written as consistent snapshots."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        """True once a timestamp has been written here."""
        return (self.path / TIMESTAMP_FILE).is_file()

    def versions(self, role: str) -> list[int]:
        """The versions of ``role`` present as ``N.<role>.json``, ascending."""
        pattern = re.compile(rf"(\d+)\.{re.escape(role)}\.json")
        found = []
        if self.path.is_dir():
            for path in self.path.iterdir():
                match = pattern.fullmatch(path.name)
                if match:
                    found.append(int(match.group(1)))
        return sorted(found)

    def read_bytes(self, name: str) -> bytes:
        """The bytes of one metadata file.

        Raises:
            RepositoryNotFoundError: no such file (the repository was not created).
        """
        try:
            return (self.path / name).read_bytes()
        except FileNotFoundError as exc:
            raise RepositoryNotFoundError(f"no metadata {name} in {self.path}") from exc

    def read(self, name: str, kind: type[T]) -> Metadata[T]:
        """One metadata file, parsed and checked to be of ``kind``."""
        metadata = Metadata[T].from_bytes(self.read_bytes(name))
        if not isinstance(metadata.signed, kind):
            raise RepositoryNotFoundError(f"{self.path / name} is not {kind.type} metadata")
        return metadata

    def latest_root(self) -> Metadata[Root]:
        """The newest ``N.root.json``.

        Raises:
            RepositoryNotFoundError: there is none.
        """
        versions = self.versions(ROOT)
        if not versions:
            raise RepositoryNotFoundError(f"no root metadata in {self.path}")
        return self.read(f"{versions[-1]}.root.json", Root)

    def write(self, name: str, data: bytes) -> None:
        """Write one metadata file atomically."""
        atomic_write(self.path / name, data)

    def write_root(self, root: Metadata[Root]) -> None:
        """Write ``N.root.json`` (already signed and checked) atomically."""
        self.write(f"{root.signed.version}.root.json", root.to_bytes())

    def prune(self, role: str, current: int) -> None:
        """Delete versions of ``role`` more than ``KEEP_OLD_VERSIONS`` below ``current``."""
        for version in self.versions(role):
            if version <= current - KEEP_OLD_VERSIONS:
                (self.path / f"{version}.{role}.json").unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class Chain:
    """The current root, timestamp and snapshot of one repository."""

    root: Metadata[Root]
    timestamp: Metadata[Timestamp]
    snapshot: Metadata[Snapshot]

    def targets_version(self, role: str) -> int:
        """The current version of a targets role (top-level or delegated).

        Raises:
            RepositoryNotFoundError: the snapshot does not list the role.
        """
        entry = self.snapshot.signed.meta.get(f"{role}.json")
        if entry is None:
            raise RepositoryNotFoundError(f"the snapshot lists no role {role!r}")
        return entry.version


def load_chain(directory: MetadataDir, root: Metadata[Root]) -> Chain:
    """Read the current timestamp and the snapshot it names.

    Raises:
        RepositoryNotFoundError: the repository was not created (or is incomplete).
    """
    timestamp = directory.read(TIMESTAMP_FILE, Timestamp)
    version = timestamp.signed.snapshot_meta.version
    snapshot = directory.read(f"{version}.snapshot.json", Snapshot)
    return Chain(root, timestamp, snapshot)


def load_targets(directory: MetadataDir, chain: Chain, role: str) -> Metadata[Targets]:
    """The current metadata of a targets role (top-level or delegated)."""
    return directory.read(f"{chain.targets_version(role)}.{role}.json", Targets)


def commit(
    directory: MetadataDir,
    root: Metadata[Root],
    previous: Chain | None,
    new_targets: Mapping[str, Metadata[Targets]],
    keys: KeyStore,
    now: datetime,
    lifetimes: Lifetimes,
    *,
    resign_snapshot: bool = False,
) -> Chain:
    """Write new targets roles, then a new snapshot (if needed), then a new timestamp.

    ``new_targets`` are already signed and threshold-checked by the caller. The snapshot and
    timestamp are signed with the online keys the root lists for them. ``previous`` is None only
    when the repository is being created.

    Raises:
        InsufficientSignaturesError: the online keys this server holds do not reach the
            snapshot or timestamp threshold (nothing is written).
    """
    encoded = {role: metadata.to_bytes() for role, metadata in new_targets.items()}
    if previous is None or encoded or resign_snapshot:
        if previous is None:
            snapshot_payload = Snapshot(version=1, expires=now + lifetimes.snapshot, meta={})
        else:
            snapshot_payload = bump(previous.snapshot.signed, now, lifetimes.snapshot)
        for role, data in encoded.items():
            snapshot_payload.meta[f"{role}.json"] = meta_file(
                new_targets[role].signed.version, data
            )
        snapshot = _online_signed(root, SNAPSHOT, snapshot_payload, keys)
        encoded_snapshot = snapshot.to_bytes()
        snapshot_bytes: bytes | None = encoded_snapshot
        snapshot_meta = meta_file(snapshot.signed.version, encoded_snapshot)
    else:
        snapshot = previous.snapshot
        snapshot_bytes = None
        snapshot_meta = previous.timestamp.signed.snapshot_meta
    if previous is None:
        timestamp_payload = Timestamp(version=1, expires=now + lifetimes.timestamp)
    else:
        timestamp_payload = bump(previous.timestamp.signed, now, lifetimes.timestamp)
    timestamp_payload.snapshot_meta = snapshot_meta
    timestamp = _online_signed(root, TIMESTAMP, timestamp_payload, keys)

    for role, data in encoded.items():
        directory.write(f"{new_targets[role].signed.version}.{role}.json", data)
    if snapshot_bytes is not None:
        directory.write(f"{snapshot.signed.version}.snapshot.json", snapshot_bytes)
    directory.write(TIMESTAMP_FILE, timestamp.to_bytes())
    for role, metadata in new_targets.items():
        directory.prune(role, metadata.signed.version)
    directory.prune(SNAPSHOT, snapshot.signed.version)
    return Chain(root, timestamp, snapshot)


def _online_signed(root: Metadata[Root], role: str, payload: T, keys: KeyStore) -> Metadata[T]:
    signers = keys.online_signers(root.signed.roles[role].keyids)
    metadata = sign(payload, signers)
    require_threshold(root.signed, role, metadata)
    return metadata


def sign_root(previous: Root | None, new_root: Root, signers: Sequence[Signer]) -> Metadata[Root]:
    """``new_root`` signed by those of ``signers`` the previous or new root lists for root.

    Raises:
        InsufficientSignaturesError: the old or the new root threshold is not reached.
    """
    keyids = set(new_root.roles[ROOT].keyids)
    if previous is not None:
        keyids |= set(previous.roles[ROOT].keyids)
    metadata = sign(new_root, [s for s in signers if s.public_key.keyid in keyids])
    require_root_threshold(previous, metadata)
    return metadata


def changed_root(
    current: Root,
    role: str,
    now: datetime,
    lifetime: timedelta,
    *,
    add: Sequence[Key] = (),
    revoke: Sequence[str] = (),
    threshold: int | None = None,
) -> Root:
    """The next root version with ``role``'s keys and threshold changed (pure).

    Raises:
        SigningInputError: unknown role, a revoked key the role does not have, or a threshold
            the resulting key set cannot reach.
    """
    if role not in TOP_LEVEL_ROLES:
        raise SigningInputError(f"{role!r} is not a top-level role")
    new_root = bump(current, now, lifetime)
    for key_id in revoke:
        if key_id not in new_root.roles[role].keyids:
            raise SigningInputError(f"key {key_id[:16]}… is not a {role} key")
        new_root.revoke_key(key_id, role)
    for key in add:
        new_root.add_key(key, role)
    if threshold is not None:
        new_root.roles[role].threshold = threshold
    check_threshold_value(new_root.roles[role].threshold, len(new_root.roles[role].keyids), role)
    return new_root
