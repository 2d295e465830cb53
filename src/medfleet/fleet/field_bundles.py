"""Offline field bundles as use cases: export one for a release and devices, record an install.

A field bundle is for devices that cannot reach the server (an isolated network, a device on the
bench). ``export_bundle`` packages a published release for devices: named devices are assigned
the release through the director (the operator's decision, audited); without names, the bundle
is for the model's devices that the director already tells to install it (a campaign did). Their
director metadata is re-signed to stay valid for the field visit (``FIELD_LIFETIME``), and each
device's instruction names the delta from the version it last attested, when one is published.

``record_install`` is the technician saying "I installed R on this device": stored as a claim
with who said it; the device's own signed report, when it next connects, is the attestation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.agent.bundle import write_bundle
from medfleet.agent.contract import ContractError, ImageInfo, Instruction
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.fleet.enrollment import get_device
from medfleet.fleet.errors import FleetNotAllowedError, InvalidDeviceError
from medfleet.fleet.tables import Device, InstallRecord
from medfleet.releases.blobs import check_digest, hash_file
from medfleet.releases.errors import InvalidDigestError
from medfleet.signing.bundles import (
    PublishedRelease,
    all_images,
    bundle_files,
    find_release,
)
from medfleet.signing.distribution import Distribution

FIELD_LIFETIME = timedelta(days=7)
EXPORTERS = (Role.ADMIN, Role.FLEET_OPERATOR)
HOSPITAL_RECORDERS = (Role.ADMIN, Role.HOSPITAL_BIOMED)


@dataclass(frozen=True)
class BundleExport:
    """A written bundle: where, its digest, the release and the devices it is for."""

    path: Path
    sha256: str
    length: int
    release_id: str
    model: str
    version: str
    devices: tuple[str, ...]
    valid_days: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "path": str(self.path),
            "sha256": self.sha256,
            "length": self.length,
            "release_id": self.release_id,
            "model": self.model,
            "version": self.version,
            "devices": list(self.devices),
            "valid_days": self.valid_days,
        }


def _require_exporter(principal: Principal) -> None:
    if principal.org_kind is not OrgKind.MANUFACTURER or not principal.has_any(*EXPORTERS):
        raise FleetNotAllowedError(
            "exporting field bundles needs the manufacturer's admin or fleet operator role"
        )


def _devices_for(
    session: Session,
    principal: Principal,
    distribution: Distribution,
    release: PublishedRelease,
    device_ids: Sequence[str],
) -> tuple[list[Device], bool]:
    """The bundle's devices, and whether they must be assigned the release now."""
    info = release.info
    if device_ids:
        devices = [get_device(session, principal, device_id) for device_id in device_ids]
        assign = True
    else:
        candidates = session.scalars(
            select(Device)
            .where(Device.model == info.model, Device.enrolled_at.is_not(None))
            .order_by(Device.device_id)
        )
        devices = [
            d for d in candidates if _assigned_release(distribution, d.device_id) == info.release_id
        ]
        assign = False
        if not devices:
            raise InvalidDeviceError(
                f"no {info.model} device is assigned release {info.release_id}; "
                "name the devices with --device"
            )
    for device in devices:
        if device.model != info.model:
            raise InvalidDeviceError(f"{device.device_id} is a {device.model}, not a {info.model}")
        if device.enrolled_at is None:
            raise InvalidDeviceError(f"{device.device_id} has not enrolled")
        if device.hardware_revision not in info.hardware_revisions:
            raise InvalidDeviceError(
                f"{device.device_id} is hardware revision {device.hardware_revision}; release "
                f"{info.release_id} runs on {', '.join(info.hardware_revisions)}"
            )
    return devices, assign


def _assigned_release(distribution: Distribution, device_id: str) -> str | None:
    target = distribution.director.assigned(device_id)
    if target is None:
        return None
    try:
        return Instruction.from_custom(target.custom).release_id
    except ContractError:
        return None


def export_bundle(
    session: Session,
    audit: AuditLog,
    distribution: Distribution,
    principal: Principal,
    *,
    release_id: str,
    model: str,
    output: Path,
    device_ids: Sequence[str] = (),
    lifetime: timedelta = FIELD_LIFETIME,
) -> BundleExport:
    """Write a field bundle of ``release_id`` for ``model``'s devices to ``output``.

    Raises:
        FleetNotAllowedError: the caller is not a manufacturer admin or fleet operator.
        ReleaseNotPublishedError: the image repository lists no such release for the model.
        DeviceNotFoundError: a named device does not exist.
        InvalidDeviceError: a device of another model or hardware revision, not enrolled, or
            (without names) no device assigned the release.
        SigningInputError: the lifetime is above the director's field maximum.
    """
    _require_exporter(principal)
    release = find_release(distribution.image, model, release_id)
    devices, assign = _devices_for(session, principal, distribution, release, device_ids)
    images = all_images(distribution.image, model)
    info: ImageInfo = release.info
    for device in devices:
        delta = release.delta_from(device.installed_version_number, images)
        instruction = Instruction(device.device_id, release_id, info.version_number, delta)
        distribution.director.assign(
            device.device_id,
            release.path,
            release.target.length,
            release.target.hashes,
            instruction,
            lifetime=lifetime,
        )
    device_names = [d.device_id for d in devices]
    files = bundle_files(
        distribution.image, distribution.director, distribution.public_dir, release, device_names
    )
    write_bundle(output, files, release_id=release_id, model=model)
    written = hash_file(output)
    sha256, length = written.sha256, written.length
    audit.record(
        session,
        NewEvent(
            principal.actor,
            principal.org_id,
            "bundle.exported",
            "release",
            release_id,
            {
                "model": model,
                "devices": device_names,
                "assigned_now": assign,
                "bundle_sha256": sha256,
                "valid_days": lifetime.days,
            },
        ),
    )
    return BundleExport(
        output,
        sha256,
        length,
        release_id,
        model,
        info.version,
        tuple(device_names),
        lifetime.days,
    )


def record_install(
    session: Session,
    audit: AuditLog,
    distribution: Distribution,
    principal: Principal,
    *,
    device_id: str,
    release_id: str,
    bundle_sha256: str | None = None,
) -> InstallRecord:
    """Record that a person installed ``release_id`` on a device (e.g. from a field bundle).

    Raises:
        FleetNotAllowedError: not a manufacturer admin/fleet operator, nor the device's
            hospital admin or biomedical engineer.
        DeviceNotFoundError: no such device the caller may see.
        ReleaseNotPublishedError: the release is not published for the device's model.
        InvalidDeviceError: a malformed bundle digest.
    """
    device = get_device(session, principal, device_id)
    allowed = (principal.org_kind is OrgKind.MANUFACTURER and principal.has_any(*EXPORTERS)) or (
        principal.org_kind is OrgKind.HOSPITAL and principal.has_any(*HOSPITAL_RECORDERS)
    )
    if not allowed:
        raise FleetNotAllowedError(
            "recording an install needs a fleet operator, or the hospital's biomed or admin role"
        )
    if bundle_sha256 is not None:
        try:
            check_digest(bundle_sha256)
        except InvalidDigestError as exc:
            raise InvalidDeviceError(f"bundle digest: {exc}") from exc
    info = find_release(distribution.image, device.model, release_id).info
    record = InstallRecord(
        device_pk=device.id,
        release_id=release_id,
        version=info.version,
        version_number=info.version_number,
        method="bundle" if bundle_sha256 else "manual",
        bundle_sha256=bundle_sha256,
        recorded_by=principal.actor,
        recorded_at=audit.clock.now(),
    )
    session.add(record)
    session.flush()
    audit.record(
        session,
        NewEvent(
            principal.actor,
            device.org_id,
            "device.install_recorded",
            "device",
            device.device_id,
            {
                "release_id": release_id,
                "version": info.version,
                "bundle_sha256": bundle_sha256,
            },
        ),
    )
    return record
