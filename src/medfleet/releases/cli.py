"""``medfleet release``: release records, artifacts, notes, e-signed approval, signing."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Release records: artifacts, notes, verification, e-signed approval, signing.",
    no_args_is_help=True,
)
