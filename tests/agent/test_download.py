"""Resumable downloads against real HTTP servers on 127.0.0.1.

Two servers: the real stack (uvicorn serving ``medfleet.releases.static``) for the normal path,
and a small ``http.server`` whose misbehaviour each test chooses (a connection cut mid-body, a
server ignoring Range, endless data, a lying Content-Length, a corrupted body …).
"""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import urllib3
import uvicorn

from medfleet.agent.download import (
    DownloadConnectionError,
    DownloadError,
    DownloadHTTPError,
    DownloadProtocolError,
    DownloadTooLongError,
    DownloadVerificationError,
    ExpectedFile,
    HttpArtifactSource,
    download,
    partial_path,
)
from medfleet.agent.errors import FetchError
from medfleet.releases.blobs import BlobStore
from medfleet.releases.static import public_dir, repository_app

IMAGE = hashlib.sha512(b"seed").digest() * 8192  # 512 KiB
EXPECTED = ExpectedFile(
    len(IMAGE), hashlib.sha256(IMAGE).hexdigest(), hashlib.sha512(IMAGE).hexdigest()
)
CUT = 200_000


@dataclass
class Behaviour:
    """What the faulty server does; ``requests`` records each request's Range header."""

    mode: str = "normal"
    body: bytes = IMAGE
    requests: list[str | None] = field(default_factory=list)


class FaultyHandler(BaseHTTPRequestHandler):
    """Serves ``behaviour.body`` at any path, misbehaving as ``behaviour.mode`` says."""

    server: FaultyServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        behaviour = self.server.behaviour
        requested = self.headers.get("Range")
        behaviour.requests.append(requested)
        mode, body = behaviour.mode, behaviour.body
        if mode == "redirect" and self.path != "/moved.bin":
            self.send_response(302)
            self.send_header("Location", "/moved.bin")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif mode == "not-found":
            self.send_error(404)
        elif mode == "cut-first" and len(behaviour.requests) == 1:
            self.send_whole(body, length=len(body), send=body[:CUT])
            self.connection.shutdown(socket.SHUT_RDWR)
        elif mode == "endless":
            self.send_endless(body)
        elif mode == "long-content-length":
            self.send_whole(body + b"extra", length=len(body) + 5)
        elif mode == "gzip":
            self.send_whole(body, headers={"Content-Encoding": "gzip"})
        elif requested and mode == "wrong-range":
            self.send_range(body, int(requested[6:-1]) - 1)
        elif requested and mode != "ignore-range":
            self.send_range(body, int(requested.removeprefix("bytes=").removesuffix("-")))
        else:
            self.send_whole(body)

    def send_whole(
        self,
        body: bytes,
        length: int | None = None,
        send: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body if send is None else send)
        self.wfile.flush()

    def send_range(self, body: bytes, start: int) -> None:
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def send_endless(self, body: bytes) -> None:
        self.send_response(200)  # HTTP/1.0 without Content-Length: the body ends at close
        self.end_headers()
        self.wfile.write(body)
        try:
            for _ in range(4096):  # 256 MiB at most, should the client never stop
                self.wfile.write(b"\xff" * 65536)
        except (BrokenPipeError, ConnectionResetError):
            return


class FaultyServer(ThreadingHTTPServer):
    """A threaded HTTP server carrying the behaviour its handler follows."""

    daemon_threads = True

    def __init__(self, behaviour: Behaviour) -> None:
        super().__init__(("127.0.0.1", 0), FaultyHandler)
        self.behaviour = behaviour

    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/image.bin"


@pytest.fixture
def behaviour() -> Behaviour:
    return Behaviour()


@pytest.fixture
def faulty(behaviour: Behaviour) -> Iterator[FaultyServer]:
    server = FaultyServer(behaviour)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def static_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The image published like a real target and served by uvicorn + the static app."""
    blob_dir = tmp_path_factory.mktemp("blobs")
    store = BlobStore(blob_dir)
    info = store.put_bytes(IMAGE)
    store.link(info.sha256, public_dir(blob_dir) / "repo" / "image" / "targets" / "fw.img")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()  # connections queue until uvicorn accepts them: no waiting for startup
    server = uvicorn.Server(uvicorn.Config(repository_app(blob_dir), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/repo/image/targets/fw.img"
    finally:
        server.should_exit = True
        thread.join()
        listener.close()


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_downloads_and_verifies_from_the_static_app(static_url: str, tmp_path: Path) -> None:
    dest = tmp_path / "fw.img"

    assert download(static_url, dest, EXPECTED) == dest
    assert dest.read_bytes() == IMAGE
    assert files_in(tmp_path) == ["fw.img"]


def test_resumes_a_partial_file_from_the_static_app(static_url: str, tmp_path: Path) -> None:
    dest = tmp_path / "fw.img"
    partial_path(dest).write_bytes(IMAGE[:CUT])
    seen: list[int] = []

    download(static_url, dest, EXPECTED, progress=lambda done, _total: seen.append(done))

    assert dest.read_bytes() == IMAGE
    assert seen[0] > CUT  # the first bytes written came after the existing ones
    assert seen[-1] == len(IMAGE)
    assert files_in(tmp_path) == ["fw.img"]


def test_a_connection_cut_mid_body_resumes_in_the_same_call(
    faulty: FaultyServer, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.mode = "cut-first"
    dest = tmp_path / "fw.img"

    download(faulty.url(), dest, EXPECTED)

    assert dest.read_bytes() == IMAGE
    assert behaviour.requests == [None, f"bytes={CUT}-"]


def test_a_cut_download_resumes_in_a_later_call(
    faulty: FaultyServer, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.mode = "cut-first"
    dest = tmp_path / "fw.img"

    with pytest.raises(DownloadConnectionError):
        download(faulty.url(), dest, EXPECTED, max_attempts=1)
    assert partial_path(dest).read_bytes() == IMAGE[:CUT]
    assert not dest.exists()

    download(faulty.url(), dest, EXPECTED)

    assert dest.read_bytes() == IMAGE
    assert behaviour.requests == [None, f"bytes={CUT}-"]
    assert files_in(tmp_path) == ["fw.img"]


def test_the_artifact_source_completes_the_installers_partial_file(
    faulty: FaultyServer, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.mode = "cut-first"
    partial = tmp_path / "downloads" / f"{EXPECTED.sha256}.partial"
    partial.parent.mkdir()
    source = HttpArtifactSource(faulty.url(), EXPECTED, max_attempts=1)

    with pytest.raises(FetchError):
        source.fetch(partial)
    assert partial.read_bytes() == IMAGE[:CUT]
    source.fetch(partial)

    assert partial.read_bytes() == IMAGE
    assert files_in(partial.parent) == [partial.name]
    assert behaviour.requests == [None, f"bytes={CUT}-"]


def test_a_server_ignoring_range_restarts_from_zero(
    faulty: FaultyServer, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.mode = "ignore-range"
    dest = tmp_path / "fw.img"
    partial_path(dest).write_bytes(b"\0" * CUT)  # appending to this would corrupt the file

    download(faulty.url(), dest, EXPECTED)

    assert dest.read_bytes() == IMAGE
    assert behaviour.requests == [f"bytes={CUT}-"]


def test_a_redirect_to_a_mirror_keeps_the_range(
    faulty: FaultyServer, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.mode = "redirect"
    dest = tmp_path / "fw.img"
    partial_path(dest).write_bytes(IMAGE[:CUT])

    download(faulty.url(), dest, EXPECTED)

    assert dest.read_bytes() == IMAGE
    assert behaviour.requests == [f"bytes={CUT}-", f"bytes={CUT}-"]


def test_endless_data_is_cut_at_the_expected_length(
    faulty: FaultyServer, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.mode = "endless"
    dest = tmp_path / "fw.img"
    seen: list[int] = []

    with pytest.raises(DownloadTooLongError):
        download(faulty.url(), dest, EXPECTED, progress=lambda done, _total: seen.append(done))

    assert max(seen) == len(IMAGE)
    assert files_in(tmp_path) == []
    assert len(behaviour.requests) == 1


def test_an_oversized_content_length_is_refused_before_the_body(
    faulty: FaultyServer, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.mode = "long-content-length"
    dest = tmp_path / "fw.img"
    partial_path(dest).write_bytes(IMAGE[:CUT])
    seen: list[int] = []

    with pytest.raises(DownloadTooLongError):
        download(faulty.url(), dest, EXPECTED, progress=lambda done, _total: seen.append(done))

    assert seen == []
    assert files_in(tmp_path) == []


def test_a_corrupted_body_is_refused_and_discarded(
    faulty: FaultyServer, behaviour: Behaviour, tmp_path: Path
) -> None:
    corrupted = bytearray(IMAGE)
    corrupted[CUT] ^= 0x01
    behaviour.body = bytes(corrupted)
    dest = tmp_path / "fw.img"

    with pytest.raises(DownloadVerificationError):
        download(faulty.url(), dest, EXPECTED)

    assert files_in(tmp_path) == []


def test_sha512_is_checked_when_given(faulty: FaultyServer, tmp_path: Path) -> None:
    wrong_sha512 = ExpectedFile(EXPECTED.length, EXPECTED.sha256, "0" * 128)

    with pytest.raises(DownloadVerificationError):
        download(faulty.url(), tmp_path / "fw.img", wrong_sha512)
    download(faulty.url(), tmp_path / "fw.img", ExpectedFile(EXPECTED.length, EXPECTED.sha256))

    assert files_in(tmp_path) == ["fw.img"]


def test_a_206_for_another_range_is_refused(
    faulty: FaultyServer, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.mode = "wrong-range"
    dest = tmp_path / "fw.img"
    partial_path(dest).write_bytes(IMAGE[:CUT])

    with pytest.raises(DownloadProtocolError, match="Content-Range"):
        download(faulty.url(), dest, EXPECTED)

    assert partial_path(dest).read_bytes() == IMAGE[:CUT]
    assert not dest.exists()


def test_an_encoded_body_is_refused(
    faulty: FaultyServer, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.mode = "gzip"

    with pytest.raises(DownloadProtocolError, match="Content-Encoding"):
        download(faulty.url(), tmp_path / "fw.img", EXPECTED)


def test_http_errors_carry_the_status(
    faulty: FaultyServer, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.mode = "not-found"

    with pytest.raises(DownloadHTTPError) as caught:
        download(faulty.url(), tmp_path / "fw.img", EXPECTED)

    assert caught.value.status == 404
    assert behaviour.requests == [None]


def test_a_refused_connection_is_a_connection_error(tmp_path: Path) -> None:
    with socket.socket() as bound_not_listening:
        bound_not_listening.bind(("127.0.0.1", 0))
        port = bound_not_listening.getsockname()[1]

        with pytest.raises(DownloadConnectionError):
            download(f"http://127.0.0.1:{port}/fw.img", tmp_path / "fw.img", EXPECTED)


def test_a_silent_server_times_out(tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts the connection (backlog) but never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/fw.img"
        timeout = urllib3.Timeout(connect=1.0, read=0.2)

        with pytest.raises(DownloadConnectionError):
            download(url, tmp_path / "fw.img", EXPECTED, timeout=timeout, max_attempts=1)


def test_a_complete_partial_file_needs_no_request(
    faulty: FaultyServer, behaviour: Behaviour, tmp_path: Path
) -> None:
    dest = tmp_path / "fw.img"
    partial_path(dest).write_bytes(IMAGE)

    download(faulty.url(), dest, EXPECTED)

    assert behaviour.requests == []
    assert dest.read_bytes() == IMAGE


def test_a_partial_file_longer_than_expected_is_discarded(
    faulty: FaultyServer, behaviour: Behaviour, tmp_path: Path
) -> None:
    dest = tmp_path / "fw.img"
    partial_path(dest).write_bytes(IMAGE + b"junk")

    download(faulty.url(), dest, EXPECTED)

    assert behaviour.requests == [None]
    assert dest.read_bytes() == IMAGE


def test_an_empty_file_downloads(
    faulty: FaultyServer, behaviour: Behaviour, tmp_path: Path
) -> None:
    behaviour.body = b""
    empty = ExpectedFile(0, hashlib.sha256(b"").hexdigest())

    download(faulty.url(), tmp_path / "empty", empty)

    assert (tmp_path / "empty").read_bytes() == b""


def test_expected_identity_is_validated() -> None:
    with pytest.raises(ValueError, match="sha256"):
        ExpectedFile(1, "ABC")
    with pytest.raises(ValueError, match="negative"):
        ExpectedFile(-1, EXPECTED.sha256)
    with pytest.raises(ValueError, match="sha512"):
        ExpectedFile(1, EXPECTED.sha256, "12")


def test_every_failure_is_a_fetch_error_for_the_installer() -> None:
    assert issubclass(DownloadError, FetchError)
    for error in (
        DownloadConnectionError,
        DownloadHTTPError,
        DownloadProtocolError,
        DownloadTooLongError,
        DownloadVerificationError,
    ):
        assert issubclass(error, DownloadError)
