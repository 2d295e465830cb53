"""``medfleet vulns advisories`` (import OSV/NVD records offline, list them) and
``medfleet vulns show`` (one vulnerability by any of its ids)."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import console, emit_json, handle_errors
from medfleet.vulns import advisory_views
from medfleet.vulns.advisories import import_advisories
from medfleet.vulns.advisory_sources import FORMATS, check_format, read_advisories

advisories_app = typer.Typer(
    help="Advisories: import OSV and NVD records (files, directories, zips), list them.",
    no_args_is_help=True,
)
IncludeWithdrawn = Annotated[
    bool, typer.Option("--include-withdrawn", help="Also withdrawn advisories.")
]


def register(app: typer.Typer) -> None:
    """Add ``advisories`` and ``show`` to the ``medfleet vulns`` app."""
    app.add_typer(advisories_app, name="advisories")
    app.command("show")(show_command)


@advisories_app.command("import")
@handle_errors
def import_command(
    paths: Annotated[
        list[Path],
        typer.Argument(help="JSON files, directories (*.json, recursively) or zip archives."),
    ],
    user: UserOption,
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)}.")] = "auto",
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Import advisory records; re-importing the same records changes nothing."""
    kind = check_format(fmt)
    with console.status("reading advisories…", spinner="dots") if not as_json else nullcontext():
        parsed = read_advisories(paths, kind)
    with acting_as(data_dir, user) as (runtime, principal, session):
        with console.status(f"importing {len(parsed)} records…") if not as_json else nullcontext():
            summary = import_advisories(
                session, runtime.audit, principal, parsed, runtime.clock.now()
            )
        document = summary.as_dict()
    if as_json:
        emit_json(document)
        return
    console.print(
        f"{len(parsed)} records: {summary.created} created, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.withdrawn} withdrawn, "
        f"{summary.merged} vulnerabilities merged, {len(summary.skipped)} skipped",
        highlight=False,
    )
    for entry in (*summary.skipped, *summary.ignored):
        console.print(f"  {entry.record}: {entry.reason}", highlight=False, markup=False)


@advisories_app.command("list")
@handle_errors
def list_command(
    user: UserOption,
    include_withdrawn: IncludeWithdrawn = False,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Advisories with their vulnerability and number of affected packages."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        rows = advisory_views.list_advisories(
            session, principal, include_withdrawn=include_withdrawn
        )
    if as_json:
        emit_json({"advisories": rows})
        return
    table = Table("source", "id", "vulnerability", "packages", "modified", "withdrawn", "summary")
    for row in rows:
        table.add_row(
            row["source"],
            row["source_id"],
            row["vulnerability"],
            str(row["packages"]),
            (row["modified_at"] or "-")[:10],
            (row["withdrawn_at"] or "-")[:10],
            row["summary"][:60],
        )
    console.print(table)


@handle_errors
def show_command(
    vulnerability: Annotated[str, typer.Argument(help="CVE, GHSA or any other alias.")],
    user: UserOption,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """A vulnerability by any of its ids: aliases, severity, advisories and affected packages."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        document = advisory_views.vulnerability_detail(session, principal, vulnerability)
    if as_json:
        emit_json(document)
    else:
        console.print(_text(document), highlight=False, markup=False)


def _text(document: dict[str, Any]) -> str:
    score = document["cvss_score"]
    lines = [
        f"{document['key']}  ({', '.join(document['aliases'])})",
        f"severity: {document['severity'] or '-'}"
        + (f", CVSS {score} {document['cvss_vector'] or ''}" if score is not None else ""),
        f"summary: {document['summary']}",
        f"published: {document['published_at'] or '-'}  modified: {document['modified_at'] or '-'}",
    ]
    if document["withdrawn"]:
        lines.append(f"WITHDRAWN at {document['withdrawn_at']}")
    for advisory in document["advisories"]:
        state = " (withdrawn)" if advisory["withdrawn"] else ""
        lines.append(f"- {advisory['source']} {advisory['source_id']}{state}")
        for package in advisory["packages"]:
            key = package["package_key"] or f"cpe {package['cpe_key']}"
            ranges = "; ".join(
                ", ".join(f"{k} {v}" for event in r["events"] for k, v in event.items())
                for r in package["ranges"]
            )
            listed = f" versions {', '.join(package['versions'])}" if package["versions"] else ""
            lines.append(f"    {key}: {ranges or '-'}{listed}")
    return "\n".join(lines)
