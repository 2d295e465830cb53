"""Offline field bundles, server side: the files a device needs to verify and install a release.

``bundle_files`` collects, from the published tree and under each repository's lock, exactly
what python-tuf's client fetches: every root version (a device offline for months follows the
rotations), the current timestamp and the snapshot, targets and ``model-<model>`` versions it
leads to; each listed device's director metadata; the image and the deltas published to it.
``medfleet.agent.bundle.write_bundle`` turns them into one tar, and the agent verifies that tar
exactly as it verifies an online update (``medfleet-agent install-bundle``).

Nothing here decides which devices get the release: the caller assigns it through the director
first (with a lifetime long enough for the field visit), then collects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from medfleet.agent.contract import ContractError, DeltaInfo, ImageInfo
from medfleet.errors import NotFound
from medfleet.signing.director import Director
from medfleet.signing.errors import SigningError
from medfleet.signing.files import locked
from medfleet.signing.image_publish import target_kind
from medfleet.signing.image_repo import ImageRepository, model_role_name
from medfleet.signing.layout import stored_target_path
from medfleet.signing.tuf_api import TargetFile
from medfleet.signing.tufrepo import ROOT, SNAPSHOT, TARGETS, TIMESTAMP, MetadataDir, load_chain


class ReleaseNotPublishedError(SigningError, NotFound):
    """The image repository lists no image of this model with this release id."""


@dataclass(frozen=True, slots=True)
class PublishedRelease:
    """A release as the image repository lists it: the image and the deltas leading to it."""

    path: str
    target: TargetFile
    info: ImageInfo
    deltas: dict[str, TargetFile]

    def delta_from(self, version_number: int | None, images: dict[str, TargetFile]) -> str | None:
        """The delta path from the published image numbered ``version_number``, if any."""
        if version_number is None:
            return None
        for image in images.values():
            try:
                info = ImageInfo.from_custom(image.custom)
            except ContractError:
                continue
            if info.version_number == version_number:
                sha256 = image.hashes.get("sha256")
                for path, delta in self.deltas.items():
                    if DeltaInfo.from_custom(delta.custom).from_sha256 == sha256:
                        return path
        return None


def find_release(image: ImageRepository, model: str, release_id: str) -> PublishedRelease:
    """The published image of ``model`` for ``release_id`` and its deltas.

    Raises:
        ReleaseNotPublishedError: no such image is listed (never released, or another model).
        UnknownModelError: the model has no delegated role.
    """
    published = image.model_targets(model)
    for path, target in published.items():
        if target_kind(target) != "image":
            continue
        info = ImageInfo.from_custom(target.custom)
        if info.release_id == release_id:
            deltas = {
                delta_path: delta
                for delta_path, delta in published.items()
                if target_kind(delta) == "delta"
                and DeltaInfo.from_custom(delta.custom).to_path == path
            }
            return PublishedRelease(path, target, info, deltas)
    raise ReleaseNotPublishedError(f"release {release_id!r} is not published for {model}")


def all_images(image: ImageRepository, model: str) -> dict[str, TargetFile]:
    """Every published image (not delta) of ``model``, by path."""
    return {p: t for p, t in image.model_targets(model).items() if target_kind(t) == "image"}


def _current_metadata(
    directory: MetadataDir, roles: Iterable[str], root_dir: Path
) -> dict[str, bytes]:
    """Every root version, the timestamp, and the snapshot and ``roles`` versions it leads to."""
    names = [f"{version}.{ROOT}.json" for version in directory.versions(ROOT)]
    chain = load_chain(directory, directory.latest_root())
    names += [f"{TIMESTAMP}.json", f"{chain.snapshot.signed.version}.{SNAPSHOT}.json"]
    names += [f"{chain.targets_version(role)}.{role}.json" for role in roles]
    prefix = directory.path.relative_to(root_dir).as_posix()
    return {f"{prefix}/{name}": directory.read_bytes(name) for name in names}


def bundle_files(
    image: ImageRepository,
    director: Director,
    public_dir: Path,
    release: PublishedRelease,
    device_ids: Iterable[str],
) -> dict[str, bytes | Path]:
    """The bundle members (online layout names) for ``release`` and the given devices.

    Raises:
        RepositoryNotFoundError: a device has no director metadata.
    """
    model = release.info.model
    files: dict[str, bytes | Path] = {}
    with image.lock():
        files.update(
            _current_metadata(image.metadata, [TARGETS, model_role_name(model)], public_dir)
        )
    for device_id in device_ids:
        directory = director.device_dir(device_id)
        with locked(directory.path):
            files.update(_current_metadata(directory, [TARGETS], public_dir))
    for path, target in {release.path: release.target, **release.deltas}.items():
        stored = stored_target_path(image.targets_dir, path, target.hashes["sha256"])
        files[stored.relative_to(public_dir).as_posix()] = stored
    return files
