"""Must show: python-tuf's unmodified ``ngclient.Updater``, in a separate process, over HTTP.

medfleet builds the image repository and the director in ``tmp_path``; a plain
``http.server`` serves the public directory on 127.0.0.1; a child Python process that imports
only python-tuf (never medfleet) bootstraps from ``1.root.json``, refreshes, resolves the
target (through the model's delegated role for the image repository), downloads it and reports
the sha256 of the bytes it got. The same runs again after root rotations.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from medfleet.agent.contract import (
    Instruction,
    director_metadata_url,
    image_metadata_url,
    image_targets_url,
)
from medfleet.signing.director_keys import change_director_keys, rotate_director_online_key
from medfleet.signing.image_keys import change_image_keys, rotate_image_online_key
from tests.signing.helpers import MODEL, Signing

DEVICE = "pump-0042"

CLIENT = r"""
import hashlib, json, sys
from pathlib import Path
from tuf.ngclient import Updater

metadata_url, targets_url, root_file, work, target_path = sys.argv[1:6]
assert "medfleet" not in sys.modules
Path(work, "meta").mkdir(parents=True)
updater = Updater(
    metadata_dir=str(Path(work, "meta")),
    metadata_base_url=metadata_url,
    target_dir=work,
    target_base_url=targets_url,
    bootstrap=Path(root_file).read_bytes(),
)
updater.refresh()
info = updater.get_targetinfo(target_path)
if info is None:
    print(json.dumps({"found": False}))
    sys.exit(0)
downloaded = Path(updater.download_target(info)).read_bytes()
root = json.loads(Path(work, "meta", "root.json").read_bytes())
print(json.dumps({
    "found": True,
    "sha256": hashlib.sha256(downloaded).hexdigest(),
    "length": info.length,
    "custom": info.custom,
    "root_version": root["signed"]["version"],
    "medfleet_imported": "medfleet" in sys.modules,
}))
"""


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


@pytest.fixture
def base_url(signing: Signing) -> Iterator[str]:
    """The public directory served over HTTP on 127.0.0.1 for the test's duration."""
    handler = functools.partial(_QuietHandler, directory=str(signing.public_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _run_client(
    metadata_url: str, targets_url: str, root: bytes, work: Path, target_path: str
) -> dict[str, Any]:
    work.parent.mkdir(parents=True, exist_ok=True)
    root_file = work.parent / f"{work.name}-1.root.json"
    root_file.write_bytes(root)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            CLIENT,
            metadata_url,
            targets_url,
            str(root_file),
            str(work),
            target_path,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def _image_client(signing: Signing, base_url: str, work: Path, path: str) -> dict[str, Any]:
    return _run_client(
        image_metadata_url(base_url),
        image_targets_url(base_url),
        signing.image.root_bytes(1),
        work,
        path,
    )


def _director_client(signing: Signing, base_url: str, work: Path, path: str) -> dict[str, Any]:
    return _run_client(
        director_metadata_url(base_url, DEVICE),
        image_targets_url(base_url),
        signing.director.root_bytes(1),
        work,
        path,
    )


def test_unmodified_ngclient_downloads_from_both_repositories_over_http(
    signing: Signing, base_url: str, tmp_path: Path
) -> None:
    content = b"\x7fELF infusion pump image 4.3.0" * 1000
    image = signing.publish(tmp_path, 430, content)
    instruction = Instruction(DEVICE, "R-430", 430)
    signing.director.assign(DEVICE, image.path, image.length, image.hashes, instruction)

    from_image = _image_client(signing, base_url, tmp_path / "image-client", image.path)
    from_director = _director_client(signing, base_url, tmp_path / "director-client", image.path)

    expected = hashlib.sha256(content).hexdigest()
    for report in (from_image, from_director):
        assert report["found"] is True
        assert report["sha256"] == expected
        assert report["length"] == len(content)
        assert report["medfleet_imported"] is False
    assert from_image["custom"]["medfleet"]["model"] == MODEL
    assert from_image["custom"]["medfleet"]["version_number"] == 430
    assert from_director["custom"]["medfleet"]["device_id"] == DEVICE
    missing = _image_client(signing, base_url, tmp_path / "missing", f"{MODEL}/unreleased.img")
    assert missing == {"found": False}


def test_unmodified_ngclient_follows_root_rotations_over_http(
    signing: Signing, base_url: str, tmp_path: Path
) -> None:
    old_root = signing.image_root_signers()
    new_key = signing.keys.generate_offline_key("second holder")
    new_root = signing.keys.unlock_offline_key(new_key.keyid, "second holder")
    change_image_keys(
        signing.image,
        "root",
        add=[new_key],
        revoke=[s.public_key.keyid for s in old_root],
        root_signers=[*old_root, new_root],
    )
    rotate_image_online_key(signing.image, "timestamp", [new_root])
    director_root = signing.director_root_signers()
    rotate_director_online_key(signing.director, "snapshot", director_root)
    change_director_keys(signing.director, "root", root_signers=director_root)
    content = b"pump image 4.3.1 after rotations"
    image = signing.publish(tmp_path, 431, content)
    instruction = Instruction(DEVICE, "R-431", 431)
    signing.director.assign(DEVICE, image.path, image.length, image.hashes, instruction)

    from_image = _image_client(signing, base_url, tmp_path / "image-client", image.path)
    from_director = _director_client(signing, base_url, tmp_path / "director-client", image.path)

    assert from_image["root_version"] == 3
    assert from_director["root_version"] == 3
    for report in (from_image, from_director):
        assert report["sha256"] == hashlib.sha256(content).hexdigest()
