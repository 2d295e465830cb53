"""``medfleet db``: schema migrations."""

from __future__ import annotations

import typer

from medfleet.cli.context import DataDir, Json, opened
from medfleet.cli.output import console, emit_json, handle_errors
from medfleet.db.migrate import current_revision, head_revision, upgrade

app = typer.Typer(help="Database schema: upgrade and status.", no_args_is_help=True)


@app.command("upgrade")
@handle_errors
def upgrade_command(data_dir: DataDir = None, as_json: Json = False) -> None:
    """Migrate the database to the newest schema (safe to run again)."""
    with opened(data_dir) as runtime:
        runtime.settings.data_dir.mkdir(parents=True, exist_ok=True)
        before = current_revision(runtime.db)
        upgrade(runtime.db)
        after = current_revision(runtime.db)
    if as_json:
        emit_json({"ok": True, "from": before, "to": after})
    else:
        console.print(f"database at revision {after} (was {before or 'empty'})")


@app.command("status")
@handle_errors
def status_command(data_dir: DataDir = None, as_json: Json = False) -> None:
    """Show the database's schema revision and the newest one this code knows."""
    with opened(data_dir) as runtime:
        current, head = current_revision(runtime.db), head_revision(runtime.db)
    if as_json:
        emit_json({"current": current, "head": head, "up_to_date": current == head})
    else:
        state = "up to date" if current == head else "needs 'medfleet db upgrade'"
        console.print(f"revision {current or 'none'}, newest {head}: {state}")
