"""UptaneSimulator: medfleet's image repository and director repositories in memory, for the agent.

In the style of python-tuf's ``tests/repository_simulator.py``: metadata is built with
``tuf.api.metadata`` and signed with securesystemslib ``CryptoSigner`` keys, laid out as
``medfleet.agent.contract`` says, and served by URL through one ``FetcherInterface`` so the real,
unmodified ``ngclient.Updater`` runs on top. Attacks are state changes of the simulated world:
re-sign with another key, let metadata expire, freeze or replay what a mirror serves, serve other
bytes at a URL, or serve endless data.

Unlike python-tuf's simulator, publishing is explicit (``SimRepository.publish``): every published
version stays servable as bytes, which is what freeze, rollback and mix-and-match attacks replay.

Example::

    sim = UptaneSimulator()
    v1 = sim.publish_image("IP-100", b"one", 100)
    v2 = sim.publish_image("IP-100", b"two", 200)
    device = sim.enroll(tmp_path, installed=v1)
    sim.assign(device.identity.device_id, v2)
    assert isinstance(device.check(), Install)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import tarfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from unittest import mock
from urllib import parse

from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.exceptions import DownloadHTTPError
from tuf.api.metadata import (
    TOP_LEVEL_ROLE_NAMES,
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.ngclient._internal import trusted_metadata_set
from tuf.ngclient.fetcher import FetcherInterface

from medfleet.agent import contract
from medfleet.agent.bundle import MANIFEST
from medfleet.agent.contract import DeltaInfo, DeltaMethod, ImageInfo, Instruction
from medfleet.agent.decision import (
    Decision,
    DeviceIdentity,
    InstalledImage,
    Repositories,
)
from medfleet.agent.updates import (
    check_for_update,
)

BASE_URL = "https://updates.medfleet.test"
V1 = b"image one " * 200  # the image devices run at first (version number 100)
V2 = b"image two " * 300  # its successor (version number 200)
MODEL = "IP-100"
HARDWARE_REVISION = "B"
DAY = dt.timedelta(days=1)
IMAGE_LIFETIMES = {"root": 365 * DAY, "targets": 90 * DAY, "snapshot": 7 * DAY, "timestamp": DAY}
DIRECTOR_LIFETIMES = {"root": 365 * DAY, "targets": DAY, "snapshot": DAY, "timestamp": DAY}
Chunks = Callable[[], Iterable[bytes]]


class SimRepository:
    """One TUF repository in memory: mutable metadata, explicit publishing, bytes served by name.

    ``files`` maps a metadata file name (``1.root.json``, ``timestamp.json``,
    ``3.snapshot.json``, ``2.model-IP-100.json`` …) to the bytes a mirror serves for it.
    """

    def __init__(
        self,
        now: dt.datetime,
        lifetimes: Mapping[str, dt.timedelta],
        thresholds: Mapping[str, int] | None = None,
        signers: dict[str, list[Signer]] | None = None,
    ) -> None:
        self.now = now
        self.lifetimes = dict(lifetimes)
        self.root = Metadata(Root(expires=now + lifetimes["root"], consistent_snapshot=True))
        self.timestamp = Metadata(Timestamp(expires=now + lifetimes["timestamp"]))
        self.snapshot = Metadata(Snapshot(expires=now + lifetimes["snapshot"]))
        self.roles: dict[str, Metadata[Targets]] = {
            "targets": Metadata(Targets(expires=now + lifetimes["targets"]))
        }
        self.signers: dict[str, list[Signer]] = signers if signers is not None else {}
        for role in sorted(TOP_LEVEL_ROLE_NAMES):
            threshold = (thresholds or {}).get(role, 1)
            self.root.signed.roles[role].threshold = threshold
            if signers is None:
                self.signers[role] = [CryptoSigner.generate_ed25519() for _ in range(threshold)]
            for signer in self.signers[role]:
                self.root.signed.add_key(signer.public_key, role)
        self.files: dict[str, bytes] = {}
        self.frozen: dict[str, bytes] | None = None
        self._store(self.root, "root")
        for name in self.roles:
            self._store(self.roles[name], name)
        self._store(self.snapshot, "snapshot")
        self._store(self.timestamp, "timestamp")

    def add_role(self, name: str, paths: list[str]) -> None:
        """Delegate ``paths`` from top-level targets to a new role with its own key."""
        targets = self.roles["targets"].signed
        if targets.delegations is None:
            targets.delegations = Delegations(keys={}, roles={})
        assert targets.delegations.roles is not None
        targets.delegations.roles[name] = DelegatedRole(name, [], 1, True, paths)
        signer = CryptoSigner.generate_ed25519()
        targets.add_key(signer.public_key, name)
        self.signers[name] = [signer]
        self.roles[name] = Metadata(Targets(expires=self.now + self.lifetimes["targets"]))
        self._store(self.roles[name], name)

    def publish(self, *changed: str) -> None:
        """Publish new versions of the ``changed`` targets roles, then snapshot and timestamp."""
        for name in changed:
            self.roles[name].signed.version += 1
            self._store(self.roles[name], name)
        for name, role in self.roles.items():
            self.snapshot.signed.meta[f"{name}.json"] = MetaFile(role.signed.version)
        self.snapshot.signed.version += 1
        self._store(self.snapshot, "snapshot")
        self.publish_timestamp()

    def renew(self, at: dt.datetime, *roles: str) -> None:
        """Re-sign as of ``at``: ``roles`` (targets roles), snapshot and timestamp expire later."""
        for name in roles:
            self.roles[name].signed.expires = at + self.lifetimes["targets"]
        self.snapshot.signed.expires = at + self.lifetimes["snapshot"]
        self.timestamp.signed.expires = at + self.lifetimes["timestamp"]
        self.publish(*roles)

    def publish_timestamp(self, snapshot_version: int | None = None) -> None:
        """Publish a new timestamp pointing at the current snapshot (or ``snapshot_version``)."""
        self.timestamp.signed.snapshot_meta = MetaFile(
            snapshot_version or self.snapshot.signed.version
        )
        self.timestamp.signed.version += 1
        self._store(self.timestamp, "timestamp")

    def publish_root(self, also_signed_by: Iterable[Signer] = ()) -> None:
        """Publish the next root version, signed by the current root keys and ``also_signed_by``."""
        self.root.signed.version += 1
        self._store(self.root, "root", extra=list(also_signed_by))

    def rotate_keys(self, role: str) -> list[Signer]:
        """Replace ``role``'s keys by as many new ones, publish it all; returns the old signers."""
        old = self.signers[role]
        new = [CryptoSigner.generate_ed25519() for _ in old]
        if role in TOP_LEVEL_ROLE_NAMES:
            for signer in old:
                self.root.signed.revoke_key(signer.public_key.keyid, role)
            for signer in new:
                self.root.signed.add_key(signer.public_key, role)
            self.signers[role] = new
            self.publish_root(also_signed_by=old if role == "root" else ())
            self.publish(*self.roles)
        else:
            targets = self.roles["targets"].signed
            for signer in old:
                targets.revoke_key(signer.public_key.keyid, role)
            for signer in new:
                targets.add_key(signer.public_key, role)
            self.signers[role] = new
            self.publish("targets", role)
        return old

    def sign_with(self, role: str, signers: list[Signer]) -> None:
        """From now on sign ``role`` with ``signers`` (an attacker's keys, or too few keys)."""
        self.signers[role] = signers

    def served(self, name: str) -> bytes | None:
        """What a mirror returns for metadata file ``name`` (None: 404)."""
        return (self.frozen if self.frozen is not None else self.files).get(name)

    def freeze(self) -> None:
        """Mirrors keep serving what is published now, whatever the repository publishes later."""
        self.frozen = dict(self.files)

    def current_files(self) -> dict[str, bytes]:
        """Every root version and the metadata the current timestamp leads to (for bundles)."""
        names = [f"{v}.root.json" for v in range(1, self.root.signed.version + 1)]
        names += ["timestamp.json", f"{self.snapshot.signed.version}.snapshot.json"]
        names += [f"{role.signed.version}.{name}.json" for name, role in self.roles.items()]
        return {name: self.files[name] for name in names}

    def _store(self, metadata: Metadata, role: str, extra: list[Signer] | None = None) -> None:
        metadata.signatures.clear()
        for signer in [*self.signers[role], *(extra or [])]:
            metadata.sign(signer, append=True)
        version = metadata.signed.version
        name = "timestamp.json" if role == "timestamp" else f"{version}.{role}.json"
        self.files[name] = metadata.to_bytes()


class UptaneSimulator(FetcherInterface):
    """The image repository plus one director repository per device, served at ``base_url``.

    All director repositories share the director's keys (one director root, as in production).
    ``mirror`` overrides what is served at a URL (tampering, endless data); ``fetched`` lists
    every URL asked for.
    """

    def __init__(
        self, base_url: str = BASE_URL, image_thresholds: Mapping[str, int] | None = None
    ) -> None:
        self.base_url = base_url
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.image = SimRepository(self.now, IMAGE_LIFETIMES, image_thresholds)
        self.directors: dict[str, SimRepository] = {}
        self._director_root = SimRepository(self.now, DIRECTOR_LIFETIMES)
        self._director_signers = self._director_root.signers
        self.blobs: dict[str, bytes] = {}
        self.mirror: dict[str, Chunks] = {}
        self.fetched: list[str] = []

    # --- publishing -----------------------------------------------------------------------

    def add_model(self, model: str) -> str:
        """Create the model's delegated role (images and deltas under ``<model>/``)."""
        role = contract.model_role(model)
        if role not in self.image.roles:
            self.image.add_role(role, [f"{model}/*", f"{model}/deltas/*"])
            self.image.publish("targets")
        return role

    def publish_image(
        self,
        model: str,
        data: bytes,
        version_number: int,
        *,
        hardware_revisions: tuple[str, ...] = (HARDWARE_REVISION,),
        min_from_version_number: int | None = None,
        role: str | None = None,
    ) -> TargetFile:
        """Release an image: signed into ``model-<model>`` (or ``role``), its bytes served."""
        info = ImageInfo(
            release_id=f"R-{version_number}",
            model=model,
            hardware_revisions=hardware_revisions,
            version=f"{version_number // 100}.{version_number % 100}.0",
            version_number=version_number,
            min_from_version_number=min_from_version_number,
        )
        path = f"{model}/image-{version_number}.img"
        return self._publish_target(role or self.add_model(model), path, data, info.to_custom())

    def publish_delta(
        self,
        model: str,
        base: TargetFile,
        result: TargetFile,
        data: bytes,
        method: DeltaMethod = "bsdiff4",
    ) -> TargetFile:
        """Publish a delta that turns image ``base`` into image ``result``."""
        info = DeltaInfo(model, base.hashes["sha256"], result.path, method)
        path = f"{model}/deltas/{base.hashes['sha256'][:12]}-to-{result.path.rsplit('/')[-1]}"
        return self._publish_target(self.add_model(model), f"{path}.delta", data, info.to_custom())

    def _publish_target(self, role: str, path: str, data: bytes, custom: dict) -> TargetFile:
        target = TargetFile.from_data(path, data, ["sha256", "sha512"])
        target.unrecognized_fields["custom"] = custom
        self.image.roles[role].signed.targets[path] = target
        self.blobs[path] = data
        self.image.publish(role)
        return target

    # --- the director ---------------------------------------------------------------------

    def add_device(self, device_id: str) -> SimRepository:
        """The director repository of one device (same director keys as every other device)."""
        if device_id not in self.directors:
            self.directors[device_id] = SimRepository(
                self.now, DIRECTOR_LIFETIMES, signers=self._director_signers
            )
        return self.directors[device_id]

    def assign(
        self,
        device_id: str,
        image: TargetFile | None,
        delta: TargetFile | None = None,
        instruction: Instruction | None = None,
    ) -> None:
        """The director tells ``device_id`` to install ``image`` (None: nothing)."""
        targets: list[TargetFile] = []
        if image is not None:
            info = ImageInfo.from_custom(image.custom)
            delta_path = delta.path if delta else None
            targets.append(
                director_target(
                    image,
                    instruction
                    or Instruction(device_id, info.release_id, info.version_number, delta_path),
                )
            )
        self.set_director_targets(device_id, targets)

    def set_director_targets(self, device_id: str, targets: list[TargetFile]) -> None:
        """Publish exactly ``targets`` as the device's director targets (attacks use this)."""
        director = self.add_device(device_id)
        director.roles["targets"].signed.targets = {target.path: target for target in targets}
        director.publish("targets")

    # --- what devices are given at enrollment ---------------------------------------------

    def repositories(self, state_dir: Path, base_url: str | None = None) -> Repositories:
        """The trust a device gets at enrollment: both version-1 roots, its cache directory."""
        return Repositories(
            base_url=base_url or self.base_url,
            state_dir=state_dir,
            image_root=self.image.files["1.root.json"],
            director_root=self._director_root.files["1.root.json"],
        )

    def enroll(
        self,
        state_dir: Path,
        installed: TargetFile,
        device_id: str = "dev-1",
        hardware_revision: str = HARDWARE_REVISION,
        model: str = MODEL,
    ) -> SimDevice:
        """A device of ``model`` running ``installed``, its floor at that version."""
        self.add_device(device_id)
        info = ImageInfo.from_custom(installed.custom)
        return SimDevice(
            sim=self,
            identity=DeviceIdentity(device_id, model, hardware_revision),
            installed=InstalledImage(installed.hashes["sha256"], info.version_number),
            floor=info.version_number,
            repositories=self.repositories(state_dir),
        )

    # --- serving --------------------------------------------------------------------------

    def serve_instead(self, url: str, data: bytes) -> None:
        """A malicious mirror serves ``data`` at ``url``."""
        self.mirror[url] = lambda: [data]

    def serve_endless(self, url: str) -> None:
        """A malicious mirror answers ``url`` with a stream that never ends."""

        def endless() -> Iterator[bytes]:
            while True:
                yield b"\x00" * 65536

        self.mirror[url] = endless

    def director_url(self, device_id: str, name: str) -> str:
        """The URL of one director metadata file."""
        return contract.director_metadata_url(self.base_url, device_id) + name

    def image_url(self, name: str) -> str:
        """The URL of one image-repository metadata file."""
        return contract.image_metadata_url(self.base_url) + name

    def _fetch(self, url: str) -> Iterator[bytes]:
        self.fetched.append(url)
        if url in self.mirror:
            return iter(self.mirror[url]())
        data = self.lookup(url)
        if data is None:
            raise DownloadHTTPError(f"not found: {url}", 404)
        return iter([data])

    def lookup(self, url: str) -> bytes | None:
        """What the honest repositories serve at ``url`` (None: 404)."""
        relative = url.removeprefix(f"{self.base_url}/")
        image_metadata = f"{contract.IMAGE_REPO_DIR}/{contract.METADATA_DIR}/"
        image_targets = f"{contract.IMAGE_REPO_DIR}/{contract.TARGETS_DIR}/"
        if relative.startswith(image_metadata):
            return self.image.served(parse.unquote(relative.removeprefix(image_metadata)))
        if relative.startswith(image_targets):
            directory, slash, name = relative.removeprefix(image_targets).rpartition("/")
            digest, _, filename = name.partition(".")
            data = self.blobs.get(f"{directory}{slash}{filename}")
            ok = data is not None and hashlib.sha256(data).hexdigest() == digest
            return data if ok else None
        device, _, rest = relative.removeprefix(f"{contract.DIRECTOR_REPO_DIR}/").partition("/")
        director = self.directors.get(device)
        if director is None or not rest.startswith(f"{contract.METADATA_DIR}/"):
            return None
        return director.served(rest.removeprefix(f"{contract.METADATA_DIR}/"))

    def bundle_files(self, model: str, device_ids: Iterable[str]) -> dict[str, bytes]:
        """What ``medfleet bundle export`` bundles: current metadata and the model's files."""
        files = {
            f"{contract.IMAGE_REPO_DIR}/{contract.METADATA_DIR}/{name}": data
            for name, data in self.image.current_files().items()
        }
        for device_id in device_ids:
            prefix = f"{contract.DIRECTOR_REPO_DIR}/{device_id}/{contract.METADATA_DIR}/"
            files |= {prefix + n: d for n, d in self.directors[device_id].current_files().items()}
        for path, data in self.blobs.items():
            if path.startswith(f"{model}/"):
                directory, slash, name = path.rpartition("/")
                digest = hashlib.sha256(data).hexdigest()
                member = f"{contract.IMAGE_REPO_DIR}/{contract.TARGETS_DIR}/{directory}{slash}"
                files[f"{member}{digest}.{name}"] = data
        return files


def director_target(image: TargetFile, instruction: Instruction) -> TargetFile:
    """A director target: the image's path, length and hashes, and the instruction."""
    return TargetFile(
        image.length,
        dict(image.hashes),
        image.path,
        unrecognized_fields={"custom": instruction.to_custom()},
    )


@dataclass
class SimDevice:
    """A device as ``check_for_update`` sees it; ``check`` runs the real Updaters on ``sim``."""

    sim: UptaneSimulator
    identity: DeviceIdentity
    installed: InstalledImage
    floor: int
    repositories: Repositories

    def check(self) -> Decision:
        """One full check against the simulator, as the agent's run loop does it."""
        return check_for_update(
            self.identity, self.installed, self.floor, self.repositories, fetcher=self.sim
        )

    def installs(self, image: TargetFile) -> None:
        """The device committed ``image``: it runs it and its floor moves up to it."""
        version_number = ImageInfo.from_custom(image.custom).version_number
        self.installed = InstalledImage(image.hashes["sha256"], version_number)
        self.floor = max(self.floor, version_number)


@contextmanager
def device_clock(at: dt.datetime) -> Iterator[None]:
    """python-tuf's client believes it is ``at`` (its one clock is in ``TrustedMetadataSet``)."""

    fake = SimpleNamespace(datetime=SimpleNamespace(now=lambda _tz=None: at), timezone=dt.timezone)
    with mock.patch.object(trusted_metadata_set, "datetime", fake):
        yield


@contextmanager
def serve_http(sim: UptaneSimulator) -> Iterator[str]:
    """Serve ``sim`` over real HTTP on loopback (ETag/If-None-Match); yields the base URL.

    Mirror overrides are streamed without a length until the client hangs up (endless data).
    """

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = sim.base_url + self.path
            sim.fetched.append(url)
            if url in sim.mirror:
                self.send_response(200)
                self.end_headers()
                try:
                    for chunk in sim.mirror[url]():
                        self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return
                return
            data = sim.lookup(url)
            if data is None:
                self.send_error(404)
                return
            etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def read_tar(path: Path) -> dict[str, bytes]:
    """Every regular member of a tar file, by name."""
    with tarfile.open(path, "r:") as tar:
        return {
            member.name: tar.extractfile(member).read()  # type: ignore[union-attr]
            for member in tar.getmembers()
            if member.isfile()
        }


def write_tar(
    path: Path, members: Mapping[str, bytes], links: Mapping[str, str] | None = None
) -> None:
    """Write a tar file as an attacker would: any names, optionally symlinks (name -> target)."""
    with tarfile.open(path, "w:") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)


def rewrite_bundle(
    path: Path,
    *,
    drop: Iterable[str] = (),
    replace: Mapping[str, bytes] | None = None,
    fix_manifest: bool = True,
) -> None:
    """Edit a bundle as an attacker can: drop or replace members, fix the (unsigned) manifest."""
    members = read_tar(path)
    for name in drop:
        del members[name]
    members.update(replace or {})
    if fix_manifest:
        manifest = json.loads(members[MANIFEST])
        manifest["files"] = {
            name: {"length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in members.items()
            if name != MANIFEST
        }
        members[MANIFEST] = json.dumps(manifest).encode()
    write_tar(path, members)
