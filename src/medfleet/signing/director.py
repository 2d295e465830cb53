"""The director: per-device signed instructions ("install this image now").

Under its own root and keys (root offline, targets/snapshot/timestamp online), the director
keeps one small TUF repository per device in ``<public-dir>/repo/director/<device-id>/metadata/``.
Its targets role lists exactly one target — the image the device should install now, with the
image repository's path, length and hashes and an ``Instruction`` as custom fields — or none.
Every root version is kept in ``repo/director/_root/`` and hard-linked into each device's
directory, so a device that missed rotations can walk them from the root it was enrolled with.

The device polls its ``timestamp.json``: a static file, nothing in the poll path touches a
database. Versions only increase, and expiries are short (``DIRECTOR_LIFETIMES``) so that a
frozen director is noticed; ``refresh_expiring`` (run by a worker) re-signs before expiry.

Guarantee: the director never lists a target that the image repository does not list now with
the same length, hashes, release and version number (and a delta it names must be an
image-repository delta to that target), so it cannot make a device install unreleased software.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from medfleet.agent.contract import ContractError, DeltaInfo, ImageInfo, Instruction
from medfleet.clock import Clock
from medfleet.signing.errors import (
    RepositoryExistsError,
    RepositoryNotFoundError,
    SigningInputError,
    TargetNotListedError,
)
from medfleet.signing.files import locked, place_immutable
from medfleet.signing.image_refresh import RefreshReport
from medfleet.signing.keys import KeyStore
from medfleet.signing.layout import (
    director_device_metadata_dir,
    director_dir,
    director_root_history,
)
from medfleet.signing.tuf_api import Key, Metadata, Root, Signer, TargetFile, Targets
from medfleet.signing.tufrepo import (
    ROOT,
    SNAPSHOT,
    TARGETS,
    TIMESTAMP,
    Chain,
    Lifetimes,
    MetadataDir,
    bump,
    check_threshold_value,
    commit,
    load_chain,
    load_targets,
    require_signers,
    require_threshold,
    sign,
    sign_root,
    signed_by_current_keys,
)

# Root is offline (a year). The rest is online and short: a device notices within an hour that
# the director stopped signing (freeze), and a day bounds how long a stale instruction lives.
DIRECTOR_LIFETIMES = Lifetimes(
    root=timedelta(days=365),
    targets=timedelta(days=1),
    snapshot=timedelta(days=1),
    timestamp=timedelta(hours=1),
)
DIRECTOR_ONLINE_ROLES = (TARGETS, SNAPSHOT, TIMESTAMP)
# The longest a device's instruction may stay valid for an offline field bundle.
FIELD_LIFETIME_MAX = timedelta(days=14)


class ImageTargets(Protocol):
    """Read access to the image repository's current targets (``ImageRepository`` has it)."""

    def image_target(self, target_path: str) -> TargetFile | None:
        """The target listed at ``target_path`` now, or None."""
        ...


class Director:
    """The director's repositories on disk; every method re-reads the current state."""

    def __init__(self, public_dir: Path, keys: KeyStore, clock: Clock, images: ImageTargets):
        self.public_dir = public_dir
        self.history = MetadataDir(director_root_history(public_dir))
        self.keys = keys
        self.clock = clock
        self.images = images

    @classmethod
    def create(
        cls,
        public_dir: Path,
        keys: KeyStore,
        clock: Clock,
        images: ImageTargets,
        *,
        root_keys: Sequence[Key],
        root_threshold: int,
        root_signers: Sequence[Signer],
    ) -> Director:
        """Create the director's root (version 1) with new online keys for the other roles.

        Raises:
            RepositoryExistsError: the director already has a root.
            SigningInputError: the threshold is not between 1 and the number of root keys.
            InsufficientSignaturesError: ``root_signers`` do not reach the threshold.
        """
        director = cls(public_dir, keys, clock, images)
        check_threshold_value(root_threshold, len(root_keys), ROOT)
        require_signers(ROOT, [key.keyid for key in root_keys], root_threshold, root_signers)
        with locked(director.history.path):
            if director.history.versions(ROOT):
                raise RepositoryExistsError(f"the director exists in {director.history.path}")
            root = Root(expires=clock.now() + DIRECTOR_LIFETIMES.root, consistent_snapshot=True)
            for key in root_keys:
                root.add_key(key, ROOT)
            root.roles[ROOT].threshold = root_threshold
            for role in DIRECTOR_ONLINE_ROLES:
                root.add_key(keys.generate_online_key().public_key, role)
            director.history.write_root(sign_root(None, root, root_signers))
        return director

    # --- reading ------------------------------------------------------------------------

    def root(self) -> Metadata[Root]:
        """The director's current root.

        Raises:
            RepositoryNotFoundError: the director was not created.
        """
        return self.history.latest_root()

    def root_bytes(self, version: int = 1) -> bytes:
        """The exact bytes of the director's ``N.root.json`` (1 is what devices enroll with).

        Raises:
            RepositoryNotFoundError: no such root version.
        """
        return self.history.read_bytes(f"{version}.root.json")

    def devices(self) -> list[str]:
        """Every device that has director metadata, sorted."""
        base = director_dir(self.public_dir)
        found = []
        for entry in base.iterdir() if base.is_dir() else ():
            try:
                directory = self.device_dir(entry.name)
            except SigningInputError:
                continue  # the root history, or anything that is not a device directory
            if directory.exists():
                found.append(entry.name)
        return sorted(found)

    def assigned(self, device_id: str) -> TargetFile | None:
        """The target the device is told to install now, or None.

        Raises:
            RepositoryNotFoundError: the device has no director metadata.
        """
        directory = self.device_dir(device_id)
        chain = load_chain(directory, self.root())
        targets = load_targets(directory, chain, TARGETS).signed.targets
        return next(iter(targets.values()), None)

    # --- writing ------------------------------------------------------------------------

    def enroll(self, device_id: str) -> None:
        """Give a device its director metadata (no target) unless it already has some.

        Raises:
            SigningInputError: ``device_id`` is not a safe name.
            RepositoryNotFoundError: the director was not created.
        """
        with self._device_lock(device_id) as directory:
            if not directory.exists():
                self.sign_device(directory, self.root(), None, {})

    def assign(
        self,
        device_id: str,
        target_path: str,
        length: int,
        hashes: Mapping[str, str],
        instruction: Instruction,
        *,
        lifetime: timedelta | None = None,
    ) -> TargetFile:
        """Tell the device to install ``target_path`` now (replacing any earlier instruction).

        ``length`` and ``hashes`` must equal the image repository's (all algorithms it lists).
        ``lifetime`` (at most ``FIELD_LIFETIME_MAX``) makes this version of the device's
        targets, snapshot and timestamp last longer than the online default: an offline field
        bundle must still verify when the technician reaches the device. The worker's refresh
        returns the device to the short online lifetimes when these near their expiry.

        Raises:
            TargetNotListedError: the image repository does not list that image with this
                length, hashes, release id and version number, or the delta is not one to it.
            SigningInputError: bad device id, or the instruction names another device.
        """
        if instruction.device_id != device_id:
            raise SigningInputError("the instruction names another device")
        lifetimes = DIRECTOR_LIFETIMES
        if lifetime is not None:
            if not timedelta(0) < lifetime <= FIELD_LIFETIME_MAX:
                raise SigningInputError(
                    f"a field lifetime must be positive and at most {FIELD_LIFETIME_MAX.days} days"
                )
            lifetimes = Lifetimes(DIRECTOR_LIFETIMES.root, lifetime, lifetime, lifetime)
        target = self._checked_target(target_path, length, dict(hashes), instruction)
        with self._device_lock(device_id) as directory:
            self.sign_device(
                directory, self.root(), self._chain(directory), {target_path: target}, lifetimes
            )
        return target

    def clear(self, device_id: str) -> None:
        """Withdraw the device's instruction: its targets list nothing from now on.

        Raises:
            SigningInputError: bad device id.
        """
        with self._device_lock(device_id) as directory:
            self.sign_device(directory, self.root(), self._chain(directory), {})

    def refresh_expiring(self, margin: timedelta) -> RefreshReport:
        """Re-sign every device whose targets, snapshot or timestamp expire within ``margin``.

        A device that lacks the newest root, or whose metadata is not signed by the keys the
        current root lists (a rotation interrupted half-way), is re-signed too. ``resigned``
        lists device ids; ``needs_offline`` is ``("root",)`` when the director's root itself
        expires within ``margin`` (renew it with ``director_keys.change_director_keys``).
        """
        resigned: list[str] = []
        with locked(self.history.path, shared=True):
            root = self.root()
            horizon = self.clock.now() + margin
            for device_id in self.devices():
                directory = self.device_dir(device_id)
                with locked(directory.path):
                    if self._refresh_device(directory, root, horizon):
                        resigned.append(device_id)
        needs_offline = (ROOT,) if root.signed.expires <= horizon else ()
        return RefreshReport(tuple(resigned), needs_offline)

    def _refresh_device(
        self, directory: MetadataDir, root: Metadata[Root], horizon: datetime
    ) -> bool:
        outdated_root = directory.versions(ROOT)[-1:] != [root.signed.version]
        if outdated_root:
            self.link_roots(directory)
        chain = load_chain(directory, root)
        targets = load_targets(directory, chain, TARGETS)
        if (
            outdated_root
            or targets.signed.expires <= horizon
            or not signed_by_current_keys(root.signed, TARGETS, targets)
        ):
            self.sign_device(directory, root, chain, None)
        elif chain.snapshot.signed.expires <= horizon or not signed_by_current_keys(
            root.signed, SNAPSHOT, chain.snapshot
        ):
            self._commit(directory, root, chain, {}, resign_snapshot=True)
        elif chain.timestamp.signed.expires <= horizon or not signed_by_current_keys(
            root.signed, TIMESTAMP, chain.timestamp
        ):
            self._commit(directory, root, chain, {})
        else:
            return False
        return True

    # --- building blocks (also used by ``director_keys``) --------------------------------

    def _checked_target(
        self, path: str, length: int, hashes: dict[str, str], instruction: Instruction
    ) -> TargetFile:
        image = self.images.image_target(path)
        if image is None or image.length != length or dict(image.hashes) != hashes:
            raise TargetNotListedError(
                f"the image repository does not list {path!r} with this length and hashes"
            )
        try:
            info = ImageInfo.from_custom(image.custom)
        except ContractError as exc:
            raise TargetNotListedError(f"{path!r} is not a released image: {exc}") from exc
        if (info.release_id, info.version_number) != (
            instruction.release_id,
            instruction.version_number,
        ):
            raise TargetNotListedError(
                f"{path!r} is release {info.release_id} version number {info.version_number}"
            )
        if instruction.delta_path is not None:
            delta = self.images.image_target(instruction.delta_path)
            try:
                to_path = DeltaInfo.from_custom(delta.custom if delta else None).to_path
            except ContractError as exc:
                raise TargetNotListedError(f"{instruction.delta_path!r} is no delta") from exc
            if to_path != path:
                raise TargetNotListedError(f"{instruction.delta_path!r} is not a delta to {path!r}")
        return TargetFile(length, dict(image.hashes), path, {"custom": instruction.to_custom()})

    def device_dir(self, device_id: str) -> MetadataDir:
        """One device's metadata directory (it may not exist yet).

        Raises:
            SigningInputError: ``device_id`` is not a safe name.
        """
        try:
            return MetadataDir(director_device_metadata_dir(self.public_dir, device_id))
        except ContractError as exc:
            raise SigningInputError(str(exc)) from exc

    @contextmanager
    def _device_lock(self, device_id: str) -> Iterator[MetadataDir]:
        directory = self.device_dir(device_id)
        if not self.history.versions(ROOT):
            raise RepositoryNotFoundError("the director was not created")
        with locked(self.history.path, shared=True), locked(directory.path):
            self.link_roots(directory)
            yield directory

    def _chain(self, directory: MetadataDir) -> Chain | None:
        return load_chain(directory, self.root()) if directory.exists() else None

    def link_roots(self, directory: MetadataDir) -> None:
        """Hard-link every director root version that ``directory`` lacks into it."""
        present = set(directory.versions(ROOT))
        for version in self.history.versions(ROOT):
            if version not in present:
                name = f"{version}.root.json"
                place_immutable(self.history.path / name, directory.path / name)

    def sign_device(
        self,
        directory: MetadataDir,
        root: Metadata[Root],
        chain: Chain | None,
        targets: dict[str, TargetFile] | None,
        lifetimes: Lifetimes = DIRECTOR_LIFETIMES,
    ) -> None:
        """Sign and write the device's next targets (``None`` keeps the current entries),
        snapshot and timestamp with the online keys ``root`` lists, valid for ``lifetimes``.

        Raises:
            InsufficientSignaturesError: this server lacks those online keys.
        """
        now = self.clock.now()
        if chain is None:
            payload = Targets(expires=now + lifetimes.targets, targets={})
        else:
            current = load_targets(directory, chain, TARGETS).signed
            payload = bump(current, now, lifetimes.targets)
        if targets is not None:
            payload.targets = targets
        signed = sign(payload, self.keys.online_signers(root.signed.roles[TARGETS].keyids))
        require_threshold(root.signed, TARGETS, signed)
        self._commit(directory, root, chain, {TARGETS: signed}, lifetimes=lifetimes)

    def _commit(
        self,
        directory: MetadataDir,
        root: Metadata[Root],
        chain: Chain | None,
        new_targets: dict[str, Metadata[Targets]],
        *,
        resign_snapshot: bool = False,
        lifetimes: Lifetimes = DIRECTOR_LIFETIMES,
    ) -> None:
        commit(
            directory,
            root,
            chain,
            new_targets,
            self.keys,
            self.clock.now(),
            lifetimes,
            resign_snapshot=resign_snapshot,
        )
