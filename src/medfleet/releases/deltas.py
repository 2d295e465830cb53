"""Delta artifacts between two stored images: built once per pair, checked, then stored.

``build_delta(store, from_sha256, to_sha256)`` picks the method by size: ``bsdiff4`` when both
images are at most ``bsdiff_limit`` bytes (bsdiff needs about 17 times the old image in memory to
build, and the device holds both images to apply it), ``zstd-patch-from`` above (zstandard with
the old image as a raw-content dictionary, long-distance matching and a window covering both
images). The delta file carries the header of :mod:`medfleet.agent.patching`.

Guarantees:

- Built once per (from, to, method): an index entry under ``<store root>/deltas/`` records the
  result, and a file lock makes a concurrent second builder wait and then reuse it.
- Checked before it is stored: the target is reconstructed with the agent's own
  ``apply_delta`` (the exact code the device runs) and must match the target's sha256 and length;
  only then does the delta enter the blob store.
- Honest about its worth: the result carries the size of the zstd-compressed full target at the
  same level, so a caller can publish the full image instead when the delta is not smaller.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

import bsdiff4
import zstandard

from medfleet.agent.contract import DELTA_METHODS, DeltaMethod
from medfleet.agent.patching import (
    BSDIFF_LIMIT,
    DeltaError,
    DeltaHeader,
    apply_delta,
    mapped_file,
    zstd_dictionary,
    zstd_window_log,
)
from medfleet.releases.blobs import BlobInfo, BlobStore, check_digest, fsync_directory
from medfleet.releases.errors import DeltaBuildError

DEFAULT_ZSTD_LEVEL = 19
_INDEX_FORMAT = 1
_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class DeltaArtifact:
    """A checked delta in the blob store, and what it saves over the full image."""

    from_sha256: str
    to_sha256: str
    method: DeltaMethod
    delta: BlobInfo
    to_length: int
    full_compressed_length: int | None
    build_seconds: float
    reused: bool = False

    @property
    def smaller_than_full(self) -> bool | None:
        """Whether the delta beats the compressed full image (``None`` if not compared)."""
        if self.full_compressed_length is None:
            return None
        return self.delta.length < self.full_compressed_length


def choose_method(
    from_length: int, to_length: int, bsdiff_limit: int = BSDIFF_LIMIT
) -> DeltaMethod:
    """``bsdiff4`` when both images are at most ``bsdiff_limit`` bytes, else ``zstd-patch-from``."""
    return "bsdiff4" if max(from_length, to_length) <= bsdiff_limit else "zstd-patch-from"


def find_delta(
    store: BlobStore, from_sha256: str, to_sha256: str, method: DeltaMethod
) -> DeltaArtifact | None:
    """The delta already built for this pair and method, if its blob is still stored.

    Raises:
        InvalidDigestError: a digest is malformed.
    """
    index = _index_path(store, from_sha256, to_sha256, method)
    try:
        entry: dict[str, Any] = json.loads(index.read_text())
        if entry.get("format") != _INDEX_FORMAT:
            return None
        artifact = DeltaArtifact(
            from_sha256=entry["from_sha256"],
            to_sha256=entry["to_sha256"],
            method=entry["method"],
            delta=BlobInfo(**entry["delta"]),
            to_length=entry["to_length"],
            full_compressed_length=entry["full_compressed_length"],
            build_seconds=entry["build_seconds"],
            reused=True,
        )
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # an unreadable entry is rebuilt
    if (artifact.from_sha256, artifact.to_sha256, artifact.method) != (
        from_sha256,
        to_sha256,
        method,
    ):
        return None
    return artifact if store.contains(artifact.delta.sha256) else None


def build_delta(
    store: BlobStore,
    from_sha256: str,
    to_sha256: str,
    *,
    method: DeltaMethod | None = None,
    bsdiff_limit: int = BSDIFF_LIMIT,
    level: int = DEFAULT_ZSTD_LEVEL,
    compare_with_full: bool = True,
) -> DeltaArtifact:
    """The checked delta turning blob ``from_sha256`` into blob ``to_sha256``, built if needed.

    ``method`` defaults to :func:`choose_method`. ``level`` is the zstd level of the
    ``zstd-patch-from`` payload and of the full-image comparison (``compare_with_full``).

    Raises:
        InvalidDigestError: a digest is malformed.
        BlobNotFoundError: one of the images is not in the store.
        DeltaBuildError: the images are the same, ``bsdiff4`` was asked for images over the
            limit, or the delta did not reconstruct the target (nothing is stored then).
    """
    old_path, new_path = store.path_of(from_sha256), store.path_of(to_sha256)
    if from_sha256 == to_sha256:
        raise DeltaBuildError("a delta needs two different images")
    from_length, to_length = old_path.stat().st_size, new_path.stat().st_size
    chosen = method or choose_method(from_length, to_length, bsdiff_limit)
    if chosen not in DELTA_METHODS:
        raise DeltaBuildError(f"unknown delta method {chosen!r}")
    if chosen == "bsdiff4" and max(from_length, to_length) > bsdiff_limit:
        raise DeltaBuildError(f"bsdiff4 is limited to images of {bsdiff_limit} bytes")
    header = DeltaHeader(chosen, from_sha256, to_sha256, from_length, to_length)
    index = _index_path(store, from_sha256, to_sha256, chosen)
    with _locked(index):
        existing = find_delta(store, from_sha256, to_sha256, chosen)
        if existing is not None:
            return existing
        (store.root / "incoming").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=store.root / "incoming") as work:
            delta_path = Path(work) / "delta"
            started = time.perf_counter()
            with delta_path.open("wb") as out:
                out.write(header.encode())
                if chosen == "bsdiff4":
                    out.write(bsdiff4.diff(old_path.read_bytes(), new_path.read_bytes()))
                else:
                    _zstd_patch_from(old_path, new_path, out, header, level)
            build_seconds = time.perf_counter() - started
            _check_reconstruction(old_path, delta_path, Path(work) / "target", header, bsdiff_limit)
            full = _zstd_full_length(new_path, level) if compare_with_full else None
            artifact = DeltaArtifact(
                from_sha256=from_sha256,
                to_sha256=to_sha256,
                method=chosen,
                delta=store.put_file(delta_path),
                to_length=to_length,
                full_compressed_length=full,
                build_seconds=round(build_seconds, 3),
            )
        _write_index(index, artifact)
    return artifact


def _index_path(store: BlobStore, from_sha256: str, to_sha256: str, method: DeltaMethod) -> Path:
    check_digest(from_sha256)
    check_digest(to_sha256)
    if method not in DELTA_METHODS:
        raise DeltaBuildError(f"unknown delta method {method!r}")
    return store.root / "deltas" / from_sha256 / f"{to_sha256}.{method}.json"


@contextlib.contextmanager
def _locked(index: Path) -> Iterator[None]:
    index.parent.mkdir(parents=True, exist_ok=True)
    with index.with_suffix(".lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _write_index(index: Path, artifact: DeltaArtifact) -> None:
    entry = {"format": _INDEX_FORMAT, **asdict(artifact)}
    del entry["reused"]
    temporary = index.with_suffix(".tmp")
    with temporary.open("w") as out:
        json.dump(entry, out, sort_keys=True)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, index)
    fsync_directory(index.parent)


def _zstd_params(
    level: int, from_length: int, to_length: int
) -> zstandard.ZstdCompressionParameters:
    # zstd indexes only the last 2**max(hash_log + 3, chain_log + 1) bytes of a dictionary, and
    # python-zstandard attaches the dictionary in a form long-distance matching does not search;
    # so the chain table is sized to cover the whole old image (measured on a 56 MB pair: 5.1 MB
    # with the level's tables, 0.27 MB with these, like `zstd --patch-from`).
    defaults = zstandard.ZstdCompressionParameters.from_level(
        level, source_size=to_length, dict_size=from_length
    )
    covering = math.ceil(math.log2(max(from_length, 1)))
    return zstandard.ZstdCompressionParameters.from_level(
        level,
        source_size=to_length,
        dict_size=from_length,
        window_log=zstd_window_log(from_length, to_length),
        chain_log=min(max(defaults.chain_log, covering), zstandard.CHAINLOG_MAX),
        enable_ldm=True,
        write_checksum=True,
    )


def _zstd_patch_from(
    old_path: Path, new_path: Path, out: BinaryIO, header: DeltaHeader, level: int
) -> None:
    with mapped_file(old_path) as old:
        dictionary = zstd_dictionary(old)
    params = _zstd_params(level, header.from_length, header.to_length)
    compressor = zstandard.ZstdCompressor(dict_data=dictionary, compression_params=params)
    with new_path.open("rb") as new:
        compressor.copy_stream(new, out, size=header.to_length)


def _zstd_full_length(path: Path, level: int) -> int:
    """Size of the whole image compressed with zstd at ``level`` (long-distance matching on)."""
    length = path.stat().st_size
    compressor = zstandard.ZstdCompressor(compression_params=_zstd_params(level, 0, length))
    with path.open("rb") as source, compressor.stream_reader(source, size=length) as reader:
        return sum(len(chunk) for chunk in iter(lambda: reader.read(_CHUNK), b""))


def _check_reconstruction(
    old_path: Path, delta_path: Path, out_path: Path, header: DeltaHeader, bsdiff_limit: int
) -> None:
    try:
        apply_delta(
            old_path,
            delta_path,
            out_path,
            header.to_sha256,
            header.to_length,
            max_output=header.to_length,
            bsdiff_limit=bsdiff_limit,
        )
    except DeltaError as exc:
        raise DeltaBuildError(
            f"delta {header.method} did not reconstruct the target: {exc}"
        ) from exc
