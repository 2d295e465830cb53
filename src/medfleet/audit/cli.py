"""``medfleet audit``: verify the trail, export it, and keep its signed head as a witness."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from medfleet.audit import service
from medfleet.audit.export import ExportFormat, export, export_to_path
from medfleet.audit.model import Checkpoint
from medfleet.cli.context import DataDir, Json, opened
from medfleet.cli.output import (
    EXIT_CHECK_FAILED,
    EXIT_INVALID,
    EXIT_NOT_FOUND,
    console,
    emit_json,
    fail,
    handle_errors,
)
from medfleet.db.engine import transaction

app = typer.Typer(help="Audit trail: verify, export, signed head.", no_args_is_help=True)

Witness = Annotated[
    list[Path] | None,
    typer.Option(
        "--witness",
        help="A head checkpoint saved earlier with 'medfleet audit head'; "
        "the trail must still contain it (repeatable).",
    ),
]


def _load_witnesses(paths: list[Path], as_json: bool) -> list[Checkpoint]:
    found = []
    for path in paths:
        try:
            found.append(service.checkpoint_from_json(json.loads(path.read_text())))
        except (OSError, ValueError) as exc:
            fail(f"witness {path}: {exc}", EXIT_INVALID, as_json)
    return found


@app.command("verify")
@handle_errors
def verify_command(
    data_dir: DataDir = None, witness: Witness = None, as_json: Json = False
) -> None:
    """Recompute the hash chain and check every signed checkpoint; exit 1 on any break."""
    witnesses = _load_witnesses(witness or [], as_json)
    with opened(data_dir) as runtime:
        keys = runtime.trusted_keys()
        with transaction(runtime.sessions) as session:
            result = service.verify(session, keys, witnesses)
    if as_json:
        emit_json(result.as_dict())
    elif result.ok:
        console.print(
            f"[green]ok[/]: {result.events_checked} events, "
            f"{result.checkpoints_checked} signed checkpoints, head {result.last_seq}"
        )
    else:
        problem = result.problem.value if result.problem else "broken"
        where = "" if result.first_bad_seq is None else f" at event {result.first_bad_seq}"
        console.print(f"[bold red]BROKEN[/]{where}: {problem} — {result.detail}", highlight=False)
    if not result.ok:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command("export")
@handle_errors
def export_command(
    data_dir: DataDir = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or jsonl.")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default stdout).")
    ] = None,
) -> None:
    """Export every event in sequence order, with hashes, for an inspection."""
    if fmt not in ("csv", "jsonl"):
        fail(f"unknown format {fmt!r}: use csv or jsonl", EXIT_INVALID)
    chosen: ExportFormat = "csv" if fmt == "csv" else "jsonl"
    with opened(data_dir) as runtime, transaction(runtime.sessions) as session:
        if output is None:
            export(session, sys.stdout, chosen)
            return
        count = export_to_path(session, output, chosen)
    console.print(f"wrote {count} events to {output}", highlight=False)


@app.command("head")
@handle_errors
def head_command(
    data_dir: DataDir = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also save it to this file.")
    ] = None,
) -> None:
    """Print the signed chain head as JSON; keep it outside the database as a witness."""
    with opened(data_dir) as runtime, transaction(runtime.sessions) as session:
        head = service.head_checkpoint(session)
    if head is None:
        fail("the audit trail is empty", EXIT_NOT_FOUND)
    document = service.checkpoint_to_json(head)
    if output is not None:
        output.write_text(json.dumps(document, indent=2) + "\n")
    emit_json(document)
