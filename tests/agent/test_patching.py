"""Applying deltas on the device: round trips, the header, and every way a delta is refused.

The deltas are built here with bsdiff4 and zstandard directly (the agent tests need nothing
from the server); ``tests/releases/test_deltas.py`` covers the server's builder.
"""

from __future__ import annotations

import bz2
import hashlib
import struct
import tempfile
from pathlib import Path

import bsdiff4
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from medfleet.agent.contract import DeltaMethod
from medfleet.agent.errors import AgentError
from medfleet.agent.patching import (
    HEADER_SIZE,
    DeltaBaseMismatchError,
    DeltaError,
    DeltaFormatError,
    DeltaHeader,
    DeltaOutputMismatchError,
    DeltaTargetMismatchError,
    DeltaTooLargeError,
    apply_delta,
    read_header,
    zstd_window_log,
)

OLD = b"".join(b"block %06d of the running image\n" % n for n in range(3000))
NEW = OLD[:20000] + b"patched: dose limit table v2\n" + OLD[20000:60000] + OLD[70000:]
METHODS: tuple[DeltaMethod, ...] = ("bsdiff4", "zstd-patch-from")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def zstd_payload(old: bytes, new: bytes) -> bytes:
    params = zstandard.ZstdCompressionParameters.from_level(
        19, window_log=zstd_window_log(len(old), len(new)), enable_ldm=True
    )
    dictionary = zstandard.ZstdCompressionDict(old, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    return zstandard.ZstdCompressor(dict_data=dictionary, compression_params=params).compress(new)


def make_delta(
    old: bytes, new: bytes, method: DeltaMethod, header: DeltaHeader | None = None
) -> bytes:
    payload = bsdiff4.diff(old, new) if method == "bsdiff4" else zstd_payload(old, new)
    header = header or DeltaHeader(method, sha(old), sha(new), len(old), len(new))
    return header.encode() + payload


def bsdiff_payload(new_size: int, control: bytes, diff: bytes, extra: bytes) -> bytes:
    blocks = [bz2.compress(control), bz2.compress(diff), bz2.compress(extra)]
    head = struct.pack("<8sQQQ", b"BSDIFF40", len(blocks[0]), len(blocks[1]), new_size)
    return head + b"".join(blocks)


def control_record(copy: int, insert: int, seek: int) -> bytes:
    def encode(value: int) -> bytes:
        return struct.pack("<Q", abs(value) | (1 << 63 if value < 0 else 0))

    return encode(copy) + encode(insert) + encode(seek)


@pytest.fixture
def old_image(tmp_path: Path) -> Path:
    path = tmp_path / "slot-a.img"
    path.write_bytes(OLD)
    return path


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def leftovers(directory: Path, *expected: str) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name not in expected)


@pytest.mark.parametrize("method", METHODS)
def test_delta_reconstructs_the_new_image(method: DeltaMethod, old_image: Path) -> None:
    delta = write(old_image.with_name("d.delta"), make_delta(OLD, NEW, method))
    out = old_image.with_name("slot-b.img")

    header = apply_delta(old_image, delta, out, sha(NEW), len(NEW))

    assert out.read_bytes() == NEW
    assert header == DeltaHeader(method, sha(OLD), sha(NEW), len(OLD), len(NEW))
    assert read_header(delta) == header
    assert leftovers(out.parent) == ["d.delta", "slot-a.img", "slot-b.img"]


@pytest.mark.parametrize("method", METHODS)
def test_a_delta_for_another_base_is_refused(method: DeltaMethod, tmp_path: Path) -> None:
    same_length = bytearray(OLD)
    same_length[100] ^= 0x20
    delta = write(tmp_path / "d.delta", make_delta(OLD, NEW, method))
    for installed in (bytes(same_length), OLD[:-1], b""):
        old = write(tmp_path / "slot-a.img", installed)
        with pytest.raises(DeltaBaseMismatchError):
            apply_delta(old, delta, tmp_path / "slot-b.img", sha(NEW), len(NEW))
    assert leftovers(tmp_path) == ["d.delta", "slot-a.img"]


def test_a_delta_for_another_target_is_refused_before_reading_the_base(tmp_path: Path) -> None:
    delta = write(tmp_path / "d.delta", make_delta(OLD, NEW, "zstd-patch-from"))
    missing_base = tmp_path / "no-such-slot"

    with pytest.raises(DeltaTargetMismatchError):
        apply_delta(missing_base, delta, tmp_path / "out", sha(NEW + b"x"), len(NEW) + 1)
    with pytest.raises(DeltaTargetMismatchError):
        apply_delta(missing_base, delta, tmp_path / "out", sha(NEW), len(NEW) + 1)


def test_declared_output_over_the_limit_is_refused(old_image: Path) -> None:
    delta = write(old_image.with_name("d.delta"), make_delta(OLD, NEW, "zstd-patch-from"))

    with pytest.raises(DeltaTooLargeError):
        apply_delta(old_image, delta, old_image.with_name("o"), sha(NEW), len(NEW), max_output=1000)


def test_bsdiff_over_its_memory_limit_is_refused(old_image: Path) -> None:
    delta = write(old_image.with_name("d.delta"), make_delta(OLD, NEW, "bsdiff4"))

    with pytest.raises(DeltaTooLargeError):
        apply_delta(
            old_image, delta, old_image.with_name("o"), sha(NEW), len(NEW), bsdiff_limit=50_000
        )


@pytest.mark.parametrize("method", METHODS)
def test_a_payload_that_builds_something_else_leaves_the_output_untouched(
    method: DeltaMethod, old_image: Path
) -> None:
    other = NEW.replace(b"dose limit", b"DOSE LIMIT")
    lying = DeltaHeader(method, sha(OLD), sha(NEW), len(OLD), len(NEW))
    delta = write(old_image.with_name("d.delta"), make_delta(OLD, other, method, lying))
    out = write(old_image.with_name("slot-b.img"), b"previous contents")

    with pytest.raises(DeltaOutputMismatchError):
        apply_delta(old_image, delta, out, sha(NEW), len(NEW))

    assert out.read_bytes() == b"previous contents"
    assert leftovers(out.parent) == ["d.delta", "slot-a.img", "slot-b.img"]


def test_zstd_output_beyond_the_declared_length_is_cut_off(old_image: Path) -> None:
    endless = NEW + NEW[:5000]
    lying = DeltaHeader("zstd-patch-from", sha(OLD), sha(NEW), len(OLD), len(NEW))
    delta = write(
        old_image.with_name("d.delta"), make_delta(OLD, endless, "zstd-patch-from", lying)
    )
    out = old_image.with_name("slot-b.img")

    with pytest.raises(DeltaOutputMismatchError, match="exceeds"):
        apply_delta(old_image, delta, out, sha(NEW), len(NEW))
    assert leftovers(out.parent) == ["d.delta", "slot-a.img"]


def test_zstd_frame_needing_a_larger_window_than_the_images_is_refused(old_image: Path) -> None:
    huge = NEW * 40
    lying = DeltaHeader("zstd-patch-from", sha(OLD), sha(NEW), len(OLD), len(NEW))
    delta = write(old_image.with_name("d.delta"), make_delta(OLD, huge, "zstd-patch-from", lying))

    with pytest.raises(DeltaFormatError, match="memory"):
        apply_delta(old_image, delta, old_image.with_name("o"), sha(NEW), len(NEW))
    assert leftovers(old_image.parent) == ["d.delta", "slot-a.img"]


def test_bsdiff_payload_for_another_size_is_refused(old_image: Path) -> None:
    lying = DeltaHeader("bsdiff4", sha(OLD), sha(NEW), len(OLD), len(NEW) - 1)
    delta = write(old_image.with_name("d.delta"), make_delta(OLD, NEW, "bsdiff4", lying))

    with pytest.raises(DeltaFormatError, match="payload header"):
        apply_delta(old_image, delta, old_image.with_name("o"), sha(NEW), len(NEW) - 1)


@pytest.mark.parametrize(
    ("control", "diff", "extra", "message"),
    [
        pytest.param(control_record(-4, 8, 0), b"", b"\0" * 8, "negative", id="negative-copy"),
        pytest.param(control_record(4, -4, 0), b"\0" * 4, b"", "negative", id="negative-insert"),
        pytest.param(control_record(8, 0, 0), b"\0" * 4, b"\0" * 4, "overrun", id="overrun"),
        pytest.param(control_record(2, 2, 0), b"\0" * 4, b"\0" * 4, "add up", id="short"),
        pytest.param(
            control_record(4, 4, 0)[:-1], b"\0" * 4, b"\0" * 4, "whole number", id="torn-record"
        ),
    ],
)
def test_bsdiff_control_records_are_checked_before_the_c_code_runs(
    old_image: Path, control: bytes, diff: bytes, extra: bytes, message: str
) -> None:
    new = b"\0" * 8
    header = DeltaHeader("bsdiff4", sha(OLD), sha(new), len(OLD), len(new))
    payload = bsdiff_payload(len(new), control, diff, extra)
    delta = write(old_image.with_name("d.delta"), header.encode() + payload)

    with pytest.raises(DeltaFormatError, match=message):
        apply_delta(old_image, delta, old_image.with_name("o"), sha(new), len(new))


def test_bsdiff_blocks_that_decompress_past_the_image_are_refused(old_image: Path) -> None:
    new = b"\0" * 8
    header = DeltaHeader("bsdiff4", sha(OLD), sha(new), len(OLD), len(new))
    bomb = bsdiff_payload(len(new), control_record(8, 0, 0), b"\0" * 10_000_000, b"")
    delta = write(old_image.with_name("d.delta"), header.encode() + bomb)

    with pytest.raises(DeltaFormatError, match="larger than the image"):
        apply_delta(old_image, delta, old_image.with_name("o"), sha(new), len(new))


@pytest.mark.parametrize("method", METHODS)
def test_damaged_payloads_are_refused(method: DeltaMethod, old_image: Path) -> None:
    good = make_delta(OLD, NEW, method)
    flipped = bytearray(good)
    flipped[HEADER_SIZE + len(good[HEADER_SIZE:]) // 2] ^= 0xFF
    for damaged in (bytes(flipped), good[: HEADER_SIZE + 40], good[:HEADER_SIZE]):
        delta = write(old_image.with_name("d.delta"), damaged)
        with pytest.raises((DeltaFormatError, DeltaOutputMismatchError)):
            apply_delta(old_image, delta, old_image.with_name("o"), sha(NEW), len(NEW))
    assert leftovers(old_image.parent) == ["d.delta", "slot-a.img"]


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (0, b"X", "magic"),
        (8, b"\x02", "version"),
        (9, b"\x07", "method"),
        (10, b"\x01", "reserved"),
    ],
)
def test_header_fields_are_checked(offset: int, value: bytes, message: str) -> None:
    encoded = bytearray(DeltaHeader("bsdiff4", sha(OLD), sha(NEW), 1, 2).encode())
    encoded[offset : offset + 1] = value

    with pytest.raises(DeltaFormatError, match=message):
        DeltaHeader.decode(bytes(encoded))


def test_header_refuses_short_input_and_bad_fields() -> None:
    with pytest.raises(DeltaFormatError, match="needs 92 bytes"):
        DeltaHeader.decode(b"MFDELTA\x00")
    with pytest.raises(DeltaFormatError):
        DeltaHeader("bsdiff4", "ab" * 31, sha(NEW), 1, 2)
    with pytest.raises(DeltaFormatError):
        DeltaHeader("bsdiff4", sha(OLD), sha(NEW), -1, 2)
    with pytest.raises(DeltaFormatError):
        DeltaHeader("xdelta3", sha(OLD), sha(NEW), 1, 2)  # type: ignore[arg-type]


headers = st.builds(
    DeltaHeader,
    method=st.sampled_from(METHODS),
    from_sha256=st.binary(min_size=32, max_size=32).map(bytes.hex),
    to_sha256=st.binary(min_size=32, max_size=32).map(bytes.hex),
    from_length=st.integers(0, 2**63 - 1),
    to_length=st.integers(0, 2**63 - 1),
)


@given(header=headers, trailing=st.binary(max_size=16))
def test_header_round_trips(header: DeltaHeader, trailing: bytes) -> None:
    encoded = header.encode()

    assert len(encoded) == HEADER_SIZE
    assert DeltaHeader.decode(encoded + trailing) == header


@given(
    data=st.one_of(
        st.binary(max_size=120),
        headers.map(DeltaHeader.encode).flatmap(
            lambda raw: st.tuples(st.integers(0, HEADER_SIZE - 1), st.integers(0, 255)).map(
                lambda change: raw[: change[0]] + bytes([change[1]]) + raw[change[0] + 1 :]
            )
        ),
    )
)
def test_header_parsing_accepts_only_canonical_headers(data: bytes) -> None:
    try:
        header = DeltaHeader.decode(data)
    except DeltaFormatError:
        return
    assert header.encode() == data[:HEADER_SIZE]


@settings(max_examples=60, deadline=None)
@given(
    old=st.binary(max_size=3000),
    edits=st.lists(st.tuples(st.integers(0, 3000), st.binary(max_size=40)), max_size=5),
    method=st.sampled_from(METHODS),
)
def test_any_delta_round_trips(
    old: bytes, edits: list[tuple[int, bytes]], method: DeltaMethod
) -> None:
    new = old
    for position, insert in edits:
        new = new[:position] + insert + new[position + len(insert) // 2 :]
    with tempfile.TemporaryDirectory() as work:
        directory = Path(work)
        delta = write(directory / "d.delta", make_delta(old, new, method))
        out = directory / "new.img"

        apply_delta(write(directory / "old.img", old), delta, out, sha(new), len(new))

        assert out.read_bytes() == new
        assert leftovers(directory) == ["d.delta", "new.img", "old.img"]


def test_every_refusal_is_a_delta_error() -> None:
    assert issubclass(DeltaError, AgentError)
    for error in (
        DeltaFormatError,
        DeltaBaseMismatchError,
        DeltaTargetMismatchError,
        DeltaTooLargeError,
        DeltaOutputMismatchError,
    ):
        assert issubclass(error, DeltaError)
