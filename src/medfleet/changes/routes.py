"""HTTP endpoints of change control: change requests and their electronic signatures.

Change requests belong to the manufacturer: hospital staff get an empty list and 404 for any
key. Every rendering of a change request carries its signatures, each re-checked against the
current content (``valid`` turns false when the record is edited after signing), both as data
and as the human-readable lines Part 11 asks for. Signing re-authenticates the caller with
their password in a transaction of its own (a wrong password is counted even though the
signature is refused), then signs in a second one.
"""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from medfleet.accounts.auth import authenticate
from medfleet.accounts.signatures import Meaning, signatures_for
from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.changes import service
from medfleet.changes.render import change_dict
from medfleet.changes.service import MAX_TITLE
from medfleet.changes.tables import ChangeRequest
from medfleet.runtime import Runtime

router = APIRouter(prefix=f"{API_PREFIX}/change-requests", tags=["change control"])


class ChangeRequestIn(BaseModel):
    """A new change request."""

    title: str = Field(min_length=1, max_length=MAX_TITLE)
    description: str = Field(default="", max_length=100_000)


class ChangeRequestPatch(BaseModel):
    """Fields to change; omitted fields stay. Existing signatures stop being valid."""

    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE)
    description: str | None = Field(default=None, max_length=100_000)


class SignatureIn(BaseModel):
    """An e-signature: the signer's password again, and what the signature means."""

    password: str = Field(min_length=1, max_length=1024)
    meaning: Meaning
    comment: str | None = Field(default=None, max_length=2000)


class SignatureOut(BaseModel):
    """A signature as ``SignatureView.as_dict()`` renders it."""

    printed_name: str
    username: str
    meaning: str
    signed_at: str
    content_sha256: str
    valid: bool
    reason: str
    comment: str | None


class ChangeRequestOut(BaseModel):
    """A change request with its signatures (data and printable lines), as the CLI's JSON."""

    key: str
    id: int
    title: str
    description: str
    author: str
    state: str
    change_class: str | None
    device_model: str | None
    safety_class: str | None
    software_items: list[dict[str, str]]
    problem_reports: list[str]
    created_at: str
    updated_at: str
    signatures: list[SignatureOut]
    signature_lines: list[str]


def render(session: Session, runtime: Runtime, change: ChangeRequest) -> ChangeRequestOut:
    """A change request as the API shows it, signatures checked against its current content."""
    views = signatures_for(session, change, runtime.trusted_keys())
    return ChangeRequestOut.model_validate(change_dict(change, views))


@router.get("", summary="List change requests")
def list_change_requests(
    runtime: RuntimeDep, principal: CurrentPrincipal
) -> list[ChangeRequestOut]:
    """The manufacturer's change requests, newest first; empty for hospital staff."""
    with unit_of_work(runtime) as session:
        return [render(session, runtime, c) for c in service.list_all(session, principal)]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Open a change request")
def create_change_request(
    body: ChangeRequestIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ChangeRequestOut:
    """Engineers, QA/RA and admins of the manufacturer open change requests."""
    with unit_of_work(runtime) as session:
        change = service.create(session, runtime.audit, principal, body.title, body.description)
        return render(session, runtime, change)


@router.get("/{key}", summary="One change request")
def get_change_request(
    key: str, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ChangeRequestOut:
    """A change request by key (``CR-1``) with its signatures."""
    with unit_of_work(runtime) as session:
        return render(session, runtime, service.get(session, principal, key))


@router.patch("/{key}", summary="Edit a change request")
def edit_change_request(
    key: str, body: ChangeRequestPatch, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ChangeRequestOut:
    """Change title and/or description; signatures on the old content show as invalid."""
    with unit_of_work(runtime) as session:
        change = service.edit(session, runtime.audit, principal, key, body.title, body.description)
        return render(session, runtime, change)


@router.post(
    "/{key}/signatures", status_code=status.HTTP_201_CREATED, summary="E-sign a change request"
)
def sign_change_request(
    key: str, body: SignatureIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ChangeRequestOut:
    """Re-enter the password and sign with a meaning (401 wrong password, 403 own approval)."""
    with unit_of_work(runtime) as session:
        service.get(session, principal, key)  # 404 before the password is even checked
    signer = authenticate(runtime, principal.username, body.password, purpose="esignature")
    with unit_of_work(runtime) as session:
        service.sign(session, runtime.audit, signer, key, body.meaning, body.comment)
        return render(session, runtime, service.get(session, signer, key))
