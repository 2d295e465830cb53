"""Download one artifact over HTTP: resumable, bounded by its expected length, verified.

``download(url, dest, expected)`` writes into ``<dest>.partial`` and resumes from whatever is
already there with ``Range: bytes=N-`` (a ``206`` must carry the matching ``Content-Range``; a
``200`` means the server ignored the range and the file restarts from zero). Guarantees:

- never more than ``expected.length`` bytes are accepted: a larger ``Content-Length`` is
  refused before the body is read, and a body that goes on is cut after one extra byte
  (endless-data attack); the partial file is deleted then, as it is when a hash is wrong;
- ``dest`` appears only complete (length, sha256 and, when given, sha512 checked), by an
  atomic rename followed by a directory fsync (:func:`complete_partial` stops before the
  rename, for callers that keep the file under its partial name);
- a dropped connection keeps the partial file (fsynced) so the next attempt, in this call or
  after a reboot, continues where it stopped;
- every network operation has a timeout; nothing sleeps.

:class:`HttpArtifactSource` packages a URL and the expected identity as the installer's
``ArtifactSource`` (``fetch(dest_partial_path)``); every error is a ``FetchError``, so the
installer keeps what arrived and resumes later. This module imports nothing from the server.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import urllib3
from urllib3.exceptions import HTTPError as Urllib3Error

from medfleet.agent.atomic import fsync_dir
from medfleet.agent.errors import FetchError

DEFAULT_TIMEOUT = urllib3.Timeout(connect=10.0, read=30.0)
DEFAULT_MAX_ATTEMPTS = 3
PARTIAL_SUFFIX = ".partial"
_CHUNK = 64 * 1024
_HASH_CHUNK = 1024 * 1024
_RETRIES = urllib3.Retry(total=5, connect=0, read=0, status=0, other=0, redirect=5)
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_SHA512_HEX = re.compile(r"[0-9a-f]{128}")

Progress = Callable[[int, int], None]


class DownloadError(FetchError):
    """Base of every reason a download did not produce the expected file."""


class DownloadConnectionError(DownloadError):
    """The network failed (refused, timed out, cut off); the partial file is kept for resuming."""


class DownloadHTTPError(DownloadError):
    """The server answered with a status other than 200 or 206."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class DownloadProtocolError(DownloadError):
    """The server's answer is unusable (a ``Content-Range`` that does not match, an encoding)."""


class DownloadTooLongError(DownloadError):
    """The server offered or sent more than the expected length; the partial file is deleted."""


class DownloadVerificationError(DownloadError):
    """The complete file has the wrong length or hash; the partial file is deleted."""


@dataclass(frozen=True, slots=True)
class ExpectedFile:
    """The length and hashes a downloaded file must have (from verified TUF metadata)."""

    length: int
    sha256: str
    sha512: str | None = None

    def __post_init__(self) -> None:
        if self.length < 0:
            raise ValueError(f"expected length {self.length} is negative")
        if not _SHA256_HEX.fullmatch(self.sha256):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        if self.sha512 is not None and not _SHA512_HEX.fullmatch(self.sha512):
            raise ValueError("sha512 must be 128 lowercase hex digits")


def partial_path(dest: Path) -> Path:
    """Where the download of ``dest`` accumulates until it is verified."""
    return dest.with_name(dest.name + PARTIAL_SUFFIX)


def default_pool() -> urllib3.PoolManager:
    """A connection pool with medfleet's timeouts and no automatic retries."""
    return urllib3.PoolManager(timeout=DEFAULT_TIMEOUT, retries=_RETRIES)


def complete_partial(
    url: str,
    partial: Path,
    expected: ExpectedFile,
    *,
    pool: urllib3.PoolManager | None = None,
    timeout: urllib3.Timeout = DEFAULT_TIMEOUT,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    progress: Progress | None = None,
) -> None:
    """Fetch ``url`` into ``partial``, resuming after the bytes it holds, and verify it.

    Up to ``max_attempts`` requests are made in this call; each one that fails on the network
    resumes from the bytes already on disk. ``progress(bytes_on_disk, expected.length)`` is
    called as data arrives. On return ``partial`` holds exactly the expected bytes (fsynced).

    Raises:
        DownloadConnectionError: the network failed on every attempt (partial file kept).
        DownloadHTTPError: an unexpected status (e.g. 404).
        DownloadProtocolError: a ``206`` for another range, or a content encoding.
        DownloadTooLongError: more than ``expected.length`` bytes (partial file deleted).
        DownloadVerificationError: the hashes do not match (partial file deleted).
    """
    pool = pool or default_pool()
    failure: DownloadConnectionError | None = None
    for _attempt in range(max_attempts):
        offset = _resume_offset(partial, expected.length)
        if offset == expected.length and partial.exists():
            break
        try:
            _fetch_once(pool, url, partial, offset, expected.length, timeout, progress)
            failure = None
        except DownloadConnectionError as exc:
            failure = exc
    if not partial.exists() or _size(partial) != expected.length:
        raise failure or DownloadConnectionError(f"{url}: incomplete after {max_attempts} tries")
    _verify(partial, expected)


def download(
    url: str,
    dest: Path,
    expected: ExpectedFile,
    *,
    pool: urllib3.PoolManager | None = None,
    timeout: urllib3.Timeout = DEFAULT_TIMEOUT,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    progress: Progress | None = None,
) -> Path:
    """:func:`complete_partial` on ``<dest>.partial``, then rename it to ``dest`` atomically.

    Returns ``dest``, which exists only with the verified content.

    Raises:
        DownloadError: as :func:`complete_partial`; ``dest`` is not touched then.
    """
    partial = partial_path(dest)
    complete_partial(
        url,
        partial,
        expected,
        pool=pool,
        timeout=timeout,
        max_attempts=max_attempts,
        progress=progress,
    )
    os.replace(partial, dest)
    fsync_dir(dest.parent)
    return dest


@dataclass(frozen=True)
class HttpArtifactSource:
    """One artifact at one URL, as the installer's ``ArtifactSource``.

    ``fetch(dest_partial_path)`` completes that file (see :func:`complete_partial`); the
    installer calls it again after an interruption or a reboot and the download resumes.
    """

    url: str
    expected: ExpectedFile
    pool: urllib3.PoolManager = field(default_factory=default_pool)
    timeout: urllib3.Timeout = DEFAULT_TIMEOUT
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    progress: Progress | None = None

    def fetch(self, dest_partial_path: Path) -> None:
        """Complete ``dest_partial_path`` with the verified artifact.

        Raises:
            DownloadError: as :func:`complete_partial` (a ``FetchError``).
        """
        complete_partial(
            self.url,
            dest_partial_path,
            self.expected,
            pool=self.pool,
            timeout=self.timeout,
            max_attempts=self.max_attempts,
            progress=self.progress,
        )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _resume_offset(partial: Path, length: int) -> int:
    size = _size(partial)
    if size > length:
        partial.unlink()
        return 0
    return size


def _fetch_once(
    pool: urllib3.PoolManager,
    url: str,
    partial: Path,
    offset: int,
    length: int,
    timeout: urllib3.Timeout,
    progress: Progress | None,
) -> None:
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        response = pool.request(
            "GET",
            url,
            headers=headers,
            preload_content=False,
            decode_content=False,
            timeout=timeout,
            retries=_RETRIES,
        )
    except Urllib3Error as exc:
        raise DownloadConnectionError(f"{url}: {exc}") from exc
    finished = False
    try:
        start = _body_start(response, url, offset, length)
        if start is None:  # 416: the server's file is shorter than our partial one
            partial.unlink(missing_ok=True)
            return
        with partial.open("r+b" if start else "wb") as out:
            out.truncate(start)
            out.seek(start)
            try:
                _copy_body(response, out, url, start, length, progress)
            finally:
                out.flush()
                os.fsync(out.fileno())
        finished = True
    except DownloadTooLongError:
        partial.unlink(missing_ok=True)
        raise
    finally:
        if finished:
            response.release_conn()
        else:
            response.close()


def _body_start(
    response: urllib3.BaseHTTPResponse, url: str, offset: int, length: int
) -> int | None:
    """The file offset the response body starts at, after checking the response is usable."""
    if response.status == 416 and offset:
        return None
    if response.status == 200:
        start = 0
    elif response.status == 206 and offset:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
        if not match or int(match[1]) != offset or match[3] not in (str(length), "*"):
            raise DownloadProtocolError(
                f"{url}: asked for bytes {offset}-, got Content-Range "
                f"{response.headers.get('Content-Range')!r}"
            )
        start = offset
    else:
        raise DownloadHTTPError(f"{url}: HTTP {response.status}", response.status)
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding != "identity":
        raise DownloadProtocolError(f"{url}: unexpected Content-Encoding {encoding!r}")
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.isdigit() and start + int(declared) > length:
        raise DownloadTooLongError(
            f"{url}: server offers {start + int(declared)} of {length} bytes"
        )
    return start


def _copy_body(
    response: urllib3.BaseHTTPResponse,
    out: BinaryIO,
    url: str,
    start: int,
    length: int,
    progress: Progress | None,
) -> None:
    written = start
    while True:
        # At the expected end, ask for one byte more: anything there is an endless-data attack.
        want = min(_CHUNK, length - written) or 1
        try:
            chunk = response.read(want)
        except Urllib3Error as exc:
            raise DownloadConnectionError(f"{url}: cut off after {written} bytes: {exc}") from exc
        if not chunk:
            break
        if written + len(chunk) > length:
            raise DownloadTooLongError(f"{url}: more than the expected {length} bytes")
        out.write(chunk)
        written += len(chunk)
        if progress is not None:
            progress(written, length)
    if written != length:
        raise DownloadConnectionError(f"{url}: body ended after {written} of {length} bytes")


def _verify(partial: Path, expected: ExpectedFile) -> None:
    sha256, sha512, size = hashlib.sha256(), hashlib.sha512(), 0
    with partial.open("rb") as source:
        while chunk := source.read(_HASH_CHUNK):
            sha256.update(chunk)
            if expected.sha512 is not None:
                sha512.update(chunk)
            size += len(chunk)
    wrong = size != expected.length or sha256.hexdigest() != expected.sha256
    if expected.sha512 is not None and sha512.hexdigest() != expected.sha512:
        wrong = True
    if wrong:
        partial.unlink(missing_ok=True)
        raise DownloadVerificationError(
            f"{partial.name}: got {size} bytes with sha256 {sha256.hexdigest()}, "
            f"expected {expected.length} bytes with sha256 {expected.sha256}"
        )
