"""The server's Ed25519 key, which signs audit checkpoints.

The private key lives in ``<key-dir>/server-ed25519.pem`` (mode 0600); its public half sits
beside it as ``server-ed25519.pub``. Retired public keys stay in ``<key-dir>/retired/*.pub`` so
that checkpoints signed before a rotation still verify. Trusted public keys are read from the
key directory, never from the database, so that write access to the database is not enough
to forge a checkpoint.

``cryptography`` is used directly: these are plain Ed25519 signatures over our own bytes,
not TUF metadata, which the signing service of the distribution issue handles with
securesystemslib.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PRIVATE_NAME = "server-ed25519.pem"
PUBLIC_NAME = "server-ed25519.pub"
RETIRED_DIR = "retired"


class ServerKeyError(RuntimeError):
    """The server key is missing or unreadable."""


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """The key id: SHA-256 of the raw 32-byte public key, hex."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class ServerSigner:
    """Signs bytes with the server's current key."""

    private_key: Ed25519PrivateKey
    key_id: str

    def sign(self, message: bytes) -> bytes:
        """An Ed25519 signature of ``message``."""
        return self.private_key.sign(message)


def _public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def create_server_key(key_dir: Path) -> ServerSigner:
    """Create the server key if there is none; return the signer either way."""
    key_dir.mkdir(parents=True, exist_ok=True)
    private_path = key_dir / PRIVATE_NAME
    if private_path.exists():
        return load_server_key(key_dir)
    private_key = Ed25519PrivateKey.generate()
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    (key_dir / PUBLIC_NAME).write_bytes(_public_pem(private_key.public_key()))
    return ServerSigner(private_key, key_id_of(private_key.public_key()))


def load_server_key(key_dir: Path) -> ServerSigner:
    """Load the current server key.

    Raises:
        ServerKeyError: no key in ``key_dir`` (run ``medfleet init``) or it is not Ed25519.
    """
    private_path = key_dir / PRIVATE_NAME
    try:
        loaded = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    except FileNotFoundError as exc:
        raise ServerKeyError(f"no server key at {private_path}; run 'medfleet init' first") from exc
    except ValueError as exc:
        raise ServerKeyError(f"server key {private_path} is unreadable: {exc}") from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ServerKeyError(f"server key {private_path} is not an Ed25519 key")
    return ServerSigner(loaded, key_id_of(loaded.public_key()))


def rotate_server_key(key_dir: Path) -> ServerSigner:
    """Retire the current key (its public half stays trusted) and create a new one."""
    current = load_server_key(key_dir)
    retired = key_dir / RETIRED_DIR
    retired.mkdir(exist_ok=True)
    (retired / f"{current.key_id}.pub").write_bytes(_public_pem(current.private_key.public_key()))
    (key_dir / PRIVATE_NAME).unlink()
    (key_dir / PUBLIC_NAME).unlink(missing_ok=True)
    return create_server_key(key_dir)


def trusted_public_keys(key_dir: Path) -> dict[str, Ed25519PublicKey]:
    """Every public key whose signatures the verifier accepts, by key id."""
    paths = [key_dir / PUBLIC_NAME, *sorted((key_dir / RETIRED_DIR).glob("*.pub"))]
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        if not path.is_file():
            continue
        loaded = serialization.load_pem_public_key(path.read_bytes())
        if isinstance(loaded, Ed25519PublicKey):
            keys[key_id_of(loaded)] = loaded
    return keys


def signature_valid(
    keys: dict[str, Ed25519PublicKey], key_id: str, signature: bytes, message: bytes
) -> bool:
    """True when ``key_id`` is trusted and its signature over ``message`` verifies."""
    public_key = keys.get(key_id)
    if public_key is None:
        return False
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
