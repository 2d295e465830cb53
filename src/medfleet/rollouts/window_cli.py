"""``medfleet windows``: maintenance windows and blackouts (filled in by the windows work)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Maintenance windows and blackout periods.", no_args_is_help=True)
