"""A real HTTP server and real repositories for the agent's end-to-end tests (no mocks).

``RepositoryServer`` serves a directory on 127.0.0.1 as the medfleet server does its ``/repo/``
tree (``ETag`` / ``If-None-Match`` -> 304, ``Range: bytes=N-`` -> 206) and takes the two device
endpoints: ``POST /api/v1/enroll`` (answered by a function the test chooses) and
``POST /api/v1/devices/<id>/reports`` (stored; the next statuses can be scripted to simulate an
unhealthy server). Every request is recorded.

``World`` puts the server's real signing code behind it (``tests.signing.helpers.make_signing``:
image repository and director on disk, published into the served directory), registers devices
with one-time tokens and answers enrollment as the server does: the device's identity, relative
``repository_url``/``reports_url`` and the two roots in base64.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import bsdiff4

from medfleet.agent.bundle import write_bundle
from medfleet.agent.contract import DeltaInfo, Instruction
from medfleet.agent.device import SimulatedDevice
from medfleet.agent.enroll_client import enroll
from medfleet.agent.patching import DeltaHeader
from medfleet.agent.runner import Agent
from medfleet.clock import FrozenClock
from medfleet.signing.image_publish import publish_delta
from medfleet.signing.tuf_api import TargetFile
from tests.signing.helpers import MODEL, Signing, image_info, make_signing

EnrollAnswer = tuple[int, str, bytes]
V1 = b"".join(b"infusion pump firmware block %05d\n" % n for n in range(1500))
V2 = V1[:20000] + b"patched: occlusion alarm latency\n" + V1[20000:]
_REPORTS = re.compile(r"/api/v1/devices/([^/]+)/reports")
_RANGE = re.compile(r"bytes=(\d+)-")


@dataclass(frozen=True)
class Request:
    """One request the server answered."""

    method: str
    path: str
    status: int
    headers: dict[str, str]


@dataclass
class RepositoryServer:
    """See the module docstring; use as a context manager (or ``start``/``stop``)."""

    public_dir: Path
    enroll_answer: Callable[[Any], EnrollAnswer] = field(
        default=lambda _body: problem(404, "no enrollment here")
    )
    requests: list[Request] = field(default_factory=list)
    enroll_requests: list[Any] = field(default_factory=list)
    reports: list[tuple[str, bytes]] = field(default_factory=list)
    report_posts: list[tuple[str, bytes, int]] = field(default_factory=list)
    report_statuses: list[int] = field(default_factory=list)
    polled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The server's base URL (no trailing slash)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> RepositoryServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def mark(self) -> int:
        """A position in ``requests``, for ``since``."""
        with self.lock:
            return len(self.requests)

    def since(self, mark: int) -> list[Request]:
        """The requests after ``mark``."""
        with self.lock:
            return list(self.requests[mark:])

    def record(self, request: Request) -> None:
        """Remember one answered request."""
        with self.lock:
            self.requests.append(request)
        if request.path.endswith("/timestamp.json") and "/director/" in request.path:
            self.polled.set()


def problem(status: int, detail: str, title: str = "Problem") -> EnrollAnswer:
    """An RFC 9457 problem+json answer."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return status, "application/problem+json", json.dumps(body).encode()


def _handler(server: RepositoryServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output clean."""

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)
            server.record(Request(self.command, self.path, status, dict(self.headers)))

        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path).lstrip("/")
            file = (server.public_dir / path).resolve()
            if not file.is_relative_to(server.public_dir.resolve()) or not file.is_file():
                self._send(404, b"not found", {"Content-Type": "text/plain"})
                return
            data = file.read_bytes()
            etag = f'"{hashlib.sha256(data).hexdigest()[:32]}"'
            headers = {"ETag": etag, "Content-Type": "application/octet-stream"}
            if self.headers.get("If-None-Match") == etag:
                self._send(304, b"", headers)
                return
            match = _RANGE.fullmatch(self.headers.get("Range", "").strip())
            if match is None:
                self._send(200, data, headers)
                return
            start = int(match[1])
            if start >= len(data):
                self._send(416, b"", headers | {"Content-Range": f"bytes */{len(data)}"})
                return
            content_range = f"bytes {start}-{len(data) - 1}/{len(data)}"
            self._send(206, data[start:], headers | {"Content-Range": content_range})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            path = urlsplit(self.path).path
            if path == "/api/v1/enroll":
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                server.enroll_requests.append(parsed)
                status, content_type, answer = server.enroll_answer(parsed)
                self._send(status, answer, {"Content-Type": content_type})
                return
            match = _REPORTS.fullmatch(path)
            if match is None:
                status, content_type, answer = problem(404, f"no route {path}")
                self._send(status, answer, {"Content-Type": content_type})
                return
            self._report(match[1], body)

        def _report(self, device_id: str, body: bytes) -> None:
            with server.lock:
                status = server.report_statuses.pop(0) if server.report_statuses else 200
                server.report_posts.append((device_id, body, status))
                if 200 <= status < 300:
                    server.reports.append((device_id, body))
            if 200 <= status < 300:
                seq = json.loads(body)["report"]["seq"]
                ack = {"device_id": device_id, "seq": seq, "duplicate": False}
                self._send(status, json.dumps(ack).encode(), {"Content-Type": "application/json"})
            else:
                _, content_type, answer = problem(status, f"scripted answer {status}")
                self._send(status, answer, {"Content-Type": content_type})

    return Handler


@dataclass
class World:
    """Real signing code publishing into the served directory, and the enrollment endpoint."""

    signing: Signing
    server: RepositoryServer
    work: Path
    tokens: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    def register(self, device_id: str, model: str = MODEL, hardware_revision: str = "B") -> str:
        """Register a device (director metadata, one-time token); returns the token."""
        self.signing.director.enroll(device_id)
        token = f"token-{device_id}"
        self.tokens[token] = (device_id, model, hardware_revision)
        return token

    def answer_enrollment(self, request: Any) -> EnrollAnswer:
        """What the server answers ``POST /api/v1/enroll`` (token used once)."""
        token = request.get("token") if isinstance(request, dict) else None
        registered = self.tokens.pop(token, None) if isinstance(token, str) else None
        if registered is None:
            detail = "the enrollment token is unknown, used or expired"
            return problem(401, detail, "Unauthenticated")
        device_id, model, revision = registered
        body = self.enrollment_body(device_id, model, revision)
        return 200, "application/json", json.dumps(body).encode()

    def enrollment_body(self, device_id: str, model: str, revision: str) -> dict[str, Any]:
        """The enrollment answer for a device, as the server sends it."""
        return {
            "device_id": device_id,
            "model": model,
            "hardware_revision": revision,
            "repository_url": "/repo/",
            "reports_url": f"/api/v1/devices/{device_id}/reports",
            "image_root": base64.b64encode(self.signing.image.root_bytes(1)).decode(),
            "director_root": base64.b64encode(self.signing.director.root_bytes(1)).decode(),
        }

    def publish(self, version_number: int, content: bytes) -> TargetFile:
        """Publish an image of ``MODEL`` (hardware revision B) signed by QA."""
        return self.signing.publish(self.work, version_number, content)

    def publish_delta(
        self, old: TargetFile, old_bytes: bytes, new: TargetFile, new_bytes: bytes
    ) -> TargetFile:
        """Publish a bsdiff4 delta from ``old`` to ``new`` (MFDELTA header + payload)."""
        header = DeltaHeader(
            "bsdiff4", old.hashes["sha256"], new.hashes["sha256"], len(old_bytes), len(new_bytes)
        )
        artifact = self.work / f"delta-{old.hashes['sha256'][:8]}.delta"
        artifact.write_bytes(header.encode() + bsdiff4.diff(old_bytes, new_bytes))
        info = DeltaInfo(MODEL, old.hashes["sha256"], new.path, "bsdiff4")
        return publish_delta(self.signing.image, artifact, artifact.name, info, [self.signing.qa])

    def assign(
        self,
        device_id: str,
        target: TargetFile,
        delta: TargetFile | None = None,
        *,
        install_after: datetime | None = None,
        install_before: datetime | None = None,
    ) -> None:
        """Tell the device (through the director) to install ``target``, optionally only
        inside ``[install_after, install_before)``."""
        info = target.custom["medfleet"]
        instruction = Instruction(
            device_id,
            info["release_id"],
            info["version_number"],
            None if delta is None else delta.path,
            install_after,
            install_before,
        )
        self.signing.director.assign(
            device_id, target.path, target.length, target.hashes, instruction
        )


def make_agent(
    world: World,
    root: Path,
    device_id: str = "pump-1",
    *,
    image: bytes = V1,
    version_number: int = 100,
    hardware_revision: str = "B",
    **options: Any,
) -> Agent:
    """Register, enroll (over HTTP) and create a device running ``image``; its ``Agent``.

    ``options`` go to ``Agent`` (default: a frozen clock at the real time, a seeded rng).
    """
    token = world.register(device_id, hardware_revision=hardware_revision)
    state_dir, device_dir = root / device_id / "state", root / device_id / "device"
    enroll(world.server.url, token, state_dir, device_dir)
    factory = root / f"{device_id}-factory.img"
    factory.write_bytes(image)
    version = f"{version_number // 100}.{version_number % 100}.0"
    SimulatedDevice.create(
        device_dir, image=factory, version=version, version_number=version_number
    )
    options.setdefault("clock", FrozenClock(datetime.now(UTC)))
    options.setdefault("rng", random.Random(7))  # noqa: S311 - jitter in tests
    return Agent.open(state_dir, **options)


def target_url(target: TargetFile) -> str:
    """The path the server serves a target's bytes at (consistent snapshot)."""
    directory, _, name = target.path.rpartition("/")
    return f"/repo/image/targets/{directory}/{target.hashes['sha256']}.{name}"


def export_bundle(world: World, device_id: str, target: TargetFile, output: Path) -> Path:
    """A bundle as ``medfleet bundle export`` writes it: metadata, the image, the director."""
    public = world.signing.public_dir
    files: dict[str, bytes | Path] = {}
    for directory in ("repo/image/metadata", f"repo/director/{device_id}/metadata"):
        for file in sorted((public / directory).iterdir()):
            files[f"{directory}/{file.name}"] = file
    member = target_url(target).lstrip("/")
    files[member] = public / member
    return write_bundle(output, files, release_id="R-200", model=MODEL)


@contextmanager
def served_world(tmp_path: Path) -> Iterator[World]:
    """A ``World`` whose public directory is served for the duration of the block."""
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    signing = make_signing(tmp_path / "server", clock)
    work = tmp_path / "artifacts"
    work.mkdir()
    server = RepositoryServer(signing.public_dir)
    world = World(signing, server, work)
    server.enroll_answer = world.answer_enrollment
    server.start()
    try:
        yield world
    finally:
        server.stop()


__all__ = [
    "MODEL",
    "V1",
    "V2",
    "RepositoryServer",
    "Request",
    "World",
    "export_bundle",
    "image_info",
    "make_agent",
    "problem",
    "served_world",
    "target_url",
]
