"""Helpers for the signing tests: a key store, an image repository, a director, a TUF client.

"A client" is always python-tuf's own ``ngclient.Updater``. In-process tests give it a fetcher
that reads the public directory (no network); ``test_ngclient_interop`` uses real HTTP in a
separate process. The client checks expiry against the real clock, so the ``FrozenClock``
starts at the real time and tests move it explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from tuf.api.exceptions import DownloadHTTPError
from tuf.ngclient.fetcher import FetcherInterface
from tuf.ngclient.updater import Updater

from medfleet.agent.contract import (
    ImageInfo,
    director_metadata_url,
    image_metadata_url,
    image_targets_url,
)
from medfleet.clock import FrozenClock
from medfleet.signing.director import Director
from medfleet.signing.image_publish import publish_image
from medfleet.signing.image_repo import ImageRepository
from medfleet.signing.keys import KeyStore
from medfleet.signing.setup import create_signing, unlock_root_signers
from medfleet.signing.tuf_api import Signer, TargetFile

BASE_URL = "http://repo.test"
MODEL = "IP-100"
OTHER_MODEL = "VENT-7"
ROOT_PASSWORD = "root holder one"
ADMIN = "admin"
ADMIN_PASSWORD = "admin secret"
QA = "qa.lee"
QA_PASSWORD = "qa secret"
RA = "ra.kim"
RA_PASSWORD = "ra secret"


class DirectoryFetcher(FetcherInterface):
    """Answers ``BASE_URL/<path>`` from a directory, with 404 for missing files."""

    def __init__(self, public_dir: Path) -> None:
        self.public_dir = public_dir

    def _fetch(self, url: str) -> Iterator[bytes]:
        path = self.public_dir / unquote(urlparse(url).path).lstrip("/")
        if not path.is_file():
            raise DownloadHTTPError(f"not found: {url}", 404)
        return iter([path.read_bytes()])


@dataclass
class Signing:
    """A created image repository (with one model delegated to QA) and director."""

    public_dir: Path
    keys: KeyStore
    clock: FrozenClock
    image: ImageRepository
    director: Director
    admin: Signer
    qa: Signer

    def image_root_signers(self) -> list[Signer]:
        """The image root's signers, unlocked with the demo root password."""
        return unlock_root_signers(self.keys, self.image.chain().root, [ROOT_PASSWORD])

    def director_root_signers(self) -> list[Signer]:
        """The director root's signers, unlocked with the demo root password."""
        return unlock_root_signers(self.keys, self.director.root(), [ROOT_PASSWORD])

    def image_client(self, work: Path, root_version: int = 1) -> Updater:
        """A fresh ngclient for the image repository, bootstrapped with ``N.root.json``."""
        (work / "meta").mkdir(parents=True, exist_ok=True)
        return Updater(
            metadata_dir=str(work / "meta"),
            metadata_base_url=image_metadata_url(BASE_URL),
            target_dir=str(work),
            target_base_url=image_targets_url(BASE_URL),
            fetcher=DirectoryFetcher(self.public_dir),
            bootstrap=self.image.root_bytes(root_version),
        )

    def director_client(self, work: Path, device_id: str) -> Updater:
        """A fresh ngclient for one device's director metadata, bootstrapped with root 1."""
        (work / "meta").mkdir(parents=True, exist_ok=True)
        return Updater(
            metadata_dir=str(work / "meta"),
            metadata_base_url=director_metadata_url(BASE_URL, device_id),
            target_dir=str(work),
            target_base_url=image_targets_url(BASE_URL),
            fetcher=DirectoryFetcher(self.public_dir),
            bootstrap=self.director.root_bytes(1),
        )

    def publish(
        self, work: Path, version_number: int, content: bytes, model: str = MODEL
    ) -> TargetFile:
        """Publish ``content`` as ``<model>/<model>-<n>.img`` signed by QA."""
        artifact = work / f"artifact-{model}-{version_number}.img"
        artifact.write_bytes(content)
        info = image_info(version_number, model)
        filename = f"{model}-{version_number}.img"
        return publish_image(self.image, artifact, filename, info, [self.qa])


def image_info(version_number: int, model: str = MODEL) -> ImageInfo:
    """Custom fields of a released image numbered ``version_number``."""
    return ImageInfo(
        release_id=f"R-{version_number}",
        model=model,
        hardware_revisions=("B",),
        version=f"{version_number // 100}.{version_number % 100}.0",
        version_number=version_number,
        min_from_version_number=None,
    )


def make_signing(tmp_path: Path, clock: FrozenClock) -> Signing:
    """Demo-style signing: one root holder, admin holds targets, QA signs model IP-100."""
    keys = KeyStore(tmp_path / "keys")
    public_dir = tmp_path / "public"
    setup = create_signing(
        public_dir,
        keys,
        clock,
        root_passwords=[ROOT_PASSWORD],
        root_threshold=1,
        targets_username=ADMIN,
        targets_password=ADMIN_PASSWORD,
        production=False,
    )
    admin = keys.unlock_user_key(ADMIN, ADMIN_PASSWORD)
    keys.generate_user_key(QA, QA_PASSWORD)
    qa = keys.unlock_user_key(QA, QA_PASSWORD)
    setup.image.add_model(MODEL, [qa.public_key], 1, targets_signers=[admin], model_signers=[qa])
    return Signing(public_dir, keys, clock, setup.image, setup.director, admin, qa)
