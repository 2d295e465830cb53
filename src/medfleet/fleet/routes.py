"""HTTP endpoints of the device registry: register (one or a CSV file), list, show, edit,
version history, FHIR export, and the device's own enrollment and reports.

Enrollment and reports come from the device, which has no user account: enrollment
authenticates with the one-time enrollment token, and a report with the device's signature
over its exact bytes (so the body is read raw, never re-serialized).
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from medfleet.accounts.model import Principal
from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.fleet import csv_import, enrollment, history, inventory, report_intake
from medfleet.fleet.errors import InvalidDeviceError
from medfleet.fleet.fhir_export import FHIR_MEDIA_TYPE, FhirVersion, export_devices
from medfleet.fleet.tables import Device
from medfleet.runtime import Runtime

router = APIRouter(prefix=API_PREFIX, tags=["fleet"])
# Where the app serves the repository tree (``repo/image/...``, ``repo/director/...``).
REPOSITORY_PATH = "/repo/"


MAX_CSV_BYTES = 4 * 1024 * 1024


class DeviceIn(BaseModel):
    """A device to register for a hospital (model and revision from the catalogue)."""

    model_config = ConfigDict(extra="forbid")

    org_id: int
    model: str = Field(min_length=1, max_length=64)
    hardware_revision: str = Field(min_length=1, max_length=64)
    serial: str = Field(min_length=1, max_length=100)
    site_id: int | None = None
    department_id: int | None = None
    is_test_device: bool = False
    tags: list[str] = Field(default_factory=list, max_length=100)
    udi: str | None = Field(default=None, max_length=300, description="GS1 UDI, HRI or AIDC")


class DevicePatch(BaseModel):
    """Fields to change; a field left out stays as it is, ``site_id: null`` clears the site."""

    model_config = ConfigDict(extra="forbid")

    site_id: int | None = None
    department_id: int | None = None
    is_test_device: bool | None = None
    tags: list[str] | None = Field(default=None, max_length=100)


class DeviceOut(BaseModel):
    """A device as its owner and the manufacturer see it."""

    device_id: str
    org_id: int
    model: str
    hardware_revision: str
    serial: str
    registered_at: datetime
    enrolled_at: datetime | None
    key_id: str | None
    last_seen_at: datetime | None
    last_report_seq: int
    installed_version: str | None
    installed_version_number: int | None
    site_id: int | None
    site_name: str | None
    department_id: int | None
    department_name: str | None
    is_test_device: bool
    tags: list[str]
    udi_di: str | None
    udi_hri: str | None
    udi_lot: str | None
    udi_manufactured_on: date | None
    udi_expires_on: date | None
    in_clinical_use: bool | None
    clinical_use_reported_at: datetime | None


class DeviceVersionOut(BaseModel):
    """One version a device reported running, from the report that first showed it."""

    version: str | None
    version_number: int | None
    report_seq: int
    reported_at: datetime
    received_at: datetime


class RegisteredOut(DeviceOut):
    """A newly registered device with its one-time enrollment token (shown only here)."""

    enrollment_token: str
    enrollment_expires_at: datetime


class EnrollIn(BaseModel):
    """What the agent sends to enroll: its token and its new public key (hex)."""

    token: str = Field(min_length=1, max_length=200)
    public_key: str = Field(min_length=64, max_length=64, description="raw Ed25519, hex")


class EnrolledOut(DeviceOut):
    """What the agent keeps from enrollment: where to poll and report, and the roots to trust.

    ``repository_url`` is where the ``repo/`` tree of ``medfleet.agent.contract`` is served (a
    CDN may serve it elsewhere), and ``reports_url`` where reports go; both are relative to the
    server's URL. The roots are the exact bytes of the published ``root.json``
    files, base64-encoded.
    """

    repository_url: str
    reports_url: str
    image_root: str
    director_root: str


class ImportedOut(RegisteredOut):
    """A device registered from line ``line`` of the CSV file."""

    line: int


class ImportOut(BaseModel):
    """Every device of the file, registered, each with its one-time enrollment token."""

    sha256: str
    devices: list[ImportedOut]


def device_out(device: Device) -> DeviceOut:
    """The API view of a device."""
    return DeviceOut.model_validate(device, from_attributes=True)


def registered_out(registration: enrollment.Registration) -> RegisteredOut:
    """A new device with its enrollment token (shown only in the registration answer)."""
    device = registration.device
    expires = device.enrollment_expires_at
    assert expires is not None  # set by registration
    return RegisteredOut(
        **device_out(device).model_dump(),
        enrollment_token=registration.enrollment_token,
        enrollment_expires_at=expires,
    )


@router.post("/devices", status_code=status.HTTP_201_CREATED)
def register_device(body: DeviceIn, runtime: RuntimeDep, me: CurrentPrincipal) -> RegisteredOut:
    """Register a device for a hospital; the answer carries its enrollment token, once."""
    with unit_of_work(runtime) as session:
        registration = enrollment.register_device(
            session,
            runtime.audit,
            me,
            org_id=body.org_id,
            model=body.model,
            hardware_revision=body.hardware_revision,
            serial=body.serial,
            site_id=body.site_id,
            department_id=body.department_id,
            is_test_device=body.is_test_device,
            tags=body.tags,
            udi=body.udi,
        )
        return registered_out(registration)


@router.get("/devices")
def list_devices(
    runtime: RuntimeDep,
    me: CurrentPrincipal,
    org_id: int | None = None,
    site_id: int | None = None,
    model: Annotated[str | None, Query(max_length=64)] = None,
    test_only: bool = False,
) -> list[DeviceOut]:
    """The devices the caller may see, narrowed by hospital, site, model or test flag."""
    with unit_of_work(runtime) as session:
        found = inventory.find_devices(
            session, me, org_id=org_id, site_id=site_id, model=model, test_only=test_only
        )
        return [device_out(d) for d in found]


CSV_BODY = {
    "required": True,
    "content": {"text/csv": {"schema": {"type": "string"}}},
    "description": "A header line (serial,model,hardware_revision,hospital[,site,department,"
    "udi,test_device,tags]) and one device per line.",
}


@router.post(
    "/devices/import",
    status_code=status.HTTP_201_CREATED,
    openapi_extra={"requestBody": CSV_BODY},
)
async def import_devices(request: Request, runtime: RuntimeDep, me: CurrentPrincipal) -> ImportOut:
    """Register every device of a CSV file, or none: every problem is listed (422)."""
    csv_import.check_importer(me)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_CSV_BYTES:
        raise InvalidDeviceError(f"a device CSV is at most {MAX_CSV_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_CSV_BYTES:
            raise InvalidDeviceError(f"a device CSV is at most {MAX_CSV_BYTES} bytes")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidDeviceError(f"the CSV is not UTF-8 text ({exc.reason})") from exc
    return await run_in_threadpool(_import, runtime, me, text)


def _import(runtime: Runtime, me: Principal, text: str) -> ImportOut:
    with unit_of_work(runtime) as session:
        result = csv_import.import_devices(session, runtime.audit, me, text)
        devices = [
            ImportedOut(**registered_out(d.registration).model_dump(), line=d.line)
            for d in result.devices
        ]
        return ImportOut(sha256=result.sha256, devices=devices)


@router.get(
    "/devices/fhir",
    response_class=JSONResponse,
    responses={200: {"content": {FHIR_MEDIA_TYPE: {"schema": {"type": "object"}}}}},
)
def export_fhir(
    runtime: RuntimeDep,
    me: CurrentPrincipal,
    version: FhirVersion = "R5",
    hospital_id: int | None = None,
) -> JSONResponse:
    """The devices the caller may see as a FHIR Bundle (collection) of Device resources."""
    with unit_of_work(runtime) as session:
        document: dict[str, Any] = export_devices(
            session, me, fhir_version=version, hospital_id=hospital_id, now=runtime.clock.now()
        )
    return JSONResponse(document, media_type=FHIR_MEDIA_TYPE)


@router.get("/devices/{device_id}")
def show_device(device_id: str, runtime: RuntimeDep, me: CurrentPrincipal) -> DeviceOut:
    """One device the caller may see (another hospital's device is not found)."""
    with unit_of_work(runtime) as session:
        return device_out(enrollment.get_device(session, me, device_id))


@router.patch("/devices/{device_id}")
def update_device(
    device_id: str, body: DevicePatch, runtime: RuntimeDep, me: CurrentPrincipal
) -> DeviceOut:
    """Move a device within its hospital, flag it as a test device, or retag it."""
    given = body.model_fields_set
    with unit_of_work(runtime) as session:
        device = inventory.update_device(
            session,
            runtime.audit,
            me,
            device_id,
            site_id=body.site_id if "site_id" in given else inventory.UNSET,
            department_id=body.department_id if "department_id" in given else inventory.UNSET,
            is_test_device=body.is_test_device,
            tags=body.tags,
        )
        return device_out(device)


@router.get("/devices/{device_id}/versions")
def device_versions(
    device_id: str, runtime: RuntimeDep, me: CurrentPrincipal
) -> list[DeviceVersionOut]:
    """The versions the device reported running, oldest first."""
    with unit_of_work(runtime) as session:
        rows = history.version_history(session, me, device_id)
        return [DeviceVersionOut.model_validate(row, from_attributes=True) for row in rows]


@router.post("/enroll")
def enroll_device(body: EnrollIn, runtime: RuntimeDep) -> EnrolledOut:
    """The device binds its public key with its one-time enrollment token and gets its roots."""
    try:
        public_key = bytes.fromhex(body.public_key)
    except ValueError as exc:
        raise InvalidDeviceError("public_key must be 64 hex digits") from exc
    with unit_of_work(runtime) as session:
        enrolled = enrollment.enroll(
            session, runtime.audit, runtime.distribution, body.token, public_key
        )
        device = enrolled.device
        return EnrolledOut(
            **device_out(device).model_dump(),
            repository_url=REPOSITORY_PATH,
            reports_url=f"{API_PREFIX}/devices/{device.device_id}/reports",
            image_root=base64.b64encode(enrolled.roots.image_root).decode(),
            director_root=base64.b64encode(enrolled.roots.director_root).decode(),
        )


class AcknowledgementOut(BaseModel):
    """The server has the report with this sequence number (``duplicate``: it had it already)."""

    device_id: str
    seq: int
    duplicate: bool


REPORT_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "object"}}},
    "description": "A signed status report exactly as medfleet.agent.reports.sign_report wrote it.",
}


@router.post("/devices/{device_id}/reports", openapi_extra={"requestBody": REPORT_BODY})
async def post_report(device_id: str, request: Request, runtime: RuntimeDep) -> AcknowledgementOut:
    """A device's signed status report; acknowledged once stored, refused if not trusted."""
    document = await request.body()
    ack = await run_in_threadpool(_accept_report, runtime, device_id, document)
    return AcknowledgementOut(device_id=ack.device_id, seq=ack.seq, duplicate=ack.duplicate)


def _accept_report(
    runtime: Runtime, device_id: str, document: bytes
) -> report_intake.Acknowledgement:
    with unit_of_work(runtime) as session:
        return report_intake.accept_report(session, runtime.audit, device_id, document)
