"""The public repository tree over HTTP: Range, If-Range, ETag/304, caching, read-only."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from medfleet.releases.blobs import BlobStore, consistent_target_name
from medfleet.releases.static import (
    IMMUTABLE,
    REVALIDATE,
    SMALL_FILE_BYTES,
    RepositoryFiles,
    cache_control_for,
    public_dir,
    repository_app,
    repository_mount,
)

with warnings.catch_warnings():
    # starlette asks for httpx2 and warns about httpx at import; the tests run on httpx.
    warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette\.testclient`")
    from starlette.testclient import TestClient

IMAGE = bytes(range(256)) * 1000
TIMESTAMP = b'{"signed": {"_type": "timestamp", "version": 7}}'


@pytest.fixture
def blob_dir(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def image_url(blob_dir: Path) -> str:
    store = BlobStore(blob_dir)
    info = store.put_bytes(IMAGE)
    name = consistent_target_name("IP-100/fw-4.3.0.img", info.sha256)
    store.link(info.sha256, public_dir(blob_dir) / "repo" / "image" / "targets" / name)
    return f"/repo/image/targets/{name}"


@pytest.fixture
def client(blob_dir: Path) -> Iterator[TestClient]:
    with TestClient(repository_app(blob_dir)) as test_client:
        yield test_client


def write_timestamp(blob_dir: Path, content: bytes) -> None:
    metadata = public_dir(blob_dir) / "repo" / "image" / "metadata"
    metadata.mkdir(parents=True, exist_ok=True)
    temporary = metadata / ".timestamp.json.tmp"
    temporary.write_bytes(content)
    os.replace(temporary, metadata / "timestamp.json")


def test_whole_file_with_validators_and_caching(client: TestClient, image_url: str) -> None:
    response = client.get(image_url)

    assert response.status_code == 200
    assert response.content == IMAGE
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"]
    assert response.headers["cache-control"] == IMMUTABLE


def test_range_from_an_offset_resumes_the_file(client: TestClient, image_url: str) -> None:
    response = client.get(image_url, headers={"Range": "bytes=100000-"})

    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 100000-{len(IMAGE) - 1}/{len(IMAGE)}"
    assert response.content == IMAGE[100000:]


def test_if_range_with_a_stale_etag_sends_the_whole_file(
    client: TestClient, image_url: str
) -> None:
    etag = client.get(image_url).headers["etag"]

    current = client.get(image_url, headers={"Range": "bytes=10-", "If-Range": etag})
    stale = client.get(image_url, headers={"Range": "bytes=10-", "If-Range": '"stale"'})

    assert (current.status_code, current.content) == (206, IMAGE[10:])
    assert (stale.status_code, stale.content) == (200, IMAGE)


def test_range_past_the_end_is_not_satisfiable(client: TestClient, image_url: str) -> None:
    response = client.get(image_url, headers={"Range": f"bytes={len(IMAGE)}-"})

    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(IMAGE)}"


def test_poll_is_a_conditional_get(client: TestClient, blob_dir: Path) -> None:
    write_timestamp(blob_dir, TIMESTAMP)
    url = "/repo/image/metadata/timestamp.json"

    first = client.get(url)
    unchanged = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    write_timestamp(blob_dir, TIMESTAMP.replace(b"7", b"8"))
    changed = client.get(url, headers={"If-None-Match": first.headers["etag"]})

    assert (first.status_code, first.content) == (200, TIMESTAMP)
    assert first.headers["cache-control"] == REVALIDATE
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    assert unchanged.headers["etag"] == first.headers["etag"]
    assert unchanged.headers["cache-control"] == REVALIDATE
    assert changed.status_code == 200
    assert changed.content == TIMESTAMP.replace(b"7", b"8")
    assert changed.headers["etag"] != first.headers["etag"]


def test_head_has_the_length_and_no_body(client: TestClient, image_url: str) -> None:
    response = client.head(image_url)

    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(IMAGE))
    assert response.content == b""


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_the_tree_is_read_only(client: TestClient, image_url: str, method: str) -> None:
    response = client.request(method, image_url, content=b"x")

    assert response.status_code == 405
    assert client.get(image_url).content == IMAGE


def test_nothing_outside_the_public_tree_is_served(
    client: TestClient, blob_dir: Path, image_url: str
) -> None:
    secret = blob_dir / "secret.key"
    secret.write_bytes(b"private key")
    (public_dir(blob_dir) / "repo" / "image" / "leak").symlink_to(secret)
    sha256_dir = next((blob_dir / "sha256").iterdir()).name

    for url in (
        "/repo/%2e%2e/%2e%2e/secret.key",
        "/repo/..%2f..%2fsecret.key",
        "/repo/image/leak",
        f"/repo/../../sha256/{sha256_dir}",
        "/repo/image/",
        "/repo/image/targets",
        "/secret.key",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"private key" not in response.content


@pytest.mark.parametrize(
    ("name", "policy"),
    [
        ("timestamp.json", REVALIDATE),
        ("snapshot.json", REVALIDATE),
        ("1.root.json", IMMUTABLE),
        ("12.model-IP-100.json", IMMUTABLE),
        ("4.3.0.json", REVALIDATE),
        ("fw-4.3.0.img", REVALIDATE),
        (f"{'ab' * 32}.fw-4.3.0.img", IMMUTABLE),
        (f"{'AB' * 32}.fw-4.3.0.img", REVALIDATE),
        ("0.root.json", REVALIDATE),
    ],
)
def test_cache_policy_by_name(name: str, policy: str) -> None:
    assert cache_control_for(name) == policy


def test_mounts_into_a_fastapi_app(blob_dir: Path, image_url: str) -> None:
    app = FastAPI()
    app.router.routes.append(repository_mount(blob_dir))

    with TestClient(app) as client:
        response = client.get(image_url, headers={"Range": "bytes=5-9"})

    assert (response.status_code, response.content) == (206, IMAGE[5:10])


# --- the fast path: the same answers as Starlette's StaticFiles, without its thread pool -------


class StarletteOnly(RepositoryFiles):
    """The same tree answered by Starlette's ``StaticFiles`` alone: the reference."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await StaticFiles.__call__(self, scope, receive, send)


@pytest.fixture
def reference(blob_dir: Path) -> Iterator[TestClient]:
    root = public_dir(blob_dir) / "repo"
    root.mkdir(parents=True, exist_ok=True)
    app = Starlette(routes=[Mount("/repo", app=StarletteOnly(directory=root))])
    with TestClient(app) as test_client:
        yield test_client


Answer = tuple[int, list[tuple[str, str]], bytes]


def answer(client: TestClient, method: str, url: str, headers: dict[str, str]) -> Answer:
    response = client.request(method, url, headers=headers)
    return response.status_code, sorted(response.headers.items()), response.content


def fast_path_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on, Starlette's lookup (in its thread pool) fails the test if it is used."""

    def no_lookup(self: StaticFiles, path: str) -> tuple[str, os.stat_result | None]:
        raise AssertionError(f"Starlette looked up {path}")

    monkeypatch.setattr(StaticFiles, "lookup_path", no_lookup)


@pytest.fixture
def files(blob_dir: Path, image_url: str) -> dict[str, bytes]:
    """URL -> content: metadata, a text file, an unknown type, a big file, an empty one."""
    write_timestamp(blob_dir, TIMESTAMP)
    image = public_dir(blob_dir) / "repo" / "image"
    (image / "notes.txt").write_text("release notes\n")
    (image / "blob").write_bytes(b"\x00\x01")
    (image / "empty.json").write_bytes(b"")
    (image / "edge.bin").write_bytes(b"e" * SMALL_FILE_BYTES)
    return {
        "/repo/image/metadata/timestamp.json": TIMESTAMP,
        "/repo/image/notes.txt": b"release notes\n",
        "/repo/image/blob": b"\x00\x01",
        "/repo/image/empty.json": b"",
        "/repo/image/edge.bin": b"e" * SMALL_FILE_BYTES,
        image_url: IMAGE,
    }


def test_fast_path_answers_exactly_like_starlette(
    client: TestClient, reference: TestClient, files: dict[str, bytes]
) -> None:
    client.get("/repo/image/metadata/timestamp.json")  # the first request checks the config
    for url, content in files.items():
        first = reference.get(url)
        assert first.content == content
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        for headers in (
            {},
            {"If-None-Match": etag},
            {"If-None-Match": f'"other", W/{etag}'},
            {"If-None-Match": '"stale"'},
            {"If-None-Match": " * "},
            {"If-None-Match": '"stale"', "If-Modified-Since": modified},
            {"If-Modified-Since": modified},
            {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
            {"If-Modified-Since": "not a date"},
            {"Range": "bytes=1-"},
            {"Range": "bytes=0-0", "If-Range": etag},
        ):
            for method in ("GET", "HEAD"):
                expected = answer(reference, method, url, headers)
                got = answer(client, method, url, headers)
                assert got == expected, (method, url, headers)


def test_polls_are_answered_on_the_event_loop(
    client: TestClient, blob_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_timestamp(blob_dir, TIMESTAMP)
    url = "/repo/image/metadata/timestamp.json"
    etag = client.get(url).headers["etag"]
    fast_path_only(monkeypatch)

    full = client.get(url)
    unchanged = client.get(url, headers={"If-None-Match": etag})
    head = client.head(url)
    write_timestamp(blob_dir, TIMESTAMP + b" ")
    changed = client.get(url, headers={"If-None-Match": etag})

    assert (full.status_code, full.content, full.headers["etag"]) == (200, TIMESTAMP, etag)
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    assert (head.status_code, head.headers["content-length"]) == (200, str(len(TIMESTAMP)))
    assert (changed.status_code, changed.content) == (200, TIMESTAMP + b" ")
    assert changed.headers["etag"] not in (etag, None)


def test_big_files_and_ranges_are_left_to_starlette(
    client: TestClient, image_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    etag = client.get(image_url).headers["etag"]
    fast_path_only(monkeypatch)

    assert client.get(image_url, headers={"If-None-Match": etag}).status_code == 304
    with pytest.raises(AssertionError, match="Starlette looked up"):
        client.get(image_url)
    with pytest.raises(AssertionError, match="Starlette looked up"):
        client.get("/repo/image/metadata/timestamp.json", headers={"Range": "bytes=1-"})


def test_symlinks_on_the_way_are_checked_by_starlette(
    client: TestClient, reference: TestClient, blob_dir: Path
) -> None:
    write_timestamp(blob_dir, TIMESTAMP)
    outside = blob_dir / "outside"
    outside.mkdir()
    (outside / "secret.key").write_bytes(b"private key")
    image = public_dir(blob_dir) / "repo" / "image"
    (image / "away").symlink_to(outside, target_is_directory=True)
    (image / "inside").symlink_to(image / "metadata", target_is_directory=True)
    (image / "metadata" / "alias.json").symlink_to(image / "metadata" / "timestamp.json")
    client.get("/repo/image/metadata/timestamp.json")

    for url in (
        "/repo/image/away/secret.key",
        "/repo/image/%2e%2e/%2e%2e/%2e%2e/outside/secret.key",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"private key" not in response.content
    for url in ("/repo/image/inside/timestamp.json", "/repo/image/metadata/alias.json"):
        assert answer(client, "GET", url, {}) == answer(reference, "GET", url, {}), url
        assert client.get(url).content == TIMESTAMP
