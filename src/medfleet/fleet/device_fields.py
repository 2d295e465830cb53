"""The rules for a device's fields, shared by registration, editing and the CSV import.

Each check raises an error that names the field and the problem, before anything is written:
a serial number's characters, a catalogue model and one of its hardware revisions, a site of
the device's own hospital and a department of that site, tags, and a UDI that fits the device.
Looking places up by name (``find_hospital``, ``find_site``, ``find_department``) keeps to
what the caller may see: another hospital's places are "not found", as if they did not exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.accounts.tables import Department, Organization, Site
from medfleet.agent.contract import ContractError, check_name
from medfleet.fleet import catalog
from medfleet.fleet.errors import InvalidDeviceError, PlaceNotFoundError
from medfleet.fleet.tables import Device, DeviceModel
from medfleet.fleet.udi import Udi, check_udi_fits, parse_udi

MAX_TAGS = 20
_SERIAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/-]{0,99}")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:/+-]{0,63}")


def check_serial(serial: str) -> str:
    """A serial number, stripped: 1-100 letters, digits, spaces and ``._/-``.

    Raises:
        InvalidDeviceError: anything else.
    """
    serial = serial.strip()
    if not _SERIAL.fullmatch(serial):
        raise InvalidDeviceError(
            f"serial number {serial!r} is not 1-100 letters, digits, spaces and ._/- "
            "(starting with a letter or digit)"
        )
    return serial


def check_identifier(kind: str, value: str) -> str:
    """A model or hardware revision name that is safe in paths and URLs (``check_name``).

    Raises:
        InvalidDeviceError: naming the malformed field.
    """
    try:
        return check_name(kind, value)
    except ContractError as exc:
        raise InvalidDeviceError(str(exc)) from exc


def check_names(model: str, hardware_revision: str) -> None:
    """The model and hardware revision are safe identifiers (they end up in paths and URLs).

    Raises:
        InvalidDeviceError: naming the malformed field.
    """
    check_identifier("model", model)
    check_identifier("hardware revision", hardware_revision)


def catalogue_model(session: Session, model: str) -> DeviceModel:
    """The catalogue entry of ``model``.

    Raises:
        InvalidDeviceError: the model is not in the catalogue.
    """
    found = catalog.find_model(session, model)
    if found is None:
        raise InvalidDeviceError(
            f"device model {model!r} is not in the catalogue (register it first: "
            "'medfleet models register')"
        )
    return found


def check_revision(model: DeviceModel, hardware_revision: str) -> None:
    """``hardware_revision`` is one of the model's revisions.

    Raises:
        InvalidDeviceError: naming the revisions the model has.
    """
    known = model.revision_names
    if hardware_revision not in known:
        listed = ", ".join(known) if known else "none yet"
        raise InvalidDeviceError(
            f"{model.name} has no hardware revision {hardware_revision!r} (it has: {listed})"
        )


def check_tags(tags: Iterable[str]) -> list[str]:
    """Tags stripped, without repeats, in the given order: each 1-64 characters of letters,
    digits, spaces and ``._:/+-``, at most 20.

    Raises:
        InvalidDeviceError: a malformed tag or too many.
    """
    result: list[str] = []
    for raw in tags:
        tag = raw.strip()
        if not _TAG.fullmatch(tag):
            raise InvalidDeviceError(
                f"tag {tag!r} is not 1-64 letters, digits, spaces and ._:/+- "
                "(starting with a letter or digit)"
            )
        if tag not in result:
            result.append(tag)
    if len(result) > MAX_TAGS:
        raise InvalidDeviceError(f"a device has at most {MAX_TAGS} tags, not {len(result)}")
    return result


def hospital_of(session: Session, org_id: int) -> Organization:
    """The hospital with id ``org_id``.

    Raises:
        InvalidDeviceError: no such organization, or it is not a hospital.
    """
    hospital = session.get(Organization, org_id)
    if hospital is None or hospital.kind != OrgKind.HOSPITAL:
        raise InvalidDeviceError(f"organization {org_id} is not a hospital")
    return hospital


def check_placement(
    session: Session, hospital: Organization, site_id: int | None, department_id: int | None
) -> tuple[Site | None, Department | None]:
    """The site (of ``hospital``) and department (of that site) with these ids.

    A site of another hospital gets the same answer as a site that does not exist.

    Raises:
        InvalidDeviceError: the site is not one of the hospital's; a department without a
            site; the department is not one of the site's.
    """
    site = None if site_id is None else session.get(Site, site_id)
    if site_id is not None and (site is None or site.org_id != hospital.id):
        raise InvalidDeviceError(f"site {site_id} is not a site of {hospital.name}")
    if department_id is None:
        return site, None
    if site is None:
        raise InvalidDeviceError("a department can only be given together with its site")
    department = session.get(Department, department_id)
    if department is None or department.site_id != site.id:
        raise InvalidDeviceError(f"department {department_id} is not a department of {site.name}")
    return site, department


def device_udi(text: str | None, *, serial: str, model: DeviceModel) -> Udi | None:
    """The parsed UDI for a device of ``model`` with ``serial`` (None for no UDI).

    Raises:
        InvalidUdiError: unparsable, or its (21) or (01) does not fit the device and model.
    """
    if text is None or not text.strip():
        return None
    udi = parse_udi(text)
    check_udi_fits(udi, serial=serial, model=model.name, model_gtin=model.gtin)
    return udi


def set_udi(device: Device, udi: Udi | None) -> None:
    """Copy a UDI's fields onto the device (None clears them)."""
    device.udi_di = None if udi is None else udi.di
    device.udi_hri = None if udi is None else udi.hri
    device.udi_lot = None if udi is None else udi.lot
    device.udi_manufactured_on = None if udi is None else udi.manufactured_on
    device.udi_expires_on = None if udi is None else udi.expires_on


def find_hospital(session: Session, principal: Principal, name: str) -> Organization:
    """The hospital called ``name`` that the caller may see.

    Raises:
        PlaceNotFoundError: no such hospital, or another hospital than the caller's own.
    """
    hospital = session.scalar(
        select(Organization).where(
            Organization.name == name.strip(), Organization.kind == OrgKind.HOSPITAL
        )
    )
    if hospital is None or not principal.can_see_org(hospital.id):
        raise PlaceNotFoundError(f"no hospital named {name.strip()!r}")
    return hospital


def find_site(session: Session, hospital: Organization, name: str) -> Site:
    """The site of ``hospital`` called ``name``.

    Raises:
        PlaceNotFoundError: the hospital has no such site.
    """
    site = session.scalar(select(Site).where(Site.org_id == hospital.id, Site.name == name.strip()))
    if site is None:
        raise PlaceNotFoundError(f"{hospital.name} has no site named {name.strip()!r}")
    return site


def find_department(session: Session, site: Site, name: str) -> Department:
    """The department of ``site`` called ``name``.

    Raises:
        PlaceNotFoundError: the site has no such department.
    """
    department = session.scalar(
        select(Department).where(Department.site_id == site.id, Department.name == name.strip())
    )
    if department is None:
        raise PlaceNotFoundError(f"site {site.name} has no department named {name.strip()!r}")
    return department
