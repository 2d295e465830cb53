"""Account use cases: organizations, sites, users, roles, scoping, lockout and tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from medfleet.accounts import credentials, service
from medfleet.accounts.auth import authenticate
from medfleet.accounts.credentials import token_digest
from medfleet.accounts.errors import (
    AccountLockedError,
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from medfleet.accounts.model import OrgKind, Role
from medfleet.accounts.service import NewUser
from medfleet.accounts.tables import ApiToken, Site, User
from medfleet.audit.tables import AuditEventRow
from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.runtime import Runtime
from tests.builders import PASSWORD, World, build_world


@pytest.fixture
def world(runtime: Runtime) -> World:
    return build_world(runtime)


def _count(rt: Runtime, model: type[object]) -> int:
    with transaction(rt.sessions) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_password_is_stored_as_argon2id(runtime: Runtime, world: World) -> None:
    with transaction(runtime.sessions) as s:
        user = s.scalar(select(User).where(User.username == "eng"))
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash


def test_bad_site_time_zone_changes_nothing(runtime: Runtime, world: World) -> None:
    sites, events = _count(runtime, Site), _count(runtime, AuditEventRow)
    for zone in ("CET", "EST", "Mars/Olympus", ""):
        with pytest.raises(InvalidInputError, match="IANA"), transaction(runtime.sessions) as s:
            service.create_site(s, runtime.audit, world.admin, world.hospital_a, "X", zone)
    assert (_count(runtime, Site), _count(runtime, AuditEventRow)) == (sites, events)


def test_duplicate_site_and_user_names_conflict(runtime: Runtime, world: World) -> None:
    with pytest.raises(ConflictError), transaction(runtime.sessions) as s:
        service.create_site(
            s, runtime.audit, world.admin, world.hospital_a, "Main Campus", "Europe/Berlin"
        )
    with pytest.raises(ConflictError, match="taken"), transaction(runtime.sessions) as s:
        service.create_user(
            s,
            runtime.audit,
            runtime.passwords,
            world.admin,
            world.hospital_b,
            NewUser("eng", "Other", PASSWORD, frozenset({Role.HOSPITAL_IT})),
        )


@pytest.mark.parametrize(
    ("kind_of_org", "role"),
    [("hospital", Role.ENGINEER), ("hospital", Role.QA_RA), ("manufacturer", Role.HOSPITAL_BIOMED)],
)
def test_roles_must_fit_the_kind_of_organization(
    runtime: Runtime, world: World, kind_of_org: str, role: Role
) -> None:
    org_id = world.hospital_a if kind_of_org == "hospital" else world.admin.org_id
    with pytest.raises(InvalidInputError, match="not allowed"), transaction(runtime.sessions) as s:
        service.create_user(
            s,
            runtime.audit,
            runtime.passwords,
            world.admin,
            org_id,
            NewUser("newbie", "New Bie", PASSWORD, frozenset({role})),
        )


def test_weak_password_and_bad_username_are_refused(runtime: Runtime, world: World) -> None:
    with pytest.raises(InvalidInputError, match="at least 12"), transaction(runtime.sessions) as s:
        service.create_user(
            s,
            runtime.audit,
            runtime.passwords,
            world.admin,
            world.hospital_a,
            NewUser("shorty", "S", "short", frozenset({Role.HOSPITAL_IT})),
        )
    with pytest.raises(InvalidInputError, match="user name"), transaction(runtime.sessions) as s:
        service.create_user(
            s,
            runtime.audit,
            runtime.passwords,
            world.admin,
            world.hospital_a,
            NewUser("Bad Name", "B", PASSWORD, frozenset({Role.HOSPITAL_IT})),
        )


def test_hospital_sees_only_itself(runtime: Runtime, world: World) -> None:
    with transaction(runtime.sessions) as s:
        assert [o.id for o in service.list_organizations(s, world.biomed_a)] == [world.hospital_a]
        assert len(service.list_organizations(s, world.admin)) == 3
        with pytest.raises(NotFoundError):
            service.get_organization(s, world.biomed_a, world.hospital_b)
        with pytest.raises(NotFoundError):
            service.get_site(s, world.biomed_a, world.site_b)
        with pytest.raises(NotFoundError):
            service.list_sites(s, world.biomed_a, world.hospital_b)
        with pytest.raises(NotFoundError):
            service.list_users(s, world.admin_a, world.hospital_b)


def test_hospital_admin_manages_only_its_own(runtime: Runtime, world: World) -> None:
    with transaction(runtime.sessions) as s:
        service.create_site(
            s, runtime.audit, world.admin_a, world.hospital_a, "West", "Europe/Berlin"
        )
    with pytest.raises(NotFoundError), transaction(runtime.sessions) as s:
        service.create_site(
            s, runtime.audit, world.admin_a, world.hospital_b, "Sneaky", "Europe/Berlin"
        )
    with pytest.raises(PermissionDeniedError), transaction(runtime.sessions) as s:
        service.create_site(
            s, runtime.audit, world.biomed_a, world.hospital_a, "NoRole", "Europe/Berlin"
        )
    with pytest.raises(PermissionDeniedError), transaction(runtime.sessions) as s:
        service.create_organization(s, runtime.audit, world.admin_a, "Hostile", OrgKind.HOSPITAL)


def test_second_manufacturer_is_refused(runtime: Runtime, world: World) -> None:
    with pytest.raises(ConflictError), transaction(runtime.sessions) as s:
        service.bootstrap_manufacturer(
            s,
            runtime.audit,
            runtime.passwords,
            "Other",
            NewUser("other", "O", PASSWORD, frozenset({Role.ADMIN})),
        )
    with pytest.raises(InvalidInputError), transaction(runtime.sessions) as s:
        service.create_organization(s, runtime.audit, world.admin, "Other", OrgKind.MANUFACTURER)


def test_lockout_after_repeated_failures_and_release(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    limit = runtime.settings.login_max_failures
    for _ in range(limit):
        with pytest.raises(AuthenticationError):
            authenticate(runtime, "eng", "wrong password!")
    with pytest.raises(AccountLockedError):
        authenticate(runtime, "eng", PASSWORD)
    clock.advance(timedelta(minutes=runtime.settings.login_lockout_minutes, seconds=1))
    assert authenticate(runtime, "eng", PASSWORD).username == "eng"
    with transaction(runtime.sessions) as s:
        actions = list(
            s.scalars(select(AuditEventRow.action).where(AuditEventRow.object_type == "user"))
        )
    assert actions.count("login.failed") == limit - 1
    assert actions.count("user.locked") == 1


def test_success_resets_the_failure_count(runtime: Runtime, world: World) -> None:
    for _ in range(runtime.settings.login_max_failures - 1):
        with pytest.raises(AuthenticationError):
            authenticate(runtime, "eng", "wrong password!")
    authenticate(runtime, "eng", PASSWORD)
    with pytest.raises(AuthenticationError) as caught:
        authenticate(runtime, "eng", "wrong password!")
    assert not isinstance(caught.value, AccountLockedError)


def test_unknown_user_gets_the_same_message(runtime: Runtime, world: World) -> None:
    with pytest.raises(AuthenticationError, match="user name or password is wrong"):
        authenticate(runtime, "nobody", PASSWORD)


def test_tokens_are_stored_hashed_and_expire(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    with transaction(runtime.sessions) as s:
        issued = credentials.issue_token(
            s, runtime.audit, world.biomed_a, "laptop", timedelta(hours=1)
        )
        token = issued.token
        assert issued.expires_at == clock.now() + timedelta(hours=1)
    with transaction(runtime.sessions) as s:
        stored = list(s.scalars(select(ApiToken.token_sha256)))
        assert stored == [token_digest(token)]
        assert token not in stored
        assert credentials.principal_for_token(s, token, clock.now()).username == "biomed.a"
        with pytest.raises(AuthenticationError):
            credentials.principal_for_token(s, token + "x", clock.now())
        with pytest.raises(AuthenticationError):
            credentials.principal_for_token(s, token, clock.now() + timedelta(hours=2))
