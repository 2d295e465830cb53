"""``medfleet demo``: run the demo scenario and say what it did."""

from __future__ import annotations

from rich.panel import Panel
from rich.text import Text

from medfleet.cli.context import DataDir, Json, opened
from medfleet.cli.output import EXIT_CHECK_FAILED, console, emit_json, handle_errors
from medfleet.sim.demo import DEMO_PASSWORD, run_demo


@handle_errors
def demo_command(data_dir: DataDir = None, as_json: Json = False) -> None:
    """Run the demo scenario on a fresh data directory and print what it did."""

    def step(message: str) -> None:
        if not as_json:
            console.print(Text("✓ ", style="green") + Text(message))

    with opened(data_dir) as runtime:
        summary = run_demo(runtime, step)
    if as_json:
        emit_json(summary.as_dict())
    else:
        console.print(
            Panel(Text(summary.rendering), title="change request as rendered", expand=False)
        )
        console.print(
            f"Every demo user's password is [bold]{DEMO_PASSWORD}[/]; try "
            f"'medfleet audit verify --data-dir {summary.data_dir}'."
        )
    if not summary.audit.get("ok"):
        raise SystemExit(EXIT_CHECK_FAILED)
