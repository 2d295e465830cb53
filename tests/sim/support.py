"""A running medfleet server (real HTTP, in-process) with releases and a fleet simulator on it.

Shared by the simulator's tests and ``bench/sim.py``: ``sim_world`` gives a manufacturer with two
hospitals (``tests.builders.build_world``), the device model's delegation in the image
repository, the server under uvicorn on a loopback port, and an API client logged in as the
manufacturer's admin. Releases are signed into the image repository as a release approval
does, and assigned to devices through the director, as a campaign does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from medfleet.agent.contract import ImageInfo, Instruction
from medfleet.db.engine import transaction
from medfleet.fleet import catalog
from medfleet.runtime import Runtime
from medfleet.signing.distribution import Distribution
from medfleet.signing.release_signing import ReleaseToSign, SignedRelease, sign_release
from medfleet.signing.tuf_api import Signer
from medfleet.sim.api import ApiClient
from medfleet.sim.clock import SimClock
from medfleet.sim.device import FactoryImage
from medfleet.sim.fleet import FleetSimulator
from medfleet.sim.server import SimServer
from tests.builders import PASSWORD, World, build_world

MODEL = "IP-100"
REVISION = "B"
IMAGE_BYTES = 64_000


def firmware(number: int, size: int = IMAGE_BYTES) -> bytes:
    """Release ``number``'s image: mostly shared bytes (so deltas are small), a marker apart."""
    body = bytearray(hashlib.shake_256(b"IP-100 firmware").digest(size))
    body[number * 100 : number * 100 + 16] = b"release %8d" % number
    return bytes(body)


def version_of(number: int) -> str:
    """The version string of release ``number``."""
    return f"4.{number}.0"


@dataclass
class SimWorld:
    """The server, the organisations, the signing keys and a place for device files."""

    runtime: Runtime
    clock: SimClock
    world: World
    server: SimServer
    operator: ApiClient
    qa: Signer
    root: Path
    image_bytes: int = IMAGE_BYTES

    def release(self, number: int) -> SignedRelease:
        """Sign release ``number`` of the model into the image repository (with deltas)."""
        distribution = self.runtime.distribution
        blob = distribution.blobs.put_bytes(firmware(number, self.image_bytes))
        info = ImageInfo(f"R-{number}", MODEL, (REVISION,), version_of(number), number)
        release = ReleaseToSign(blob.sha256, f"ip100-{version_of(number)}.img", info)
        return sign_release(distribution, release, [self.qa])

    def assign(
        self, device_ids: Iterable[str | None], signed: SignedRelease, *, delta: bool = True
    ) -> None:
        """Tell each device through the director to install ``signed`` now."""
        info = ImageInfo.from_custom(signed.image.custom)
        delta_path = signed.deltas[0].path if delta and signed.deltas else None
        director = self.runtime.distribution.director
        for device_id in device_ids:
            assert device_id is not None, "the device has not enrolled"
            instruction = Instruction(device_id, info.release_id, info.version_number, delta_path)
            director.assign(
                device_id, signed.image_path, signed.image.length, signed.image.hashes, instruction
            )

    def factory_image(self, number: int = 1) -> FactoryImage:
        """Release ``number``'s image as a file, for factory-fresh devices."""
        path = self.root / f"factory-{number}.img"
        if not path.exists():
            path.write_bytes(firmware(number, self.image_bytes))
        return FactoryImage(path, version_of(number), number)

    def fleet(self, *, workers: int = 4, seed: int = 7) -> FleetSimulator:
        """A fleet simulator on this server, devices running release 1 from the factory."""
        return FleetSimulator(
            self.server.url,
            self.root / "fleet",
            self.clock,
            self.operator,
            self.factory_image(1),
            workers=workers,
            seed=seed,
        )


def catalogue_model(runtime: Runtime, world: World) -> None:
    """Put the model and its revision in the device catalogue unless ``build_world`` did."""
    with transaction(runtime.sessions) as session:
        model = catalog.find_model(session, MODEL)
        if model is None:
            catalog.register_model(
                session, runtime.audit, world.admin, name=MODEL, display_name="Infusion pump"
            )
        if model is None or REVISION not in {r.name for r in model.revisions}:
            catalog.add_hardware_revision(session, runtime.audit, world.admin, MODEL, REVISION)


@contextmanager
def sim_world(
    runtime: Runtime, distribution: Distribution, root: Path, *, image_bytes: int = IMAGE_BYTES
) -> Iterator[SimWorld]:
    """Build the world, delegate the model, start the server and log in as the admin."""
    assert isinstance(runtime.clock, SimClock), "the runtime must run on the scenario clock"
    world = build_world(runtime)
    catalogue_model(runtime, world)
    keys = distribution.keys
    qa_key = keys.generate_user_key("qa", "qa key password")
    qa = keys.unlock_user_key("qa", "qa key password")
    admin = keys.unlock_user_key("admin", PASSWORD)
    distribution.image.add_model(MODEL, [qa_key], 1, targets_signers=[admin], model_signers=[qa])
    with SimServer(runtime) as server:
        operator = ApiClient.login(server.url, "root", PASSWORD)
        yield SimWorld(runtime, runtime.clock, world, server, operator, qa, root, image_bytes)
