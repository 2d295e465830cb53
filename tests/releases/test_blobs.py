"""The content-addressed blob store: hashes, layout, atomicity, idempotence, name checks."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tempfile
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from medfleet.errors import InvalidInput, NotFound, Unavailable, category_of
from medfleet.releases.blobs import BlobInfo, BlobStore, check_digest, consistent_target_name
from medfleet.releases.errors import (
    BlobCorruptError,
    BlobNotFoundError,
    BlobTooLargeError,
    InvalidDigestError,
)

CONTENT = b"infusion pump firmware 4.3.0\n" * 1000


def expected_info(data: bytes) -> BlobInfo:
    return BlobInfo(hashlib.sha256(data).hexdigest(), hashlib.sha512(data).hexdigest(), len(data))


class CountingStream(io.BytesIO):
    """A stream that records how many bytes were read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs")


def test_put_bytes_stores_under_sha256_with_both_hashes(store: BlobStore) -> None:
    info = store.put_bytes(CONTENT)

    assert info == expected_info(CONTENT)
    path = store.path_of(info.sha256)
    assert path == store.root / "sha256" / info.sha256[:2] / info.sha256
    assert path.read_bytes() == CONTENT
    assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert list((store.root / "incoming").iterdir()) == []


def test_put_file_and_put_stream_agree(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "image.bin"
    source.write_bytes(CONTENT)

    assert store.put_file(source) == store.put_stream(io.BytesIO(CONTENT)) == expected_info(CONTENT)
    with store.open(expected_info(CONTENT).sha256) as stream:
        assert stream.read() == CONTENT


def test_storing_twice_keeps_the_first_file(store: BlobStore) -> None:
    first = store.put_bytes(CONTENT)
    inode = store.path_of(first.sha256).stat().st_ino

    assert store.put_bytes(CONTENT) == first
    assert store.path_of(first.sha256).stat().st_ino == inode


def test_a_truncated_blob_is_replaced_by_the_next_put(store: BlobStore) -> None:
    info = store.put_bytes(CONTENT)
    path = store.path_of(info.sha256)
    path.chmod(0o644)
    path.write_bytes(CONTENT[:10])

    assert store.put_bytes(CONTENT) == info
    assert path.read_bytes() == CONTENT


def test_concurrent_puts_of_the_same_content_agree(store: BlobStore) -> None:
    results: list[BlobInfo] = []
    threads = [
        threading.Thread(target=lambda: results.append(store.put_bytes(CONTENT))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [expected_info(CONTENT)] * 8
    assert store.verify(results[0].sha256) == results[0]
    assert list((store.root / "incoming").iterdir()) == []


def test_max_length_stops_reading_and_stores_nothing(store: BlobStore) -> None:
    stream = CountingStream(CONTENT)

    with pytest.raises(BlobTooLargeError) as caught:
        store.put_stream(stream, max_length=100)

    assert category_of(caught.value) is InvalidInput
    assert stream.bytes_read == 101
    assert not store.contains(expected_info(CONTENT).sha256)
    assert list((store.root / "incoming").iterdir()) == []


def test_content_of_exactly_max_length_is_accepted(store: BlobStore) -> None:
    assert store.put_stream(io.BytesIO(CONTENT), max_length=len(CONTENT)).length == len(CONTENT)


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "A" * 64,
        "a" * 63,
        "a" * 65,
        "a" * 62 + "/x",
        "g" * 64,
        "",
        "a" * 64 + "\n",
    ],
)
def test_names_that_are_not_sha256_digests_are_refused(
    store: BlobStore, tmp_path: Path, name: str
) -> None:
    for operation in (
        store.path_of,
        store.open,
        store.contains,
        store.verify,
        lambda n: store.link(n, tmp_path / "out"),
        check_digest,
    ):
        with pytest.raises(InvalidDigestError) as caught:
            operation(name)
        assert category_of(caught.value) is InvalidInput
    assert not (tmp_path / "out").exists()


def test_unknown_blobs_are_not_found(store: BlobStore, tmp_path: Path) -> None:
    missing = hashlib.sha256(b"never stored").hexdigest()

    assert not store.contains(missing)
    for operation in (
        store.path_of,
        store.open,
        store.verify,
        lambda n: store.link(n, tmp_path / "x"),
    ):
        with pytest.raises(BlobNotFoundError) as caught:
            operation(missing)
        assert category_of(caught.value) is NotFound


def test_verify_rehashes_and_detects_damage(store: BlobStore) -> None:
    info = store.put_bytes(CONTENT)
    assert store.verify(info.sha256) == info

    path = store.path_of(info.sha256)
    path.chmod(0o644)
    damaged = bytearray(CONTENT)
    damaged[500] ^= 0x01
    path.write_bytes(bytes(damaged))

    with pytest.raises(BlobCorruptError) as caught:
        store.verify(info.sha256)
    assert category_of(caught.value) is Unavailable


def test_link_exposes_the_blob_as_a_hard_link_and_replaces_atomically(
    store: BlobStore, tmp_path: Path
) -> None:
    info = store.put_bytes(CONTENT)
    other = store.put_bytes(b"older image")
    target = tmp_path / "public" / "repo" / "image" / "targets" / "IP-100" / "fw.bin"

    assert store.link(other.sha256, target) == target
    assert store.link(info.sha256, target) == target
    assert store.link(info.sha256, target) == target

    assert target.read_bytes() == CONTENT
    assert os.path.samefile(target, store.path_of(info.sha256))
    assert sorted(p.name for p in target.parent.iterdir()) == ["fw.bin"]


def test_link_copies_across_file_systems(store: BlobStore) -> None:
    shm = Path("/dev/shm")  # noqa: S108 - a tmpfs: a second file system, not a temp file
    if not shm.is_dir() or shm.stat().st_dev == store.root.parent.stat().st_dev:
        pytest.skip("needs /dev/shm on another file system than the store")
    info = store.put_bytes(CONTENT)
    with tempfile.TemporaryDirectory(dir=shm) as other_fs:
        target = store.link(info.sha256, Path(other_fs) / "fw.bin")

        assert target.read_bytes() == CONTENT
        assert not os.path.samefile(target, store.path_of(info.sha256))
        assert sorted(p.name for p in Path(other_fs).iterdir()) == ["fw.bin"]


def test_consistent_target_name_prefixes_the_basename() -> None:
    digest = hashlib.sha256(b"x").hexdigest()

    assert consistent_target_name("IP-100/fw-4.3.0.img", digest) == f"IP-100/{digest}.fw-4.3.0.img"
    assert consistent_target_name("fw.img", digest) == f"{digest}.fw.img"
    with pytest.raises(InvalidDigestError):
        consistent_target_name("fw.img", "../x")


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=4096))
def test_any_content_round_trips(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as root:
        store = BlobStore(Path(root))
        info = store.put_bytes(data)

        assert info == expected_info(data)
        assert store.path_of(info.sha256).read_bytes() == data
        assert store.verify(info.sha256) == info
