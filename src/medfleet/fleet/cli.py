"""``medfleet devices``: register devices (one, or a CSV file), list, show, edit, version
history and FHIR export. Sites, departments and hospitals are given by name."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind, Principal
from medfleet.accounts.tables import Department, Organization, Site
from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import EXIT_INVALID, console, emit_json, fail, handle_errors, report
from medfleet.fleet import csv_import, enrollment, history, inventory
from medfleet.fleet import device_fields as fields
from medfleet.fleet.fhir_export import FHIR_VERSIONS, FhirVersion, export_devices
from medfleet.fleet.tables import Device

app = typer.Typer(help="Devices: registration, enrollment tokens, inventory.", no_args_is_help=True)

Tags = Annotated[
    list[str] | None, typer.Option("--tag", help="A tag (repeat for several).", show_default=False)
]


def device_dict(device: Device) -> dict[str, Any]:
    """A device as the CLI prints it in ``--json``."""

    def iso(value: Any) -> str | None:
        return None if value is None else str(value.isoformat())

    return {
        "device_id": device.device_id,
        "org_id": device.org_id,
        "model": device.model,
        "hardware_revision": device.hardware_revision,
        "serial": device.serial,
        "site_id": device.site_id,
        "site": device.site_name,
        "department_id": device.department_id,
        "department": device.department_name,
        "is_test_device": device.is_test_device,
        "tags": list(device.tags),
        "udi_di": device.udi_di,
        "udi_hri": device.udi_hri,
        "udi_lot": device.udi_lot,
        "udi_manufactured_on": iso(device.udi_manufactured_on),
        "udi_expires_on": iso(device.udi_expires_on),
        "enrolled": device.enrolled_at is not None,
        "key_id": device.key_id,
        "last_report_seq": device.last_report_seq,
        "installed_version": device.installed_version,
        "installed_version_number": device.installed_version_number,
        "in_clinical_use": device.in_clinical_use,
        "clinical_use_reported_at": iso(device.clinical_use_reported_at),
        "last_seen_at": iso(device.last_seen_at),
    }


def _place(
    session: Session, hospital: Organization, site: str | None, department: str | None
) -> tuple[Site | None, Department | None]:
    found_site = None if site is None else fields.find_site(session, hospital, site)
    if department is None:
        return found_site, None
    if found_site is None:
        raise typer.BadParameter("--department needs --site")
    return found_site, fields.find_department(session, found_site, department)


@app.command("register")
@handle_errors
def register_command(
    org_id: Annotated[int, typer.Argument(help="The hospital that owns the device.")],
    model: Annotated[str, typer.Option("--model")],
    hardware_revision: Annotated[str, typer.Option("--hardware-revision", "--hw")],
    serial: Annotated[str, typer.Option("--serial")],
    user: UserOption,
    site: Annotated[str | None, typer.Option("--site", help="Site name.")] = None,
    department: Annotated[str | None, typer.Option("--department", help="Of the site.")] = None,
    test_device: Annotated[bool, typer.Option("--test-device", help="A test device.")] = False,
    tags: Tags = None,
    udi: Annotated[str | None, typer.Option("--udi", help="GS1 UDI, e.g. (01)...(21)...")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Register a device; prints its one-time enrollment token (shown only now)."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        enrollment.check_registrar(principal)  # before any name is looked up
        found_site, found_department = _place(
            session, fields.hospital_of(session, org_id), site, department
        )
        registration = enrollment.register_device(
            session,
            runtime.audit,
            principal,
            org_id=org_id,
            model=model,
            hardware_revision=hardware_revision,
            serial=serial,
            site_id=None if found_site is None else found_site.id,
            department_id=None if found_department is None else found_department.id,
            is_test_device=test_device,
            tags=tags or [],
            udi=udi,
        )
        document = device_dict(registration.device)
    document["enrollment_token"] = registration.enrollment_token
    report(
        as_json,
        document,
        f"registered {document['device_id']}; on the device run: medfleet-agent enroll "
        f"--server URL --token {registration.enrollment_token}",
    )


def _hospital_scope(
    session: Session, principal: Principal, hospital: str | None
) -> Organization | None:
    if hospital is not None:
        return fields.find_hospital(session, principal, hospital)
    if principal.org_kind is OrgKind.HOSPITAL:
        return fields.hospital_of(session, principal.org_id)
    return None


def _use(device: dict[str, Any]) -> str:
    state = device["in_clinical_use"]
    return "-" if state is None else ("in use" if state else "idle")


@app.command("list")
@handle_errors
def list_command(
    user: UserOption,
    hospital: Annotated[str | None, typer.Option("--hospital", help="Hospital name.")] = None,
    site: Annotated[str | None, typer.Option("--site", help="Site name.")] = None,
    model: Annotated[str | None, typer.Option("--model")] = None,
    test_only: Annotated[bool, typer.Option("--test-only", help="Only test devices.")] = False,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """List the devices --user may see, narrowed by hospital, site, model or test flag."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        scope = _hospital_scope(session, principal, hospital)
        if site is not None and scope is None:
            raise typer.BadParameter("--site needs --hospital")
        site_id = (
            None if site is None or scope is None else fields.find_site(session, scope, site).id
        )
        found = inventory.find_devices(
            session,
            principal,
            org_id=None if hospital is None or scope is None else scope.id,
            site_id=site_id,
            model=model,
            test_only=test_only,
        )
        documents = [device_dict(d) for d in found]
    if as_json:
        emit_json(documents)
        return
    table = Table("device", "org", "model", "rev", "serial", "site / department", "test",
                  "enrolled", "version", "clinical use")  # fmt: skip
    for d in documents:
        place = " / ".join(p for p in (d["site"], d["department"]) if p) or "-"
        table.add_row(
            d["device_id"], str(d["org_id"]), d["model"], d["hardware_revision"], d["serial"],
            place, "yes" if d["is_test_device"] else "no", "yes" if d["enrolled"] else "no",
            d["installed_version"] or "-", _use(d),
        )  # fmt: skip
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


@app.command("update")
@handle_errors
def update_command(
    device_id: str,
    user: UserOption,
    site: Annotated[str | None, typer.Option("--site", help="Move to this site.")] = None,
    no_site: Annotated[bool, typer.Option("--no-site", help="Take off any site.")] = False,
    department: Annotated[str | None, typer.Option("--department")] = None,
    no_department: Annotated[bool, typer.Option("--no-department")] = False,
    test_device: Annotated[
        bool | None, typer.Option("--test/--no-test", help="Flag or unflag as a test device.")
    ] = None,
    tags: Tags = None,
    clear_tags: Annotated[bool, typer.Option("--clear-tags", help="Remove every tag.")] = False,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Move a device to another site/department of its hospital, flag it, or set its tags."""
    if (site is not None and no_site) or (department is not None and no_department):
        raise typer.BadParameter("give a name or --no-..., not both")
    if tags and clear_tags:
        raise typer.BadParameter("give --tag or --clear-tags, not both")
    with acting_as(data_dir, user) as (runtime, principal, session):
        device = enrollment.get_device(session, principal, device_id)
        hospital = fields.hospital_of(session, device.org_id)
        site_id: int | inventory.Unset | None = inventory.UNSET
        target_site = device.site
        if no_site:
            site_id, target_site = None, None
        elif site is not None:
            target_site = fields.find_site(session, hospital, site)
            site_id = target_site.id
        department_id: int | inventory.Unset | None = None if no_department else inventory.UNSET
        if department is not None:
            if target_site is None:
                raise typer.BadParameter("the device has no site: give --site too")
            department_id = fields.find_department(session, target_site, department).id
        updated = inventory.update_device(
            session,
            runtime.audit,
            principal,
            device_id,
            site_id=site_id,
            department_id=department_id,
            is_test_device=test_device,
            tags=[] if clear_tags else tags,
        )
        document = device_dict(updated)
    report(as_json, document, f"updated {device_id}")


@app.command("history")
@handle_errors
def history_command(
    device_id: str, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """The versions a device reported running, oldest first."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        rows: list[dict[str, Any]] = [
            {
                "version": row.version,
                "version_number": row.version_number,
                "report_seq": row.report_seq,
                "reported_at": row.reported_at.isoformat(),
                "received_at": row.received_at.isoformat(),
            }
            for row in history.version_history(session, principal, device_id)
        ]
    if as_json:
        emit_json(rows)
        return
    table = Table("since report", "reported at", "version", "number")
    for r in rows:
        table.add_row(
            str(r["report_seq"]), r["reported_at"], r["version"] or "-",
            "-" if r["version_number"] is None else str(r["version_number"]),
        )  # fmt: skip
    console.print(table)


def _open_private(path: Path) -> int:
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        fail(f"{path} exists; the tokens file is never overwritten", EXIT_INVALID)
    except OSError as exc:
        fail(f"cannot create {path}: {exc.strerror}", EXIT_INVALID)


@app.command("import")
@handle_errors
def import_command(
    file: Annotated[Path, typer.Argument(help="CSV: serial,model,hardware_revision,hospital,...")],
    user: UserOption,
    tokens_out: Annotated[
        Path | None,
        typer.Option("--tokens-out", help="Write the enrollment tokens here (mode 0600)."),
    ] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Register every device of a CSV file, or none (every problem is listed)."""
    if tokens_out is None and not as_json:
        fail("give --tokens-out FILE (or --json) so that the enrollment tokens are kept", 2)
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", EXIT_INVALID, as_json)
    except UnicodeDecodeError as exc:
        fail(f"{file} is not UTF-8 text ({exc.reason})", EXIT_INVALID, as_json)
    descriptor = None if tokens_out is None else _open_private(tokens_out)
    try:
        with acting_as(data_dir, user) as (runtime, principal, session):
            result = csv_import.import_devices(session, runtime.audit, principal, text)
            devices = [
                {**device_dict(d.registration.device), "line": d.line,
                 "enrollment_token": d.registration.enrollment_token}
                for d in result.devices
            ]  # fmt: skip
            if descriptor is not None:
                owned, descriptor = descriptor, None  # the writer closes it from here on
                _write_tokens(owned, devices)
    except BaseException:
        if tokens_out is not None:
            if descriptor is not None:
                os.close(descriptor)
            tokens_out.unlink(missing_ok=True)
        raise
    if tokens_out is not None:
        for device in devices:
            del device["enrollment_token"]
    document = {"sha256": result.sha256, "devices": devices,
                "tokens_out": None if tokens_out is None else str(tokens_out)}  # fmt: skip
    report(as_json, document, f"imported {len(devices)} devices; tokens in {tokens_out}")


def _write_tokens(descriptor: int, devices: list[dict[str, Any]]) -> None:
    with os.fdopen(descriptor, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["line", "device_id", "model", "serial", "org_id", "enrollment_token"])
        for d in devices:
            writer.writerow(
                [d["line"], d["device_id"], d["model"], d["serial"], d["org_id"],
                 d["enrollment_token"]]
            )  # fmt: skip


@app.command("export-fhir")
@handle_errors
def export_fhir_command(
    user: UserOption,
    fhir_version: Annotated[str, typer.Option("--fhir-version", help="R4B or R5.")] = "R5",
    hospital: Annotated[str | None, typer.Option("--hospital", help="Hospital name.")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the bundle here.")] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """The devices --user may see as a FHIR Bundle of Device resources (stdout or --out)."""
    if fhir_version not in FHIR_VERSIONS:
        fail(f"--fhir-version must be one of {', '.join(FHIR_VERSIONS)}", EXIT_INVALID, as_json)
    version: FhirVersion = "R4B" if fhir_version == "R4B" else "R5"
    with acting_as(data_dir, user) as (runtime, principal, session):
        scope = None if hospital is None else fields.find_hospital(session, principal, hospital)
        bundle = export_devices(
            session,
            principal,
            fhir_version=version,
            hospital_id=None if scope is None else scope.id,
            now=runtime.clock.now(),
        )
    text = json.dumps(bundle, indent=2, sort_keys=True)
    if out is None:
        print(text)
        return
    out.write_text(text + "\n", encoding="utf-8")
    document = {"out": str(out), "fhir_version": version, "devices": len(bundle.get("entry", []))}
    report(as_json, document, f"wrote {document['devices']} devices as FHIR {version} to {out}")
