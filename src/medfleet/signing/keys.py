"""Storage of the Ed25519 keys that sign TUF metadata, under ``<key-dir>/tuf/``.

Three kinds of key, three directories, every private file mode 0600 and written atomically:

- ``online/<keyid>.pem`` — unencrypted; the server signs with them unattended (the image
  repository's snapshot and timestamp, every director role except root).
- ``offline/<keyid>.pem`` + ``<keyid>.pub`` — root keys (image and director), encrypted with a
  password (``BestAvailableEncryption``); usable only while a key holder types the password.
- ``users/<username>.pem`` + ``.pub`` — one targets key per QA/RA user, encrypted with that
  user's password, so the server can sign a release only while that user re-authenticates.
  A replaced key moves to ``users/retired/``.

Keys are found by key id (the TUF key id of the public key), so rotating a role's key never
renames a file that current metadata still needs: the new key is written first, metadata that
lists it next, and the old file is deleted last.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from medfleet.agent.contract import ContractError, check_name
from medfleet.signing.errors import (
    KeyExistsError,
    KeyNotFoundError,
    KeyUnreadableError,
    SigningInputError,
    WrongPasswordError,
)
from medfleet.signing.files import PRIVATE_MODE, PUBLIC_MODE, atomic_write
from medfleet.signing.layout import tuf_key_dir
from medfleet.signing.tuf_api import CryptoSigner, SSlibKey

ONLINE = "online"
OFFLINE = "offline"
USERS = "users"
RETIRED = "retired"
PRIVATE_DIR_MODE = 0o700


def _encryption(password: str) -> serialization.KeySerializationEncryption:
    if not password:
        raise SigningInputError("a key password must not be empty")
    return serialization.BestAvailableEncryption(password.encode())


def _private_pem(key: Ed25519PrivateKey, password: str | None) -> bytes:
    encryption = serialization.NoEncryption() if password is None else _encryption(password)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def _public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise KeyNotFoundError(f"no {what} at {path}") from exc


def _load_private_key(path: Path, what: str, password: str | None) -> Ed25519PrivateKey:
    data = _read(path, what)
    try:
        loaded = serialization.load_pem_private_key(
            data, password=None if password is None else password.encode()
        )
    except ValueError as exc:
        if password is None:
            raise KeyUnreadableError(f"{what} {path} is unreadable: {exc}") from exc
        raise WrongPasswordError(f"the password does not unlock the {what}") from exc
    except TypeError as exc:
        raise KeyUnreadableError(f"{what} {path} is not stored as expected: {exc}") from exc
    if not isinstance(loaded, Ed25519PrivateKey):
        raise KeyUnreadableError(f"{what} {path} is not an Ed25519 key")
    return loaded


def _signer(private_key: Ed25519PrivateKey) -> CryptoSigner:
    return CryptoSigner(private_key, SSlibKey.from_crypto(private_key.public_key()))


def _load_private(path: Path, what: str, password: str | None) -> CryptoSigner:
    return _signer(_load_private_key(path, what, password))


def _load_public(path: Path, what: str) -> SSlibKey:
    data = _read(path, what)
    try:
        loaded = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise KeyUnreadableError(f"{what} {path} is unreadable: {exc}") from exc
    if not isinstance(loaded, Ed25519PublicKey):
        raise KeyUnreadableError(f"{what} {path} is not an Ed25519 key")
    return SSlibKey.from_crypto(loaded)


def _key_file_id(key_id: str) -> str:
    if not key_id or not all(c in "0123456789abcdef" for c in key_id):
        raise SigningInputError(f"{key_id!r} is not a key id")
    return key_id


def _username(username: str) -> str:
    try:
        return check_name("user name", username)
    except ContractError as exc:
        raise SigningInputError(str(exc)) from exc


class KeyStore:
    """The TUF key files of one server; every method touches only ``<key-dir>/tuf/``."""

    def __init__(self, key_dir: Path) -> None:
        self.path = tuf_key_dir(key_dir)

    def _directory(self, *parts: str) -> Path:
        """``<key-dir>/tuf/<parts…>``, created owner-only (mode 0700) where missing."""
        directory = self.path
        directory.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        for part in parts:
            directory = directory / part
            directory.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        return directory

    # --- online keys -------------------------------------------------------------------

    def generate_online_key(self) -> CryptoSigner:
        """Create a new unencrypted key (mode 0600) and return its signer."""
        signer = _signer(Ed25519PrivateKey.generate())
        path = self._directory(ONLINE) / f"{signer.public_key.keyid}.pem"
        atomic_write(path, signer.private_bytes, PRIVATE_MODE)
        return signer

    def online_signer(self, key_id: str) -> CryptoSigner:
        """The signer of an online key.

        Raises:
            KeyNotFoundError: no online key with this id.
            KeyUnreadableError: the file is damaged or not Ed25519.
        """
        path = self.path / ONLINE / f"{_key_file_id(key_id)}.pem"
        return _load_private(path, "online key", None)

    def online_signers(self, key_ids: Iterable[str]) -> list[CryptoSigner]:
        """Signers for those of ``key_ids`` that are online keys of this server (others skipped)."""
        return [
            self.online_signer(key_id)
            for key_id in key_ids
            if (self.path / ONLINE / f"{_key_file_id(key_id)}.pem").is_file()
        ]

    def delete_online_key(self, key_id: str) -> None:
        """Delete an online key file (after metadata no longer lists it); absent is fine."""
        with contextlib.suppress(FileNotFoundError):
            (self.path / ONLINE / f"{_key_file_id(key_id)}.pem").unlink()

    # --- offline (root) keys -----------------------------------------------------------

    def generate_offline_key(self, password: str) -> SSlibKey:
        """Create a password-encrypted key (for a root role); return its public key.

        Raises:
            SigningInputError: the password is empty.
        """
        private_key = Ed25519PrivateKey.generate()
        pem = _private_pem(private_key, password)
        public = SSlibKey.from_crypto(private_key.public_key())
        directory = self._directory(OFFLINE)
        atomic_write(directory / f"{public.keyid}.pub", _public_pem(private_key.public_key()))
        atomic_write(directory / f"{public.keyid}.pem", pem, PRIVATE_MODE)
        return public

    def offline_key_ids(self) -> list[str]:
        """Ids of every offline key stored here, sorted."""
        return sorted(path.stem for path in (self.path / OFFLINE).glob("*.pem"))

    def offline_public_key(self, key_id: str) -> SSlibKey:
        """The public half of an offline key (no password needed).

        Raises:
            KeyNotFoundError: no offline key with this id.
        """
        return _load_public(self.path / OFFLINE / f"{_key_file_id(key_id)}.pub", "offline key")

    def unlock_offline_key(self, key_id: str, password: str) -> CryptoSigner:
        """Decrypt an offline key for the duration of one operation.

        Raises:
            KeyNotFoundError: no offline key with this id.
            WrongPasswordError: the password does not decrypt it.
        """
        path = self.path / OFFLINE / f"{_key_file_id(key_id)}.pem"
        return _load_private(path, "offline key", password)

    def unlock_offline_keys(self, password: str, key_ids: Iterable[str]) -> list[CryptoSigner]:
        """Every key among ``key_ids`` stored here that ``password`` decrypts (maybe none).

        A key holder types one password; this finds the root keys it opens, so the caller does
        not need to know which key belongs to whom.
        """
        signers = []
        for key_id in key_ids:
            if not (self.path / OFFLINE / f"{_key_file_id(key_id)}.pem").is_file():
                continue
            with contextlib.suppress(WrongPasswordError):
                signers.append(self.unlock_offline_key(key_id, password))
        return signers

    # --- per-user targets keys ---------------------------------------------------------

    def _user_paths(self, username: str) -> tuple[Path, Path]:
        name = _username(username)
        directory = self.path / USERS
        return directory / f"{name}.pem", directory / f"{name}.pub"

    def has_user_key(self, username: str) -> bool:
        """True when ``username`` has a targets key."""
        return self._user_paths(username)[0].is_file()

    def generate_user_key(self, username: str, password: str) -> SSlibKey:
        """Create ``username``'s targets key, encrypted with the user's password.

        Raises:
            KeyExistsError: the user already has one (use ``replace_user_key``).
            SigningInputError: bad user name or empty password.
        """
        if self.has_user_key(username):
            raise KeyExistsError(f"user {username!r} already has a targets key")
        return self._write_user_key(username, password)

    def replace_user_key(self, username: str, password: str) -> SSlibKey:
        """Give ``username`` a new targets key; the old one moves to ``users/retired/``.

        The old key stays listed in metadata until a targets (or root) update revokes it.

        Raises:
            KeyNotFoundError: the user has no key yet.
            WrongPasswordError: ``password`` does not unlock the current key.
        """
        self.unlock_user_key(username, password)
        self.retire_user_key(username)
        return self._write_user_key(username, password)

    def retire_user_key(self, username: str) -> str:
        """Move ``username``'s key to ``users/retired/`` (no password: for a forgotten one or a
        departure); return its key id. Revoke it in metadata with a targets or root update.

        Raises:
            KeyNotFoundError: the user has no targets key.
        """
        key_id = str(self.user_public_key(username).keyid)
        private_path, public_path = self._user_paths(username)
        retired = self._directory(USERS, RETIRED)
        os.replace(private_path, retired / f"{username}.{key_id}.pem")
        os.replace(public_path, retired / f"{username}.{key_id}.pub")
        return key_id

    def _write_user_key(self, username: str, password: str) -> SSlibKey:
        private_key = Ed25519PrivateKey.generate()
        pem = _private_pem(private_key, password)
        private_path, public_path = self._user_paths(username)
        self._directory(USERS)
        atomic_write(public_path, _public_pem(private_key.public_key()), PUBLIC_MODE)
        atomic_write(private_path, pem, PRIVATE_MODE)
        return SSlibKey.from_crypto(private_key.public_key())

    def user_public_key(self, username: str) -> SSlibKey:
        """``username``'s current targets public key (no password needed).

        Raises:
            KeyNotFoundError: the user has no targets key.
        """
        return _load_public(self._user_paths(username)[1], f"targets key of {username!r}")

    def unlock_user_key(self, username: str, password: str) -> CryptoSigner:
        """Decrypt ``username``'s targets key with the password the user just typed.

        Raises:
            KeyNotFoundError: the user has no targets key.
            WrongPasswordError: the password does not decrypt it.
        """
        path = self._user_paths(username)[0]
        return _load_private(path, f"targets key of {username!r}", password)

    def change_user_key_password(self, username: str, old: str, new: str) -> None:
        """Re-encrypt ``username``'s key when the user changes password (same key, same id).

        Raises:
            KeyNotFoundError: the user has no targets key.
            WrongPasswordError: ``old`` does not decrypt it.
            SigningInputError: ``new`` is empty.
        """
        path = self._user_paths(username)[0]
        private_key = _load_private_key(path, f"targets key of {username!r}", old)
        atomic_write(path, _private_pem(private_key, new), PRIVATE_MODE)
