"""``medfleet campaign``: campaigns (filled in by the campaigns work)."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Campaigns: phased rollouts, pause, resume, abort, rollback.", no_args_is_help=True
)
