"""HTTP endpoints of the device registry: register, list, show, and the device's own enrollment.

Enrollment and reports come from the device, which has no user account: enrollment
authenticates with the one-time enrollment token, and a report with the device's signature
over its exact bytes (so the body is read raw, never re-serialized).
"""

from __future__ import annotations

import base64
from datetime import datetime

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.fleet import enrollment, report_intake
from medfleet.fleet.errors import InvalidDeviceError
from medfleet.fleet.tables import Device
from medfleet.runtime import Runtime

router = APIRouter(prefix=API_PREFIX, tags=["fleet"])
# Where the app serves the repository tree (``repo/image/...``, ``repo/director/...``).
REPOSITORY_PATH = "/repo/"


class DeviceIn(BaseModel):
    """A device to register for a hospital."""

    org_id: int
    model: str = Field(min_length=1, max_length=64)
    hardware_revision: str = Field(min_length=1, max_length=64)
    serial: str = Field(min_length=1, max_length=100)


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


def device_out(device: Device) -> DeviceOut:
    """The API view of a device."""
    return DeviceOut.model_validate(device, from_attributes=True)


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
        )
        device = registration.device
        expires = device.enrollment_expires_at
        assert expires is not None  # set by registration
        return RegisteredOut(
            **device_out(device).model_dump(),
            enrollment_token=registration.enrollment_token,
            enrollment_expires_at=expires,
        )


@router.get("/devices")
def list_devices(runtime: RuntimeDep, me: CurrentPrincipal) -> list[DeviceOut]:
    """The devices the caller may see."""
    with unit_of_work(runtime) as session:
        return [device_out(d) for d in enrollment.visible_devices(session, me)]


@router.get("/devices/{device_id}")
def show_device(device_id: str, runtime: RuntimeDep, me: CurrentPrincipal) -> DeviceOut:
    """One device the caller may see (another hospital's device is not found)."""
    with unit_of_work(runtime) as session:
        return device_out(enrollment.get_device(session, me, device_id))


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
