"""``medfleet release``: release records, files, verification, e-signed approval, signing.

Every command that signs (``sign``, ``approve``, ``publish``, ``signing-key``,
``delegate-model``) asks for the password again (``MEDFLEET_PASSWORD`` for scripts). A refused
verification or approval prints every missing item and exits 5 (``--json``: a ``missing``
list).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.text import Text

from medfleet.accounts.auth import authenticate
from medfleet.accounts.signatures import parse_meaning, signatures_for
from medfleet.cli.context import DataDir, Json, UserOption, acting_as, opened
from medfleet.cli.output import (
    console,
    emit_json,
    handle_errors,
    read_secret,
    report,
)
from medfleet.db.engine import transaction
from medfleet.releases import approval, cli_signing, records
from medfleet.releases.records import KEEP, MAX_IMAGE_BYTES, MAX_SBOM_BYTES, ReleaseFields
from medfleet.releases.render import release_dict, render_text
from medfleet.releases.tables import Release
from medfleet.runtime import Runtime

app = typer.Typer(
    help="Release records: artifacts, notes, verification, e-signed approval, signing.",
    no_args_is_help=True,
)

Model = Annotated[str, typer.Argument(help="Device model, e.g. IP-100.")]
Version = Annotated[str, typer.Argument(help="Version string, e.g. 4.2.0.")]
ExistingFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]
Number = Annotated[int | None, typer.Option("--number", help="Version number (integer).")]
MinFrom = Annotated[
    int | None, typer.Option("--min-from", help="Lowest version number that may update.")
]
Build = Annotated[str | None, typer.Option("--build", help="Build id.")]
Hardware = Annotated[list[str] | None, typer.Option("--hw", help="Hardware revision (repeat).")]
Changes = Annotated[list[str] | None, typer.Option("--change", help="Change request (repeat).")]
WhatChanged = Annotated[str | None, typer.Option("--what-changed", help="What changed and why.")]
Risk = Annotated[str | None, typer.Option("--risk", help="Risk summary for hospitals.")]
Downtime = Annotated[int | None, typer.Option("--downtime", help="Expected downtime (minutes).")]
Compatibility = Annotated[str | None, typer.Option("--compatibility", help="Compatibility.")]


def _document(session: Any, runtime: Runtime, release: Release) -> dict[str, Any]:
    return release_dict(release, signatures_for(session, release, runtime.trusted_keys()))


def _fields(
    number: int | None,
    min_from: int | None,
    build: str | None,
    hardware: list[str] | None,
    changes: list[str] | None,
    what_changed: str | None,
    risk: str | None,
    downtime: int | None,
    compatibility: str | None,
) -> ReleaseFields:
    return ReleaseFields(
        version_number=number,
        min_from_version_number=min_from if min_from is not None else KEEP,
        build_id=build,
        hardware_revisions=hardware or None,
        what_changed=what_changed,
        risk_summary=risk,
        downtime_minutes=downtime,
        compatibility=compatibility,
        change_requests=changes or None,
    )


@app.command("create")
@handle_errors
def create_command(
    model: Model,
    version: Version,
    user: UserOption,
    number: Number = None,
    min_from: MinFrom = None,
    build: Build = None,
    hardware: Hardware = None,
    changes: Changes = None,
    what_changed: WhatChanged = None,
    risk: Risk = None,
    downtime: Downtime = None,
    compatibility: Compatibility = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Create a draft release authored by --user."""
    fields = _fields(
        number, min_from, build, hardware, changes, what_changed, risk, downtime, compatibility
    )
    with acting_as(data_dir, user) as (runtime, principal, session):
        release = records.create(session, runtime.audit, principal, model, version, fields)
        document = _document(session, runtime, release)
    report(as_json, document, f"created draft {model} {version}")


@app.command("edit")
@handle_errors
def edit_command(
    model: Model,
    version: Version,
    user: UserOption,
    number: Number = None,
    min_from: MinFrom = None,
    build: Build = None,
    hardware: Hardware = None,
    changes: Changes = None,
    what_changed: WhatChanged = None,
    risk: Risk = None,
    downtime: Downtime = None,
    compatibility: Compatibility = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Edit a draft; its existing signatures become invalid."""
    fields = _fields(
        number, min_from, build, hardware, changes, what_changed, risk, downtime, compatibility
    )
    with acting_as(data_dir, user) as (runtime, principal, session):
        release = records.edit(session, runtime.audit, principal, model, version, fields)
        document = _document(session, runtime, release)
    report(as_json, document, f"edited {model} {version}")


@app.command("upload-image")
@handle_errors
def upload_image_command(
    model: Model,
    version: Version,
    file: ExistingFile,
    user: UserOption,
    filename: Annotated[
        str | None, typer.Option("--filename", help="Published name (default: the file's).")
    ] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Store the image in the blob store and attach it to a draft."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        records.check_uploadable(session, principal, model, version)
        blobs = runtime.distribution.blobs
        blob = blobs.put_file(file, max_length=MAX_IMAGE_BYTES)
        release = records.attach_artifact(
            session, runtime.audit, blobs, principal, model, version, filename or file.name, blob
        )
        document = _document(session, runtime, release)
    report(as_json, document, f"attached {file.name} ({blob.length} bytes, sha256 {blob.sha256})")


@app.command("attach-sbom")
@handle_errors
def attach_sbom_command(
    model: Model,
    version: Version,
    file: ExistingFile,
    user: UserOption,
    sbom_format: Annotated[
        str, typer.Option("--format", help="cyclonedx-json, cyclonedx-xml, spdx-json, ...")
    ] = "cyclonedx-json",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Store an SBOM in the blob store and attach it to a draft by reference."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        records.check_uploadable(session, principal, model, version)
        blobs = runtime.distribution.blobs
        blob = blobs.put_file(file, max_length=MAX_SBOM_BYTES)
        release = records.attach_sbom(
            session, runtime.audit, blobs, principal, model, version, sbom_format, blob
        )
        document = _document(session, runtime, release)
    report(as_json, document, f"attached SBOM {file.name} ({sbom_format})")


@app.command("show")
@handle_errors
def show_command(
    model: Model,
    version: Version,
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Show a release with its notes and every signature (and whether it is still valid)."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        release = records.get(session, principal, model, version)
        views = signatures_for(session, release, runtime.trusted_keys())
        document, text = release_dict(release, views), render_text(release, views)
    if as_json:
        emit_json(document)
    else:
        console.print(Panel(Text(text), title=f"{model} {version}", expand=False))


@app.command("list")
@handle_errors
def list_command(
    user: UserOption,
    model: Annotated[str | None, typer.Option("--model")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """List releases, newest first."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        documents = [
            _document(session, runtime, r) for r in records.list_all(session, principal, model)
        ]
    if as_json:
        emit_json(documents)
        return
    for d in documents:
        console.print(f"{d['model']} {d['version']}  #{d['version_number']}  {d['state']}")


def _password(user: str, doing: str) -> str:
    return read_secret(f"password for {user} ({doing})", "MEDFLEET_PASSWORD")


@app.command("sign")
@handle_errors
def sign_command(
    model: Model,
    version: Version,
    user: UserOption,
    meaning: Annotated[str, typer.Option(help="authored or reviewed")],
    comment: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """E-sign a release as authored or reviewed; your password is asked again."""
    chosen = parse_meaning(meaning)
    with opened(data_dir) as runtime:
        password = _password(user, f"signing {model} {version} as {chosen.value}")
        signer = authenticate(runtime, user, password, purpose="esignature")
        with transaction(runtime.sessions) as session:
            approval.sign(session, runtime.audit, signer, model, version, chosen, comment)
            document = _document(session, runtime, records.get(session, signer, model, version))
    report(as_json, document, f"signed {model} {version} as {chosen.value}")


@app.command("verify")
@handle_errors
def verify_command(
    model: Model,
    version: Version,
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Check a draft is complete and mark it verified; lists everything missing otherwise."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        blobs = runtime.distribution.blobs
        release = approval.verify(session, runtime.audit, blobs, principal, model, version)
        document = _document(session, runtime, release)
    report(as_json, document, f"verified {model} {version}")


@app.command("reopen")
@handle_errors
def reopen_command(
    model: Model,
    version: Version,
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Send a verified release back to draft."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        release = approval.reopen(session, runtime.audit, principal, model, version)
        document = _document(session, runtime, release)
    report(as_json, document, f"reopened {model} {version}")


@app.command("approve")
@handle_errors
def approve_command(
    model: Model,
    version: Version,
    user: UserOption,
    comment: Annotated[str | None, typer.Option()] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Approve (e-sign) a verified release; prints every blocker and exits 5 if refused."""
    with opened(data_dir) as runtime:
        password = _password(user, f"approving {model} {version}")
        signer = authenticate(runtime, user, password, purpose="esignature")
        with transaction(runtime.sessions) as session:
            release = approval.approve(
                session, runtime.audit, signer, model, version,
                trusted_keys=runtime.trusted_keys(), blobs=runtime.distribution.blobs,
                comment=comment,
            )  # fmt: skip
            document = _document(session, runtime, release)
    report(as_json, document, f"approved {model} {version}")


@app.command("withdraw")
@handle_errors
def withdraw_command(
    model: Model,
    version: Version,
    user: UserOption,
    reason: Annotated[str, typer.Option("--reason", help="Why it is withdrawn.")],
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Withdraw a release (QA/RA or admin); campaigns stop assigning it."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        release = approval.withdraw(session, runtime.audit, principal, model, version, reason)
        document = _document(session, runtime, release)
    report(as_json, document, f"withdrew {model} {version}")


app.command("publish")(cli_signing.publish_command)
app.command("signing-key")(cli_signing.signing_key_command)
app.command("delegate-model")(cli_signing.delegate_model_command)
