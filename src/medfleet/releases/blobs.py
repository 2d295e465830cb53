"""A content-addressed blob store on the file system: artifacts named by their sha256.

Layout under the root directory::

    sha256/ab/abcdef…   one read-only file per blob, named by its sha256
    incoming/           temporary files while a blob is written (same file system)

Guarantees: a blob file appears only complete, fsynced and under the digest of its actual
content (write to ``incoming/``, fsync, ``os.replace``, fsync the directory), so a crash leaves
either nothing or the whole blob. Storing the same content twice is harmless and returns the same
:class:`BlobInfo`. Every name passed in is checked to be a sha256 digest, so no caller-supplied
string ever becomes a path component. :meth:`BlobStore.link` exposes a blob under another name
(a hard link, or a copy across file systems), e.g. as a TUF consistent-snapshot target file
``<dir>/<sha256>.<filename>`` under the publicly served tree.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from medfleet.releases.errors import (
    BlobCorruptError,
    BlobNotFoundError,
    BlobTooLargeError,
    InvalidDigestError,
)

_DIGEST = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024
# Hard links are impossible across file systems or on some mounts; a copy then does the job.
_NO_HARD_LINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP}


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What identifies one blob: its length and its sha256 and sha512 (lowercase hex)."""

    sha256: str
    sha512: str
    length: int


def check_digest(sha256: str) -> str:
    """``sha256`` if it is 64 lowercase hex digits.

    Raises:
        InvalidDigestError: anything else (upper case, a path, a shorter string …).
    """
    if not isinstance(sha256, str) or not _DIGEST.fullmatch(sha256):
        raise InvalidDigestError(f"{sha256!r} is not a sha256 digest (64 lowercase hex digits)")
    return sha256


def consistent_target_name(target_path: str, sha256: str) -> str:
    """The TUF consistent-snapshot file name of a target: ``<dir>/<sha256>.<basename>``.

    python-tuf's ``Updater`` prefixes the basename with the *first* hash listed in the target
    file's ``hashes``, so targets metadata must list sha256 first for this name to be fetched.
    """
    directory, separator, basename = target_path.rpartition("/")
    return f"{directory}{separator}{check_digest(sha256)}.{basename}"


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new entry in ``directory`` durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class BlobStore:
    """Blobs under ``root``, addressed by sha256; safe for concurrent writers of one host."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._objects = root / "sha256"
        self._incoming = root / "incoming"

    def put_file(self, path: Path, *, max_length: int | None = None) -> BlobInfo:
        """Store a copy of the file at ``path``; see :meth:`put_stream`."""
        with path.open("rb") as stream:
            return self.put_stream(stream, max_length=max_length)

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store ``data``; see :meth:`put_stream`."""
        return self._put_chunks(iter((data,)), max_length=None)

    def put_stream(self, stream: BinaryIO, *, max_length: int | None = None) -> BlobInfo:
        """Store everything ``stream`` yields, hashing it on the way; return its identity.

        Idempotent: content already in the store is not written twice.

        Raises:
            BlobTooLargeError: the stream yields more than ``max_length`` bytes (nothing is
                stored, and no more than ``max_length + 1`` bytes are read).
        """
        limit = None if max_length is None else max_length + 1
        chunks = iter(lambda: stream.read(_CHUNK if limit is None else min(_CHUNK, limit)), b"")
        return self._put_chunks(chunks, max_length=max_length)

    def _put_chunks(self, chunks: Iterator[bytes], *, max_length: int | None) -> BlobInfo:
        self._incoming.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self._incoming, prefix="blob-")
        try:
            sha256, sha512, length = hashlib.sha256(), hashlib.sha512(), 0
            with os.fdopen(descriptor, "wb") as out:
                for chunk in chunks:
                    length += len(chunk)
                    if max_length is not None and length > max_length:
                        raise BlobTooLargeError(f"content exceeds {max_length} bytes")
                    sha256.update(chunk)
                    sha512.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            info = BlobInfo(sha256.hexdigest(), sha512.hexdigest(), length)
            self._install(Path(temporary), info)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        return info

    def _install(self, temporary: Path, info: BlobInfo) -> None:
        final = self._object_path(info.sha256)
        with contextlib.suppress(FileNotFoundError):
            if final.stat().st_size == info.length:
                return  # already stored; a blob with the wrong size is replaced below
        new_directory = not final.parent.is_dir()
        final.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(temporary, 0o444)
        os.replace(temporary, final)
        fsync_directory(final.parent)
        if new_directory:
            fsync_directory(final.parent.parent)

    def _object_path(self, sha256: str) -> Path:
        check_digest(sha256)
        return self._objects / sha256[:2] / sha256

    def contains(self, sha256: str) -> bool:
        """Whether a blob with this sha256 is stored.

        Raises:
            InvalidDigestError: ``sha256`` is not a digest.
        """
        return self._object_path(sha256).is_file()

    def path_of(self, sha256: str) -> Path:
        """The file holding the blob; treat it as read-only.

        Raises:
            InvalidDigestError: ``sha256`` is not a digest.
            BlobNotFoundError: no such blob.
        """
        path = self._object_path(sha256)
        if not path.is_file():
            raise BlobNotFoundError(f"no blob {sha256}")
        return path

    def open(self, sha256: str) -> BinaryIO:
        """The blob opened for binary reading (the caller closes it).

        Raises:
            InvalidDigestError: ``sha256`` is not a digest.
            BlobNotFoundError: no such blob.
        """
        try:
            return self._object_path(sha256).open("rb")
        except FileNotFoundError as exc:
            raise BlobNotFoundError(f"no blob {sha256}") from exc

    def verify(self, sha256: str) -> BlobInfo:
        """Rehash the stored blob and return its identity if it still matches its name.

        Raises:
            InvalidDigestError: ``sha256`` is not a digest.
            BlobNotFoundError: no such blob.
            BlobCorruptError: the content no longer hashes to ``sha256``.
        """
        info = hash_file(self.path_of(sha256))
        if info.sha256 != sha256:
            raise BlobCorruptError(f"blob {sha256} now hashes to {info.sha256}")
        return info

    def link(self, sha256: str, destination: Path) -> Path:
        """Make the blob also appear at ``destination`` (atomically replacing what was there).

        A hard link when possible (no extra space; the file stays read-only), otherwise a copy.
        Returns ``destination``.

        Raises:
            InvalidDigestError: ``sha256`` is not a digest.
            BlobNotFoundError: no such blob.
        """
        source = self.path_of(sha256)
        destination.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            if os.path.samefile(source, destination):
                return destination
        temporary = destination.with_name(f".{destination.name}.{uuid.uuid4().hex}.tmp")
        try:
            try:
                os.link(source, temporary)
            except OSError as exc:
                if exc.errno not in _NO_HARD_LINK:
                    raise
                shutil.copyfile(source, temporary)
                with temporary.open("rb+") as copy:
                    os.fsync(copy.fileno())
                os.chmod(temporary, 0o444)
            os.replace(temporary, destination)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        fsync_directory(destination.parent)
        return destination


def hash_file(path: Path) -> BlobInfo:
    """Length, sha256 and sha512 of a file, read once in chunks."""
    sha256, sha512, length = hashlib.sha256(), hashlib.sha512(), 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            sha256.update(chunk)
            sha512.update(chunk)
            length += len(chunk)
    return BlobInfo(sha256.hexdigest(), sha512.hexdigest(), length)
