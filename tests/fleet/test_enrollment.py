"""Device registration and enrollment: who may register, and a token that works exactly once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from medfleet.audit.tables import AuditEventRow
from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.fleet import enrollment
from medfleet.fleet.errors import (
    DeviceExistsError,
    DeviceNotFoundError,
    EnrollmentRefusedError,
    FleetNotAllowedError,
    InvalidDeviceError,
)
from medfleet.runtime import Runtime
from medfleet.signing.distribution import Distribution
from medfleet.signing.errors import RepositoryNotFoundError
from tests.builders import World, build_world, create_distribution


def raw_public_key() -> bytes:
    """A fresh device key's raw public bytes."""
    return (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )


def register(rt: Runtime, world: World, serial: str = "SN-1") -> enrollment.Registration:
    """Register an IP-100 rev B for hospital A, as the manufacturer's admin."""
    with transaction(rt.sessions) as session:
        return enrollment.register_device(
            session,
            rt.audit,
            world.admin,
            org_id=world.hospital_a,
            model="IP-100",
            hardware_revision="B",
            serial=serial,
        )


@pytest.fixture
def world(runtime: Runtime, distribution: Distribution) -> World:
    return build_world(runtime)


def test_register_then_enroll_binds_the_key_and_burns_the_token(
    runtime: Runtime, world: World
) -> None:
    registration = register(runtime, world)
    assert registration.enrollment_token.startswith("mfe_")
    key = raw_public_key()
    with transaction(runtime.sessions) as session:
        enrolled = enrollment.enroll(
            session, runtime.audit, runtime.distribution, registration.enrollment_token, key
        )
        device = enrolled.device
        assert (device.public_key, device.key_id) == (key, enrollment.key_id_of(key))
        assert device.enrollment_token_sha256 is None
        # the device gets the published roots and its own (empty) director repository
        assert enrolled.roots == runtime.distribution.enrollment_roots()
        assert runtime.distribution.director.devices() == [device.device_id]
        assert runtime.distribution.director.assigned(device.device_id) is None
    with (
        pytest.raises(EnrollmentRefusedError),
        transaction(runtime.sessions) as session,
    ):
        enrollment.enroll(
            session,
            runtime.audit,
            runtime.distribution,
            registration.enrollment_token,
            raw_public_key(),
        )
    with transaction(runtime.sessions) as session:
        actions = session.scalars(
            select(AuditEventRow.action).where(AuditEventRow.object_type == "device")
        ).all()
    assert actions == ["device.registered", "device.enrolled"]


def test_an_expired_token_is_refused(runtime: Runtime, world: World, clock: FrozenClock) -> None:
    registration = register(runtime, world)
    clock.advance(enrollment.ENROLLMENT_TTL + timedelta(seconds=1))
    with (
        pytest.raises(EnrollmentRefusedError),
        transaction(runtime.sessions) as session,
    ):
        enrollment.enroll(
            session,
            runtime.audit,
            runtime.distribution,
            registration.enrollment_token,
            raw_public_key(),
        )


@pytest.mark.parametrize("key", [b"", b"\x01" * 31, b"\x01" * 33])
def test_a_malformed_key_is_refused_and_the_token_survives(
    runtime: Runtime, world: World, key: bytes
) -> None:
    registration = register(runtime, world)
    with pytest.raises(InvalidDeviceError), transaction(runtime.sessions) as session:
        enrollment.enroll(
            session, runtime.audit, runtime.distribution, registration.enrollment_token, key
        )
    with transaction(runtime.sessions) as session:
        enrollment.enroll(
            session,
            runtime.audit,
            runtime.distribution,
            registration.enrollment_token,
            raw_public_key(),
        )


def test_only_manufacturer_registrars_register(runtime: Runtime, world: World) -> None:
    for principal in (world.engineer, world.admin_a, world.biomed_a):
        with pytest.raises(FleetNotAllowedError), transaction(runtime.sessions) as session:
            enrollment.register_device(
                session,
                runtime.audit,
                principal,
                org_id=world.hospital_a,
                model="IP-100",
                hardware_revision="B",
                serial="SN-9",
            )


@pytest.mark.parametrize(
    ("field", "value"),
    [("model", "../etc"), ("hardware_revision", ""), ("serial", " "), ("org_id", 1)],
)
def test_bad_registrations_are_refused(
    runtime: Runtime, world: World, field: str, value: object
) -> None:
    fields: dict[str, object] = {
        "org_id": world.hospital_a,
        "model": "IP-100",
        "hardware_revision": "B",
        "serial": "SN-2",
    }
    fields[field] = value if field != "org_id" else world.admin.org_id  # the manufacturer
    with pytest.raises(InvalidDeviceError), transaction(runtime.sessions) as session:
        enrollment.register_device(session, runtime.audit, world.admin, **fields)  # type: ignore[arg-type]


def test_a_serial_is_registered_once_per_model(runtime: Runtime, world: World) -> None:
    register(runtime, world)
    with pytest.raises(DeviceExistsError):
        register(runtime, world)


def test_hospitals_see_only_their_own_devices(runtime: Runtime, world: World) -> None:
    device_id = register(runtime, world).device.device_id
    with transaction(runtime.sessions) as session:
        assert [d.device_id for d in enrollment.visible_devices(session, world.biomed_a)] == [
            device_id
        ]
        assert enrollment.visible_devices(session, world.biomed_b) == []
        assert enrollment.get_device(session, world.admin, device_id).device_id == device_id
        with pytest.raises(DeviceNotFoundError):
            enrollment.get_device(session, world.biomed_b, device_id)


def test_enrollment_before_signing_exists_is_refused_and_changes_nothing(
    runtime: Runtime, tmp_path: Path
) -> None:
    world = build_world(runtime)  # this test's runtime has no update repositories
    registration = register(runtime, world)
    with (
        pytest.raises(RepositoryNotFoundError, match="medfleet init"),
        transaction(runtime.sessions) as session,
    ):
        enrollment.enroll(
            session, runtime.audit, runtime.distribution, registration.enrollment_token,
            raw_public_key(),
        )  # fmt: skip
    create_distribution(runtime)
    with transaction(runtime.sessions) as session:
        enrolled = enrollment.enroll(
            session, runtime.audit, runtime.distribution, registration.enrollment_token,
            raw_public_key(),
        )  # fmt: skip
        assert enrolled.device.enrolled_at is not None
