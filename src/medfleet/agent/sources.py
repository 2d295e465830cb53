"""Where the installer gets an image's bytes online: the full image, or a delta applied locally.

``DeltaSource`` is an installer ``ArtifactSource`` that downloads the delta the director chose
(resumable, bounded and verified against the delta's own TUF length and hashes), applies it to
the image in the running slot (``apply_delta``, which checks the delta's base and result) and
copies the result into the installer's partial file through ``copy_verified``, so every hash
the image repository lists (sha256 and sha512) is checked before the installer sees a byte.

Guarantees: the running slot is only read; a network failure while fetching the delta is a
``FetchError`` (the partial delta is kept and the next attempt resumes it); any other problem
with the delta (a 404, a bad hash, a corrupt or mismatching patch) falls back to downloading the
full image in the same call, so a bad delta can delay an update but never block or corrupt it.
``used`` tells afterwards which way the bytes came (None: ``fetch`` was not needed, the bytes
were complete already). ``FullImageSource`` is the plain full download, with the same ``used``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import urllib3

from medfleet.agent.decision import DeltaTarget, Install, TargetSpec
from medfleet.agent.download import (
    DownloadConnectionError,
    DownloadError,
    ExpectedFile,
    HttpArtifactSource,
    default_pool,
    download,
)
from medfleet.agent.install_state import Target
from medfleet.agent.patching import DeltaError, apply_delta
from medfleet.agent.updates import TargetMismatchError, copy_verified, target_file_name

LOG = logging.getLogger(__name__)
_CHUNK = 1024 * 1024

SourceKind = Literal["full", "delta", "bundle"]


def expected_file(target: TargetSpec) -> ExpectedFile:
    """The length and hashes a download of ``target`` must have.

    Raises:
        ValueError: the target's hashes are not lower-case hex of the right length.
    """
    return ExpectedFile(target.length, target.sha256, target.hashes.get("sha512"))


@dataclass
class FullImageSource:
    """The full image at its consistent-snapshot URL, resumable; ``used`` is set once fetched."""

    image: TargetSpec
    pool: urllib3.PoolManager = field(default_factory=default_pool)
    used: SourceKind | None = None

    def fetch(self, dest_partial_path: Path) -> None:
        """Complete ``dest_partial_path`` with the image (see ``HttpArtifactSource.fetch``).

        Raises:
            FetchError: the download failed; what arrived is kept.
        """
        HttpArtifactSource(self.image.url, expected_file(self.image), pool=self.pool).fetch(
            dest_partial_path
        )
        self.used = "full"


def install_target(decision: Install) -> Target:
    """The installer's ``Target`` for a verified decision.

    Raises:
        InvalidTargetError: the image repository lists no sha512 (or a malformed hash).
    """
    image = decision.image
    return Target(
        path=image.path,
        length=image.length,
        sha256=image.sha256,
        sha512=image.hashes.get("sha512", ""),
        version=decision.info.version,
        version_number=decision.info.version_number,
    )


@dataclass
class DeltaSource:
    """Builds ``image`` from ``delta`` and the running image at ``base_image`` (see above)."""

    image: TargetSpec
    delta: DeltaTarget
    base_image: Path
    work_dir: Path
    pool: urllib3.PoolManager = field(default_factory=default_pool)
    used: SourceKind | None = None

    def fetch(self, dest_partial_path: Path) -> None:
        """Complete ``dest_partial_path`` with the verified image, by delta or in full.

        Raises:
            FetchError: the network failed (delta or full image); what arrived is kept.
        """
        self.work_dir.mkdir(parents=True, exist_ok=True)
        delta_file = self.work_dir / target_file_name(self.delta.target)
        try:
            if not delta_file.is_file():  # else: downloaded and verified before a crash
                download(
                    self.delta.target.url,
                    delta_file,
                    expected_file(self.delta.target),
                    pool=self.pool,
                )
        except DownloadConnectionError:
            raise
        except (DownloadError, ValueError) as error:
            LOG.warning("delta %s unusable, fetching the full image: %s", delta_file.name, error)
            self._full(dest_partial_path)
            return
        if self._patch(delta_file, dest_partial_path):
            self.used = "delta"
        else:
            self._full(dest_partial_path)
        delta_file.unlink(missing_ok=True)

    def _patch(self, delta_file: Path, dest: Path) -> bool:
        patched = self.work_dir / (target_file_name(self.image) + ".patched")
        try:
            apply_delta(self.base_image, delta_file, patched, self.image.sha256, self.image.length)
            with patched.open("rb") as source, dest.open("wb") as output:
                copy_verified(self.image, iter(lambda: source.read(_CHUNK), b""), output)
        except (DeltaError, TargetMismatchError, OSError) as error:
            LOG.warning("delta %s not applied, fetching the full image: %s", delta_file.name, error)
            dest.unlink(missing_ok=True)
            return False
        finally:
            patched.unlink(missing_ok=True)
        return True

    def _full(self, dest_partial_path: Path) -> None:
        FullImageSource(self.image, self.pool).fetch(dest_partial_path)
        self.used = "full"
