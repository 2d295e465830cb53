"""``medfleet vulns vex``: record, show, import and export VEX statements of a release."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import console, emit_json, handle_errors, report
from medfleet.vulns import vex_documents, vex_export, vex_service, vex_views
from medfleet.vulns.errors import InvalidVexError

MAX_DOCUMENT_BYTES = 64 * 1024**2

vex_app = typer.Typer(
    help="VEX: analysis states per release and component, VEX documents in and out.",
    no_args_is_help=True,
)

Model = Annotated[str, typer.Argument(help="Device model, e.g. IP-100.")]
Version = Annotated[str, typer.Argument(help="Release version, e.g. 4.2.0.")]


class Format(StrEnum):
    """Export formats."""

    CYCLONEDX = "cyclonedx"
    OPENVEX = "openvex"


def register(app: typer.Typer) -> None:
    """Add ``vex`` to the ``medfleet vulns`` app."""
    app.add_typer(vex_app, name="vex")


@vex_app.command("set")
@handle_errors
def set_command(
    model: Model,
    version: Version,
    vulnerability: Annotated[str, typer.Argument(help="CVE, GHSA or other id or alias.")],
    user: UserOption,
    state: Annotated[
        str,
        typer.Option(
            "--state",
            help="resolved, resolved_with_pedigree, exploitable, in_triage, false_positive, "
            "not_affected.",
        ),
    ],
    justification: Annotated[
        str | None,
        typer.Option("--justification", help="Why not affected (code_not_present, …)."),
    ] = None,
    response: Annotated[
        list[str] | None,
        typer.Option(
            "--response",
            help="can_not_fix, will_not_fix, update, rollback, "
            "workaround_available; repeat for several.",
        ),
    ] = None,
    detail: Annotated[str | None, typer.Option("--detail", help="Why, in words.")] = None,
    component: Annotated[
        str | None,
        typer.Option("--component", help="A purl or bom-ref of the release SBOM (default: all)."),
    ] = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Record a VEX statement about a release or one of its components."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        statement = vex_service.record_statement(
            session, runtime.audit, principal, model=model, version=version,
            vulnerability=vulnerability, state=state, justification=justification,
            responses=response or [], detail=detail, component=component,
            now=runtime.clock.now(),
        )  # fmt: skip
        document = vex_views.statement_dict(session, statement)
    about = document["component"] or "the whole release"
    report(
        as_json,
        document,
        f"{document['vulnerability']} is {document['state']} in {model} {version} ({about})",
    )


@vex_app.command("show")
@handle_errors
def show_command(
    model: Model,
    version: Version,
    user: UserOption,
    vulnerability: Annotated[
        str | None, typer.Option("--vuln", help="Only this vulnerability.")
    ] = None,
    history: Annotated[
        bool, typer.Option("--history", help="Every statement, newest first.")
    ] = False,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """The statements in force (or their history) and each active finding's VEX state."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        view = vex_views.release_view(
            session, principal, model, version, vulnerability=vulnerability, history=history
        )
    if as_json:
        emit_json(view)
        return
    _print_view(view)


def _print_view(view: dict[str, Any]) -> None:
    title = "history" if view["history"] else "in force"
    statements = Table(
        "vulnerability", "component", "state", "justification", "responses", "author",
        "stated at", title=f"{view['release']}: statements {title}",
    )  # fmt: skip
    for row in view["statements"]:
        statements.add_row(
            row["vulnerability"], row["component"] or "(release)", row["state"],
            row["justification"] or "-", ", ".join(row["responses"]) or "-", row["author"],
            row["stated_at"],
        )  # fmt: skip
    console.print(statements)
    findings = Table("vulnerability", "component", "state", "exposed", title="active findings")
    for row in view["findings"]:
        findings.add_row(
            row["vulnerability"], row["component"], row["state"] or "(no statement)",
            "yes" if row["exposed"] else "no",
        )  # fmt: skip
    console.print(findings)


@vex_app.command("import")
@handle_errors
def import_command(
    file: Annotated[Path, typer.Argument(help="A CycloneDX VEX or OpenVEX JSON document.")],
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Import a CycloneDX VEX (1.4-1.6) or OpenVEX document; a re-import changes nothing."""
    document = read_document(file)
    with acting_as(data_dir, user) as (runtime, principal, session):
        result = vex_documents.import_document(
            session, runtime.audit, principal, document, runtime.clock.now()
        )
    if as_json:
        emit_json(result.as_dict())
        return
    console.print(f"applied {len(result.applied)} statement(s), skipped {len(result.skipped)}")
    for skipped in result.skipped:
        console.print(f"  skipped {skipped['vulnerability']} {skipped['ref']}: {skipped['reason']}")


def read_document(file: Path) -> Any:
    """A JSON document from a file.

    Raises:
        InvalidVexError: unreadable, too large or not JSON.
    """
    try:
        if file.stat().st_size > MAX_DOCUMENT_BYTES:
            raise InvalidVexError(f"{file} is larger than {MAX_DOCUMENT_BYTES} bytes")
        return json.loads(file.read_bytes())
    except OSError as exc:
        raise InvalidVexError(f"cannot read {file}: {exc.strerror}") from None
    except ValueError as exc:
        raise InvalidVexError(f"{file} is not JSON: {exc}") from None


@vex_app.command("export")
@handle_errors
def export_command(
    model: Model,
    version: Version,
    user: UserOption,
    output_format: Annotated[
        Format, typer.Option("--format", help="cyclonedx (1.6) or openvex.")
    ] = Format.CYCLONEDX,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    untriaged: Annotated[
        bool,
        typer.Option(
            "--untriaged/--no-untriaged",
            help="Also list matched vulnerabilities nobody has analysed yet, as in_triage.",
        ),
    ] = True,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Export the VEX in force for a release (CycloneDX 1.6 VEX or OpenVEX)."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        data = vex_export.release_vex(
            session, principal, model, version, include_untriaged=untriaged
        )
        now = runtime.clock.now()
        text = (
            vex_export.export_cyclonedx(data, now)
            if output_format is Format.CYCLONEDX
            else json.dumps(vex_export.export_openvex(data, now), indent=2)
        )
    if output is None:
        print(text)
        return
    output.write_text(text + "\n", encoding="utf-8")
    summary = {"ok": True, "format": output_format.value, "output": str(output),
               "statements": len(data.entries)}  # fmt: skip
    report(as_json, summary, f"wrote {len(data.entries)} statement(s) to {output}")
