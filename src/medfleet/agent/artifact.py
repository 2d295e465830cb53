"""Where an install's bytes come from: the ``ArtifactSource`` protocol and a local file.

The installer verifies length and hashes of whatever a source delivered, so a source only has
to append bytes resumably; ``medfleet.agent.sources`` has the HTTP full-image and delta
sources, ``medfleet.agent.installer`` re-exports these two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from medfleet.agent.errors import FetchError
from medfleet.agent.slots import CHUNK_SIZE


class ArtifactSource(Protocol):
    """Where the target's bytes come from (local file, HTTP with Range, delta, bundle).

    A source is made for one target and knows its length; it must never write more.
    """

    def fetch(self, dest_partial_path: Path) -> None:
        """Complete ``dest_partial_path``: append the bytes after those already in it.

        The file may be absent (start from zero) or hold a prefix from an interrupted fetch.
        The installer verifies length and hashes afterwards; the source need not.

        Raises:
            FetchError: the bytes cannot be had now; what arrived stays for the next resume.
        """
        ...


class LocalFileSource:
    """An artifact already on the device (tests, the bench, a mounted bundle)."""

    def __init__(self, path: Path, chunk_size: int = CHUNK_SIZE) -> None:
        self.path = path
        self.chunk_size = chunk_size

    def fetch(self, dest_partial_path: Path) -> None:
        """Append from offset ``size of the partial file``, in chunks.

        Raises:
            FetchError: the artifact file is missing.
        """
        have = dest_partial_path.stat().st_size if dest_partial_path.exists() else 0
        try:
            reader = self.path.open("rb")
        except FileNotFoundError as exc:
            raise FetchError(f"artifact {self.path} is not available") from exc
        with reader, dest_partial_path.open("ab") as writer:
            reader.seek(have)
            while chunk := reader.read(self.chunk_size):
                writer.write(chunk)
