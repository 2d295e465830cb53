"""Device registration and enrollment: who may add a device, and how it gets its identity.

The manufacturer's admins and fleet operators register a device of a catalogue model
(``medfleet.fleet.catalog``) for a hospital, optionally at one of its sites and departments,
with tags, a test-device flag and its GS1 UDI (``medfleet.fleet.device_fields`` holds the
rules), and receive a one-time enrollment token (shown once, stored as SHA-256, valid for
``ENROLLMENT_TTL``). The device runs ``medfleet-agent enroll --server URL --token T``: it
creates its Ed25519 key and sends the public half with the token; enrollment binds that key to
the device and burns the token. From then on the key is the device's identity: every status
report must be signed by it. Enrollment also gives the device its (empty) director repository
and answers with the roots of the image repository and the director, which the device trusts
from then on.
Hospital staff see only their own organization's devices; a device of another hospital is
"not found", never "forbidden", so its existence is not disclosed.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.audit.model import JSONValue, NewEvent
from medfleet.audit.service import AuditLog
from medfleet.fleet import device_fields as fields
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
PLACE_LOADING = (selectinload(Device.site), selectinload(Device.department))
"""Loader options for listing devices with their site and department names."""


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


def check_registrar(principal: Principal) -> None:
    """Refuse callers who may not register devices (before anything else is looked at).

    Raises:
        FleetNotAllowedError: not a manufacturer admin or fleet operator.
    """
    if principal.org_kind is not OrgKind.MANUFACTURER or not principal.has_any(*REGISTRARS):
        raise FleetNotAllowedError(
            "registering devices needs the manufacturer's admin or fleet operator role"
        )


def register_device(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    *,
    org_id: int,
    model: str,
    hardware_revision: str,
    serial: str,
    site_id: int | None = None,
    department_id: int | None = None,
    is_test_device: bool = False,
    tags: Iterable[str] = (),
    udi: str | None = None,
) -> Registration:
    """Register a device for a hospital and issue its enrollment token.

    The model must be in the catalogue (``medfleet.fleet.catalog``) with this hardware
    revision; the site must be one of the hospital's and the department one of the site's; a
    UDI (GS1, any spelling ``medfleet.fleet.udi`` reads) must carry the device's serial in (21)
    if it has one, and the model's GTIN in (01) when the model has a GTIN.

    Raises:
        FleetNotAllowedError: the caller is not a manufacturer admin or fleet operator.
        InvalidDeviceError: a malformed model, revision, serial or tag; ``org_id`` is no
            hospital; the model or revision is not in the catalogue; a site or department
            outside the hospital; a UDI that does not parse or fit (``InvalidUdiError``).
        DeviceExistsError: this model and serial are already registered.
    """
    check_registrar(principal)
    fields.check_names(model, hardware_revision)
    serial = fields.check_serial(serial)
    hospital = fields.hospital_of(session, org_id)
    catalogued = fields.catalogue_model(session, model)
    fields.check_revision(catalogued, hardware_revision)
    site, department = fields.check_placement(session, hospital, site_id, department_id)
    tag_list = fields.check_tags(tags)
    parsed_udi = fields.device_udi(udi, serial=serial, model=catalogued)
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
        site=site,
        department=department,
        is_test_device=is_test_device,
        tags=tag_list,
    )
    fields.set_udi(device, parsed_udi)
    session.add(device)
    session.flush()
    details: dict[str, JSONValue] = {
        "model": model,
        "hardware_revision": hardware_revision,
        "serial": serial,
    }
    if site is not None:
        details["site_id"] = site.id
    if department is not None:
        details["department_id"] = department.id
    if is_test_device:
        details["is_test_device"] = True
    if tag_list:
        details["tags"] = list(tag_list)
    if parsed_udi is not None:
        details["udi"] = parsed_udi.hri
    audit.record(
        session,
        NewEvent(principal.actor, org_id, "device.registered", "device", device.device_id, details),
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
    statement = select(Device).order_by(Device.id).options(*PLACE_LOADING)
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
