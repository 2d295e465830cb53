"""Turn the installed image into the new one with a delta artifact, or refuse.

A medfleet delta file is a fixed 92-byte header followed by the payload of one method
(``contract.DELTA_METHODS``)::

    magic "MFDELTA\\0" | version u8 | method u8 | reserved u16 (0)
    | from sha256 (32 bytes) | to sha256 (32 bytes) | from length u64 | to length u64

(big-endian). The header lets the device refuse a delta for the wrong base, or one that would
produce anything but the image it was told to install, before doing any work.

Payloads:

- ``bsdiff4``: a BSDIFF40 patch. Applying it is in memory by nature: peak memory is about
  ``from_length + 3 * to_length``, so both images must be at most ``bsdiff_limit`` bytes.
  The control, diff and extra blocks are decompressed with bounded output and the control
  records are checked before the C code sees them.
- ``zstd-patch-from``: one zstandard frame compressed with the old image as a raw-content
  dictionary. Decompression streams to disk; memory is a copy of the old image (the
  dictionary; twice the old image for a moment while it is copied from the memory-mapped file)
  plus the decoder's window, which is bounded by ``to_length``.

Whatever the method, the output is written to a temporary file next to ``out_path`` (named
like ``medfleet.agent.atomic``'s, so ``remove_stale_temp_files`` clears one left by a power
loss), never grows past the declared length, and replaces ``out_path`` only once its length
and sha256 are the expected ones. This module imports nothing from the server.
"""

from __future__ import annotations

import bz2
import contextlib
import hashlib
import math
import mmap
import os
import re
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import bsdiff4.core
import zstandard

from medfleet.agent.atomic import TEMP_SUFFIX, fsync_dir
from medfleet.agent.contract import DELTA_METHODS, DeltaMethod
from medfleet.agent.errors import AgentError

MAGIC = b"MFDELTA\x00"
FORMAT_VERSION = 1
HEADER_SIZE = 92
BSDIFF_LIMIT = 64 * 1024 * 1024
DEFAULT_MAX_OUTPUT = 4 * 1024 * 1024 * 1024
# bsdiff4's C code keeps lengths in a C int.
_BSDIFF_HARD_LIMIT = 2**31 - 1
_HEADER = struct.Struct(">8sBBH32s32sQQ")
_METHOD_CODES: dict[DeltaMethod, int] = {"bsdiff4": 1, "zstd-patch-from": 2}
_METHODS_BY_CODE: dict[int, DeltaMethod] = {code: name for name, code in _METHOD_CODES.items()}
_BSDIFF_MAGIC = b"BSDIFF40"
_BSDIFF_HEADER = struct.Struct("<8sQQQ")
_CONTROL_RECORD = struct.Struct("<QQQ")
_SIGN_BIT = 1 << 63
_CHUNK = 1024 * 1024
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class DeltaError(AgentError):
    """Base of every reason a delta is not applied; the old image is untouched in every case."""


class DeltaFormatError(DeltaError):
    """The delta file is malformed: bad header, unknown method or version, corrupt payload."""


class DeltaBaseMismatchError(DeltaError):
    """The installed image is not the one the delta was built from (length or sha256)."""


class DeltaTargetMismatchError(DeltaError):
    """The delta declares another target than the one the caller expects to install."""


class DeltaTooLargeError(DeltaError):
    """The declared sizes exceed a limit (endless-data protection, bsdiff memory limit)."""


class DeltaOutputMismatchError(DeltaError):
    """The reconstructed image does not have the declared length and sha256."""


def _check_sha256(name: str, value: str) -> None:
    if not _SHA256_HEX.fullmatch(value):
        raise DeltaFormatError(f"{name} must be 64 lowercase hex digits, got {value!r}")


@dataclass(frozen=True, slots=True)
class DeltaHeader:
    """What a delta turns into what: the fixed header at the start of every delta file."""

    method: DeltaMethod
    from_sha256: str
    to_sha256: str
    from_length: int
    to_length: int

    def __post_init__(self) -> None:
        if self.method not in DELTA_METHODS:
            raise DeltaFormatError(f"unknown delta method {self.method!r}")
        _check_sha256("from_sha256", self.from_sha256)
        _check_sha256("to_sha256", self.to_sha256)
        for name, value in (("from_length", self.from_length), ("to_length", self.to_length)):
            if not 0 <= value < 2**63:
                raise DeltaFormatError(f"{name} {value} is out of range")

    def encode(self) -> bytes:
        """The header's exact bytes (``HEADER_SIZE`` long)."""
        return _HEADER.pack(
            MAGIC,
            FORMAT_VERSION,
            _METHOD_CODES[self.method],
            0,
            bytes.fromhex(self.from_sha256),
            bytes.fromhex(self.to_sha256),
            self.from_length,
            self.to_length,
        )

    @classmethod
    def decode(cls, data: bytes) -> DeltaHeader:
        """Parse the first ``HEADER_SIZE`` bytes of a delta file.

        Raises:
            DeltaFormatError: too short, wrong magic, unknown version or method, reserved
                bits set, or a length out of range.
        """
        if len(data) < HEADER_SIZE:
            raise DeltaFormatError(f"delta header needs {HEADER_SIZE} bytes, got {len(data)}")
        magic, version, method, reserved, from_hash, to_hash, from_length, to_length = (
            _HEADER.unpack_from(data)
        )
        if magic != MAGIC:
            raise DeltaFormatError("not a medfleet delta (bad magic)")
        if version != FORMAT_VERSION:
            raise DeltaFormatError(f"unsupported delta format version {version}")
        if method not in _METHODS_BY_CODE:
            raise DeltaFormatError(f"unknown delta method code {method}")
        if reserved != 0:
            raise DeltaFormatError("reserved header bits are set")
        return cls(
            method=_METHODS_BY_CODE[method],
            from_sha256=from_hash.hex(),
            to_sha256=to_hash.hex(),
            from_length=from_length,
            to_length=to_length,
        )


def read_header(delta_path: Path) -> DeltaHeader:
    """The header of the delta file at ``delta_path``.

    Raises:
        DeltaFormatError: the file does not start with a valid header.
    """
    with delta_path.open("rb") as stream:
        return DeltaHeader.decode(stream.read(HEADER_SIZE))


def zstd_window_log(from_length: int, to_length: int) -> int:
    """The zstd window log that lets the new image reference all of the old one.

    Both the builder and the device use it: the builder to compress, the device as the
    largest window it accepts.
    """
    needed = max(1, from_length + to_length)
    return min(max(math.ceil(math.log2(needed)), zstandard.WINDOWLOG_MIN), zstandard.WINDOWLOG_MAX)


@contextlib.contextmanager
def mapped_file(path: Path) -> Iterator[bytes | mmap.mmap]:
    """The file's bytes as a read-only memory map (``b""`` for an empty file)."""
    with path.open("rb") as stream:
        if os.fstat(stream.fileno()).st_size == 0:
            yield b""
            return
        with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            yield mapped


def apply_delta(
    old_path: Path,
    delta_path: Path,
    out_path: Path,
    expected_sha256: str,
    expected_length: int,
    *,
    max_output: int = DEFAULT_MAX_OUTPUT,
    bsdiff_limit: int = BSDIFF_LIMIT,
) -> DeltaHeader:
    """Write the image ``expected_sha256`` to ``out_path`` from ``old_path`` and a delta.

    ``out_path`` is replaced atomically and only with bytes whose length and sha256 are the
    expected ones; on any error it is left as it was and no temporary file remains.

    Raises:
        DeltaFormatError: the delta file is malformed or its payload is corrupt.
        DeltaTargetMismatchError: the delta produces another image than the expected one.
        DeltaTooLargeError: the target exceeds ``max_output``, or a bsdiff4 delta's images
            exceed ``bsdiff_limit``.
        DeltaBaseMismatchError: ``old_path`` is not the image the delta was built from.
        DeltaOutputMismatchError: the result does not match its declared length and sha256.
    """
    with delta_path.open("rb") as delta:
        header = DeltaHeader.decode(delta.read(HEADER_SIZE))
        if (header.to_sha256, header.to_length) != (expected_sha256, expected_length):
            raise DeltaTargetMismatchError(
                f"delta produces {header.to_sha256} ({header.to_length} bytes), "
                f"expected {expected_sha256} ({expected_length} bytes)"
            )
        if header.to_length > max_output:
            raise DeltaTooLargeError(
                f"delta declares {header.to_length} bytes of output, limit is {max_output}"
            )
        if header.method == "bsdiff4":
            limit = min(bsdiff_limit, _BSDIFF_HARD_LIMIT)
            if max(header.from_length, header.to_length) > limit:
                raise DeltaTooLargeError(f"bsdiff4 deltas are limited to images of {limit} bytes")
        if old_path.stat().st_size != header.from_length:
            raise _base_mismatch(header)
        if header.method == "bsdiff4":
            old = old_path.read_bytes()  # bsdiff4's C code takes bytes, not a memory map
            _check_base(header, old)
            with _verified_output(out_path, header) as out:
                out.write(_bsdiff_patch(old, delta, header.to_length))
        else:
            with mapped_file(old_path) as mapped:
                _check_base(header, mapped)
                dictionary = zstd_dictionary(mapped)
            with _verified_output(out_path, header) as out:
                _zstd_patch(dictionary, delta, out, header)
    return header


def _base_mismatch(header: DeltaHeader) -> DeltaBaseMismatchError:
    return DeltaBaseMismatchError(
        f"the installed image is not {header.from_sha256} ({header.from_length} bytes)"
    )


def _check_base(header: DeltaHeader, old: bytes | mmap.mmap) -> None:
    if len(old) != header.from_length or hashlib.sha256(old).hexdigest() != header.from_sha256:
        raise _base_mismatch(header)


class _HashingWriter:
    """Writes to a file, hashing and counting, and refuses to go past ``limit`` bytes."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self.length = 0
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> None:
        if self.length + len(data) > self._limit:
            raise DeltaOutputMismatchError(f"delta output exceeds its declared {self._limit} bytes")
        self._stream.write(data)
        self.sha256.update(data)
        self.length += len(data)


@contextlib.contextmanager
def _verified_output(out_path: Path, header: DeltaHeader) -> Iterator[_HashingWriter]:
    descriptor, temporary = tempfile.mkstemp(
        dir=out_path.parent, prefix=f".{out_path.name}.", suffix=TEMP_SUFFIX
    )
    try:
        with os.fdopen(descriptor, "wb") as stream:
            writer = _HashingWriter(stream, header.to_length)
            yield writer
            if writer.length != header.to_length or writer.sha256.hexdigest() != header.to_sha256:
                raise DeltaOutputMismatchError(
                    f"delta produced {writer.length} bytes with sha256 "
                    f"{writer.sha256.hexdigest()}, declared {header.to_length} / {header.to_sha256}"
                )
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, out_path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    fsync_dir(out_path.parent)


def _bounded_bunzip(data: bytes, limit: int, what: str) -> bytes:
    decompressor = bz2.BZ2Decompressor()
    try:
        result = decompressor.decompress(data, max_length=limit + 1)
    except (OSError, ValueError) as exc:
        raise DeltaFormatError(f"bsdiff4 {what} block is corrupt: {exc}") from exc
    if len(result) > limit:
        raise DeltaFormatError(f"bsdiff4 {what} block is larger than the image")
    if not decompressor.eof or decompressor.unused_data:
        raise DeltaFormatError(f"bsdiff4 {what} block is truncated or has trailing data")
    return result


def _signed(value: int) -> int:
    return -(value & ~_SIGN_BIT) if value & _SIGN_BIT else value


def _check_controls(control: bytes, diff: int, extra: int, to_length: int) -> None:
    """Refuse control records the C code would trust blindly (negative or overlong copies)."""
    if len(control) % _CONTROL_RECORD.size:
        raise DeltaFormatError("bsdiff4 control block is not a whole number of records")
    diff_total = extra_total = 0
    for raw_copy, raw_insert, _seek in _CONTROL_RECORD.iter_unpack(control):
        copy, insert = _signed(raw_copy), _signed(raw_insert)
        if copy < 0 or insert < 0:
            raise DeltaFormatError("bsdiff4 control record has a negative length")
        diff_total += copy
        extra_total += insert
        if diff_total > diff or extra_total > extra:
            raise DeltaFormatError("bsdiff4 control records overrun the diff or extra block")
    if (diff_total, extra_total) != (diff, extra) or diff_total + extra_total != to_length:
        raise DeltaFormatError("bsdiff4 control records do not add up to the image")


def _bsdiff_patch(old: bytes, delta: BinaryIO, to_length: int) -> bytes:
    head = delta.read(_BSDIFF_HEADER.size)
    if len(head) != _BSDIFF_HEADER.size:
        raise DeltaFormatError("bsdiff4 payload is truncated")
    magic, control_size, diff_size, new_size = _BSDIFF_HEADER.unpack(head)
    if magic != _BSDIFF_MAGIC or new_size != to_length:
        raise DeltaFormatError("bsdiff4 payload header does not match the delta header")
    rest = delta.read()
    if control_size + diff_size > len(rest):
        raise DeltaFormatError("bsdiff4 payload is truncated")
    max_control = _CONTROL_RECORD.size * (to_length + 1)
    control = _bounded_bunzip(rest[:control_size], max_control, "control")
    diff = _bounded_bunzip(rest[control_size : control_size + diff_size], to_length, "diff")
    extra = _bounded_bunzip(rest[control_size + diff_size :], to_length, "extra")
    del rest
    _check_controls(control, len(diff), len(extra), to_length)
    try:
        result: bytes = bsdiff4.core.patch(old, to_length, control, diff, extra)
    except (ValueError, TypeError) as exc:
        raise DeltaFormatError(f"bsdiff4 payload is corrupt: {exc}") from exc
    return result


def zstd_dictionary(old: bytes | mmap.mmap) -> zstandard.ZstdCompressionDict:
    """The old image as the raw-content dictionary of a ``zstd-patch-from`` delta (a copy)."""
    with memoryview(old) as view:
        return zstandard.ZstdCompressionDict(view, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def _zstd_patch(
    dictionary: zstandard.ZstdCompressionDict,
    delta: BinaryIO,
    out: _HashingWriter,
    header: DeltaHeader,
) -> None:
    window = 1 << zstd_window_log(header.from_length, header.to_length)
    decompressor = zstandard.ZstdDecompressor(dict_data=dictionary, max_window_size=window)
    try:
        with decompressor.stream_reader(delta, read_size=_CHUNK, closefd=False) as reader:
            while chunk := reader.read(min(_CHUNK, header.to_length - out.length + 1)):
                out.write(chunk)
    except zstandard.ZstdError as exc:
        raise DeltaFormatError(f"zstd payload is corrupt: {exc}") from exc
