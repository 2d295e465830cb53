"""``medfleet trace req``: add, edit (new version), retire, list and show requirements."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from medfleet.cli.context import DataDir, Json, UserOption, acting_as
from medfleet.cli.output import console, emit_json, handle_errors, report
from medfleet.trace import service
from medfleet.trace.render import requirement_dict

app = typer.Typer(help="Requirements and their versions.", no_args_is_help=True)

ChangeOption = Annotated[
    str | None, typer.Option("--change", "-c", help="Write it under this change request (CR-n).")
]


def _text(document: dict[str, Any]) -> str:
    state = " (retired)" if document["retired"] else ""
    lines = [
        f"{document['key']} v{document['version']}{state}: {document['title']}",
        f"kind: {document['kind']}   software item: {document['software_item']}",
        "",
        document["text"],
        "",
        f"tests: {', '.join(document['tests']) or '(none)'}",
        f"risk controls: {', '.join(document['controls']) or '(none)'}",
    ]
    for version in document.get("history", []):
        under = f" under {version['change_request']}" if version["change_request"] else ""
        lines.append(
            f"  v{version['version']} {version['action']} by {version['author']} "
            f"at {version['created_at']}{under}"
        )
    return "\n".join(lines)


@app.command("add")
@handle_errors
def add_command(
    key: str,
    user: UserOption,
    title: Annotated[str, typer.Option("--title", "-t")],
    text: Annotated[str, typer.Option("--text", "-m")],
    kind: Annotated[str, typer.Option(help="functional, performance, safety, ...")],
    item: Annotated[str, typer.Option("--item", help="The software item it belongs to.")],
    change: ChangeOption = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Add requirement KEY (such as SRS-101) at version 1."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        requirement = service.create_requirement(
            session, runtime.audit, principal, key, title, text, kind, item, change
        )
        document = requirement_dict(session, requirement)
    report(as_json, document, f"added {document['key']} v{document['version']}")


@app.command("edit")
@handle_errors
def edit_command(
    key: str,
    user: UserOption,
    title: Annotated[str | None, typer.Option("--title", "-t")] = None,
    text: Annotated[str | None, typer.Option("--text", "-m")] = None,
    kind: Annotated[str | None, typer.Option()] = None,
    item: Annotated[str | None, typer.Option("--item")] = None,
    change: ChangeOption = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Write the next version of KEY with the given fields changed."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        requirement = service.revise_requirement(
            session,
            runtime.audit,
            principal,
            key,
            title=title,
            text=text,
            kind=kind,
            software_item=item,
            change_key=change,
        )
        document = requirement_dict(session, requirement)
    report(as_json, document, f"revised {document['key']}: now v{document['version']}")


@app.command("retire")
@handle_errors
def retire_command(
    key: str,
    user: UserOption,
    change: ChangeOption = None,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """Retire KEY; it keeps its history and is no longer a gap."""
    with acting_as(data_dir, user) as (runtime, principal, session):
        requirement = service.retire_requirement(session, runtime.audit, principal, key, change)
        document = requirement_dict(session, requirement)
    report(as_json, document, f"retired {document['key']}")


@app.command("list")
@handle_errors
def list_command(
    user: UserOption,
    retired: Annotated[bool, typer.Option("--retired", help="Include retired ones.")] = False,
    data_dir: DataDir = None,
    as_json: Json = False,
) -> None:
    """List requirements by id."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        documents = [
            requirement_dict(session, r)
            for r in service.list_requirements(session, principal, retired)
        ]
    if as_json:
        emit_json(documents)
        return
    table = Table("id", "v", "kind", "title", "tests", "controls")
    for d in documents:
        title = d["title"] + (" (retired)" if d["retired"] else "")
        table.add_row(
            d["key"],
            str(d["version"]),
            d["kind"],
            title,
            str(len(d["tests"])),
            " ".join(d["controls"]),
        )
    console.print(table)


@app.command("show")
@handle_errors
def show_command(
    key: str, user: UserOption, data_dir: DataDir = None, as_json: Json = False
) -> None:
    """Show KEY with every version, its tests and its risk controls."""
    with acting_as(data_dir, user) as (_runtime, principal, session):
        requirement = service.get_requirement(session, principal, key)
        document = requirement_dict(session, requirement, with_history=True)
    report(as_json, document, _text(document))
