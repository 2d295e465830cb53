"""``medfleet serve`` starts uvicorn on the app and answers health, readiness and the API."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from medfleet.config import Settings

ADMIN_PASSWORD = "initial admin password"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def server(settings: Settings) -> Iterator[str]:
    executable = shutil.which("medfleet", path=str(Path(sys.executable).parent))
    assert executable
    env = {
        **os.environ,
        "MEDFLEET_DATABASE_URL": settings.database_url,
        "MEDFLEET_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MEDFLEET_ROOT_PASSWORD_1": "root holder one",
        "MEDFLEET_ARGON2_TIME_COST": "1",
        "MEDFLEET_ARGON2_MEMORY_KIB": "64",
    }
    data_dir = ["--data-dir", str(settings.data_dir)]
    subprocess.run(
        [executable, "init", *data_dir], env=env, check=True, capture_output=True, timeout=120
    )
    port = _free_port()
    process = subprocess.Popen(
        [executable, "serve", *data_dir, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # wait until uvicorn accepts connections, bounded by the deadline
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    pytest.fail("medfleet serve did not start within 60 s")
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_answers(server: str) -> None:
    assert httpx.get(f"{server}/health").status_code == 200
    assert httpx.get(f"{server}/ready").status_code == 200
    token = httpx.post(
        f"{server}/api/v1/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
    ).json()["token"]
    me = httpx.get(f"{server}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["username"] == "admin"
    assert "/api/v1/me" in httpx.get(f"{server}/openapi.json").json()["paths"]
    assert "medfleet_http_requests_total" in httpx.get(f"{server}/metrics").text
