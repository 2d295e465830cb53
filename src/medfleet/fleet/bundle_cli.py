"""``medfleet bundle``: export offline field bundles and record installs made with them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import handle_errors, report
from medfleet.fleet import field_bundles
from medfleet.releases.blobs import hash_file
from medfleet.signing.director import FIELD_LIFETIME_MAX

app = typer.Typer(help="Offline field bundles (USB) for devices without a network.")


@app.command("export")
@handle_errors
def export_command(
    release: Annotated[str, typer.Option("--release", help="Release id, e.g. R-2026-014.")],
    model: Annotated[str, typer.Option("--model", help="Device model.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Bundle file to write.")],
    user: UserOption,
    device: Annotated[
        list[str] | None,
        typer.Option(
            "--device",
            help="A device to assign the release to (repeat); default: devices already "
            "assigned the release.",
        ),
    ] = None,
    valid_days: Annotated[
        int,
        typer.Option(min=1, max=FIELD_LIFETIME_MAX.days, help="Days the bundle stays valid."),
    ] = field_bundles.FIELD_LIFETIME.days,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Write one file with the image, its deltas and all metadata to verify them."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        exported = field_bundles.export_bundle(
            session,
            runtime.audit,
            runtime.distribution,
            principal,
            release_id=release,
            model=model,
            output=output,
            device_ids=device or (),
            lifetime=timedelta(days=valid_days),
        )
    report(
        as_json,
        exported.as_dict(),
        f"wrote {exported.path} ({exported.length} bytes, sha256 {exported.sha256[:16]}…): "
        f"{model} {exported.version} for {len(exported.devices)} device(s), valid "
        f"{exported.valid_days} days; on the device: medfleet-agent install-bundle FILE",
    )


@app.command("record")
@handle_errors
def record_command(
    device: Annotated[str, typer.Option("--device", help="The device that was updated.")],
    release: Annotated[str, typer.Option("--release", help="The release installed.")],
    user: UserOption,
    bundle: Annotated[
        Path | None, typer.Option("--bundle", help="The bundle file used (its sha256 is kept).")
    ] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Record an install done in the field (the device's signed report confirms it later)."""
    digest = None if bundle is None else hash_file(bundle).sha256
    with acting_as(data_dir, user) as (runtime, principal, session):
        record = field_bundles.record_install(
            session,
            runtime.audit,
            runtime.distribution,
            principal,
            device_id=device,
            release_id=release,
            bundle_sha256=digest,
        )
        document = {
            "device_id": device,
            "release_id": record.release_id,
            "version": record.version,
            "method": record.method,
            "bundle_sha256": record.bundle_sha256,
            "recorded_by": record.recorded_by,
            "recorded_at": record.recorded_at.isoformat(),
        }
    report(as_json, document, f"recorded {release} ({document['version']}) on {device}")
