"""``medfleet serve``: run the HTTP API with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from medfleet.cli.context import DataDir, opened
from medfleet.cli.output import handle_errors


@handle_errors
def serve_command(
    data_dir: DataDir = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8400,
) -> None:
    """Serve the API (OpenAPI at /docs and /openapi.json, metrics at /metrics)."""
    import uvicorn

    from medfleet.api.app import create_app

    with opened(data_dir) as runtime:
        _ = runtime.signer  # fail now, with a clear message, when 'medfleet init' was not run
        uvicorn.run(create_app(runtime), host=host, port=port, log_level="info")
