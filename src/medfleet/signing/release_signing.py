"""The signing service a release approval calls: put an approved image, and its deltas, into TUF.

``sign_release`` is the only way an image reaches targets metadata. The caller (the release
record's approval, once its e-signatures are complete) passes the targets keys of the QA/RA users
who just re-authenticated; the model role's threshold decides whether that is enough. Then it
builds, checks and publishes deltas from the most recent published images of the same model that
may update to it, so that devices download a few percent of the image instead of all of it.

Guarantees: the image is published before any delta (a delta always points at a listed image);
a refused image (rollback, too few signatures, bad fields) publishes nothing; a retry after an
interruption is harmless (publishing is idempotent and each delta is built once per pair). A
delta that is not smaller than the zstd-compressed full image is not published.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from medfleet.agent.contract import ContractError, DeltaInfo, ImageInfo
from medfleet.releases.deltas import DeltaArtifact, build_delta
from medfleet.signing.distribution import Distribution
from medfleet.signing.image_publish import publish_delta, publish_image, target_kind
from medfleet.signing.layout import stored_target_path
from medfleet.signing.tuf_api import Signer, TargetFile

DEFAULT_DELTA_BASES = 3


@dataclass(frozen=True, slots=True)
class ReleaseToSign:
    """An approved release's image: its blob in the store, its file name and its target fields."""

    image_sha256: str
    filename: str
    info: ImageInfo


@dataclass(frozen=True, slots=True)
class PublishedDelta:
    """A delta published next to the release, from an earlier image of the model."""

    path: str
    from_version: str
    from_version_number: int
    length: int
    full_compressed_length: int | None


@dataclass(frozen=True, slots=True)
class SignedRelease:
    """What ``sign_release`` put into the image repository."""

    image_path: str
    image: TargetFile
    deltas: tuple[PublishedDelta, ...]
    skipped_deltas: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "image_path": self.image_path,
            "length": self.image.length,
            "sha256": self.image.hashes["sha256"],
            "deltas": [
                {
                    "path": d.path,
                    "from_version": d.from_version,
                    "length": d.length,
                    "full_compressed_length": d.full_compressed_length,
                }
                for d in self.deltas
            ],
            "skipped_deltas": list(self.skipped_deltas),
        }


def delta_bases(
    published: dict[str, TargetFile], info: ImageInfo, limit: int
) -> list[tuple[TargetFile, ImageInfo]]:
    """The ``limit`` newest published images of the model below ``info`` that may update to it."""
    images: list[tuple[TargetFile, ImageInfo]] = []
    for target in published.values():
        if target_kind(target) != "image":
            continue
        try:
            base = ImageInfo.from_custom(target.custom)
        except ContractError:
            continue
        floor = info.min_from_version_number
        if base.version_number < info.version_number and (
            floor is None or base.version_number >= floor
        ):
            images.append((target, base))
    images.sort(key=lambda pair: pair[1].version_number, reverse=True)
    return images[:limit]


def sign_release(
    distribution: Distribution,
    release: ReleaseToSign,
    signers: Sequence[Signer],
    *,
    max_delta_bases: int = DEFAULT_DELTA_BASES,
) -> SignedRelease:
    """Publish the release's image signed by ``signers``, then deltas from recent images.

    Raises:
        BlobNotFoundError: the image is not in the blob store.
        UnknownModelError: the model has no delegated role.
        RollbackError: the version number is not above every published image's.
        InsufficientSignaturesError: ``signers`` do not reach the model role's threshold.
        TargetConflictError: the file name is published with other content.
        SigningInputError: malformed fields (see ``publish_image``).
        DeltaBuildError: a delta did not reconstruct its target (the image stays published;
            retrying is safe).
    """
    store = distribution.blobs
    image_file = store.path_of(release.image_sha256)
    info = release.info
    published_before = distribution.image.model_targets(info.model)
    image = publish_image(distribution.image, image_file, release.filename, info, signers)
    image_path = f"{info.model}/{release.filename}"
    deltas: list[PublishedDelta] = []
    skipped: list[str] = []
    for base_target, base in delta_bases(published_before, info, max_delta_bases):
        base_sha256 = base_target.hashes["sha256"]
        if not store.contains(base_sha256):
            stored = stored_target_path(
                distribution.image.targets_dir, base_target.path, base_sha256
            )
            store.put_file(stored)
        artifact = build_delta(store, base_sha256, release.image_sha256)
        if artifact.smaller_than_full is False:
            skipped.append(f"{base.version}: delta not smaller than the compressed image")
            continue
        deltas.append(_publish(distribution, artifact, base, image_path, info, signers))
    return SignedRelease(image_path, image, tuple(deltas), tuple(skipped))


def _publish(
    distribution: Distribution,
    artifact: DeltaArtifact,
    base: ImageInfo,
    image_path: str,
    info: ImageInfo,
    signers: Sequence[Signer],
) -> PublishedDelta:
    filename = f"{base.version_number}-to-{info.version_number}.{artifact.method}.mfdelta"
    delta_info = DeltaInfo(info.model, artifact.from_sha256, image_path, artifact.method)
    delta_file = distribution.blobs.path_of(artifact.delta.sha256)
    target = publish_delta(distribution.image, delta_file, filename, delta_info, signers)
    return PublishedDelta(
        target.path,
        base.version,
        base.version_number,
        target.length,
        artifact.full_compressed_length,
    )
