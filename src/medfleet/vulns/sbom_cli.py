"""``medfleet vulns sbom``: import a release's SBOM, show its components, export CycloneDX 1.6."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import console, emit_json, handle_errors, report
from medfleet.vulns import sbom_read, sboms
from medfleet.vulns.errors import SbomTooLargeError

sbom_app = typer.Typer(
    help="Release SBOMs: import CycloneDX 1.4-1.6 or SPDX 2.3 JSON, show, export CycloneDX 1.6.",
    no_args_is_help=True,
)

Model = Annotated[str, typer.Argument(help="Device model, e.g. IP-100.")]
Version = Annotated[str, typer.Argument(help="Release version, e.g. 4.2.0.")]


def register(app: typer.Typer) -> None:
    """Add ``sbom`` to the ``medfleet vulns`` app."""
    app.add_typer(sbom_app, name="sbom")


def _read(path: Path) -> bytes:
    if path.stat().st_size > sbom_read.MAX_DOCUMENT_BYTES:
        raise SbomTooLargeError(
            f"{path.name} is larger than {sbom_read.MAX_DOCUMENT_BYTES} bytes, the most imported"
        )
    return path.read_bytes()


@sbom_app.command("import")
@handle_errors
def import_command(
    model: Model,
    version: Version,
    user: UserOption,
    file: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="The SBOM (JSON); without it, the SBOM attached to the release is imported.",
        ),
    ] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Import a release's SBOM, replacing the one imported before; findings are recomputed."""
    document = _read(file) if file is not None else None
    with acting_as(data_dir, user) as (runtime, principal, session):
        done = sboms.import_sbom(
            session,
            runtime.audit,
            principal,
            runtime.distribution.blobs,
            model,
            version,
            document,
            runtime.clock.now(),
        )
        summary = done.as_dict()
    replaced = summary["replaced_components"]
    text = (
        f"imported {done.parsed.label} SBOM of {model} {version}: "
        f"{summary['components']} components, {summary['unmatchable']} unmatchable "
        "(neither purl nor CPE)"
        + (f"; replaced {replaced} components" if replaced is not None else "")
        + ("; attached to the draft release record" if summary["attached"] else "")
    )
    report(as_json, summary, text)


@sbom_app.command("show")
@handle_errors
def show_command(
    model: Model,
    version: Version,
    user: UserOption,
    search: Annotated[
        str | None,
        typer.Option("--search", help="Only components whose name or purl contains this."),
    ] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """A release's SBOM: summary and components (with purl/CPE, supplier, FDA support data)."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        view = sboms.get_sbom(session, principal, model, version)
        rows = sboms.components(session, view, search)
        summary = view.as_dict()
        listed = [sboms.component_dict(row) for row in rows]
    if as_json:
        emit_json({"sbom": summary, "components": listed})
        return
    console.print(
        f"[bold]{model} {version}[/] ({summary['release_state']}): {summary['format']} "
        f"{summary['spec_version']}, {summary['components']} components, "
        f"{summary['unmatchable']} unmatchable",
        highlight=False,
    )
    table = Table("bom-ref", "kind", "name", "version", "purl / CPE", "supplier", "support", "EOS")
    for c in listed:
        table.add_row(
            c["bom_ref"],
            c["kind"],
            c["name"],
            c["version"] or "-",
            "\n".join(x for x in (c["purl"], c["cpe"]) if x) or "- (unmatchable)",
            c["supplier"] or "-",
            c["support_level"] or "-",
            c["end_of_support"] or "-",
        )
    console.print(table)


@sbom_app.command("export")
@handle_errors
def export_command(
    model: Model,
    version: Version,
    user: UserOption,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="Write here instead of stdout."),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """A release's SBOM as CycloneDX 1.6 JSON."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        document = sboms.export_sbom(session, principal, model, version)
    if output is None:
        sys.stdout.write(document + "\n")
        return
    output.write_text(document + "\n", encoding="utf-8")
    console.print(f"wrote the CycloneDX 1.6 SBOM of {model} {version} to {output}", highlight=False)
