"""Inventory use cases on registered devices: where a device stands, whether it is a test
device, its tags, and finding devices by hospital, site, model and test flag.

Who may edit: the manufacturer's admins and fleet operators (any device), and the owning
hospital's admins and biomedical engineers (their own devices only). A device of another
hospital is "not found", never "forbidden". Each kind of change is one audit event, under the
device's hospital, in the caller's transaction; an edit that changes nothing records nothing.
Bad input raises before anything changes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal, Role
from medfleet.audit.model import NewEvent
from medfleet.audit.service import AuditLog
from medfleet.fleet import device_fields as fields
from medfleet.fleet.enrollment import PLACE_LOADING, get_device
from medfleet.fleet.errors import FleetNotAllowedError
from medfleet.fleet.tables import Device

MANUFACTURER_EDITORS = (Role.ADMIN, Role.FLEET_OPERATOR)
HOSPITAL_EDITORS = (Role.ADMIN, Role.HOSPITAL_BIOMED)


class Unset(enum.Enum):
    """The marker for "leave this field as it is" where None means "clear it"."""

    UNSET = "unset"


UNSET = Unset.UNSET


def may_edit(principal: Principal) -> bool:
    """True when the caller's organization kind and roles allow editing (its own) devices."""
    if principal.org_kind is OrgKind.MANUFACTURER:
        return principal.has_any(*MANUFACTURER_EDITORS)
    return principal.has_any(*HOSPITAL_EDITORS)


def _place(device: Device) -> dict[str, object]:
    return {
        "site_id": device.site_id,
        "site": device.site_name,
        "department_id": device.department_id,
        "department": device.department_name,
    }


def update_device(
    session: Session,
    audit: AuditLog,
    principal: Principal,
    device_id: str,
    *,
    site_id: int | Unset | None = UNSET,
    department_id: int | Unset | None = UNSET,
    is_test_device: bool | None = None,
    tags: Iterable[str] | None = None,
) -> Device:
    """Move a device to another site/department of its hospital, flag it, or retag it.

    ``UNSET`` (or None for the flag and tags) leaves a field alone; ``site_id=None`` takes the
    device off any site (and department). Moving to another site clears the department unless
    a department of the new site is given.

    Records ``device.moved``, ``device.test_flag_changed`` and ``device.tags_changed``, each
    with the old and new values, for what actually changed.

    Raises:
        DeviceNotFoundError: no such device, or it belongs to another hospital.
        FleetNotAllowedError: the caller's roles may not edit devices.
        InvalidDeviceError: a site not of the device's hospital, a department not of the site
            (or without one), a malformed tag.
    """
    device = get_device(session, principal, device_id)
    if not may_edit(principal):
        raise FleetNotAllowedError(
            "editing devices needs the manufacturer's admin or fleet operator role, or the "
            "hospital's admin or biomed role"
        )
    hospital = fields.hospital_of(session, device.org_id)
    new_site_id = device.site_id if isinstance(site_id, Unset) else site_id
    if isinstance(department_id, Unset):
        new_department_id = device.department_id if new_site_id == device.site_id else None
    else:
        new_department_id = department_id
    site, department = fields.check_placement(session, hospital, new_site_id, new_department_id)
    new_tags = None if tags is None else fields.check_tags(tags)
    events: list[NewEvent] = []

    def event(action: str, payload: dict[str, object]) -> None:
        events.append(
            NewEvent(principal.actor, device.org_id, action, "device", device.device_id, payload)
        )

    if (new_site_id, new_department_id) != (device.site_id, device.department_id):
        before = _place(device)
        device.site, device.department = site, department
        session.flush()
        event("device.moved", {"from": before, "to": _place(device)})
    if is_test_device is not None and is_test_device != device.is_test_device:
        event("device.test_flag_changed", {"from": device.is_test_device, "to": is_test_device})
        device.is_test_device = is_test_device
    if new_tags is not None and new_tags != list(device.tags):
        event("device.tags_changed", {"from": list(device.tags), "to": new_tags})
        device.tags = new_tags
    if events:
        audit.record_many(session, events)
    return device


def find_devices(
    session: Session,
    principal: Principal,
    *,
    org_id: int | None = None,
    site_id: int | None = None,
    model: str | None = None,
    test_only: bool = False,
) -> list[Device]:
    """The devices the caller may see that match every filter given, in registration order.

    A hospital user sees only its own devices whatever the filters say (another hospital's
    id simply matches nothing).
    """
    statement = select(Device).order_by(Device.id).options(*PLACE_LOADING)
    if principal.org_kind is OrgKind.HOSPITAL:
        statement = statement.where(Device.org_id == principal.org_id)
    if org_id is not None:
        statement = statement.where(Device.org_id == org_id)
    if site_id is not None:
        statement = statement.where(Device.site_id == site_id)
    if model is not None:
        statement = statement.where(Device.model == model)
    if test_only:
        statement = statement.where(Device.is_test_device.is_(True))
    return list(session.scalars(statement))
