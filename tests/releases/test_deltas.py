"""Building delta artifacts: method choice, verification before publishing, built once."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfleet.agent.contract import DeltaMethod
from medfleet.agent.patching import DeltaHeader, apply_delta, read_header
from medfleet.releases.blobs import BlobStore
from medfleet.releases.deltas import (
    DeltaArtifact,
    build_delta,
    choose_method,
    find_delta,
)
from medfleet.releases.errors import BlobNotFoundError, DeltaBuildError

OLD = b"".join(b"record %06d: dose table entry, firmware 4.2\n" % n for n in range(4000))
NEW = (
    OLD[:50_000]
    + b"new alarm: occlusion downstream\n" * 20
    + OLD[50_000:150_000].replace(b"4.2", b"4.3")
)


def stored_files(store: BlobStore) -> set[str]:
    return {p.name for p in (store.root / "sha256").rglob("*") if p.is_file()}


def apply(store: BlobStore, artifact: DeltaArtifact, from_sha256: str, out: Path) -> bytes:
    apply_delta(
        store.path_of(from_sha256),
        store.path_of(artifact.delta.sha256),
        out,
        artifact.to_sha256,
        artifact.to_length,
    )
    return out.read_bytes()


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


@pytest.mark.parametrize("method", ["bsdiff4", "zstd-patch-from"])
def test_delta_is_stored_with_its_header_and_reconstructs_the_target(
    store: BlobStore, tmp_path: Path, method: DeltaMethod
) -> None:
    old, new = store.put_bytes(OLD), store.put_bytes(NEW)

    artifact = build_delta(store, old.sha256, new.sha256, method=method)

    assert (artifact.method, artifact.from_sha256, artifact.to_sha256) == (
        method,
        old.sha256,
        new.sha256,
    )
    assert artifact.to_length == len(NEW)
    assert not artifact.reused
    assert store.verify(artifact.delta.sha256) == artifact.delta
    assert read_header(store.path_of(artifact.delta.sha256)) == DeltaHeader(
        method, old.sha256, new.sha256, len(OLD), len(NEW)
    )
    assert apply(store, artifact, old.sha256, tmp_path / "out") == NEW
    assert artifact.full_compressed_length is not None
    assert artifact.delta.length < artifact.full_compressed_length
    assert artifact.smaller_than_full is True


def test_zstd_delta_reaches_back_to_the_start_of_a_large_old_image(store: BlobStore) -> None:
    old_bytes = os.urandom(4 * 1024 * 1024)  # incompressible: only matches into it help
    new_bytes = (
        old_bytes[:1000] + b"edit" + old_bytes[1000:3_000_000] + b"more" + old_bytes[3_000_000:]
    )
    old, new = store.put_bytes(old_bytes), store.put_bytes(new_bytes)

    artifact = build_delta(store, old.sha256, new.sha256, method="zstd-patch-from", level=3)

    assert artifact.delta.length < 10_000
    assert artifact.full_compressed_length is not None
    assert artifact.full_compressed_length > len(new_bytes)


def test_method_follows_the_size_limit(store: BlobStore) -> None:
    old, new = store.put_bytes(OLD), store.put_bytes(NEW)

    assert choose_method(len(OLD), len(NEW), bsdiff_limit=len(OLD)) == "bsdiff4"
    assert choose_method(len(OLD), len(NEW), bsdiff_limit=len(OLD) - 1) == "zstd-patch-from"
    small_limit = build_delta(store, old.sha256, new.sha256, bsdiff_limit=100_000)
    default_limit = build_delta(store, old.sha256, new.sha256)
    assert (small_limit.method, default_limit.method) == ("zstd-patch-from", "bsdiff4")


def test_bsdiff_is_refused_above_the_limit(store: BlobStore) -> None:
    old, new = store.put_bytes(OLD), store.put_bytes(NEW)

    with pytest.raises(DeltaBuildError, match="limited"):
        build_delta(store, old.sha256, new.sha256, method="bsdiff4", bsdiff_limit=100_000)
    assert stored_files(store) == {old.sha256, new.sha256}


def test_a_second_build_reuses_the_first(store: BlobStore) -> None:
    old, new = store.put_bytes(OLD), store.put_bytes(NEW)
    assert find_delta(store, old.sha256, new.sha256, "bsdiff4") is None

    first = build_delta(store, old.sha256, new.sha256)
    second = build_delta(store, old.sha256, new.sha256)

    assert second.reused
    assert second.delta == first.delta
    assert second.build_seconds == first.build_seconds
    assert find_delta(store, old.sha256, new.sha256, "bsdiff4") == second
    assert stored_files(store) == {old.sha256, new.sha256, first.delta.sha256}


def test_a_lost_delta_blob_is_built_again(store: BlobStore) -> None:
    old, new = store.put_bytes(OLD), store.put_bytes(NEW)
    first = build_delta(store, old.sha256, new.sha256)
    os.unlink(store.path_of(first.delta.sha256))

    assert find_delta(store, old.sha256, new.sha256, first.method) is None
    again = build_delta(store, old.sha256, new.sha256)
    assert not again.reused
    assert again.delta == first.delta


def test_concurrent_builders_of_one_pair_build_it_once(store: BlobStore) -> None:
    old, new = store.put_bytes(OLD), store.put_bytes(NEW)
    results: list[DeltaArtifact] = []

    def build() -> None:
        results.append(build_delta(store, old.sha256, new.sha256, method="zstd-patch-from"))

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({artifact.delta for artifact in results}) == 1
    assert sorted(artifact.reused for artifact in results) == [False, True, True, True]


def test_a_delta_that_does_not_reconstruct_is_never_stored(store: BlobStore) -> None:
    old, new = store.put_bytes(OLD), store.put_bytes(NEW)
    damaged_base = store.path_of(old.sha256)
    damaged_base.chmod(0o644)
    damaged_base.write_bytes(OLD.replace(b"record 000123", b"RECORD 000123"))

    with pytest.raises(DeltaBuildError, match="did not reconstruct"):
        build_delta(store, old.sha256, new.sha256)

    assert stored_files(store) == {old.sha256, new.sha256}
    assert find_delta(store, old.sha256, new.sha256, "bsdiff4") is None
    assert list((store.root / "incoming").iterdir()) == []


def test_a_delta_larger_than_the_compressed_image_is_still_reported(store: BlobStore) -> None:
    old = store.put_bytes(os.urandom(50_000))
    new = store.put_bytes(b"\0" * 200_000 + os.urandom(100))

    artifact = build_delta(store, old.sha256, new.sha256)

    assert artifact.full_compressed_length is not None
    assert artifact.delta.length >= artifact.full_compressed_length
    assert artifact.smaller_than_full is False
    assert store.contains(artifact.delta.sha256)


def test_comparison_with_the_full_image_can_be_skipped(store: BlobStore) -> None:
    old, new = store.put_bytes(OLD), store.put_bytes(NEW)

    artifact = build_delta(store, old.sha256, new.sha256, compare_with_full=False)

    assert artifact.full_compressed_length is None
    assert artifact.smaller_than_full is None


def test_bad_pairs_are_refused(store: BlobStore) -> None:
    old = store.put_bytes(OLD)
    unknown = hashlib.sha256(b"never stored").hexdigest()

    with pytest.raises(DeltaBuildError, match="two different"):
        build_delta(store, old.sha256, old.sha256)
    with pytest.raises(BlobNotFoundError):
        build_delta(store, old.sha256, unknown)
    with pytest.raises(BlobNotFoundError):
        build_delta(store, unknown, old.sha256)


@settings(max_examples=40, deadline=None)
@given(
    old=st.binary(max_size=2000),
    new=st.binary(max_size=2000),
    method=st.sampled_from(["bsdiff4", "zstd-patch-from"]),
)
def test_any_pair_round_trips_through_the_store(
    old: bytes, new: bytes, method: DeltaMethod
) -> None:
    if old == new:
        new += b"!"
    with tempfile.TemporaryDirectory() as root:
        store = BlobStore(Path(root))
        from_info, to_info = store.put_bytes(old), store.put_bytes(new)

        artifact = build_delta(store, from_info.sha256, to_info.sha256, method=method)

        assert apply(store, artifact, from_info.sha256, Path(root) / "out") == new
