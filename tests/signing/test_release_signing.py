"""The release signing service: approved images and their deltas into the image repository."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

import pytest

from medfleet.agent.contract import DeltaInfo, ImageInfo
from medfleet.agent.patching import apply_delta
from medfleet.signing.distribution import Distribution
from medfleet.signing.errors import InsufficientSignaturesError, RollbackError
from medfleet.signing.image_publish import target_kind
from medfleet.signing.image_repo import model_role_name
from medfleet.signing.release_signing import ReleaseToSign, sign_release
from medfleet.signing.tufrepo import TARGETS
from tests.signing.helpers import MODEL, Signing


@pytest.fixture
def distribution(signing: Signing, tmp_path: Path) -> Distribution:
    """The signing fixture's repositories with a blob store, as the server opens them."""
    blob_dir = tmp_path / "blobs"
    public = blob_dir / "public"
    public.parent.mkdir(parents=True, exist_ok=True)
    signing.public_dir.rename(public)
    return Distribution.for_directories(blob_dir, tmp_path / "keys", signing.clock)


def firmware(version_number: int, size: int = 200_000) -> bytes:
    """A compressible image that changes a little from one version to the next."""
    rng = random.Random(7)  # noqa: S311 - test data, not a secret
    words = [rng.choice([b"pump", b"rate", b"alarm", b"bolus", b"dose"]) for _ in range(size // 4)]
    body = bytearray(b"".join(words)[:size])
    for offset in range(0, size, 9973):
        body[offset] = (body[offset] + version_number) % 256
    return bytes(body)


def release(
    distribution: Distribution, number: int, content: bytes, floor: int | None = None
) -> ReleaseToSign:
    blob = distribution.blobs.put_bytes(content)
    info = ImageInfo(
        release_id=f"R-{number}",
        model=MODEL,
        hardware_revisions=("B",),
        version=f"4.{number}.0",
        version_number=number,
        min_from_version_number=floor,
    )
    return ReleaseToSign(blob.sha256, f"{MODEL}-4.{number}.0.img", info)


def role_version(distribution: Distribution) -> int:
    return distribution.image.chain().targets_version(model_role_name(MODEL))


def test_first_release_is_published_without_deltas(
    distribution: Distribution, signing: Signing
) -> None:
    signed = sign_release(distribution, release(distribution, 1, firmware(1)), [signing.qa])
    assert signed.image_path == f"{MODEL}/{MODEL}-4.1.0.img"
    assert signed.deltas == ()
    listed = distribution.image.image_target(signed.image_path)
    assert listed is not None
    assert listed.hashes["sha256"] == hashlib.sha256(firmware(1)).hexdigest()
    assert ImageInfo.from_custom(listed.custom).release_id == "R-1"


def test_next_release_gets_a_checked_delta_that_rebuilds_it(
    distribution: Distribution, signing: Signing, tmp_path: Path
) -> None:
    sign_release(distribution, release(distribution, 1, firmware(1)), [signing.qa])
    signed = sign_release(distribution, release(distribution, 2, firmware(2)), [signing.qa])
    [delta] = signed.deltas
    assert delta.from_version_number == 1
    assert delta.full_compressed_length is not None
    assert delta.length < delta.full_compressed_length
    target = distribution.image.image_target(delta.path)
    assert target is not None
    assert target_kind(target) == "delta"
    assert DeltaInfo.from_custom(target.custom).to_path == signed.image_path
    # what a device does with it: old image + delta = exactly the new image
    served = distribution.image.targets_dir / MODEL / "deltas"
    [delta_file] = served.glob(f"{target.hashes['sha256']}.*")
    old = tmp_path / "old.img"
    old.write_bytes(firmware(1))
    out = tmp_path / "new.img"
    apply_delta(old, delta_file, out, hashlib.sha256(firmware(2)).hexdigest(), len(firmware(2)))
    assert out.read_bytes() == firmware(2)


def test_deltas_only_from_versions_allowed_to_update(
    distribution: Distribution, signing: Signing
) -> None:
    for number in (1, 2, 3):
        sign_release(distribution, release(distribution, number, firmware(number)), [signing.qa])
    signed = sign_release(
        distribution, release(distribution, 4, firmware(4), floor=3), [signing.qa]
    )
    assert [d.from_version_number for d in signed.deltas] == [3]


def test_a_rollback_publishes_nothing(distribution: Distribution, signing: Signing) -> None:
    sign_release(distribution, release(distribution, 5, firmware(5)), [signing.qa])
    before = role_version(distribution)
    with pytest.raises(RollbackError):
        sign_release(distribution, release(distribution, 4, firmware(4)), [signing.qa])
    assert role_version(distribution) == before


def test_signers_below_the_model_threshold_publish_nothing(
    distribution: Distribution, signing: Signing
) -> None:
    top_before = distribution.image.chain().targets_version(TARGETS)
    with pytest.raises(InsufficientSignaturesError):
        # the admin holds the top-level targets key, not the model's
        sign_release(distribution, release(distribution, 1, firmware(1)), [signing.admin])
    assert distribution.image.model_targets(MODEL) == {}
    assert distribution.image.chain().targets_version(TARGETS) == top_before


def test_retrying_a_release_changes_nothing(distribution: Distribution, signing: Signing) -> None:
    sign_release(distribution, release(distribution, 1, firmware(1)), [signing.qa])
    first = sign_release(distribution, release(distribution, 2, firmware(2)), [signing.qa])
    version = role_version(distribution)
    again = sign_release(distribution, release(distribution, 2, firmware(2)), [signing.qa])
    assert again == first
    assert role_version(distribution) == version


def test_a_delta_no_smaller_than_the_compressed_image_is_skipped(
    distribution: Distribution, signing: Signing
) -> None:
    sign_release(distribution, release(distribution, 1, os.urandom(50_000)), [signing.qa])
    signed = sign_release(distribution, release(distribution, 2, os.urandom(50_000)), [signing.qa])
    assert signed.deltas == ()
    assert len(signed.skipped_deltas) == 1
    assert all(target_kind(t) == "image" for t in distribution.image.model_targets(MODEL).values())
