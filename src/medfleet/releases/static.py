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
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from medfleet.agent.contract import DIRECTOR_REPO_DIR, IMAGE_REPO_DIR

PUBLIC_DIR_NAME = "public"
REPOSITORY_URL_PREFIX = "/repo"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_CONTENT_ADDRESSED = re.compile(r"[0-9a-f]{64}\..+|[1-9][0-9]*\.[A-Za-z][A-Za-z0-9._-]*\.json")


def cache_control_for(file_name: str) -> str:
    """The ``Cache-Control`` value for a served file, judged by its name alone."""
    return IMMUTABLE if _CONTENT_ADDRESSED.fullmatch(file_name) else REVALIDATE


class RepositoryFiles(StaticFiles):
    """``StaticFiles`` that adds ``Cache-Control`` to every file response (200, 206 and 304)."""

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
