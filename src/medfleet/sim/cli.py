"""``medfleet demo``: run the demo scenario with a progress bar and say what it did."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from medfleet.cli.context import DataDir, Json
from medfleet.cli.output import EXIT_CHECK_FAILED, console, emit_json, handle_errors
from medfleet.config import load_settings
from medfleet.runtime import Runtime
from medfleet.sim.demo import DEMO_PASSWORD, demo_clock, run_demo
from medfleet.sim.demo_rollout import FleetPlan


@handle_errors
def demo_command(
    data_dir: DataDir = None,
    devices: Annotated[
        int, typer.Option(min=12, max=1000, help="How many virtual devices to roll out to.")
    ] = 200,
    as_json: Json = False,
) -> None:
    """Run the whole scenario on a fresh data directory: change, release, hospitals, rollout.

    Exits 1 when the audit trail does not verify or a device ended between two versions.
    """
    runtime = Runtime(load_settings(data_dir), clock=demo_clock())
    progress = Progress(
        TextColumn("devices on the new version"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=as_json,
        transient=False,
    )
    task = progress.add_task("rollout", total=devices)

    def step(message: str) -> None:
        if not as_json:
            progress.console.print(Text("✓ ", style="green") + Text(message))

    def advance(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    try:
        with progress:
            summary = run_demo(runtime, step, advance, FleetPlan(devices=devices))
    finally:
        runtime.close()
    if as_json:
        emit_json(summary.as_dict())
    else:
        console.print(
            Panel(Text(summary.people.rendering), title="change request as rendered", expand=False)
        )
        console.print(
            f"Every demo user's password is [bold]{DEMO_PASSWORD}[/]; try "
            f"'medfleet audit verify --data-dir {summary.data_dir}'."
        )
    if not summary.audit.get("ok") or summary.rollout.in_between:
        raise SystemExit(EXIT_CHECK_FAILED)
