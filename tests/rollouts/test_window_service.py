"""Maintenance-window use cases on SQLite and PostgreSQL: who may change and read, audit
events, departments overriding sites, hospital-wide blackouts in each site's zone, upcoming
openings and the scheduler's bulk reads."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select

from medfleet.accounts import service as accounts
from medfleet.accounts.model import Principal, Role
from medfleet.accounts.service import NewUser, principal_of
from medfleet.accounts.tables import Site
from medfleet.audit.tables import AuditEventRow
from medfleet.clock import FrozenClock
from medfleet.db.engine import transaction
from medfleet.rollouts import window_service as service
from medfleet.rollouts.window_access import resolve_department, resolve_hospital, resolve_site
from medfleet.rollouts.window_errors import (
    BlackoutNotFoundError,
    DuplicateWindowError,
    InvalidWindowError,
    WindowNotAllowedError,
    WindowNotFoundError,
    WindowScopeNotFoundError,
)
from medfleet.rollouts.window_tables import BlackoutPeriod, MaintenanceWindow
from medfleet.rollouts.windows import WindowRule, blackout_from_local
from medfleet.runtime import Runtime
from tests.builders import PASSWORD, World, build_world

H = timedelta(hours=1)
GONE = (WindowNotFoundError, BlackoutNotFoundError, WindowScopeNotFoundError)
WEEKEND = "FREQ=WEEKLY;BYDAY=SA,SU"


@pytest.fixture
def world(runtime: Runtime) -> World:
    return build_world(runtime)


def _user(runtime: Runtime, world: World, org_id: int, name: str, *roles: Role) -> Principal:
    with transaction(runtime.sessions) as session:
        created = accounts.create_user(
            session,
            runtime.audit,
            runtime.passwords,
            world.admin,
            org_id,
            NewUser(name, name.title(), PASSWORD, frozenset(roles)),
        )
        return principal_of(created)


def _add(runtime: Runtime, who: Principal, site_id: int, **changes: Any) -> MaintenanceWindow:
    arguments: dict[str, Any] = {
        "site_id": site_id,
        "name": "Weekend",
        "start_local": datetime(2026, 1, 3, 2, 0),
        "rrule": WEEKEND,
        "duration": 4 * H,
    } | changes
    with transaction(runtime.sessions) as session:
        return service.add_window(session, runtime.audit, who, **arguments)


def _events(runtime: Runtime, prefix: str) -> list[dict[str, Any]]:
    with transaction(runtime.sessions) as session:
        docs = session.scalars(
            select(AuditEventRow.doc)
            .where(AuditEventRow.action.startswith(prefix))
            .order_by(AuditEventRow.seq)
        )
        return [json.loads(doc) for doc in docs]


def _count(runtime: Runtime, table: type[Any]) -> int:
    with transaction(runtime.sessions) as session:
        return session.scalar(select(func.count()).select_from(table)) or 0


def _site(runtime: Runtime, world: World, org_id: int, name: str, zone: str) -> int:
    with transaction(runtime.sessions) as session:
        return accounts.create_site(session, runtime.audit, world.admin, org_id, name, zone).id


def _department(runtime: Runtime, world: World, site_id: int, name: str) -> int:
    with transaction(runtime.sessions) as session:
        return accounts.create_department(session, runtime.audit, world.admin, site_id, name).id


def test_hospital_staff_add_list_and_remove_windows_with_audit(
    runtime: Runtime, world: World
) -> None:
    window = _add(runtime, world.biomed_a, world.site_a)
    assert (window.org_id, window.site_id, window.department_id) == (
        world.hospital_a,
        world.site_a,
        None,
    )
    assert (window.start_local, window.rrule, window.duration_minutes) == (
        "2026-01-03T02:00",
        WEEKEND,
        240,
    )
    with transaction(runtime.sessions) as session:
        listed = service.list_windows(session, world.admin_a, site_id=world.site_a)
        assert [w.name for w in listed] == ["Weekend"]
        assert service.list_windows(session, world.biomed_b) == []
        assert [w.id for w in service.list_windows(session, world.admin)] == [window.id]
    [added] = _events(runtime, "maintenance_window.")
    assert added["action"] == "maintenance_window.added"
    assert added["org_id"] == world.hospital_a
    assert added["actor"] == "user:biomed.a"
    assert added["payload"]["timezone"] == "Europe/Berlin"
    assert added["payload"]["rrule"] == WEEKEND
    with transaction(runtime.sessions) as session:
        service.remove_window(session, runtime.audit, world.admin_a, window.id)
    assert _count(runtime, MaintenanceWindow) == 0
    removed = _events(runtime, "maintenance_window.")[-1]
    assert removed["action"] == "maintenance_window.removed"
    assert removed["payload"]["name"] == "Weekend"


def test_it_staff_may_change_auditors_and_the_manufacturer_may_not(
    runtime: Runtime, world: World
) -> None:
    it = _user(runtime, world, world.hospital_a, "it.a", Role.HOSPITAL_IT)
    auditor = _user(runtime, world, world.hospital_a, "audit.a", Role.AUDITOR)
    operator = _user(runtime, world, world.admin.org_id, "ops", Role.FLEET_OPERATOR)
    window = _add(runtime, it, world.site_a)
    for who in (auditor, world.admin, operator):
        with pytest.raises(WindowNotAllowedError):
            _add(runtime, who, world.site_a, name="Other")
        with pytest.raises(WindowNotAllowedError), transaction(runtime.sessions) as session:
            service.remove_window(session, runtime.audit, who, window.id)
        with transaction(runtime.sessions) as session:  # but all of them read
            assert [w.id for w in service.list_windows(session, who)] == [window.id]
            assert service.get_window(session, who, window.id).name == "Weekend"
    with pytest.raises(WindowNotAllowedError), transaction(runtime.sessions) as session:
        service.list_windows(session, world.engineer)
    assert _count(runtime, MaintenanceWindow) == 1


def test_another_hospitals_objects_are_not_found(runtime: Runtime, world: World) -> None:
    window = _add(runtime, world.biomed_b, world.site_b)
    with pytest.raises(WindowScopeNotFoundError, match=f"site {world.site_b} not found"):
        _add(runtime, world.admin_a, world.site_b)
    with transaction(runtime.sessions) as session:
        blackout = service.add_blackout(
            session,
            runtime.audit,
            world.admin_b,
            first_day=date(2026, 12, 24),
            last_day=date(2026, 12, 26),
            reason="Bayview holidays",
        )
    checks = [
        lambda s: service.get_window(s, world.admin_a, window.id),
        lambda s: service.remove_window(s, runtime.audit, world.admin_a, window.id),
        lambda s: service.list_windows(s, world.admin_a, site_id=world.site_b),
        lambda s: service.remove_blackout(s, runtime.audit, world.biomed_a, blackout.id),
        lambda s: service.list_blackouts(s, world.biomed_a, site_id=world.site_b),
        lambda s: service.list_blackouts(s, world.biomed_a, org_id=world.hospital_b),
        lambda s: service.upcoming(s, world.biomed_a, site_id=world.site_b),
        lambda s: service.add_blackout(
            s,
            runtime.audit,
            world.admin_a,
            first_day=date(2026, 1, 1),
            last_day=date(2026, 1, 1),
            reason="x",
            org_id=world.hospital_b,
        ),
        lambda s: resolve_site(s, world.admin_a, "North"),
        lambda s: resolve_hospital(s, world.admin_a, "Bayview Medical Center"),
    ]
    for check in checks:
        with pytest.raises(GONE), transaction(runtime.sessions) as session:
            check(session)
    with transaction(runtime.sessions) as session:
        assert service.list_blackouts(session, world.admin_a) == []
        assert service.list_windows(session, world.admin_a) == []
    assert (_count(runtime, MaintenanceWindow), _count(runtime, BlackoutPeriod)) == (1, 1)


def test_bad_input_changes_nothing(runtime: Runtime, world: World) -> None:
    before = len(_events(runtime, ""))
    with pytest.raises(InvalidWindowError, match="UNTIL"):
        _add(runtime, world.biomed_a, world.site_a, rrule="FREQ=DAILY;UNTIL=20261231T020000")
    with pytest.raises(InvalidWindowError, match="name"):
        _add(runtime, world.biomed_a, world.site_a, name="  ")
    with (
        pytest.raises(InvalidWindowError, match="before its first day"),
        transaction(runtime.sessions) as session,
    ):
        service.add_blackout(
            session,
            runtime.audit,
            world.biomed_a,
            first_day=date(2026, 12, 26),
            last_day=date(2026, 12, 24),
            reason="x",
            site_id=world.site_a,
        )
    _add(runtime, world.biomed_a, world.site_a)
    with pytest.raises(DuplicateWindowError):
        _add(runtime, world.admin_a, world.site_a)
    assert _count(runtime, MaintenanceWindow) == 1
    assert _count(runtime, BlackoutPeriod) == 0
    assert len(_events(runtime, "")) == before + 1


def test_department_windows_override_the_sites_and_blackouts_apply_to_both(
    runtime: Runtime, world: World
) -> None:
    icu = _department(runtime, world, world.site_a, "ICU")
    radiology = _department(runtime, world, world.site_a, "Radiology")
    _add(runtime, world.biomed_a, world.site_a)
    icu_window = _add(
        runtime,
        world.biomed_a,
        world.site_a,
        department_id=icu,
        name="Weekend",  # the same name is fine in another scope
        start_local=datetime(2026, 1, 6, 3, 0),
        rrule="FREQ=WEEKLY;BYDAY=TU",
        duration=2 * H,
    )
    with transaction(runtime.sessions) as session:
        service.add_blackout(
            session,
            runtime.audit,
            world.biomed_a,
            first_day=date(2026, 12, 24),
            last_day=date(2026, 12, 26),
            reason="Christmas",
            site_id=world.site_a,
        )
        site = session.get(Site, world.site_a)
        assert site is not None
        assert resolve_department(session, site, "ICU").id == icu
        assert resolve_department(session, site, str(radiology)).id == radiology
        site_rules, site_blackouts = service.rules_for(session, world.site_a)
        icu_rules, icu_blackouts = service.rules_for(session, world.site_a, icu)
        rad_rules, _ = service.rules_for(session, world.site_a, radiology)
        with pytest.raises(WindowScopeNotFoundError):
            service.rules_for(session, world.site_b, icu)
        with pytest.raises(WindowScopeNotFoundError):
            service.rules_for(session, 999_999)
    assert (
        site_rules
        == rad_rules
        == [WindowRule("Europe/Berlin", datetime(2026, 1, 3, 2), WEEKEND, 4 * H)]
    )
    assert icu_rules == [
        WindowRule("Europe/Berlin", datetime(2026, 1, 6, 3), "FREQ=WEEKLY;BYDAY=TU", 2 * H)
    ]
    christmas = blackout_from_local("Europe/Berlin", date(2026, 12, 24), date(2026, 12, 26), "x")
    assert [(b.start, b.end, b.reason) for b in site_blackouts] == [
        (christmas.start, christmas.end, "Christmas")
    ]
    assert icu_blackouts == site_blackouts
    with transaction(runtime.sessions) as session:
        detail = service.upcoming_detail(
            session,
            world.biomed_a,
            site_id=world.site_a,
            department_id=icu,
            count=2,
            after=datetime(2026, 12, 20, tzinfo=UTC),
        )
        assert [w.id for w in detail.windows] == [icu_window.id]
        assert [o.start for o in detail.openings] == [
            datetime(2026, 12, 22, 2, tzinfo=UTC),
            datetime(2026, 12, 29, 2, tzinfo=UTC),
        ]


def test_a_hospital_wide_blackout_is_read_in_each_sites_zone(
    runtime: Runtime, world: World
) -> None:
    second = _site(runtime, world, world.hospital_a, "Boston Annex", "America/New_York")
    with transaction(runtime.sessions) as session:
        blackout = service.add_blackout(
            session,
            runtime.audit,
            world.admin_a,
            first_day=date(2026, 12, 24),
            last_day=date(2026, 12, 24),
            reason="Christmas Eve",
        )
        assert (blackout.org_id, blackout.site_id) == (world.hospital_a, None)
        found = service.rules_by_site(session, [world.site_a, second, world.site_b, 424_242])
        listed = service.list_blackouts(session, world.biomed_a, site_id=second)
        assert [b.id for b in listed] == [blackout.id]
    assert set(found) == {world.site_a, second, world.site_b}
    [berlin] = found[world.site_a][1]
    [boston] = found[second][1]
    assert found[world.site_b] == ([], [])
    assert (berlin.start, berlin.end) == (
        datetime(2026, 12, 23, 23, tzinfo=UTC),
        datetime(2026, 12, 24, 23, tzinfo=UTC),
    )
    assert (boston.start, boston.end) == (
        datetime(2026, 12, 24, 5, tzinfo=UTC),
        datetime(2026, 12, 25, 5, tzinfo=UTC),
    )
    [event_doc] = _events(runtime, "blackout.")
    assert event_doc["payload"]["site_id"] is None
    with transaction(runtime.sessions) as session:
        service.remove_blackout(session, runtime.audit, world.biomed_a, blackout.id)
    assert _events(runtime, "blackout.")[-1]["action"] == "blackout.removed"


def test_upcoming_starts_with_the_open_window_and_skips_blackouts(
    runtime: Runtime, world: World, clock: FrozenClock
) -> None:
    _add(runtime, world.biomed_a, world.site_a)
    with transaction(runtime.sessions) as session:
        service.add_blackout(
            session,
            runtime.audit,
            world.biomed_a,
            first_day=date(2026, 1, 18),
            last_day=date(2026, 1, 18),
            reason="inventory",
            site_id=world.site_a,
        )
    clock.advance(timedelta(days=2, hours=-7))  # Saturday 2026-01-17 02:00 UTC, 03:00 Berlin
    with transaction(runtime.sessions) as session:
        found = service.upcoming(
            session, world.admin, site_id=world.site_a, count=3, after=clock.now()
        )
        with pytest.raises(InvalidWindowError, match="count"):
            service.upcoming(session, world.admin, site_id=world.site_a, count=0)
    assert [o.start for o in found] == [
        datetime(2026, 1, 17, 1, tzinfo=UTC),  # open now
        datetime(2026, 1, 24, 1, tzinfo=UTC),  # Sunday the 18th is blacked out
        datetime(2026, 1, 25, 1, tzinfo=UTC),
    ]


def test_resolving_sites_by_name_or_id(runtime: Runtime, world: World) -> None:
    _site(runtime, world, world.hospital_b, "Main Campus", "America/Chicago")
    with transaction(runtime.sessions) as session:
        assert resolve_site(session, world.biomed_a, "Main Campus").id == world.site_a
        assert resolve_site(session, world.biomed_a, str(world.site_a)).id == world.site_a
        with pytest.raises(InvalidWindowError, match="several sites"):
            resolve_site(session, world.admin, "Main Campus")
        assert resolve_hospital(session, world.admin, "St. Anna Hospital").id == world.hospital_a
        with pytest.raises(WindowScopeNotFoundError):
            resolve_hospital(session, world.admin, str(world.admin.org_id))  # not a hospital


def test_rules_by_site_reads_thousands_of_sites_in_few_queries(
    runtime: Runtime, world: World
) -> None:
    _add(runtime, world.biomed_a, world.site_a)
    _add(runtime, world.biomed_a, world.site_a, name="Nights", rrule="FREQ=DAILY", duration=H)
    with transaction(runtime.sessions) as session:
        service.add_blackout(
            session,
            runtime.audit,
            world.biomed_a,
            first_day=date(2026, 12, 24),
            last_day=date(2026, 12, 24),
            reason="x",
        )
    statements: list[str] = []

    def count_statement(*args: Any) -> None:
        statements.append(str(args[2]))

    ids = [world.site_a, world.site_b, *range(10_000, 10_998)]  # a thousand ids
    event.listen(runtime.db, "before_cursor_execute", count_statement)
    try:
        with transaction(runtime.sessions) as session:
            statements.clear()
            found = service.rules_by_site(session, ids)
            queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    finally:
        event.remove(runtime.db, "before_cursor_execute", count_statement)
    assert len(queries) == 2
    assert [r.rrule for r in found[world.site_a][0]] == [WEEKEND, "FREQ=DAILY"]
    assert len(found[world.site_a][1]) == 1
    assert found[world.site_b] == ([], [])
    with transaction(runtime.sessions) as session:
        assert service.rules_by_department(session, [123_456]) == {}
