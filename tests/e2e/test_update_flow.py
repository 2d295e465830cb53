"""The whole update path over real HTTP: the medfleet server (uvicorn) and the real agent.

Release signing -> director assignment -> the agent enrolls, polls, verifies both repositories
with python-tuf, downloads the delta, installs A/B, commits -> its signed report is accepted by
the server, which now attests the new version. Then a clinical-use deferral, an install that
waits for its maintenance window and lands in the server's downtime report, and an offline field
bundle for a device that never reaches the server's repositories.
"""

from __future__ import annotations

import hashlib
import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn

from medfleet.agent.contract import ImageInfo, Instruction
from medfleet.agent.device import SimulatedDevice
from medfleet.agent.enroll_client import enroll
from medfleet.agent.installer import Checkpoint
from medfleet.agent.runner import Agent
from medfleet.agent.status import Action
from medfleet.api.app import create_app
from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.fleet import enrollment, field_bundles
from medfleet.fleet.cmms import cmms_csv
from medfleet.fleet.downtime_reports import downtime_report
from medfleet.fleet.tables import Device
from medfleet.runtime import Runtime
from medfleet.signing.distribution import Distribution
from medfleet.signing.release_signing import ReleaseToSign, SignedRelease, sign_release
from medfleet.signing.tuf_api import Signer
from tests.builders import PASSWORD, World, build_world, clock_at_real_time

MODEL = "IP-100"


@pytest.fixture
def clock() -> FrozenClock:
    """Near the real time: the agent's TUF client checks expiry against the real clock."""
    return clock_at_real_time()


def firmware(number: int) -> bytes:
    body = bytearray(hashlib.shake_256(b"IP-100 firmware").digest(300_000))
    body[number * 5000 : number * 5000 + 16] = b"release %8d" % number
    return bytes(body)


@dataclass
class Server:
    """The deployment, served by uvicorn in this process on a loopback port."""

    runtime: Runtime
    world: World
    url: str
    qa: Signer

    def release(self, number: int) -> SignedRelease:
        distribution = self.runtime.distribution
        blob = distribution.blobs.put_bytes(firmware(number))
        info = ImageInfo(f"R-{number}", MODEL, ("B",), f"4.{number}.0", number)
        release = ReleaseToSign(blob.sha256, f"ip100-4.{number}.0.img", info)
        return sign_release(distribution, release, [self.qa])

    def assign(
        self,
        device_id: str,
        signed: SignedRelease,
        delta: str | None = None,
        window: tuple[datetime, datetime] | None = None,
    ) -> None:
        info = ImageInfo.from_custom(signed.image.custom)
        after, before = (None, None) if window is None else window
        instruction = Instruction(
            device_id, info.release_id, info.version_number, delta, after, before
        )
        self.runtime.distribution.director.assign(
            device_id, signed.image_path, signed.image.length, signed.image.hashes, instruction
        )

    def register(self, serial: str) -> str:
        with transaction(self.runtime.sessions) as session:
            return enrollment.register_device(
                session, self.runtime.audit, self.world.admin,
                org_id=self.world.hospital_a, model=MODEL, hardware_revision="B", serial=serial,
            ).enrollment_token  # fmt: skip

    def device(self, device_id: str) -> Device:
        with transaction(self.runtime.sessions) as session:
            device = enrollment.get_device(session, self.world.admin, device_id)
            session.expunge(device)
            return device


@pytest.fixture
def server(runtime: Runtime, distribution: Distribution) -> Iterator[Server]:
    world = build_world(runtime)
    keys = distribution.keys
    qa_key = keys.generate_user_key("qa", "qa key password")
    qa = keys.unlock_user_key("qa", "qa key password")
    admin = keys.unlock_user_key("admin", PASSWORD)
    distribution.image.add_model(MODEL, [qa_key], 1, targets_signers=[admin], model_signers=[qa])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)  # connections queue here until uvicorn serves: no start-up race
    host, port = listener.getsockname()
    config = uvicorn.Config(create_app(runtime), log_level="warning", lifespan="off")
    uvicorn_server = uvicorn.Server(config)
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        yield Server(runtime, world, f"http://{host}:{port}", qa)
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=30)
        listener.close()


def device_agent(server: Server, root: Path, serial: str) -> Agent:
    """A device running R-1 that enrolled with the server over HTTP."""
    state_dir, device_dir = root / serial / "state", root / serial / "device"
    enroll(server.url, server.register(serial), state_dir, device_dir)
    factory = root / f"{serial}.img"
    factory.write_bytes(firmware(1))
    SimulatedDevice.create(device_dir, image=factory, version="4.1.0", version_number=1)
    return Agent.open(
        state_dir,
        clock=FrozenClock(datetime.now(UTC)),
        rng=random.Random(3),  # noqa: S311 - poll jitter
    )


def test_a_release_reaches_the_device_and_the_server_attests_it(
    server: Server, tmp_path: Path
) -> None:
    server.release(1)
    agent = device_agent(server, tmp_path, "SN-1")
    device_id = agent.config.device_id

    first = agent.check_once()
    assert first.action is Action.UP_TO_DATE, first
    assert server.device(device_id).installed_version == "4.1.0"  # attested after enrollment

    r2 = server.release(2)
    [delta] = r2.deltas
    server.assign(device_id, r2, delta.path)
    outcome = agent.check_once()
    assert outcome.action is Action.INSTALLED, outcome
    assert outcome.source == "delta"
    assert agent.device.slots.image_path(agent.device.running_slot()).read_bytes() == firmware(2)
    attested = server.device(device_id)
    assert (attested.installed_version, attested.installed_version_number) == ("4.2.0", 2)
    assert outcome.reports_pending == 0

    # nothing changed: the next poll is a 304 and no full check runs
    assert agent.check_once().action is Action.NOT_MODIFIED


def test_the_device_defers_while_in_clinical_use(server: Server, tmp_path: Path) -> None:
    server.release(1)
    agent = device_agent(server, tmp_path, "SN-2")
    agent.check_once()
    server.assign(agent.config.device_id, server.release(2))
    agent.device.set_clinical_use(True)
    assert agent.check_once().action is Action.DEFERRED
    assert server.device(agent.config.device_id).installed_version == "4.1.0"
    agent.device.set_clinical_use(False)
    assert agent.check_once().action is Action.INSTALLED
    assert server.device(agent.config.device_id).installed_version == "4.2.0"


def test_an_install_waits_for_its_window_and_its_downtime_is_reported(
    server: Server, tmp_path: Path
) -> None:
    server.release(1)
    agent = device_agent(server, tmp_path, "SN-4")
    clock = agent.clock
    assert isinstance(clock, FrozenClock)

    def reboot_takes_four_minutes(checkpoint: Checkpoint) -> None:
        if checkpoint.label == "effect:reboot":
            clock.advance(timedelta(minutes=4))

    agent = Agent.open(
        agent.layout.root,
        clock=clock,
        rng=random.Random(4),  # noqa: S311 - poll jitter
        observer=reboot_takes_four_minutes,
    )
    device_id = agent.config.device_id
    agent.check_once()
    opens = clock.now() + timedelta(hours=1)
    server.assign(device_id, server.release(2), window=(opens, opens + timedelta(hours=4)))

    waiting = agent.check_once()
    assert waiting.action is Action.DEFERRED
    assert waiting.detail is not None
    assert waiting.detail.startswith("waiting for the maintenance window")
    agent.device.set_clinical_use(True)
    agent.check_once()
    assert (
        server.device(device_id).in_clinical_use is True
    )  # reported although nothing else changed
    agent.device.set_clinical_use(False)
    clock.advance(timedelta(hours=1, minutes=10))
    assert agent.check_once().action is Action.INSTALLED

    attested = server.device(device_id)
    assert (attested.installed_version, attested.in_clinical_use) == ("4.2.0", False)
    with transaction(server.runtime.sessions) as session:
        [row] = downtime_report(session, server.world.biomed_a, group_by="hospital")
        orders = cmms_csv(session, server.world.biomed_a).splitlines()
    assert (row.installs, row.succeeded, row.downtime_minutes_total) == (1, 1, 4.0)
    assert len(orders) == 2
    assert ",SN-4," in orders[1]
    assert ",4.1.0,4.2.0,committed," in orders[1]


def test_a_field_bundle_installs_offline_and_is_reported_later(
    server: Server, tmp_path: Path
) -> None:
    server.release(1)
    agent = device_agent(server, tmp_path, "SN-3")
    agent.check_once()
    server.release(2)
    bundle = tmp_path / "field.tar"
    with transaction(server.runtime.sessions) as session:
        field_bundles.export_bundle(
            session, server.runtime.audit, server.runtime.distribution, server.world.admin,
            release_id="R-2", model=MODEL, output=bundle, device_ids=[agent.config.device_id],
        )  # fmt: skip
    outcome = agent.install_bundle(bundle)
    assert outcome.action is Action.INSTALLED, outcome
    assert agent.device.running_version() is not None
    assert server.device(agent.config.device_id).installed_version == "4.1.0"  # not yet told
    agent.check_once()  # back online: the pending report goes out
    assert server.device(agent.config.device_id).installed_version == "4.2.0"
