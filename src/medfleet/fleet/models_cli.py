"""``medfleet models``: device models and hardware revisions (fleet-inventory work)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Device models and hardware revisions.", no_args_is_help=True)
