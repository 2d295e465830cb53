"""The server's distribution side as one object: key store, blob store, image repository, director.

``Distribution.for_directories`` opens everything from the data directory's layout (nothing is
created until ``medfleet init`` calls ``create_signing``). The roots a device enrolls with, and the
periodic refresh that keeps the online roles from expiring, live here so that the API, the CLI
and the worker all do them the same way.

Layout under ``<blob-dir>``: ``public/repo/...`` is the tree served to devices
(``medfleet.agent.contract``), ``store/`` the content-addressed artifacts
(``medfleet.releases.blobs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from medfleet.clock import Clock
from medfleet.releases.blobs import BlobStore
from medfleet.releases.static import public_dir
from medfleet.signing.director import Director
from medfleet.signing.errors import RepositoryNotFoundError
from medfleet.signing.image_refresh import RefreshReport, refresh_expiring
from medfleet.signing.image_repo import ImageRepository
from medfleet.signing.keys import KeyStore

BLOB_STORE_DIR = "store"
# The worker re-signs whatever expires within this margin. The shortest lifetime is the director's
# timestamp (1 hour), so a worker that runs every REFRESH_INTERVAL always renews it in time.
REFRESH_MARGIN = timedelta(minutes=40)
REFRESH_INTERVAL = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class EnrollmentRoots:
    """The exact bytes of the roots a newly enrolled device starts trusting (newest versions)."""

    image_root: bytes
    director_root: bytes


@dataclass(frozen=True, slots=True)
class DistributionRefresh:
    """What one refresh re-signed in each repository, and what needs an offline key holder."""

    image: RefreshReport
    director: RefreshReport

    @property
    def needs_offline(self) -> tuple[str, ...]:
        """Roles that expire soon but need offline keys (prefixed ``image:`` / ``director:``)."""
        return tuple(f"image:{role}" for role in self.image.needs_offline) + tuple(
            f"director:{role}" for role in self.director.needs_offline
        )

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "image_resigned": list(self.image.resigned),
            "director_resigned_devices": len(self.director.resigned),
            "needs_offline": list(self.needs_offline),
        }


@dataclass(frozen=True, slots=True)
class Distribution:
    """Everything that signs and stores what devices download."""

    public_dir: Path
    keys: KeyStore
    blobs: BlobStore
    image: ImageRepository
    director: Director

    @classmethod
    def for_directories(cls, blob_dir: Path, key_dir: Path, clock: Clock) -> Distribution:
        """Open (never create) the distribution of a data directory."""
        public = public_dir(blob_dir)
        keys = KeyStore(key_dir)
        image = ImageRepository(public, keys, clock)
        return cls(
            public,
            keys,
            BlobStore(blob_dir / BLOB_STORE_DIR),
            image,
            Director(public, keys, clock, image),
        )

    def exists(self) -> bool:
        """True once ``medfleet init`` has created the image repository."""
        return self.image.exists()

    def enrollment_roots(self) -> EnrollmentRoots:
        """The newest image and director roots, as the exact bytes published.

        Raises:
            RepositoryNotFoundError: signing was not set up (``medfleet init``).
        """
        if not self.exists():
            raise RepositoryNotFoundError(
                "the update repositories do not exist yet; run 'medfleet init'"
            )
        image_version = self.image.chain().root.signed.version
        director_version = self.director.root().signed.version
        return EnrollmentRoots(
            self.image.root_bytes(image_version), self.director.root_bytes(director_version)
        )

    def refresh(self, margin: timedelta = REFRESH_MARGIN) -> DistributionRefresh:
        """Re-sign every online role of both repositories that expires within ``margin``.

        Raises:
            RepositoryNotFoundError: signing was not set up.
        """
        if not self.exists():
            raise RepositoryNotFoundError("nothing to refresh: run 'medfleet init' first")
        return DistributionRefresh(
            refresh_expiring(self.image, margin), self.director.refresh_expiring(margin)
        )
