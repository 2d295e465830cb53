"""Offline field bundles end to end: server export -> the agent's own bundle verification."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from medfleet.agent.bundle import BundleInstall, verify_bundle
from medfleet.agent.contract import ImageInfo, Instruction
from medfleet.agent.decision import DeviceIdentity, InstalledImage, Repositories
from medfleet.agent.identity import DeviceIdentity as DeviceKey
from medfleet.audit.tables import AuditEventRow
from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.fleet import enrollment, field_bundles
from medfleet.fleet.errors import DeviceNotFoundError, FleetNotAllowedError, InvalidDeviceError
from medfleet.fleet.tables import Device, InstallRecord
from medfleet.runtime import Runtime
from medfleet.signing.bundles import ReleaseNotPublishedError
from medfleet.signing.distribution import Distribution
from medfleet.signing.release_signing import ReleaseToSign, sign_release
from medfleet.signing.tuf_api import Timestamp
from tests.builders import PASSWORD, World, build_world, clock_at_real_time

MODEL = "IP-100"


@pytest.fixture
def clock() -> FrozenClock:
    """Near the real time: the device's TUF client checks expiry against the real clock."""
    return clock_at_real_time()


def image(number: int) -> bytes:
    """Release images that differ a little, so that the delta between them is small."""
    body = bytearray(hashlib.shake_256(b"infusion pump firmware").digest(100_000))
    body[number * 1000 : number * 1000 + 20] = b"release %12d\n" % number
    return bytes(body)


@pytest.fixture
def world(runtime: Runtime, distribution: Distribution) -> World:
    """The world, model IP-100 delegated to QA, and releases R-1 and R-2 signed by QA."""
    built = build_world(runtime)
    keys = distribution.keys
    qa = keys.generate_user_key("qa", "qa key password")
    admin = keys.unlock_user_key("admin", PASSWORD)
    qa_signer = keys.unlock_user_key("qa", "qa key password")
    distribution.image.add_model(MODEL, [qa], 1, targets_signers=[admin], model_signers=[qa_signer])
    for number in (1, 2):
        blob = distribution.blobs.put_bytes(image(number))
        info = ImageInfo(f"R-{number}", MODEL, ("B",), f"4.{number}.0", number)
        release = ReleaseToSign(blob.sha256, f"ip100-4.{number}.0.img", info)
        sign_release(distribution, release, [qa_signer])
    return built


def enrolled(rt: Runtime, world: World, serial: str, revision: str = "B") -> str:
    """A device of hospital A that enrolled and attested running R-1."""
    key = DeviceKey(Ed25519PrivateKey.generate())
    with transaction(rt.sessions) as session:
        registration = enrollment.register_device(
            session, rt.audit, world.admin,
            org_id=world.hospital_a, model=MODEL, hardware_revision=revision, serial=serial,
        )  # fmt: skip
        device = enrollment.enroll(
            session, rt.audit, rt.distribution, registration.enrollment_token,
            key.public_key_bytes,
        ).device  # fmt: skip
        device.installed_version, device.installed_version_number = "4.1.0", 1
        return device.device_id


def export(rt: Runtime, world: World, output: Path, *devices: str) -> field_bundles.BundleExport:
    with transaction(rt.sessions) as session:
        return field_bundles.export_bundle(
            session, rt.audit, rt.distribution, world.admin,
            release_id="R-2", model=MODEL, output=output, device_ids=devices,
        )  # fmt: skip


def test_exported_bundle_verifies_on_the_device_with_its_delta(
    runtime: Runtime, world: World, tmp_path: Path
) -> None:
    device_id = enrolled(runtime, world, "SN-1")
    exported = export(runtime, world, tmp_path / "field.tar", device_id)
    assert exported.devices == (device_id,)
    assert exported.sha256 == hashlib.sha256((tmp_path / "field.tar").read_bytes()).hexdigest()
    assigned = runtime.distribution.director.assigned(device_id)
    assert assigned is not None
    instruction = Instruction.from_custom(assigned.custom)
    assert (instruction.release_id, instruction.delta_path) == (
        "R-2",
        f"{MODEL}/deltas/1-to-2.bsdiff4.mfdelta",
    )

    roots = runtime.distribution.enrollment_roots()
    repositories = Repositories(
        "https://unused.invalid", tmp_path / "tuf", roots.image_root, roots.director_root
    )
    verdict = verify_bundle(
        tmp_path / "field.tar",
        DeviceIdentity(device_id, MODEL, "B"),
        InstalledImage(hashlib.sha256(image(1)).hexdigest(), 1),
        1,
        repositories,
        tmp_path / "out",
    )
    assert isinstance(verdict, BundleInstall), verdict
    assert verdict.decision.info.version_number == 2
    assert verdict.delta_file is not None  # the device patches rather than copying the image
    assert verdict.image_file.read_bytes() == image(2)

    with transaction(runtime.sessions) as session:
        actions = session.scalars(
            select(AuditEventRow.action).where(AuditEventRow.action == "bundle.exported")
        ).all()
    assert actions == ["bundle.exported"]


def test_the_bundle_stays_valid_for_the_field_visit(
    runtime: Runtime, world: World, tmp_path: Path, clock: FrozenClock
) -> None:
    device_id = enrolled(runtime, world, "SN-1")
    export(runtime, world, tmp_path / "field.tar", device_id)
    directory = runtime.distribution.director.device_dir(device_id)
    timestamp = directory.read("timestamp.json", Timestamp).signed
    assert timestamp.expires == clock.now() + field_bundles.FIELD_LIFETIME
    clock.advance(timedelta(days=3))  # the worker leaves it alone during the visit
    assert runtime.distribution.refresh().director.resigned == ()


def test_without_device_names_the_bundle_is_for_devices_assigned_the_release(
    runtime: Runtime, world: World, tmp_path: Path
) -> None:
    first = enrolled(runtime, world, "SN-1")
    enrolled(runtime, world, "SN-2")
    with pytest.raises(InvalidDeviceError, match="--device"):
        export(runtime, world, tmp_path / "none.tar")
    assert not (tmp_path / "none.tar").exists()
    export(runtime, world, tmp_path / "one.tar", first)
    again = export(runtime, world, tmp_path / "again.tar")
    assert again.devices == (first,)


def test_devices_that_cannot_take_the_release_are_refused(
    runtime: Runtime, world: World, tmp_path: Path
) -> None:
    wrong_revision = enrolled(runtime, world, "SN-9", revision="C")
    with pytest.raises(InvalidDeviceError, match="hardware revision C"):
        export(runtime, world, tmp_path / "x.tar", wrong_revision)
    assert runtime.distribution.director.assigned(wrong_revision) is None
    with pytest.raises(DeviceNotFoundError):
        export(runtime, world, tmp_path / "x.tar", "dev-nonexistent")
    with pytest.raises(ReleaseNotPublishedError), transaction(runtime.sessions) as session:
        field_bundles.export_bundle(
            session, runtime.audit, runtime.distribution, world.admin,
            release_id="R-404", model=MODEL, output=tmp_path / "x.tar",
        )  # fmt: skip
    with pytest.raises(FleetNotAllowedError), transaction(runtime.sessions) as session:
        field_bundles.export_bundle(
            session, runtime.audit, runtime.distribution, world.biomed_a,
            release_id="R-2", model=MODEL, output=tmp_path / "x.tar",
        )  # fmt: skip
    assert not (tmp_path / "x.tar").exists()


def test_a_technician_records_the_install(runtime: Runtime, world: World) -> None:
    device_id = enrolled(runtime, world, "SN-1")
    digest = "ab" * 32
    with transaction(runtime.sessions) as session:
        field_bundles.record_install(
            session, runtime.audit, runtime.distribution, world.biomed_a,
            device_id=device_id, release_id="R-2", bundle_sha256=digest,
        )  # fmt: skip
    with transaction(runtime.sessions) as session:
        record = session.scalars(select(InstallRecord)).one()
        assert (record.version, record.method, record.bundle_sha256) == ("4.2.0", "bundle", digest)
        device = session.scalars(select(Device).where(Device.device_id == device_id)).one()
        assert device.installed_version == "4.1.0"  # a claim; the signed report attests
    for principal, error in (
        (world.biomed_b, DeviceNotFoundError),
        (world.engineer, FleetNotAllowedError),
    ):
        with pytest.raises(error), transaction(runtime.sessions) as session:
            field_bundles.record_install(
                session, runtime.audit, runtime.distribution, principal,
                device_id=device_id, release_id="R-2",
            )  # fmt: skip
    with pytest.raises(ReleaseNotPublishedError), transaction(runtime.sessions) as session:
        field_bundles.record_install(
            session, runtime.audit, runtime.distribution, world.admin,
            device_id=device_id, release_id="R-404",
        )  # fmt: skip
    with transaction(runtime.sessions) as session:
        assert len(session.scalars(select(InstallRecord)).all()) == 1
