"""``medfleet trace``: Requirements, tests, JUnit verification runs, gaps and the trace matrix."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Requirements, tests, JUnit verification runs, gaps and the trace matrix.",
    no_args_is_help=True,
)
