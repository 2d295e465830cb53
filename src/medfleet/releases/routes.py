"""HTTP endpoints of release records: drafts, files, review, e-signed approval, signing.

Releases belong to the manufacturer: hospital staff get an empty list and 404 for any release
(checked before a password or a request body is read). Every rendering carries the signatures,
each re-checked against the current content. Password re-entry (signatures, approval, release,
signing keys) runs ``authenticate`` in a transaction of its own, then the use case in a second.
A refused verification or approval answers 409 with ``missing`` (every reason, as text) and
``blockers`` (the same with codes). Files are streamed into the blob store with a size bound.
"""

from __future__ import annotations

import tempfile
from typing import Annotated, BinaryIO, cast

from fastapi import APIRouter, Query, Request, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from medfleet.accounts.auth import authenticate
from medfleet.accounts.model import Principal
from medfleet.accounts.signatures import signatures_for
from medfleet.api.deps import API_PREFIX, CurrentPrincipal, RuntimeDep, unit_of_work
from medfleet.releases import approval, publishing, records
from medfleet.releases.errors import BlobTooLargeError
from medfleet.releases.model import check_filename, check_sbom_format
from medfleet.releases.records import MAX_IMAGE_BYTES, MAX_SBOM_BYTES
from medfleet.releases.render import release_dict
from medfleet.releases.schemas import (
    DelegationIn,
    ModelRoleOut,
    PasswordIn,
    ReleaseIn,
    ReleaseOut,
    ReleasePatch,
    SignatureIn,
    SigningKeyOut,
    WithdrawIn,
)
from medfleet.releases.tables import Release
from medfleet.runtime import Runtime

router = APIRouter(prefix=f"{API_PREFIX}/releases", tags=["releases"])
ONE = "/{model}/{version}"
_CHUNK = 1024 * 1024


def render(session: Session, runtime: Runtime, release: Release) -> ReleaseOut:
    """A release as the API shows it, signatures checked against its current content."""
    views = signatures_for(session, release, runtime.trusted_keys())
    return ReleaseOut.model_validate(release_dict(release, views))


def _exists(runtime: Runtime, principal: Principal, model: str, version: str) -> None:
    with unit_of_work(runtime) as session:
        records.get(session, principal, model, version)  # 404 before any password is checked


@router.get("", summary="List releases")
def list_releases(
    runtime: RuntimeDep, principal: CurrentPrincipal, model: str | None = None
) -> list[ReleaseOut]:
    """The manufacturer's releases (optionally of one model), newest first; empty for hospitals."""
    with unit_of_work(runtime) as session:
        return [render(session, runtime, r) for r in records.list_all(session, principal, model)]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a draft release")
def create_release(body: ReleaseIn, runtime: RuntimeDep, principal: CurrentPrincipal) -> ReleaseOut:
    """Engineers, QA/RA and admins of the manufacturer create drafts."""
    with unit_of_work(runtime) as session:
        release = records.create(
            session, runtime.audit, principal, body.model, body.version, body.fields()
        )
        return render(session, runtime, release)


@router.post("/signing/keys", status_code=status.HTTP_201_CREATED, summary="Create my targets key")
def create_signing_key(
    body: PasswordIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> SigningKeyOut:
    """QA/RA and admins get a targets key encrypted with their password (kept if present)."""
    records.check_staff(principal)
    signer = authenticate(runtime, principal.username, body.password, purpose="esignature")
    with unit_of_work(runtime) as session:
        key = publishing.create_signing_key(
            session, runtime.audit, runtime.distribution.keys, signer, body.password
        )
        return SigningKeyOut.model_validate(key.as_dict())


@router.post(
    "/signing/models", status_code=status.HTTP_201_CREATED, summary="Delegate a device model"
)
def delegate_model(
    body: DelegationIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ModelRoleOut:
    """Create a model's role in the image repository, signed with the top-level targets key."""
    records.check_staff(principal)
    signer = authenticate(runtime, principal.username, body.password, purpose="esignature")
    with unit_of_work(runtime) as session:
        role = publishing.delegate_model(
            session,
            runtime.audit,
            runtime.distribution,
            signer,
            body.password,
            body.model,
            body.holders,
            body.threshold,
            body.holder_passwords,
        )
        return ModelRoleOut.model_validate(role.as_dict())


@router.get(ONE, summary="One release")
def get_release(
    model: str, version: str, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ReleaseOut:
    """A release by device model and version, with its signatures."""
    with unit_of_work(runtime) as session:
        return render(session, runtime, records.get(session, principal, model, version))


@router.patch(ONE, summary="Edit a draft release")
def edit_release(
    model: str, version: str, body: ReleasePatch, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ReleaseOut:
    """Change a draft; signatures on the old content show as invalid."""
    with unit_of_work(runtime) as session:
        release = records.edit(session, runtime.audit, principal, model, version, body.fields())
        return render(session, runtime, release)


async def _receive(request: Request, limit: int) -> BinaryIO:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BlobTooLargeError(f"content of {declared} bytes exceeds {limit} bytes")
    spool = cast(BinaryIO, tempfile.SpooledTemporaryFile(max_size=_CHUNK * 8))  # noqa: SIM115
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise BlobTooLargeError(f"content exceeds {limit} bytes; nothing was stored")
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _attach(
    runtime: Runtime,
    principal: Principal,
    model: str,
    version: str,
    spool: BinaryIO,
    sbom_format: str | None,
    filename: str | None,
) -> ReleaseOut:
    blobs = runtime.distribution.blobs
    limit = MAX_IMAGE_BYTES if sbom_format is None else MAX_SBOM_BYTES
    blob = blobs.put_stream(spool, max_length=limit)
    with unit_of_work(runtime) as session:
        if sbom_format is None:
            assert filename is not None
            release = records.attach_artifact(
                session, runtime.audit, blobs, principal, model, version, filename, blob
            )
        else:
            release = records.attach_sbom(
                session, runtime.audit, blobs, principal, model, version, sbom_format, blob
            )
        return render(session, runtime, release)


def _check_uploadable(
    runtime: Runtime,
    principal: Principal,
    model: str,
    version: str,
    sbom_format: str | None,
    filename: str | None,
) -> None:
    """Everything that can refuse an upload, checked before the body is read or stored."""
    with unit_of_work(runtime) as session:
        records.check_uploadable(session, principal, model, version)
    if filename is not None:
        check_filename(filename)
    if sbom_format is not None:
        check_sbom_format(sbom_format)


@router.put(f"{ONE}/artifact", summary="Upload the image (raw body)", response_model=ReleaseOut)
async def upload_artifact(
    model: str,
    version: str,
    request: Request,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    filename: Annotated[str, Query(min_length=1, max_length=200)],
) -> ReleaseOut:
    """Stream the image into the blob store (at most ``MAX_IMAGE_BYTES``) and attach it."""
    await run_in_threadpool(_check_uploadable, runtime, principal, model, version, None, filename)
    spool = await _receive(request, MAX_IMAGE_BYTES)
    try:
        return await run_in_threadpool(
            _attach, runtime, principal, model, version, spool, None, filename
        )
    finally:
        spool.close()


@router.put(f"{ONE}/sbom", summary="Upload the SBOM (raw body)", response_model=ReleaseOut)
async def upload_sbom(
    model: str,
    version: str,
    request: Request,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    sbom_format: Annotated[str, Query(alias="format", min_length=1, max_length=32)],
) -> ReleaseOut:
    """Stream the SBOM into the blob store (at most ``MAX_SBOM_BYTES``) and attach it."""
    await run_in_threadpool(
        _check_uploadable, runtime, principal, model, version, sbom_format, None
    )
    spool = await _receive(request, MAX_SBOM_BYTES)
    try:
        return await run_in_threadpool(
            _attach, runtime, principal, model, version, spool, sbom_format, None
        )
    finally:
        spool.close()


@router.post(f"{ONE}/signatures", status_code=status.HTTP_201_CREATED, summary="E-sign a release")
def sign_release(
    model: str, version: str, body: SignatureIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ReleaseOut:
    """Re-enter the password and sign as authored or reviewed."""
    _exists(runtime, principal, model, version)
    signer = authenticate(runtime, principal.username, body.password, purpose="esignature")
    with unit_of_work(runtime) as session:
        approval.sign(session, runtime.audit, signer, model, version, body.meaning, body.comment)
        return render(session, runtime, records.get(session, signer, model, version))


@router.post(f"{ONE}/verify", summary="Verify a draft")
def verify_release(
    model: str, version: str, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ReleaseOut:
    """Draft → verified when complete; otherwise 409 with ``missing``."""
    with unit_of_work(runtime) as session:
        release = approval.verify(
            session, runtime.audit, runtime.distribution.blobs, principal, model, version
        )
        return render(session, runtime, release)


@router.post(f"{ONE}/reopen", summary="Reopen a verified release")
def reopen_release(
    model: str, version: str, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ReleaseOut:
    """Verified → draft, so that it can be edited again."""
    with unit_of_work(runtime) as session:
        release = approval.reopen(session, runtime.audit, principal, model, version)
        return render(session, runtime, release)


@router.post(f"{ONE}/approve", summary="Approve (e-sign) a release")
def approve_release(
    model: str,
    version: str,
    body: PasswordIn,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
) -> ReleaseOut:
    """QA/RA re-enters the password; 409 with ``missing`` while anything blocks approval."""
    _exists(runtime, principal, model, version)
    signer = authenticate(runtime, principal.username, body.password, purpose="esignature")
    with unit_of_work(runtime) as session:
        release = approval.approve(
            session,
            runtime.audit,
            signer,
            model,
            version,
            trusted_keys=runtime.trusted_keys(),
            blobs=runtime.distribution.blobs,
            comment=body.comment,
        )
        return render(session, runtime, release)


@router.post(f"{ONE}/release", summary="Release: sign into the image repository")
def release_release(
    model: str, version: str, body: PasswordIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ReleaseOut:
    """QA/RA re-enters the password, which also unlocks their targets key."""
    _exists(runtime, principal, model, version)
    signer = authenticate(runtime, principal.username, body.password, purpose="esignature")
    with unit_of_work(runtime) as session:
        release, _signed = publishing.publish(
            session,
            runtime.audit,
            runtime.distribution,
            signer,
            body.password,
            model,
            version,
            body.comment,
        )
        return render(session, runtime, release)


@router.post(f"{ONE}/withdraw", summary="Withdraw a release")
def withdraw_release(
    model: str, version: str, body: WithdrawIn, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ReleaseOut:
    """QA/RA or admin withdraws a verified, approved or released release, with a reason."""
    with unit_of_work(runtime) as session:
        release = approval.withdraw(session, runtime.audit, principal, model, version, body.reason)
        return render(session, runtime, release)
