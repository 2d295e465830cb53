"""``medfleet serve``: run the HTTP API with uvicorn, optionally with the worker inside."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import timedelta
from typing import Annotated

import typer

from medfleet import worker
from medfleet.cli.context import DataDir, opened
from medfleet.cli.output import handle_errors
from medfleet.runtime import Runtime
from medfleet.signing.distribution import REFRESH_INTERVAL


@contextmanager
def background_worker(
    runtime: Runtime,
    interval: timedelta,
    on_cycle: Callable[[list[worker.JobResult]], None] | None = None,
) -> Iterator[threading.Thread]:
    """Run ``worker.run_forever`` (metadata refresh, campaign scheduler) in a thread while
    the block runs; on leaving, stop it and wait for its cycle to finish. ``on_cycle`` is
    called (in the thread) after every cycle.

    The thread shares the runtime (its engine and session factory are thread-safe; every job
    opens its own transactions), so one ``medfleet serve --with-worker`` process is a complete
    deployment. Further workers (``medfleet worker``) may run beside it.
    """
    stop = threading.Event()
    thread = threading.Thread(
        target=worker.run_forever,
        args=(runtime, stop),
        kwargs={"interval": interval, "on_cycle": on_cycle},
        name="medfleet-worker",
        daemon=True,
    )
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join()


@handle_errors
def serve_command(
    data_dir: DataDir = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8400,
    with_worker: Annotated[
        bool,
        typer.Option(
            "--with-worker",
            help="Also run the worker (metadata refresh, campaign scheduler) in this process.",
        ),
    ] = False,
    worker_interval: Annotated[
        int,
        typer.Option(min=10, max=1800, help="Seconds between worker cycles (--with-worker)."),
    ] = int(REFRESH_INTERVAL.total_seconds()),
) -> None:
    """Serve the API (OpenAPI at /docs and /openapi.json, metrics at /metrics)."""
    import uvicorn

    from medfleet.api.app import create_app

    with opened(data_dir) as runtime:
        _ = runtime.signer  # fail now, with a clear message, when 'medfleet init' was not run
        interval = timedelta(seconds=worker_interval)
        with background_worker(runtime, interval) if with_worker else nullcontext():
            uvicorn.run(create_app(runtime), host=host, port=port, log_level="info")
