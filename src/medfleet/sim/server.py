"""The real medfleet server, served over HTTP in this process, for simulations and tests.

``SimServer(runtime)`` builds the app of ``medfleet.api.app.create_app`` and serves it with
uvicorn in a background thread on a free loopback port. The listening socket is bound and
listening before the thread starts, so a connection made right after ``start`` waits in the
backlog instead of being refused; ``start`` still returns only once uvicorn reports that it
serves (or raises if it died). ``stop`` asks uvicorn to finish the requests in flight and
joins the thread. The server shares the runtime, and so its clock, with the caller: a scenario
that moves its ``SimClock`` moves the server's time too.

Use it as a context manager::

    with SimServer(runtime) as server:
        enroll(server.url, token, state_dir)
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from medfleet.api.app import create_app
from medfleet.runtime import Runtime
from medfleet.sim.errors import SimServerError

LOOPBACK = "127.0.0.1"
BACKLOG = 2048
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
# Idle connections stay open this long (uvicorn's default is 5 s): a fleet's pooled
# connections then survive the pauses between rounds instead of racing the server's close.
KEEP_ALIVE = 120.0


class SimServer:
    """One uvicorn server for one runtime (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        host: str = LOOPBACK,
        port: int = 0,
        log_level: str = "warning",
        keep_alive: float = KEEP_ALIVE,
    ) -> None:
        self.runtime = runtime
        self.host = host
        self.port = port
        self.log_level = log_level
        self.keep_alive = keep_alive
        self._listener: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server.

        Raises:
            SimServerError: the server is not running.
        """
        if self._listener is None:
            raise SimServerError("the simulation server is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """True between a successful ``start`` and ``stop``."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = START_TIMEOUT) -> str:
        """Bind, listen and serve in a background thread; the server's URL.

        Raises:
            SimServerError: already started, the port cannot be bound, or uvicorn did not
                come up within ``timeout`` seconds.
        """
        if self._listener is not None:
            raise SimServerError("the simulation server is already running")
        # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and
        # without it every response waits ~40 ms for a delayed ACK (Nagle).
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.host, self.port))
            listener.listen(BACKLOG)
        except OSError as error:
            listener.close()
            raise SimServerError(f"cannot listen on {self.host}:{self.port}: {error}") from error
        self.port = listener.getsockname()[1]
        self._listener = listener
        config = uvicorn.Config(
            create_app(self.runtime),
            log_level=self.log_level,
            lifespan="off",
            access_log=False,
            backlog=BACKLOG,
            timeout_keep_alive=int(self.keep_alive),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._serve,
            args=(self._server, listener),
            name=f"medfleet-sim-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        self._wait_started(self._server, self._thread, timeout)
        return self.url

    def _serve(self, server: uvicorn.Server, listener: socket.socket) -> None:
        try:
            server.run(sockets=[listener])
        except BaseException as error:  # reported by start in the caller's thread
            self._failure = error

    def _wait_started(
        self, server: uvicorn.Server, thread: threading.Thread, timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise SimServerError(f"uvicorn did not start: {self._failure!r}")
            thread.join(0.01)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Finish the requests in flight, stop serving and close the socket (idempotent).

        Raises:
            SimServerError: the server thread did not end within ``timeout`` seconds.
        """
        server, thread, listener = self._server, self._thread, self._listener
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise SimServerError(f"the simulation server did not stop within {timeout} s")
        if listener is not None:
            listener.close()
        self._server = self._thread = self._listener = None

    def __enter__(self) -> SimServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
