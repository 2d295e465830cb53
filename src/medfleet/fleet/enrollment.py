"""Device registration and enrollment: who may add a device, and how it gets its identity.

The manufacturer's admins and fleet operators register a device for a hospital and receive a
one-time enrollment token (shown once, stored as SHA-256, valid for ``ENROLLMENT_TTL``). The
device runs ``medfleet-agent enroll --server URL --token T``: it creates its Ed25519 key and
sends the public half with the token; enrollment binds that key to the device and burns the
token. From then on the key is the device's identity: every status report must be signed by it.
Enrollment also gives the device its (empty) director repository and answers with the roots of
the image repository and the director, which the device trusts from then on.
Hospital staff see only their own organization's devices; a device of another hospital is
"not found", never "forbidden", so its existence is not disclosed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.accounts.tables import Organization
from medfleet.agent.contract import ContractError, check_name
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.fleet.errors import (
    DeviceExistsError,
    DeviceNotFoundError,
    EnrollmentRefusedError,
    FleetNotAllowedError,
    InvalidDeviceError,
)
from medfleet.fleet.tables import Device
from medfleet.signing.distribution import Distribution, EnrollmentRoots

ENROLLMENT_TTL = timedelta(days=7)
ENROLLMENT_TOKEN_PREFIX = "mfe_"  # noqa: S105 - a prefix, not a secret
REGISTRARS = (Role.ADMIN, Role.FLEET_OPERATOR)
ED25519_PUBLIC_KEY_BYTES = 32
_SERIAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/-]{0,99}")


@dataclass(frozen=True)
class Registration:
    """A registered device and its one-time enrollment token (never stored in clear)."""

    device: Device
    enrollment_token: str


@dataclass(frozen=True)
class Enrollment:
    """An enrolled device and the roots it must be given (exact published bytes)."""

    device: Device
    roots: EnrollmentRoots


def _token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def key_id_of(public_key: bytes) -> str:
    """A device key's id: SHA-256 of the raw 32-byte Ed25519 public key, hex."""
    return hashlib.sha256(public_key).hexdigest()


def register_device(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    *,
    org_id: int,
    model: str,
    hardware_revision: str,
    serial: str,
) -> Registration:
    """Register a device for a hospital and issue its enrollment token.

    Raises:
        FleetNotAllowedError: the caller is not a manufacturer admin or fleet operator.
        InvalidDeviceError: a malformed model, revision or serial, or ``org_id`` is no hospital.
        DeviceExistsError: this model and serial are already registered.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER or not principal.has_any(*REGISTRARS):
        raise FleetNotAllowedError(
            "registering devices needs the manufacturer's admin or fleet operator role"
        )
    try:
        check_name("model", model)
        check_name("hardware revision", hardware_revision)
    except ContractError as exc:
        raise InvalidDeviceError(str(exc)) from exc
    serial = serial.strip()
    if not _SERIAL.fullmatch(serial):
        raise InvalidDeviceError("a serial number is 1-100 letters, digits, spaces and ._/-")
    hospital = session.get(Organization, org_id)
    if hospital is None or hospital.kind != OrgKind.HOSPITAL:
        raise InvalidDeviceError(f"organization {org_id} is not a hospital")
    duplicate = session.scalar(
        select(Device.id).where(Device.model == model, Device.serial == serial)
    )
    if duplicate is not None:
        raise DeviceExistsError(f"a {model} with serial {serial!r} is already registered")
    now = audit.clock.now()
    token = ENROLLMENT_TOKEN_PREFIX + secrets.token_urlsafe(32)
    device = Device(
        device_id="dev-" + secrets.token_hex(8),
        org_id=org_id,
        model=model,
        hardware_revision=hardware_revision,
        serial=serial,
        registered_at=now,
        enrollment_token_sha256=_token_sha256(token),
        enrollment_expires_at=now + ENROLLMENT_TTL,
        last_report_seq=0,
    )
    session.add(device)
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            org_id,
            "device.registered",
            "device",
            device.device_id,
            {"model": model, "hardware_revision": hardware_revision, "serial": serial},
        ),
    )
    return Registration(device, token)


def enroll(
    session: Session,
    audit: AuditLog,
    distribution: Distribution,
    token: str,
    public_key: bytes,
) -> Enrollment:
    """Bind ``public_key`` to the device the token was issued for, and burn the token.

    The device's director metadata (no instruction yet) is written before the transaction
    commits; if the commit fails, that metadata names a device that cannot report, which is
    harmless, and a retried enrollment reuses it.

    Raises:
        InvalidDeviceError: ``public_key`` is not a raw 32-byte Ed25519 public key.
        EnrollmentRefusedError: the token is unknown, already used or expired.
        RepositoryNotFoundError: the update repositories were not created (``medfleet init``).
    """
    if len(public_key) != ED25519_PUBLIC_KEY_BYTES:
        raise InvalidDeviceError("the device key must be a raw 32-byte Ed25519 public key")
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise InvalidDeviceError(f"not an Ed25519 public key: {exc}") from exc
    now = audit.clock.now()
    device = session.scalar(
        select(Device)
        .where(Device.enrollment_token_sha256 == _token_sha256(token))
        .with_for_update()
    )
    expires = None if device is None else device.enrollment_expires_at
    if device is None or expires is None or expires <= now:
        raise EnrollmentRefusedError("enrollment token is unknown, used or expired")
    roots = distribution.enrollment_roots()
    distribution.director.enroll(device.device_id)
    device.public_key = public_key
    device.key_id = key_id_of(public_key)
    device.enrolled_at = now
    device.enrollment_token_sha256 = None
    device.enrollment_expires_at = None
    audit.record(
        session,
        NewEvent(
            f"device:{device.device_id}",
            device.org_id,
            "device.enrolled",
            "device",
            device.device_id,
            {"key_id": device.key_id},
        ),
    )
    return Enrollment(device, roots)


def visible_devices(session: Session, principal: Principal) -> list[Device]:
    """The devices the caller may see: all for manufacturer staff, its own for a hospital."""
    statement = select(Device).order_by(Device.id)
    if principal.org_kind is OrgKind.HOSPITAL:
        statement = statement.where(Device.org_id == principal.org_id)
    return list(session.scalars(statement))


def get_device(session: Session, principal: Principal, device_id: str) -> Device:
    """One device the caller may see.

    Raises:
        DeviceNotFoundError: no such device, or it belongs to another hospital.
    """
    device = session.scalar(select(Device).where(Device.device_id == device_id))
    if device is None or (
        principal.org_kind is OrgKind.HOSPITAL and device.org_id != principal.org_id
    ):
        raise DeviceNotFoundError(f"no device {device_id!r}")
    return device
