"""The two servers of ``bench/poll.py``: the medfleet app and a minimal ASGI app, same bytes.

Each runs in its own child process under uvicorn with identical settings
(``python bench/poll_servers.py medfleet|baseline DATA_DIR PORT``); ``start_server`` starts one
and waits until it answers, ``fetch`` is a plain loopback GET for the checks.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, MutableMapping
from email.utils import formatdate
from pathlib import Path
from typing import Any

from medfleet.api.app import create_app
from medfleet.config import load_settings
from medfleet.releases.static import cache_control_for, public_dir
from medfleet.runtime import Runtime

TABLE_NAME = "poll-table.txt"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class BaselineApp:
    """A minimal raw ASGI app: the poll files from a dict, with ETag and 304 like the real one.

    Same status, body and headers (``date`` and ``server`` come from uvicorn for both) as
    ``RepositoryFiles`` for ``GET``/``HEAD`` of a ``timestamp.json``; nothing else.
    """

    def __init__(self, public: Path, table: Path) -> None:
        self.files: dict[str, tuple[bytes, bytes, list[tuple[bytes, bytes]]]] = {}
        for line in table.read_text(encoding="ascii").splitlines():
            path, etag = line.split(" ", 1)
            file = public / path[1:]
            body = file.read_bytes()
            headers = [
                (b"content-type", b"application/json"),
                (b"accept-ranges", b"bytes"),
                (b"content-length", str(len(body)).encode()),
                (b"last-modified", formatdate(file.stat().st_mtime, usegmt=True).encode()),
                (b"etag", etag.encode()),
                (b"cache-control", cache_control_for(file.name).encode()),
            ]
            self.files[path] = (body, etag.encode(), headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request (and the lifespan protocol)."""
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        entry = self.files.get(scope["path"])
        if entry is None or scope["method"] not in ("GET", "HEAD"):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        body, etag, headers = entry
        for name, value in scope["headers"]:
            if name == b"if-none-match" and (
                value.strip() == b"*"
                or etag in [tag.strip().removeprefix(b"W/") for tag in value.split(b",")]
            ):
                await send(
                    {
                        "type": "http.response.start",
                        "status": 304,
                        "headers": [(b"etag", etag), headers[-1]],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )


def server_options() -> dict[str, str]:
    """uvicorn's HTTP parser and event loop: the fast ones only if installed (same for both)."""
    import importlib.util

    return {
        "http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
    }


def serve(kind: str, data_dir: Path, port: int) -> None:
    """Run one server (in a child process) until terminated."""
    import uvicorn

    settings = load_settings(data_dir)
    app: Any
    if kind == "medfleet":
        app = create_app(Runtime(settings))
    else:
        app = BaselineApp(public_dir(settings.blobs), data_dir / TABLE_NAME)
    options = server_options()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        access_log=False,
        log_level="warning",
        http=options["http"],
        loop=options["loop"],
    )


def free_port() -> int:
    """A TCP port on loopback that is free now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(kind: str, data_dir: Path, ready_path: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start a server process and wait until it answers ``ready_path``."""
    port = free_port()
    command = [sys.executable, __file__, kind, str(data_dir), str(port)]
    process = subprocess.Popen(command, stdout=sys.stderr)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the {kind} server exited with {process.returncode}")
        try:
            fetch(port, ready_path)
            return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the {kind} server did not start")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    """Terminate a server process (kill it if it does not stop)."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def fetch(port: int, path: str, etag: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """One GET on loopback: status, headers (lower-case names) and body."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if etag is not None:
        request.add_header("If-None-Match", etag)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            status, headers, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        status, headers, body = exc.code, exc.headers, exc.read()
    return status, {k.lower(): v for k, v in headers.items()}, body


if __name__ == "__main__":
    serve(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]))
