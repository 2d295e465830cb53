"""Key storage: file modes, encryption, wrong passwords, missing keys, per-user keys."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from medfleet.errors import NotFound, Unauthenticated
from medfleet.signing.errors import (
    KeyExistsError,
    KeyNotFoundError,
    KeyUnreadableError,
    SigningInputError,
    WrongPasswordError,
)
from medfleet.signing.keys import KeyStore

MESSAGE = b"signed bytes"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_online_key_is_private_and_signs(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    signer = keys.generate_online_key()
    path = tmp_path / "tuf" / "online" / f"{signer.public_key.keyid}.pem"

    assert _mode(path) == 0o600
    assert _mode(tmp_path / "tuf") == 0o700
    loaded = keys.online_signer(signer.public_key.keyid)
    signature = loaded.sign(MESSAGE)
    signer.public_key.verify_signature(signature, MESSAGE)
    assert [s.public_key.keyid for s in keys.online_signers([signer.public_key.keyid, "ab"])] == [
        signer.public_key.keyid
    ]


def test_deleted_online_key_is_not_found(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    key_id = keys.generate_online_key().public_key.keyid
    keys.delete_online_key(key_id)

    with pytest.raises(KeyNotFoundError) as raised:
        keys.online_signer(key_id)
    assert isinstance(raised.value, NotFound)


def test_a_damaged_online_key_is_reported_unreadable(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    key_id = keys.generate_online_key().public_key.keyid
    (tmp_path / "tuf" / "online" / f"{key_id}.pem").write_bytes(b"not a key")

    with pytest.raises(KeyUnreadableError):
        keys.online_signer(key_id)


def test_offline_key_is_encrypted_and_opens_only_with_its_password(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    public = keys.generate_offline_key("holder one")
    pem = (tmp_path / "tuf" / "offline" / f"{public.keyid}.pem").read_bytes()

    assert b"ENCRYPTED" in pem
    with pytest.raises(TypeError):
        serialization.load_pem_private_key(pem, password=None)
    assert keys.offline_key_ids() == [public.keyid]
    assert keys.offline_public_key(public.keyid) == public
    assert keys.unlock_offline_key(public.keyid, "holder one").public_key == public
    with pytest.raises(WrongPasswordError) as raised:
        keys.unlock_offline_key(public.keyid, "holder two")
    assert isinstance(raised.value, Unauthenticated)


def test_unlock_offline_keys_returns_only_those_the_password_opens(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    first = keys.generate_offline_key("holder one")
    second = keys.generate_offline_key("holder two")

    opened = keys.unlock_offline_keys("holder two", [first.keyid, second.keyid, "cafe"])

    assert [s.public_key.keyid for s in opened] == [second.keyid]


def test_missing_offline_key_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(KeyNotFoundError):
        KeyStore(tmp_path).unlock_offline_key("ab" * 32, "whatever")


def test_a_key_id_cannot_name_another_path(tmp_path: Path) -> None:
    with pytest.raises(SigningInputError):
        KeyStore(tmp_path).unlock_offline_key("../../etc/passwd", "whatever")


def test_empty_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SigningInputError):
        KeyStore(tmp_path).generate_offline_key("")


def test_user_key_needs_the_users_password(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    public = keys.generate_user_key("qa.lee", "qa secret")

    assert _mode(tmp_path / "tuf" / "users" / "qa.lee.pem") == 0o600
    assert keys.has_user_key("qa.lee")
    assert keys.user_public_key("qa.lee") == public
    assert keys.unlock_user_key("qa.lee", "qa secret").public_key == public
    with pytest.raises(WrongPasswordError):
        keys.unlock_user_key("qa.lee", "guess")
    with pytest.raises(KeyExistsError):
        keys.generate_user_key("qa.lee", "again")


def test_user_without_key_is_not_found(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)

    assert not keys.has_user_key("ra.kim")
    with pytest.raises(KeyNotFoundError):
        keys.unlock_user_key("ra.kim", "pw")
    with pytest.raises(KeyNotFoundError):
        keys.user_public_key("ra.kim")


def test_bad_user_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SigningInputError):
        KeyStore(tmp_path).generate_user_key("../root", "pw")


def test_password_change_keeps_the_key(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    public = keys.generate_user_key("qa.lee", "old secret")

    keys.change_user_key_password("qa.lee", "old secret", "new secret")

    assert keys.unlock_user_key("qa.lee", "new secret").public_key == public
    with pytest.raises(WrongPasswordError):
        keys.unlock_user_key("qa.lee", "old secret")
    with pytest.raises(WrongPasswordError):
        keys.change_user_key_password("qa.lee", "old secret", "other")


def test_replaced_user_key_is_retired(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    old = keys.generate_user_key("qa.lee", "qa secret")

    new = keys.replace_user_key("qa.lee", "qa secret")

    assert new.keyid != old.keyid
    assert keys.user_public_key("qa.lee") == new
    retired = tmp_path / "tuf" / "users" / "retired" / f"qa.lee.{old.keyid}.pem"
    assert _mode(retired) == 0o600
    with pytest.raises(WrongPasswordError):
        keys.replace_user_key("qa.lee", "guess")


def test_a_key_whose_password_is_lost_can_be_retired(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path)
    old = keys.generate_user_key("qa.lee", "forgotten")

    assert keys.retire_user_key("qa.lee") == old.keyid

    assert not keys.has_user_key("qa.lee")
    assert (tmp_path / "tuf" / "users" / "retired" / f"qa.lee.{old.keyid}.pub").is_file()
    assert keys.generate_user_key("qa.lee", "new password").keyid != old.keyid
    with pytest.raises(KeyNotFoundError):
        keys.retire_user_key("ra.kim")
