"""The device key: created once, private to its owner, stable, and a working Ed25519 signer."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from medfleet.agent.errors import IdentityError
from medfleet.agent.identity import KEY_FILE, DeviceIdentity, key_id_of


def test_the_key_is_created_once_with_owner_only_permissions(tmp_path: Path) -> None:
    directory = tmp_path / "identity"
    first = DeviceIdentity.create_or_load(directory)
    again = DeviceIdentity.create_or_load(directory)
    assert again.public_key_bytes == first.public_key_bytes
    assert stat.S_IMODE((directory / KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert [p.name for p in directory.iterdir()] == [KEY_FILE]


def test_key_id_is_the_sha256_of_the_raw_public_key(tmp_path: Path) -> None:
    identity = DeviceIdentity.create_or_load(tmp_path)
    assert len(identity.public_key_bytes) == 32
    assert identity.key_id == hashlib.sha256(identity.public_key_bytes).hexdigest()
    assert key_id_of(identity.public_key_bytes) == identity.key_id


def test_signatures_verify_with_the_public_key_only(tmp_path: Path) -> None:
    identity = DeviceIdentity.create_or_load(tmp_path)
    public = Ed25519PublicKey.from_public_bytes(identity.public_key_bytes)
    signature = identity.sign(b"status")
    public.verify(signature, b"status")
    with pytest.raises(InvalidSignature):
        public.verify(signature, b"statue")


def test_load_without_a_key_asks_for_enrollment(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="enroll"):
        DeviceIdentity.load(tmp_path)


def test_a_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    DeviceIdentity.create_or_load(tmp_path)
    (tmp_path / KEY_FILE).chmod(0o644)
    with pytest.raises(IdentityError, match="readable by others"):
        DeviceIdentity.load(tmp_path)


def test_a_garbled_or_foreign_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE
    path.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    path.chmod(0o600)
    with pytest.raises(IdentityError, match="unreadable"):
        DeviceIdentity.load(tmp_path)
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(IdentityError, match="not an Ed25519"):
        DeviceIdentity.load(tmp_path)
