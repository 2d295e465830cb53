"""Serve the public repository tree (``<blob-dir>/public/repo/…``) read-only over HTTP.

Starlette's ``StaticFiles`` already does what devices need, so this module only configures it
(checked against Starlette 1.10 by ``tests/releases/test_static.py``):

- ``Range: bytes=N-`` is answered with ``206`` and ``Content-Range`` (interrupted downloads
  resume), ``If-Range`` with a stale validator falls back to the whole file (``200``);
- every file has an ``ETag`` and ``Last-Modified``; ``If-None-Match`` with the current ETag is
  answered with ``304`` and no body (the device poll is a conditional GET);
- only ``GET`` and ``HEAD`` (``405`` otherwise), no directory listings, no path outside the
  tree (``..`` and symlinks leading out are ``404``; publish blobs with hard links or copies,
  see ``BlobStore.link``).

On top, ``Cache-Control`` says what a CDN may keep: content-addressed files (consistent-snapshot
targets ``<sha256>.<name>`` and versioned metadata ``<N>.<role>.json``) never change and are
``immutable``; every other file (``timestamp.json``, a director's per-device files) must be
revalidated on each use (``no-cache``).

Starlette's ETag is derived from the file's modification time and size, so several servers
sharing one tree agree, and a file rewritten by ``os.replace`` gets a new ETag.

Speed (``bench/poll.py``): Starlette looks every file up in its thread pool and opens it
through three more thread hops, which made a poll cost ~5 times a minimal ASGI app.
``RepositoryFiles`` answers ``GET``/``HEAD`` without ``Range`` of small regular files on the
event loop instead (a few ``lstat`` calls on a local tree cost microseconds, a thread hop
far more), with the same status, headers and body; everything else is still Starlette's.
Nothing is cached: with one file per device, a cache would not help the poll.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from email.utils import formatdate, parsedate
from functools import lru_cache
from mimetypes import guess_type
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from medfleet.agent.contract import DIRECTOR_REPO_DIR, IMAGE_REPO_DIR

PUBLIC_DIR_NAME = "public"
REPOSITORY_URL_PREFIX = "/repo"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_CONTENT_ADDRESSED = re.compile(r"[0-9a-f]{64}\..+|[1-9][0-9]*\.[A-Za-z][A-Za-z0-9._-]*\.json")
# Files up to this size are answered from one read on the event loop (metadata, small targets);
# larger ones are streamed by Starlette from its thread pool.
SMALL_FILE_BYTES = 64 * 1024
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


def cache_control_for(file_name: str) -> str:
    """The ``Cache-Control`` value for a served file, judged by its name alone."""
    return IMMUTABLE if _CONTENT_ADDRESSED.fullmatch(file_name) else REVALIDATE


@lru_cache(maxsize=1024)
def _name_headers(file_name: str) -> tuple[bytes, bytes]:
    """``Content-Type`` (as Starlette's ``FileResponse`` sets it) and ``Cache-Control``."""
    content_type = guess_type(file_name)[0] or "application/octet-stream"
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    return content_type.encode("latin-1"), cache_control_for(file_name).encode("latin-1")


def file_etag(stat_result: os.stat_result) -> str:
    """The ``ETag`` of a file, exactly as Starlette's ``FileResponse`` derives it."""
    base = f"{stat_result.st_mtime}-{stat_result.st_size}"
    return f'"{hashlib.md5(base.encode(), usedforsecurity=False).hexdigest()}"'


def _conditions(headers: list[tuple[bytes, bytes]]) -> tuple[bytes | None, bytes | None] | None:
    """``If-None-Match`` and ``If-Modified-Since`` of a request; None if it has ``Range``."""
    if_none_match = if_modified_since = None
    for name, value in headers:
        if name == b"if-none-match":
            if_none_match = value
        elif name == b"if-modified-since":
            if_modified_since = value
        elif name == b"range":
            return None
    return if_none_match, if_modified_since


def _not_modified(
    if_none_match: bytes | None, if_modified_since: bytes | None, etag: str, mtime: float
) -> bool:
    """Starlette's ``StaticFiles.is_not_modified`` on raw request header values."""
    if if_none_match is not None:
        tags = if_none_match.decode("latin-1")
        if tags.strip() == "*":
            return True
        return etag in [tag.strip().removeprefix("W/") for tag in tags.split(",")]
    if if_modified_since is not None:
        since = parsedate(if_modified_since.decode("latin-1"))
        modified = parsedate(formatdate(mtime, usegmt=True))
        return since is not None and modified is not None and since >= modified
    return False


class RepositoryFiles(StaticFiles):
    """``StaticFiles`` that adds ``Cache-Control`` to every file response (200, 206 and 304)
    and answers the common requests (the device poll) without leaving the event loop.

    The fast path takes ``GET``/``HEAD`` without ``Range`` of a regular file reached through
    real directories only (``lstat`` of each path component below the served root: no
    symlink, nothing outside the tree). A revalidation costs those ``lstat`` calls and an
    MD5 of mtime and size: no thread hop, no file opened. A full answer of a file up to
    ``SMALL_FILE_BYTES`` is read at once through one descriptor opened with ``O_NOFOLLOW``,
    whose ``fstat`` gives the headers, so body and ``ETag`` always belong together. Status,
    headers and body are the same as Starlette's; everything else (ranges, large files,
    symlinks, errors, 404/405) is left to Starlette.
    """

    def __init__(self, *, directory: str | os.PathLike[str]) -> None:
        super().__init__(directory=directory)
        self._root = os.path.realpath(directory)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer from the fast path when it applies, otherwise as ``StaticFiles``."""
        if self.config_checked and scope["type"] == "http":
            messages = self._fast_answer(scope)
            if messages is not None:
                for message in messages:
                    await send(message)
                return
        await super().__call__(scope, receive, send)

    def _fast_answer(self, scope: Scope) -> list[Message] | None:
        """The response messages, or None when Starlette must answer."""
        method = scope["method"]
        conditions = _conditions(scope["headers"]) if method in ("GET", "HEAD") else None
        if conditions is None:
            return None
        parts = self.get_path(scope).split(os.sep)
        if parts[0] in (".", "..", ""):
            return None  # the root itself, or outside the tree: Starlette answers 404
        try:
            full_path, found = self._lookup(parts)
            if full_path is None:
                return None
            etag = file_etag(found)
            content_type, cache_control = _name_headers(parts[-1])
            if _not_modified(*conditions, etag, found.st_mtime):
                headers = [(b"etag", etag.encode("latin-1")), (b"cache-control", cache_control)]
                return [
                    {"type": "http.response.start", "status": 304, "headers": headers},
                    {"type": "http.response.body", "body": b""},
                ]
            if found.st_size > SMALL_FILE_BYTES:
                return None
            body = b""
            if method == "GET":
                found, body = _read_small(full_path)
                etag = file_etag(found)
        except (OSError, ValueError):
            return None  # Starlette maps these (404, 401, …)
        headers = [
            (b"content-type", content_type),
            (b"accept-ranges", b"bytes"),
            (b"content-length", str(found.st_size).encode("latin-1")),
            (b"last-modified", formatdate(found.st_mtime, usegmt=True).encode("latin-1")),
            (b"etag", etag.encode("latin-1")),
            (b"cache-control", cache_control),
        ]
        return [
            {"type": "http.response.start", "status": 200, "headers": headers},
            {"type": "http.response.body", "body": body},
        ]

    def _lookup(self, parts: list[str]) -> tuple[str | None, os.stat_result]:
        """``(path, lstat)`` of a regular file reached through real directories below the
        root, or ``(None, …)`` for anything else (a symlink on the way, a directory …).

        Raises:
            OSError, ValueError: as ``os.lstat`` (missing, not permitted, a NUL byte …).
        """
        directory = self._root
        for part in parts[:-1]:
            directory = os.path.join(directory, part)
            found = os.lstat(directory)
            if not stat.S_ISDIR(found.st_mode):
                return None, found
        full_path = os.path.join(directory, parts[-1])
        found = os.lstat(full_path)
        return (full_path if stat.S_ISREG(found.st_mode) else None), found

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """Starlette's response for the file, with the file's caching policy."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["cache-control"] = cache_control_for(os.path.basename(full_path))
        return response


def _read_small(full_path: str) -> tuple[os.stat_result, bytes]:
    """The ``fstat`` and whole content of a small regular file (not through a symlink).

    Raises:
        OSError: the file is gone, is a symlink, or changed size while being read.
    """
    descriptor = os.open(full_path, _OPEN_FLAGS)
    try:
        found = os.fstat(descriptor)
        if not stat.S_ISREG(found.st_mode) or found.st_size > SMALL_FILE_BYTES:
            raise OSError(f"{full_path} is no longer a small regular file")
        body = os.read(descriptor, found.st_size + 1)
    finally:
        os.close(descriptor)
    if len(body) != found.st_size:
        raise OSError(f"{full_path} changed while being read")
    return found, body


def public_dir(blob_dir: Path) -> Path:
    """The directory whose ``repo/`` subtree is served (``<blob-dir>/public``)."""
    return blob_dir / PUBLIC_DIR_NAME


def repository_mount(blob_dir: Path) -> Mount:
    """A mount serving ``<blob-dir>/public/repo/`` at ``/repo`` (created if missing).

    Add it to an app with ``app.router.routes.append(repository_mount(settings.blobs))`` or
    ``app.mount(...)``; the URLs are those of ``medfleet.agent.contract``, e.g.
    ``/repo/image/metadata/timestamp.json``.
    """
    root = public_dir(blob_dir) / REPOSITORY_URL_PREFIX.strip("/")
    for tree in (IMAGE_REPO_DIR, DIRECTOR_REPO_DIR):
        (public_dir(blob_dir) / tree).mkdir(parents=True, exist_ok=True)
    return Mount(REPOSITORY_URL_PREFIX, app=RepositoryFiles(directory=root), name="repository")


def repository_app(blob_dir: Path) -> Starlette:
    """A stand-alone ASGI app that serves only the public repository tree."""
    return Starlette(routes=[repository_mount(blob_dir)])
