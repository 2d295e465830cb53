"""Electronic signatures: re-authentication, meaning, binding to content, separation of duties."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from medfleet.accounts.auth import authenticate
from medfleet.accounts.errors import (
    AuthenticationError,
    PermissionDeniedError,
    SeparationOfDutiesError,
    SignatureError,
)
from medfleet.accounts.signatures import Meaning, content_sha256, parse_meaning, signatures_for
from medfleet.accounts.tables import ElectronicSignature
from medfleet.changes import service as changes
from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.errors import InvalidInput
from medfleet.runtime import Runtime
from tests.builders import PASSWORD, World, build_world


@pytest.fixture
def world(runtime: Runtime) -> World:
    return build_world(runtime)


@pytest.fixture
def key(runtime: Runtime, world: World) -> str:
    with transaction(runtime.sessions) as s:
        return changes.create(
            s,
            runtime.audit,
            world.engineer,
            "Fix alarm latency",
            "Occlusion alarm is late below 1 ml/h.",
        ).key


def _sign(rt: Runtime, username: str, key: str, meaning: Meaning, password: str = PASSWORD) -> None:
    signer = authenticate(rt, username, password, purpose="esignature")
    with transaction(rt.sessions) as s:
        changes.sign(s, rt.audit, signer, key, meaning)


def _views(rt: Runtime, world: World, key: str) -> list[tuple[str, str, bool]]:
    with transaction(rt.sessions) as s:
        change = changes.get(s, world.engineer, key)
        return [
            (v.username, v.meaning, v.valid) for v in signatures_for(s, change, rt.trusted_keys())
        ]


def test_signature_records_name_time_meaning_and_content_hash(
    runtime: Runtime, world: World, key: str, clock: FrozenClock
) -> None:
    _sign(runtime, "eng", key, Meaning.AUTHORED)
    with transaction(runtime.sessions) as s:
        row = s.scalars(select(ElectronicSignature)).one()
        change = changes.get(s, world.engineer, key)
        assert (row.printed_name, row.username, row.meaning) == ("Eve Engineer", "eng", "authored")
        assert row.signed_at == clock.now()
        assert row.content_sha256 == content_sha256(change)


def test_author_cannot_approve_but_someone_else_can(
    runtime: Runtime, world: World, key: str
) -> None:
    _sign(runtime, "eng", key, Meaning.AUTHORED)
    with pytest.raises(SeparationOfDutiesError, match="cannot sign it as approved"):
        _sign(runtime, "eng", key, Meaning.APPROVED)
    _sign(runtime, "qa", key, Meaning.APPROVED)
    assert _views(runtime, world, key) == [("eng", "authored", True), ("qa", "approved", True)]


def test_co_author_cannot_approve(runtime: Runtime, world: World, key: str) -> None:
    _sign(runtime, "qa", key, Meaning.AUTHORED)
    with pytest.raises(SeparationOfDutiesError):
        _sign(runtime, "qa", key, Meaning.APPROVED)


def test_wrong_password_signs_nothing(runtime: Runtime, world: World, key: str) -> None:
    with pytest.raises(AuthenticationError):
        _sign(runtime, "qa", key, Meaning.APPROVED, password="not the password")
    assert _views(runtime, world, key) == []


def test_role_is_required_for_the_meaning(runtime: Runtime, world: World, key: str) -> None:
    with pytest.raises(PermissionDeniedError, match="qa_ra"):
        _sign(runtime, "aud", key, Meaning.APPROVED)


def test_same_signature_twice_is_refused(runtime: Runtime, world: World, key: str) -> None:
    _sign(runtime, "eng", key, Meaning.AUTHORED)
    with pytest.raises(SignatureError, match="already signed"):
        _sign(runtime, "eng", key, Meaning.AUTHORED)


def test_editing_the_record_invalidates_its_signatures(
    runtime: Runtime, world: World, key: str
) -> None:
    _sign(runtime, "eng", key, Meaning.AUTHORED)
    _sign(runtime, "qa", key, Meaning.APPROVED)
    with transaction(runtime.sessions) as s:
        changes.edit(s, runtime.audit, world.engineer, key, title="Fix alarm latency (v2)")
    assert [valid for *_, valid in _views(runtime, world, key)] == [False, False]
    _sign(runtime, "eng", key, Meaning.AUTHORED)
    assert _views(runtime, world, key)[-1] == ("eng", "authored", True)


def test_a_signature_row_forged_in_the_database_is_invalid(
    runtime: Runtime, world: World, key: str
) -> None:
    _sign(runtime, "eng", key, Meaning.AUTHORED)
    with transaction(runtime.sessions) as s:
        s.execute(text("UPDATE e_signature SET printed_name = 'Quinn Quality'"))
    with transaction(runtime.sessions) as s:
        change = changes.get(s, world.engineer, key)
        (view,) = signatures_for(s, change, runtime.trusted_keys())
    assert not view.valid
    assert "not written by this server" in view.reason
    assert "INVALID" in view.line()


def test_hospital_user_cannot_sign_manufacturer_records(
    runtime: Runtime, world: World, key: str
) -> None:
    with pytest.raises(Exception, match=r"not found|belong"):
        _sign(runtime, "admin.a", key, Meaning.AUTHORED)
    with transaction(runtime.sessions) as s:
        assert s.scalar(select(func.count()).select_from(ElectronicSignature)) == 0


def test_unknown_meaning_is_refused() -> None:
    with pytest.raises(InvalidInput, match="authored, reviewed, approved, released"):
        parse_meaning("rubber-stamped")
