"""``medfleet bundle export`` and ``medfleet bundle record`` on both databases."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from medfleet.agent.contract import ImageInfo
from medfleet.agent.identity import DeviceIdentity
from medfleet.config import Settings
from medfleet.db.engine import transaction
from medfleet.fleet import enrollment
from medfleet.runtime import Runtime
from medfleet.signing.release_signing import ReleaseToSign, sign_release
from tests.cli.conftest import ADMIN_PASSWORD, Cli
from tests.cli.fleet_support import register_model

MODEL = "IP-100"


def publish_release(settings: Settings) -> None:
    """Model IP-100 signed by the admin's targets key, and release R-1 (as a release does)."""
    runtime = Runtime(settings)
    try:
        distribution = runtime.distribution
        admin = distribution.keys.unlock_user_key("admin", ADMIN_PASSWORD)
        distribution.image.add_model(
            MODEL, [admin.public_key], 1, targets_signers=[admin], model_signers=[admin]
        )
        blob = distribution.blobs.put_bytes(b"pump firmware 4.1.0" * 1000)
        info = ImageInfo("R-1", MODEL, ("B",), "4.1.0", 1)
        sign_release(distribution, ReleaseToSign(blob.sha256, "ip100-4.1.0.img", info), [admin])
    finally:
        runtime.close()


def enroll(settings: Settings, token: str) -> None:
    runtime = Runtime(settings)
    try:
        key = DeviceIdentity(Ed25519PrivateKey.generate())
        with transaction(runtime.sessions) as session:
            enrollment.enroll(
                session, runtime.audit, runtime.distribution, token, key.public_key_bytes
            )
    finally:
        runtime.close()


def test_export_then_record(cli: Cli, tmp_path: Path) -> None:
    publish_release(cli.settings)
    register_model(cli)
    hospital = cli.json("accounts", "add-hospital", "St. Anna", "--user", "admin")
    device = cli.json(
        "devices", "register", str(hospital["id"]), "--model", MODEL, "--hw", "B",
        "--serial", "SN-1", "--user", "admin",
    )  # fmt: skip
    enroll(cli.settings, device["enrollment_token"])
    bundle = tmp_path / "field.tar"

    exported = cli.json(
        "bundle", "export", "--release", "R-1", "--model", MODEL, "-o", str(bundle),
        "--device", device["device_id"], "--valid-days", "3", "--user", "admin",
    )  # fmt: skip
    digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
    assert exported["sha256"] == digest
    assert exported["devices"] == [device["device_id"]]
    assert exported["valid_days"] == 3

    recorded = cli.json(
        "bundle", "record", "--device", device["device_id"], "--release", "R-1",
        "--bundle", str(bundle), "--user", "admin",
    )  # fmt: skip
    assert (recorded["version"], recorded["bundle_sha256"]) == ("4.1.0", digest)

    code, _, err = cli(
        "bundle", "export", "--release", "R-9", "--model", MODEL, "-o", str(tmp_path / "x.tar"),
        "--user", "admin",
    )  # fmt: skip
    assert code == 4
    assert "R-9" in err
    assert not (tmp_path / "x.tar").exists()
