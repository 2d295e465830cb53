"""Downtime reports and the CMMS export, on SQLite and PostgreSQL, plus their pure arithmetic.

Install attempts come from signed reports through the real intake
(``tests.fleet.downtime_support``); the numbers are defined in ``medfleet.fleet.downtime_model``.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medfleet.accounts import service as accounts
from medfleet.db.engine import transaction
from medfleet.fleet import catalog
from medfleet.fleet.cmms import CMMS_COLUMNS, FORMULA_STARTS, cmms_csv, safe_cell
from medfleet.fleet.downtime_model import (
    DowntimeRow,
    InvalidReportPeriodError,
    InvalidReportQueryError,
    Tally,
    make_row,
    nearest_rank,
    parse_bound,
)
from medfleet.fleet.downtime_reports import downtime_report
from medfleet.fleet.errors import PlaceNotFoundError
from medfleet.releases import approval
from medfleet.runtime import Runtime
from medfleet.signing.distribution import Distribution
from tests.builders import World, build_world, register_model
from tests.fleet.downtime_support import NEW, T0, Dev, document, enrolled, install, send
from tests.releases.test_release_support import Env, env, ready_for_approval

__all__ = ["env"]


@dataclass
class Fleet:
    """Hospital A: Main Campus (ICU) and East Wing, one device without a site; hospital B:
    North. Installs: a1 committed (10 min), a2 rolled back (4 min), a3 failed, b1 committed
    (30 min), x1 (model XR-7, A's Main Campus) committed (2 min)."""

    rt: Runtime
    world: World
    east: int
    icu: int
    a1: Dev
    a2: Dev
    a3: Dev
    b1: Dev
    x1: Dev


def build_fleet(rt: Runtime, world: World) -> Fleet:
    register_model(rt, world.admin, "XR-7", ("A",))
    with transaction(rt.sessions) as session:
        east = accounts.create_site(
            session, rt.audit, world.admin, world.hospital_a, "East Wing", "Europe/Vienna"
        ).id
        icu = accounts.create_department(session, rt.audit, world.admin, world.site_a, "ICU").id
    a1 = enrolled(rt, world, "A-1", site_id=world.site_a, department_id=icu)
    a2 = enrolled(rt, world, "A-2", site_id=east)
    a3 = enrolled(rt, world, "A-3")
    b1 = enrolled(rt, world, "B-1", org_id=world.hospital_b, site_id=world.site_b)
    x1 = enrolled(rt, world, "X-1", site_id=world.site_a, model="XR-7", revision="A")
    for dev in (a1, a2, a3, b1, x1):
        send(rt, dev, document(dev, at=T0 - timedelta(days=1)))  # attests 4.2.0
    install(rt, a1, minutes=10)
    install(rt, a2, "rolled_back", minutes=4)
    install(rt, a3, "failed")
    install(rt, b1, minutes=30, left=T0 + timedelta(days=3))
    install(rt, x1, minutes=2)
    return Fleet(rt, world, east, icu, a1, a2, a3, b1, x1)


@pytest.fixture
def fleet(runtime: Runtime, distribution: Distribution) -> Fleet:
    return build_fleet(runtime, build_world(runtime))


def report(fleet: Fleet, group_by: str, who: str = "admin", **kw: object) -> list[DowntimeRow]:
    with transaction(fleet.rt.sessions) as session:
        principal = getattr(fleet.world, who)
        return downtime_report(session, principal, group_by=group_by, **kw)  # type: ignore[arg-type]


def numbers(row: DowntimeRow) -> tuple[object, ...]:
    return (
        row.installs,
        row.succeeded,
        row.failed,
        row.rolled_back,
        row.success_rate,
        row.downtime_minutes_total,
        row.downtime_minutes_median,
        row.downtime_minutes_p95,
        row.unsupported_devices,
    )


def test_by_site_with_the_hospital_of_each_site(fleet: Fleet) -> None:
    rows = {(r.hospital, r.label): numbers(r) for r in report(fleet, "site")}
    assert rows == {
        ("Bayview Medical Center", "North"): (1, 1, 0, 0, 1.0, 30.0, 30.0, 30.0, 0),
        ("St. Anna Hospital", "(no site)"): (1, 0, 1, 0, 0.0, 0.0, None, None, 0),
        ("St. Anna Hospital", "East Wing"): (1, 0, 0, 1, 0.0, 4.0, 4.0, 4.0, 0),
        ("St. Anna Hospital", "Main Campus"): (2, 2, 0, 0, 1.0, 12.0, 6.0, 10.0, 0),
    }


def test_by_hospital_model_and_release(fleet: Fleet) -> None:
    by_hospital = {r.label: numbers(r)[:6] for r in report(fleet, "hospital")}
    assert by_hospital == {
        "Bayview Medical Center": (1, 1, 0, 0, 1.0, 30.0),
        "St. Anna Hospital": (4, 2, 1, 1, 0.5, 16.0),
    }
    by_model = {r.key: numbers(r)[:6] for r in report(fleet, "model")}
    assert by_model == {"IP-100": (4, 2, 1, 1, 0.5, 44.0), "XR-7": (1, 1, 0, 0, 1.0, 2.0)}
    by_release = {r.label: (r.key, r.installs) for r in report(fleet, "release")}
    assert by_release == {
        "IP-100 4.2.0": ("IP-100@420", 0),  # what a2 and a3 still run
        "IP-100 4.3.0": ("IP-100@430", 4),
        "XR-7 4.3.0": ("XR-7@430", 1),
    }


def test_a_hospital_sees_only_its_own_rows(fleet: Fleet) -> None:
    for who in ("biomed_a", "admin_a"):
        for group_by in ("hospital", "site", "model", "release"):
            rows = report(fleet, group_by, who)
            assert rows
            assert "Bayview Medical Center" not in {r.hospital for r in rows}
            assert "North" not in {r.label for r in rows}
            assert sum(r.installs for r in rows) == 5 - 1  # B's install is not counted
    with pytest.raises(PlaceNotFoundError):
        report(fleet, "site", "biomed_a", hospital_id=fleet.world.hospital_b)
    only_b = report(fleet, "site", "admin", hospital_id=fleet.world.hospital_b)
    assert [r.label for r in only_b] == ["North"]


def test_the_period_narrows_the_installs_not_the_fleet(fleet: Fleet) -> None:
    rows = report(fleet, "hospital", since=T0 + timedelta(days=1))
    assert {r.label: r.installs for r in rows} == {
        "Bayview Medical Center": 1,
        "St. Anna Hospital": 0,  # its devices are still listed
    }
    with pytest.raises(InvalidReportPeriodError):
        report(fleet, "hospital", since=T0, until=T0)
    with pytest.raises(InvalidReportQueryError):
        report(fleet, "department")


def test_devices_below_the_supported_version_are_counted(fleet: Fleet) -> None:
    with transaction(fleet.rt.sessions) as session:
        catalog.set_supported_from(session, fleet.rt.audit, fleet.world.admin, "IP-100", 430)
    by_site = {r.label: r.unsupported_devices for r in report(fleet, "site")}
    assert by_site == {"North": 0, "(no site)": 1, "East Wing": 1, "Main Campus": 0}
    by_release = {r.label: r.unsupported_devices for r in report(fleet, "release")}
    assert by_release == {"IP-100 4.2.0": 2, "IP-100 4.3.0": 0, "XR-7 4.3.0": 0}


def test_devices_on_a_withdrawn_release_are_counted(env: Env) -> None:
    ready_for_approval(env, "4.3.0", 430)
    with transaction(env.rt.sessions) as session:
        approval.withdraw(session, env.rt.audit, env.world.qa, "IP-100", "4.3.0", "bad build")
    a1 = enrolled(env.rt, env.world, "A-1", site_id=env.world.site_a)
    a2 = enrolled(env.rt, env.world, "A-2", site_id=env.world.site_a)
    install(env.rt, a1, minutes=10)
    send(env.rt, a2, document(a2))  # still on 4.2.0
    with transaction(env.rt.sessions) as session:
        rows = downtime_report(session, env.world.biomed_a, group_by="site")
    assert [(r.label, r.installs, r.unsupported_devices) for r in rows] == [("Main Campus", 1, 1)]


def test_the_cmms_export_has_one_work_order_per_install(fleet: Fleet) -> None:
    with transaction(fleet.rt.sessions) as session:
        text = cmms_csv(session, fleet.world.admin)
    assert text.endswith("\r\n")
    header, *rows = list(csv.reader(io.StringIO(text, newline="")))
    assert tuple(header) == CMMS_COLUMNS
    records = [dict(zip(header, row, strict=True)) for row in rows]
    # Oldest report first: A-3 failed at once, X-1, A-2 and A-1 came back after 2, 4, 10 min.
    assert [r["device_serial"] for r in records] == ["A-3", "X-1", "A-2", "A-1", "B-1"]
    first = records[3]
    assert first["work_order_id"].startswith("MF-")
    assert len({r["work_order_id"] for r in records}) == 5
    assert (first["hospital"], first["site"], first["department"]) == (
        "St. Anna Hospital",
        "Main Campus",
        "ICU",
    )
    assert (first["from_version"], first["to_version"], first["outcome"]) == (
        "4.2.0",
        "4.3.0",
        "committed",
    )
    assert (first["started_utc"], first["completed_utc"]) == (
        "2026-03-07T07:00:00Z",
        "2026-03-07T07:10:00Z",
    )
    assert (first["downtime_minutes"], first["site_timezone"]) == ("10.00", "Europe/Berlin")
    failed = records[0]
    assert (failed["outcome"], failed["started_utc"], failed["downtime_minutes"]) == (
        "failed",
        "",
        "",
    )
    assert (failed["site"], failed["site_timezone"]) == ("", "")
    with transaction(fleet.rt.sessions) as session:
        again = cmms_csv(session, fleet.world.admin)
        own = cmms_csv(session, fleet.world.biomed_a)
        later = cmms_csv(session, fleet.world.admin, since=T0 + timedelta(days=1))
    assert again == text  # stable ids: a re-import updates the same work orders
    assert "B-1" not in own
    assert "Bayview" not in own
    assert len(own.splitlines()) == 1 + 4
    assert [line.split(",")[5] for line in later.splitlines()[1:]] == ["B-1"]


def test_device_words_cannot_inject_formulas_or_break_the_csv(
    runtime: Runtime, distribution: Distribution
) -> None:
    world = build_world(runtime)
    dev = enrolled(runtime, world, "A-9")
    nasty = '=HYPERLINK("http://evil.example","fix, me")\r\nsecond line "quoted"'
    install(runtime, dev, "rolled_back", minutes=1, detail=nasty)
    with transaction(runtime.sessions) as session:
        text = cmms_csv(session, world.admin)
    _, row = list(csv.reader(io.StringIO(text, newline="")))
    assert row[-1] == "'" + nasty
    assert row[CMMS_COLUMNS.index("to_version")] == NEW[0]


@given(st.text(max_size=30))
def test_safe_cells_never_start_a_formula(value: str) -> None:
    cell = safe_cell(value)
    assert not cell.startswith(FORMULA_STARTS)
    assert cell in (value, "'" + value)


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=200), st.integers(1, 100))
def test_nearest_rank_is_the_smallest_value_covering_the_percentage(
    values: list[int], percent: int
) -> None:
    result = nearest_rank(values, percent)
    assert result in values
    n = len(values)
    assert sum(v <= result for v in values) * 100 >= percent * n
    assert sum(v < result for v in values) * 100 < percent * n


def test_p95_and_median_by_example() -> None:
    assert nearest_rank([], 95) is None
    assert nearest_rank([7], 95) == 7
    twenty = list(range(1, 21))
    assert nearest_rank(twenty, 95) == 19  # ceil(0.95 * 20) = 19th
    assert nearest_rank([*twenty, 21], 95) == 20  # ceil(0.95 * 21) = 20th
    assert nearest_rank(twenty, 100) == 20
    tally = Tally()
    for minutes in twenty:
        tally = tally.add("committed", minutes * 60)
    row = make_row("model", "IP-100", "IP-100", None, tally.add("failed", None), 0)
    assert (row.installs, row.succeeded, row.success_rate) == (21, 20, round(20 / 21, 4))
    assert (row.downtime_minutes_total, row.downtime_minutes_median) == (210.0, 10.5)
    assert row.downtime_minutes_p95 == 19.0


def test_period_bounds() -> None:
    assert parse_bound("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_bound("2026-03-31", end=True) == datetime(2026, 4, 1, tzinfo=UTC)
    assert parse_bound(" 2026-03-07T08:30+01:00 ") == datetime(2026, 3, 7, 7, 30, tzinfo=UTC)
    assert parse_bound("2026-03-07T07:30:00Z", end=True) == datetime(2026, 3, 7, 7, 30, tzinfo=UTC)
    for bad in ("2026-03-07T07:30", "March", "2026-13-01", ""):
        with pytest.raises(InvalidReportPeriodError):
            parse_bound(bad)


@given(
    st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(2999, 12, 30)),
    st.integers(-14 * 60, 14 * 60),
)
def test_any_instant_with_an_offset_is_read_back_exactly(moment: datetime, minutes: int) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=minutes)))
    assert parse_bound(aware.isoformat()) == aware
    assert parse_bound(aware.isoformat()).tzinfo is UTC
    assert not math.isnan(aware.timestamp())
