"""The in-process server: serves the real app over loopback HTTP, starts and stops cleanly."""

from __future__ import annotations

import statistics
import time

import pytest
import urllib3

from medfleet.runtime import Runtime
from medfleet.sim.errors import SimServerError
from medfleet.sim.server import SimServer


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_start_serve_stop(runtime: Runtime) -> None:
    server = SimServer(runtime)
    with pytest.raises(SimServerError):
        _ = server.url
    url = server.start()
    assert server.running
    http = urllib3.PoolManager(retries=False)
    assert http.request("GET", f"{url}/health").status == 200
    with pytest.raises(SimServerError, match="already running"):
        server.start()
    server.stop()
    server.stop()  # idempotent
    assert not server.running
    with pytest.raises(urllib3.exceptions.HTTPError):
        urllib3.PoolManager(retries=False).request("GET", f"{url}/health", timeout=2.0)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_answers_are_not_held_back_by_nagle(runtime: Runtime) -> None:
    """Without TCP_NODELAY on the served sockets every answer on a kept-alive connection waits
    for the client's delayed ACK (40 ms on Linux); a round of 200 devices makes thousands of
    requests, so this decides whether the demo fits its time."""
    with SimServer(runtime) as server:
        http = urllib3.PoolManager(maxsize=1, retries=False)
        http.request("GET", f"{server.url}/health")  # connect once, then reuse the connection
        latencies = []
        for _ in range(21):
            started = time.perf_counter()
            assert http.request("GET", f"{server.url}/health").status == 200
            latencies.append(time.perf_counter() - started)
        assert statistics.median(latencies) < 0.02, latencies
