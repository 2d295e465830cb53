"""Durable, atomic file persistence for the agent's state.

Every write goes to a temporary file in the destination's directory, is flushed and fsynced,
renamed over the destination with ``os.replace`` and then the directory is fsynced. After a
crash or power loss at any instant a reader therefore sees either the complete old content or
the complete new content, never a mix; at worst a stale temporary file (``.<name>.*.tmp``) is
left behind, which ``remove_stale_temp_files`` deletes.

Directories are replaced the same way, except that two renames are needed; the guarantee is
weaker and stated on ``replace_tree``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from medfleet.agent.errors import StateCorruptError

TEMP_SUFFIX = ".tmp"


def fsync_dir(directory: Path) -> None:
    """Make a directory's entries (created, renamed, removed files) durable."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def fsync_file(path: Path) -> None:
    """Make a file's content durable (for files written by someone else, e.g. a download)."""
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def write_chunks_atomic(path: Path, chunks: Iterable[bytes], mode: int = 0o644) -> None:
    """Replace ``path`` with the concatenation of ``chunks``, atomically and durably.

    The file is created with ``mode`` before any byte is written, so a secret never exists
    with wider permissions. If iterating ``chunks`` raises, the destination is untouched and
    the temporary file is removed; the error propagates.
    """
    directory = path.parent
    descriptor, temp_name = tempfile.mkstemp(
        dir=directory, prefix=f".{path.name}.", suffix=TEMP_SUFFIX
    )
    temp_path = Path(temp_name)
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_path, path)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise
    fsync_dir(directory)


def write_bytes_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data``, atomically and durably (see ``write_chunks_atomic``)."""
    write_chunks_atomic(path, (data,), mode)


def create_exclusive_atomic(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """Create ``path`` with ``data`` unless it exists; never overwrite, never expose a half file.

    The content is written and fsynced under a temporary name and then hard-linked into place,
    which fails if ``path`` exists; so of two racing creators exactly one wins.

    Returns:
        True if this call created the file, False if it already existed (left untouched).
    """
    directory = path.parent
    descriptor, temp_name = tempfile.mkstemp(
        dir=directory, prefix=f".{path.name}.", suffix=TEMP_SUFFIX
    )
    temp_path = Path(temp_name)
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp_path, path)
        except FileExistsError:
            return False
    finally:
        temp_path.unlink(missing_ok=True)
    fsync_dir(directory)
    return True


def json_bytes(value: Any) -> bytes:
    """Deterministic JSON for state files: sorted keys, two-space indent, trailing newline."""
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def write_json_atomic(path: Path, value: Any, mode: int = 0o644) -> None:
    """Replace ``path`` with ``value`` as JSON, atomically and durably."""
    write_bytes_atomic(path, json_bytes(value), mode)


def read_json(path: Path) -> Any | None:
    """The JSON value stored in ``path``, or None if the file does not exist.

    Raises:
        StateCorruptError: the file exists but is not valid UTF-8 JSON (never the result of
            an interrupted ``write_json_atomic``; someone else wrote it).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return json.loads(data.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StateCorruptError(f"{path} is not valid JSON: {exc}") from exc


def remove_durable(path: Path) -> None:
    """Delete a file if it exists and make the deletion durable."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Delete temporary files that interrupted atomic writes left in ``directory``.

    Only names this module creates (``.<name>.<random>.tmp``) are touched. Call it when no
    other writer is active in the directory.

    Returns:
        The files removed.
    """
    removed: list[Path] = []
    if not directory.is_dir():
        return removed
    for entry in directory.iterdir():
        if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    if removed:
        fsync_dir(directory)
    return removed


def _fsync_tree(root: Path) -> None:
    for current, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            if not os.path.islink(os.path.join(current, name)):
                fsync_file(Path(current) / name)
        fsync_dir(Path(current))


def replace_tree(source: Path, destination: Path) -> None:
    """Make ``destination`` a durable copy of directory ``source``, replacing what was there.

    The copy is built and fsynced beside the destination (``<destination>.new``), then swapped
    in with two renames (the old tree goes to ``<destination>.old`` and is deleted). After a
    crash the destination holds the complete old tree, the complete new tree, or is missing
    (between the two renames); calling ``replace_tree`` again with the same source always
    completes the job, so callers keep ``source`` until they have recorded that it is done.
    """
    parent = destination.parent
    staging = destination.with_name(destination.name + ".new")
    retired = destination.with_name(destination.name + ".old")
    for leftover in (staging, retired):
        if leftover.exists():
            shutil.rmtree(leftover)
    shutil.copytree(source, staging, symlinks=True)
    _fsync_tree(staging)
    if destination.exists():
        os.replace(destination, retired)
    os.replace(staging, destination)
    fsync_dir(parent)
    if retired.exists():
        shutil.rmtree(retired)
        fsync_dir(parent)


def remove_tree_durable(path: Path) -> None:
    """Delete a directory tree (and its ``.new``/``.old`` leftovers) if present, durably."""
    removed = False
    for candidate in (
        path,
        path.with_name(path.name + ".new"),
        path.with_name(path.name + ".old"),
    ):
        if candidate.exists():
            shutil.rmtree(candidate)
            removed = True
    if removed:
        fsync_dir(path.parent)
