"""Devices that report finished installs, for the downtime, report and CMMS tests.

Every report is signed with the device's own key by the agent's ``sign_report`` and accepted
through the server's real intake (``accept_report``), exactly as over HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from medfleet.agent.identity import DeviceIdentity
from medfleet.agent.reports import ReportContent, ReportTarget, StatusReport, sign_report
from medfleet.db.engine import transaction
from medfleet.fleet import enrollment
from medfleet.fleet.report_intake import Acknowledgement, accept_report
from medfleet.runtime import Runtime
from tests.builders import World

T0 = datetime(2026, 3, 7, 7, 0, tzinfo=UTC)
OLD = ("4.2.0", 420)
NEW = ("4.3.0", 430)
SHA = "ab" * 32


@dataclass
class Dev:
    """An enrolled device: its id, key, and the next sequence number it will use."""

    device_id: str
    identity: DeviceIdentity
    seq: int = 0
    running: tuple[str, int] = OLD
    sent: list[bytes] = field(default_factory=list)


def enrolled(
    rt: Runtime,
    world: World,
    serial: str,
    *,
    org_id: int | None = None,
    site_id: int | None = None,
    department_id: int | None = None,
    model: str = "IP-100",
    revision: str = "B",
) -> Dev:
    """A device registered by the manufacturer's admin and enrolled with a fresh key."""
    identity = DeviceIdentity(Ed25519PrivateKey.generate())
    with transaction(rt.sessions) as session:
        registration = enrollment.register_device(
            session,
            rt.audit,
            world.admin,
            org_id=world.hospital_a if org_id is None else org_id,
            model=model,
            hardware_revision=revision,
            serial=serial,
            site_id=site_id,
            department_id=department_id,
        )
        enrollment.enroll(
            session, rt.audit, rt.distribution, registration.enrollment_token,
            identity.public_key_bytes,
        )  # fmt: skip
        return Dev(registration.device.device_id, identity)


def document(
    dev: Dev,
    *,
    outcome: str | None = None,
    phase: str = "idle",
    target: tuple[str, int] | None = NEW,
    left: datetime | None = None,
    minutes: float | None = None,
    in_use: bool | None = False,
    detail: str | None = None,
    at: datetime | None = None,
    running: tuple[str, int] | None = None,
) -> bytes:
    """The next signed report of ``dev`` (its seq advanced): ``minutes`` out of service from
    ``left``; ``running`` defaults to the target after a commit, else what the device ran."""
    dev.seq += 1
    if running is None:
        running = target if outcome == "committed" and target else dev.running
    dev.running = running
    returned = None if left is None or minutes is None else left + timedelta(minutes=minutes)
    content = ReportContent(
        active_slot="b",
        active_version=running[0],
        active_version_number=running[1],
        install_phase=outcome if outcome in ("committed", "rolled_back", "failed") else phase,
        outcome=outcome,
        detail=detail,
        target=None
        if target is None
        else ReportTarget(f"IP-100/ip100-{target[0]}.img", target[0], target[1], SHA),
        in_clinical_use=in_use,
        left_service_at=left,
        returned_to_service_at=returned,
    )
    when = at or (returned or T0) + timedelta(seconds=5)
    signed = sign_report(StatusReport(dev.device_id, dev.seq, when, content), dev.identity)
    dev.sent.append(signed)
    return signed


def send(rt: Runtime, dev: Dev, signed: bytes) -> Acknowledgement:
    """Deliver a signed report through the server's intake, in its own transaction."""
    with transaction(rt.sessions) as session:
        return accept_report(session, rt.audit, dev.device_id, signed)


def install(
    rt: Runtime,
    dev: Dev,
    outcome: str = "committed",
    *,
    left: datetime = T0,
    minutes: float | None = 7,
    target: tuple[str, int] = NEW,
    detail: str | None = None,
) -> Acknowledgement:
    """The device reports a finished install (a failed one never left service)."""
    if outcome == "failed":
        return send(rt, dev, document(dev, outcome="failed", target=target, detail=detail))
    return send(
        rt,
        dev,
        document(dev, outcome=outcome, target=target, left=left, minutes=minutes, detail=detail),
    )
