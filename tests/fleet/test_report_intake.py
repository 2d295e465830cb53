"""Signed status reports arriving at the server: accepted once, in order, from the device only.

Reports are signed with ``medfleet.agent.reports.sign_report`` (the agent's own code) by device
keys made here; the server verifies them with the key the device enrolled.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from medfleet.agent.identity import DeviceIdentity
from medfleet.agent.reports import ReportContent, StatusReport, canonical_json, sign_report
from medfleet.db.engine import transaction
from medfleet.fleet import enrollment
from medfleet.fleet.errors import (
    DeviceNotFoundError,
    ReportNotTrustedError,
    ReportRejectedError,
    ReportReplayedError,
)
from medfleet.fleet.report_intake import Acknowledgement, accept_report
from medfleet.fleet.tables import Device, DeviceReport
from medfleet.runtime import Runtime
from medfleet.signing.distribution import Distribution
from tests.builders import World, build_world


def enrolled_device(rt: Runtime, world: World, serial: str) -> tuple[str, DeviceIdentity]:
    """A registered device that enrolled with a fresh identity."""
    identity = DeviceIdentity(Ed25519PrivateKey.generate())
    with transaction(rt.sessions) as session:
        registration = enrollment.register_device(
            session, rt.audit, world.admin,
            org_id=world.hospital_a, model="IP-100", hardware_revision="B", serial=serial,
        )  # fmt: skip
        enrollment.enroll(
            session,
            rt.audit,
            rt.distribution,
            registration.enrollment_token,
            identity.public_key_bytes,
        )
        return registration.device.device_id, identity


def signed(identity: DeviceIdentity, device_id: str, seq: int, version: str = "4.2.0") -> bytes:
    """A committed-install report about ``version``."""
    content = ReportContent("a", version, 420, "idle", "committed", None, None)
    report = StatusReport(device_id, seq, datetime(2026, 11, 21, 9, 0, tzinfo=UTC), content)
    return sign_report(report, identity)


def send(rt: Runtime, device_id: str, document: bytes) -> Acknowledgement:
    with transaction(rt.sessions) as session:
        return accept_report(session, rt.audit, device_id, document)


def device_state(rt: Runtime, device_id: str) -> tuple[int, str | None, int]:
    """(last accepted seq, attested version, reports stored)."""
    with transaction(rt.sessions) as session:
        device = session.scalars(select(Device).where(Device.device_id == device_id)).one()
        stored = session.scalar(
            select(func.count())
            .select_from(DeviceReport)
            .where(DeviceReport.device_pk == device.id)
        )
        return device.last_report_seq, device.installed_version, stored or 0


@pytest.fixture
def world(runtime: Runtime, distribution: Distribution) -> World:
    return build_world(runtime)


@pytest.fixture
def device(runtime: Runtime, world: World) -> tuple[str, DeviceIdentity]:
    return enrolled_device(runtime, world, "SN-1")


def test_reports_are_accepted_in_order_and_attest_the_version(
    runtime: Runtime, device: tuple[str, DeviceIdentity]
) -> None:
    device_id, identity = device
    assert send(runtime, device_id, signed(identity, device_id, 1)) == Acknowledgement(
        device_id, 1, duplicate=False
    )
    send(runtime, device_id, signed(identity, device_id, 3, version="4.3.0"))  # gaps are fine
    assert device_state(runtime, device_id) == (3, "4.3.0", 2)


def test_the_last_report_resent_is_acknowledged_as_a_duplicate(
    runtime: Runtime, device: tuple[str, DeviceIdentity]
) -> None:
    device_id, identity = device
    document = signed(identity, device_id, 1)
    send(runtime, device_id, document)
    assert send(runtime, device_id, document).duplicate
    assert device_state(runtime, device_id) == (1, "4.2.0", 1)


def test_attack_replayed_device_reports(
    runtime: Runtime, device: tuple[str, DeviceIdentity]
) -> None:
    """The attacker captured genuine signed reports and sends an old one again, or a new
    report under a used sequence number, to make the server believe an older state."""
    device_id, identity = device
    old = signed(identity, device_id, 1, version="4.2.0")
    send(runtime, device_id, old)
    send(runtime, device_id, signed(identity, device_id, 2, version="4.3.0"))
    with pytest.raises(ReportReplayedError, match="not after the last accepted report 2"):
        send(runtime, device_id, old)
    with pytest.raises(ReportReplayedError):
        send(runtime, device_id, signed(identity, device_id, 2, version="4.2.0"))
    assert device_state(runtime, device_id) == (2, "4.3.0", 2)


def test_unsigned_and_wrongly_signed_reports_are_not_trusted(
    runtime: Runtime, device: tuple[str, DeviceIdentity]
) -> None:
    device_id, identity = device
    genuine = json.loads(signed(identity, device_id, 1))
    unsigned = canonical_json({"report": genuine["report"]})
    with pytest.raises(ReportNotTrustedError, match="not signed"):
        send(runtime, device_id, unsigned)
    impostor = DeviceIdentity(Ed25519PrivateKey.generate())
    with pytest.raises(ReportNotTrustedError, match="not the device's key"):
        send(runtime, device_id, signed(impostor, device_id, 1))
    forged = dict(genuine)
    forged["report"] = {**genuine["report"], "active_version": "9.9.9"}
    with pytest.raises(ReportNotTrustedError, match="does not verify"):
        send(runtime, device_id, canonical_json(forged))
    assert device_state(runtime, device_id) == (0, None, 0)


def test_foreign_device_reports_are_not_trusted(
    runtime: Runtime, world: World, device: tuple[str, DeviceIdentity]
) -> None:
    device_id, identity = device
    other_id, other = enrolled_device(runtime, world, "SN-2")
    with pytest.raises(ReportNotTrustedError, match="not the device's key"):
        send(runtime, device_id, signed(other, other_id, 1))  # B's report posted as A's
    with pytest.raises(ReportNotTrustedError, match="speaks for device"):
        send(runtime, device_id, signed(identity, other_id, 1))  # A speaking for B
    assert device_state(runtime, device_id) == (0, None, 0)
    assert device_state(runtime, other_id) == (0, None, 0)


@pytest.mark.parametrize("document", [b"", b"{", b'{"report": {}, "signature": {}}', b"x" * 70_000])
def test_malformed_reports_are_rejected(
    runtime: Runtime, device: tuple[str, DeviceIdentity], document: bytes
) -> None:
    with pytest.raises(ReportRejectedError):
        send(runtime, device[0], document)


def test_unknown_and_unenrolled_devices_are_not_found(runtime: Runtime, world: World) -> None:
    with transaction(runtime.sessions) as session:
        registered = enrollment.register_device(
            session, runtime.audit, world.admin,
            org_id=world.hospital_a, model="IP-100", hardware_revision="B", serial="SN-3",
        )  # fmt: skip
        device_id = registered.device.device_id
    identity = DeviceIdentity(Ed25519PrivateKey.generate())
    for target in (device_id, "dev-unknown"):
        with pytest.raises(DeviceNotFoundError):
            send(runtime, target, signed(identity, target, 1))
