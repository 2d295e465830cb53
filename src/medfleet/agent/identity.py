"""The device's own Ed25519 identity, which signs every status report.

The key is created once (at enrollment) as ``<dir>/device-ed25519.pem`` (PKCS#8, mode 0600,
directory 0700). Creation is atomic and exclusive: a crash never leaves a partial key, and of
two processes creating it at once both end up with the same key. The key id is the SHA-256 of
the raw 32-byte public key, in hex, as the server's keys use.
"""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from medfleet.agent.atomic import create_exclusive_atomic
from medfleet.agent.errors import IdentityError

KEY_FILE = "device-ed25519.pem"


def key_id_of(public_key_bytes: bytes) -> str:
    """The key id of a raw Ed25519 public key: SHA-256, hex."""
    return hashlib.sha256(public_key_bytes).hexdigest()


class DeviceIdentity:
    """The device's signing key; the private half never leaves this object or its file."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key_bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id_of(self.public_key_bytes)

    @classmethod
    def create_or_load(cls, directory: Path) -> DeviceIdentity:
        """The device's identity, creating the key file first if there is none.

        Raises:
            IdentityError: a key file exists but is unreadable or readable by others.
        """
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / KEY_FILE
        if not path.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            create_exclusive_atomic(path, pem, mode=0o600)
        return cls.load(directory)

    @classmethod
    def load(cls, directory: Path) -> DeviceIdentity:
        """The existing identity.

        Raises:
            IdentityError: no key file, a key readable by group or others, or not an
                Ed25519 private key.
        """
        path = directory / KEY_FILE
        try:
            mode = path.stat().st_mode
            pem = path.read_bytes()
        except FileNotFoundError as exc:
            raise IdentityError(f"no device key at {path}; enroll the device first") from exc
        if stat.S_IMODE(mode) & 0o077:
            raise IdentityError(f"device key {path} is readable by others (chmod 600 it)")
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except ValueError as exc:
            raise IdentityError(f"device key {path} is unreadable: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise IdentityError(f"device key {path} is not an Ed25519 key")
        return cls(key)

    def sign(self, message: bytes) -> bytes:
        """An Ed25519 signature of ``message`` (64 bytes)."""
        return self._private_key.sign(message)
