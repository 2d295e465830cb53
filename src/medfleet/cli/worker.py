"""``medfleet worker``: run the periodic jobs (metadata refresh, campaign scheduler, patch
deadline check) once or until stopped."""

from __future__ import annotations

import json
import signal
import threading
from datetime import timedelta
from types import FrameType
from typing import Annotated

import typer

from medfleet import worker
from medfleet.cli.context import DataDir, Json, opened
from medfleet.cli.output import EXIT_CHECK_FAILED, console, emit_json, handle_errors
from medfleet.signing.distribution import REFRESH_INTERVAL


@handle_errors
def worker_command(
    data_dir: DataDir = None,
    once: Annotated[bool, typer.Option("--once", help="Run one cycle and exit.")] = False,
    interval: Annotated[
        int,
        typer.Option(min=10, max=1800, help="Seconds between cycles (at most 30 minutes)."),
    ] = int(REFRESH_INTERVAL.total_seconds()),
    as_json: Json = False,
) -> None:
    """Run the periodic jobs: keep signed metadata fresh, move campaigns on, check deadlines.

    Every cycle re-signs what expires within 40 minutes, runs one campaign scheduler cycle
    (start due campaigns, read install results, move phases, pause/abort/complete, give due
    devices their instructions) and raises each missed vulnerability patch deadline once
    (``medfleet vulns deadlines``). Several workers may run at once. With --once the exit code is
    1 when a job failed. Without it, runs until SIGTERM or Ctrl-C.
    """

    def show(results: list[worker.JobResult]) -> None:
        for result in results:
            if as_json and not once:
                print(json.dumps(result.as_dict(), sort_keys=True), flush=True)
            elif not as_json:
                mark = "[green]ok[/]" if result.ok else f"[red]failed[/]: {result.error}"
                console.print(f"{result.name}: {mark} {dict(result.summary)}")

    with opened(data_dir) as runtime:
        if once:
            results = worker.run_cycle(runtime)
            if as_json:
                emit_json(
                    {"ok": all(r.ok for r in results), "jobs": [r.as_dict() for r in results]}
                )
            else:
                show(results)
            if not all(r.ok for r in results):
                raise SystemExit(EXIT_CHECK_FAILED)
            return
        stop = threading.Event()

        def request_stop(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        worker.run_forever(runtime, stop, interval=timedelta(seconds=interval), on_cycle=show)
