"""``medfleet devices``: register devices for hospitals, list and show them."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import console, emit_json, handle_errors, report
from medfleet.fleet import enrollment
from medfleet.fleet.tables import Device

app = typer.Typer(help="Devices: registration, enrollment tokens, inventory.", no_args_is_help=True)


def device_dict(device: Device) -> dict[str, Any]:
    """A device as the CLI prints it in ``--json``."""
    return {
        "device_id": device.device_id,
        "org_id": device.org_id,
        "model": device.model,
        "hardware_revision": device.hardware_revision,
        "serial": device.serial,
        "enrolled": device.enrolled_at is not None,
        "key_id": device.key_id,
        "last_report_seq": device.last_report_seq,
        "installed_version": device.installed_version,
        "last_seen_at": None if device.last_seen_at is None else device.last_seen_at.isoformat(),
    }


@app.command("register")
@handle_errors
def register_command(
    org_id: Annotated[int, typer.Argument(help="The hospital that owns the device.")],
    model: Annotated[str, typer.Option("--model")],
    hardware_revision: Annotated[str, typer.Option("--hardware-revision", "--hw")],
    serial: Annotated[str, typer.Option("--serial")],
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Register a device; prints its one-time enrollment token (shown only now)."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        registration = enrollment.register_device(
            session,
            runtime.audit,
            principal,
            org_id=org_id,
            model=model,
            hardware_revision=hardware_revision,
            serial=serial,
        )
        document = device_dict(registration.device)
    document["enrollment_token"] = registration.enrollment_token
    report(
        as_json,
        document,
        f"registered {document['device_id']}; on the device run: medfleet-agent enroll "
        f"--server URL --token {registration.enrollment_token}",
    )


@app.command("list")
@handle_errors
def list_command(user: UserOption, data_dir: DataDir = None, as_json: Json = False) -> None:
    """List the devices --user may see."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        documents = [device_dict(d) for d in enrollment.visible_devices(session, principal)]
    if as_json:
        emit_json(documents)
        return
    table = Table("device", "org", "model", "rev", "serial", "enrolled", "version")
    for d in documents:
        table.add_row(
            d["device_id"],
            str(d["org_id"]),
            d["model"],
            d["hardware_revision"],
            d["serial"],
            "yes" if d["enrolled"] else "no",
            d["installed_version"] or "-",
        )
    console.print(table)


@app.command("show")
@handle_errors
def show_command(
    device_id: str, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Show one device."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        document = device_dict(enrollment.get_device(session, principal, device_id))
    report(as_json, document, "\n".join(f"{k}: {v}" for k, v in document.items()))
