"""``medfleet reports``: downtime and CMMS reports (filled in by the downtime work)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Downtime, install and CMMS reports.", no_args_is_help=True)
