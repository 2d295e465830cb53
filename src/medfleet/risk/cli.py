"""``medfleet risk``: ISO 14971 risk file: matrix, hazards, situations, controls, deltas."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="ISO 14971 risk file: matrix, hazards, situations, controls, deltas.", no_args_is_help=True
)
