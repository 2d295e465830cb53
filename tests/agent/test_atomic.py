"""Atomic persistence: a reader sees the old or the new content, never a mix, even when the
writer dies in the middle (a real SIGKILL of a child process)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from medfleet.agent.atomic import (
    create_exclusive_atomic,
    read_json,
    remove_durable,
    remove_stale_temp_files,
    remove_tree_durable,
    replace_tree,
    write_bytes_atomic,
    write_chunks_atomic,
    write_json_atomic,
)
from medfleet.agent.errors import StateCorruptError


def test_write_replaces_content_with_the_requested_mode_and_leaves_no_temp(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.json"
    write_bytes_atomic(path, b"old")
    write_bytes_atomic(path, b"new", mode=0o600)
    assert path.read_bytes() == b"new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_writer_failing_midway_leaves_the_old_content_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_bytes_atomic(path, b"old content")

    def chunks() -> Iterator[bytes]:
        yield b"new "
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_chunks_atomic(path, chunks())
    assert path.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


CHILD = """
import os, signal, sys
from pathlib import Path
from medfleet.agent.atomic import write_chunks_atomic

def chunks():
    yield b"N" * 65536
    os.kill(os.getpid(), signal.SIGKILL)
    yield b"never"

write_chunks_atomic(Path(sys.argv[1]), chunks())
"""


def test_a_killed_writer_leaves_the_old_content_and_a_removable_temp(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_bytes_atomic(path, b"old content")
    (tmp_path / ".keep-me").write_text("not ours")
    child = subprocess.run([sys.executable, "-c", CHILD, str(path)], check=False)
    assert child.returncode == -9
    assert path.read_bytes() == b"old content"
    stale = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert len(stale) == 1
    assert stale[0].stat().st_size == 65536
    assert remove_stale_temp_files(tmp_path) == stale
    assert sorted(p.name for p in tmp_path.iterdir()) == [".keep-me", "state.json"]


def test_json_round_trip_missing_file_and_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    assert read_json(path) is None
    write_json_atomic(path, {"phase": "written", "détail": "ü"})
    assert read_json(path) == {"phase": "written", "détail": "ü"}
    assert json.loads(path.read_text()) == {"phase": "written", "détail": "ü"}
    path.write_bytes(b'{"phase": "writ')
    with pytest.raises(StateCorruptError):
        read_json(path)


def test_exclusive_create_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    assert create_exclusive_atomic(path, b"first") is True
    assert create_exclusive_atomic(path, b"second") is False
    assert path.read_bytes() == b"first"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["key.pem"]


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_replace_tree_copies_exactly_and_drops_files_not_in_the_source(tmp_path: Path) -> None:
    source, destination = tmp_path / "backup", tmp_path / "config"
    (source / "sub").mkdir(parents=True)
    (source / "a.json").write_text("A")
    (source / "sub" / "b.json").write_text("B")
    destination.mkdir()
    (destination / "migrated.json").write_text("new version was here")
    replace_tree(source, destination)
    assert _tree(destination) == {"a.json": b"A", "sub/b.json": b"B"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup", "config"]


def test_replace_tree_completes_after_a_crash_between_its_renames(tmp_path: Path) -> None:
    source, destination = tmp_path / "backup", tmp_path / "config"
    source.mkdir()
    (source / "a.json").write_text("A")
    # The state a crash between the two renames leaves: old tree retired, new one staged.
    (tmp_path / "config.old").mkdir()
    (tmp_path / "config.old" / "migrated.json").write_text("x")
    (tmp_path / "config.new").mkdir()
    (tmp_path / "config.new" / "half").write_text("partial copy")
    replace_tree(source, destination)
    assert _tree(destination) == {"a.json": b"A"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup", "config"]
    remove_tree_durable(destination)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backup"]


def test_remove_durable_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "flag"
    path.write_text("x")
    remove_durable(path)
    remove_durable(path)
    assert not path.exists()
    assert os.listdir(tmp_path) == []
