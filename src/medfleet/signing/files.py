"""Crash-safe file operations for keys, metadata and targets.

A reader (a web server, a device, another process) sees either the old file or the complete
new one, never a partial write: data goes to a temporary file in the same directory, is
flushed to disk, then renamed over the target, and the directory entry is flushed too.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PUBLIC_MODE = 0o644
PRIVATE_MODE = 0o600
_CHUNK = 1 << 20


def _fsync_dir(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def atomic_write(path: Path, data: bytes, mode: int = PUBLIC_MODE) -> None:
    """Replace ``path`` with ``data`` atomically; the file has ``mode`` from its first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    _fsync_dir(path.parent)


def place_immutable(source: Path, destination: Path) -> None:
    """Make ``destination`` a copy of ``source`` (a hard link when possible), atomically.

    Used for content-addressed files that never change once written: if ``destination``
    already exists it is left alone.
    """
    if destination.exists():
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    temp = destination.parent / f".{destination.name}.{secrets.token_hex(8)}.tmp"
    try:
        try:
            os.link(source, temp)  # shares the source's inode: never chmod or write it
        except OSError:
            shutil.copyfile(source, temp)
            os.chmod(temp, PUBLIC_MODE)
            with temp.open("rb") as handle:
                os.fsync(handle.fileno())
        os.replace(temp, destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    _fsync_dir(destination.parent)


def file_digests(path: Path) -> tuple[int, dict[str, str]]:
    """Length and ``{"sha256": …, "sha512": …}`` of a file, read in chunks (sha256 first)."""
    sha256 = hashlib.sha256()
    sha512 = hashlib.sha512()
    length = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            length += len(chunk)
            sha256.update(chunk)
            sha512.update(chunk)
    return length, {"sha256": sha256.hexdigest(), "sha512": sha512.hexdigest()}


@contextlib.contextmanager
def locked(directory: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold a lock on ``directory`` (across processes) for the ``with`` block.

    Exclusive by default; ``shared`` locks exclude only exclusive holders.
    """
    directory.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
