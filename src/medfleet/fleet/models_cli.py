"""``medfleet models``: the device-model catalogue (models, hardware revisions, support floor)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import console, emit_json, handle_errors, report
from medfleet.fleet import catalog
from medfleet.fleet.tables import DeviceModel

app = typer.Typer(help="Device models and hardware revisions.", no_args_is_help=True)


def model_dict(model: DeviceModel) -> dict[str, Any]:
    """A catalogue model as the CLI prints it in ``--json``."""
    return {
        "name": model.name,
        "display_name": model.display_name,
        "gtin": model.gtin,
        "image_kind": model.image_kind,
        "supported_from_version_number": model.supported_from_version_number,
        "created_at": model.created_at.isoformat(),
        "hardware_revisions": [
            {"name": r.name, "description": r.description} for r in model.revisions
        ],
    }


def _text(document: dict[str, Any]) -> str:
    revisions = ", ".join(r["name"] for r in document["hardware_revisions"]) or "-"
    floor = document["supported_from_version_number"]
    return "\n".join(
        (
            f"{document['name']}: {document['display_name']}",
            f"GTIN: {document['gtin'] or '-'}   images: {document['image_kind']}",
            f"hardware revisions: {revisions}",
            f"supported from version number: {'-' if floor is None else floor}",
        )
    )


@app.command("register")
@handle_errors
def register_command(
    name: str,
    display_name: Annotated[str, typer.Option("--display-name", help="E.g. 'Infusion pump'.")],
    user: UserOption,
    gtin: Annotated[str | None, typer.Option("--gtin", help="GS1 UDI-DI (GTIN-8..14).")] = None,
    image_kind: Annotated[
        str, typer.Option("--image-kind", help="What release images are: software|firmware.")
    ] = catalog.SOFTWARE,
    supported_from: Annotated[
        int | None, typer.Option("--supported-from", help="Lowest supported version number.")
    ] = None,
    revisions: Annotated[
        list[str] | None, typer.Option("--revision", "--hw", help="A hardware revision (repeat).")
    ] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Add a device model to the catalogue (optionally with its hardware revisions)."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        model = catalog.register_model(
            session,
            runtime.audit,
            principal,
            name=name,
            display_name=display_name,
            gtin=gtin,
            image_kind=image_kind,
            supported_from_version_number=supported_from,
        )
        for revision in revisions or []:
            catalog.add_hardware_revision(session, runtime.audit, principal, name, revision)
        document = model_dict(model)
    report(as_json, document, f"registered {name}\n{_text(document)}")


@app.command("add-revision")
@handle_errors
def add_revision_command(
    model: str,
    revision: str,
    user: UserOption,
    description: Annotated[str, typer.Option("--description", "-m")] = "",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Add a hardware revision to a model."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        catalog.add_hardware_revision(
            session, runtime.audit, principal, model, revision, description
        )
        document = model_dict(catalog.get_model(session, model))
    report(as_json, document, f"added hardware revision {revision} to {model}")


@app.command("set-supported")
@handle_errors
def set_supported_command(
    model: str,
    user: UserOption,
    version_number: Annotated[
        int | None, typer.Argument(help="Lowest supported version number; omit with --clear.")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Support every version again.")] = False,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Set the lowest version number the manufacturer still supports for a model."""
    if (version_number is None) == (not clear):
        raise typer.BadParameter("give a VERSION_NUMBER or --clear (not both)")
    with acting_as(data_dir, user) as (runtime, principal, session):
        updated = catalog.set_supported_from(
            session, runtime.audit, principal, model, None if clear else version_number
        )
        document = model_dict(updated)
    floor = document["supported_from_version_number"]
    shown = "any version" if floor is None else f"version number {floor}"
    report(as_json, document, f"{model} is supported from {shown}")


@app.command("list")
@handle_errors
def list_command(user: UserOption, data_dir: DataDir = None, as_json: Json = False) -> None:
    """List the catalogue."""
    with acting_as(data_dir, user) as (_runtime, _principal, session):
        documents = [model_dict(m) for m in catalog.list_models(session)]
    if as_json:
        emit_json(documents)
        return
    table = Table("model", "name", "GTIN", "images", "revisions", "supported from")
    for d in documents:
        floor = d["supported_from_version_number"]
        table.add_row(
            d["name"],
            d["display_name"],
            d["gtin"] or "-",
            d["image_kind"],
            ", ".join(r["name"] for r in d["hardware_revisions"]) or "-",
            "-" if floor is None else str(floor),
        )
    console.print(table)


@app.command("show")
@handle_errors
def show_command(
    model: str, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Show one model with its hardware revisions."""
    with acting_as(data_dir, user) as (_runtime, _principal, session):
        document = model_dict(catalog.get_model(session, model))
    report(as_json, document, _text(document))
