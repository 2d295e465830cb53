"""Install attempts and downtime from the devices' signed reports, on SQLite and PostgreSQL.

Reports are signed with the agent's own code and go through the server's real intake
(``tests.fleet.downtime_support``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from medfleet.audit.tables import AuditEventRow
from medfleet.db.engine import transaction
from medfleet.fleet import inventory
from medfleet.fleet.downtime import (
    InvalidReportPeriodError,
    attempts_in_scope,
    check_period,
    downtime_seconds,
)
from medfleet.fleet.downtime_tables import InstallAttempt
from medfleet.fleet.errors import PlaceNotFoundError, ReportNotTrustedError
from medfleet.fleet.history import latest_version
from medfleet.fleet.tables import Device
from medfleet.runtime import Runtime
from medfleet.signing.distribution import Distribution
from tests.builders import World, build_world
from tests.fleet.downtime_support import T0, Dev, document, enrolled, install, send


@pytest.fixture
def world(runtime: Runtime, distribution: Distribution) -> World:
    return build_world(runtime)


@pytest.fixture
def dev(runtime: Runtime, world: World) -> Dev:
    return enrolled(runtime, world, "SN-1", site_id=world.site_a)


def attempts(rt: Runtime) -> list[InstallAttempt]:
    with transaction(rt.sessions) as session:
        rows = list(session.scalars(select(InstallAttempt).order_by(InstallAttempt.id)))
        session.expunge_all()
        return rows


def device_row(rt: Runtime, dev: Dev) -> Device:
    with transaction(rt.sessions) as session:
        device = session.scalars(select(Device).where(Device.device_id == dev.device_id)).one()
        session.expunge(device)
        return device


def events(rt: Runtime, action: str) -> list[dict[str, object]]:
    with transaction(rt.sessions) as session:
        rows = session.scalars(
            select(AuditEventRow).where(AuditEventRow.action == action).order_by(AuditEventRow.seq)
        )
        return [dict(json.loads(row.doc)["payload"]) for row in rows]


def test_a_committed_install_is_recorded_with_its_downtime_and_placement(
    runtime: Runtime, world: World, dev: Dev
) -> None:
    send(runtime, dev, document(dev))  # attests 4.2.0
    install(runtime, dev, left=T0, minutes=7.5, detail="version 4.3.0 passed its self-test")

    (attempt,) = attempts(runtime)
    assert (attempt.org_id, attempt.site_id, attempt.department_id) == (
        world.hospital_a,
        world.site_a,
        None,
    )
    assert (attempt.model, attempt.hardware_revision) == ("IP-100", "B")
    assert (attempt.target_path, attempt.target_version, attempt.target_version_number) == (
        "IP-100/ip100-4.3.0.img",
        "4.3.0",
        430,
    )
    assert (attempt.from_version, attempt.from_version_number) == ("4.2.0", 420)
    assert (attempt.outcome, attempt.detail) == ("committed", "version 4.3.0 passed its self-test")
    assert attempt.left_service_at == T0
    assert attempt.returned_to_service_at == T0 + timedelta(minutes=7, seconds=30)
    assert attempt.downtime_seconds == 450
    assert attempt.report_seq == 2
    assert attempt.reported_at == T0 + timedelta(minutes=7, seconds=35)
    assert attempt.received_at == runtime.clock.now()
    (event,) = events(runtime, "device.install_finished")
    assert event["outcome"] == "committed"
    assert event["downtime_seconds"] == 450
    assert event["to_version"] == "4.3.0"
    device = device_row(runtime, dev)
    assert (device.installed_version, device.installed_version_number) == ("4.3.0", 430)


def test_the_report_updates_clinical_use_and_the_version_history(
    runtime: Runtime, dev: Dev
) -> None:
    send(runtime, dev, document(dev, in_use=True, at=T0))
    device = device_row(runtime, dev)
    assert (device.in_clinical_use, device.clinical_use_reported_at) == (True, T0)

    send(runtime, dev, document(dev, in_use=None, at=T0 + timedelta(hours=1)))  # older agent
    assert device_row(runtime, dev).in_clinical_use is True  # it said nothing about use

    install(runtime, dev)
    device = device_row(runtime, dev)
    assert device.in_clinical_use is False
    with transaction(runtime.sessions) as session:
        latest = latest_version(session, session.merge(device))
        assert latest is not None
        assert (latest.version, latest.report_seq) == ("4.3.0", 3)


@pytest.mark.parametrize(
    "report",
    [
        {"outcome": "deferred", "phase": "downloaded", "detail": "waiting for the window"},
        {"outcome": "in_progress", "phase": "downloading"},
        {"outcome": "failed", "target": None, "detail": "rejected anti-rollback: 300 <= 420"},
        {"outcome": None},
        {"outcome": None, "target": None},
    ],
    ids=["deferred", "in-progress", "rejection", "status", "attestation"],
)
def test_reports_that_finish_no_install_record_none(
    runtime: Runtime, dev: Dev, report: dict[str, object]
) -> None:
    send(runtime, dev, document(dev, **report))  # type: ignore[arg-type]
    assert attempts(runtime) == []
    assert events(runtime, "device.install_finished") == []


def test_failed_and_rolled_back_attempts_count_as_installs(runtime: Runtime, dev: Dev) -> None:
    install(runtime, dev, "failed", detail="downloaded artifact does not match")
    install(runtime, dev, "rolled_back", minutes=3, detail="self-test failed")

    failed, rolled_back = attempts(runtime)
    assert (failed.outcome, failed.left_service_at, failed.downtime_seconds) == (
        "failed",
        None,
        None,
    )
    assert (rolled_back.outcome, rolled_back.downtime_seconds) == ("rolled_back", 180)
    assert failed.from_version is None  # its first report: nothing attested before
    assert rolled_back.from_version == "4.2.0"
    assert device_row(runtime, dev).installed_version == "4.2.0"


def test_the_same_finished_attempt_stated_twice_is_recorded_once(
    runtime: Runtime, dev: Dev
) -> None:
    install(runtime, dev, left=T0, minutes=5)
    # The agent crashed after queueing the report and before remembering it: it queues the
    # same statement again under the next sequence number.
    install(runtime, dev, left=T0, minutes=5)
    assert send(runtime, dev, dev.sent[-1]).duplicate  # and an exact resend is acknowledged

    assert [a.report_seq for a in attempts(runtime)] == [1]
    install(runtime, dev, left=T0 + timedelta(days=7), minutes=5)  # a later attempt is new
    assert [a.report_seq for a in attempts(runtime)] == [1, 3]


def test_an_attempt_keeps_the_site_the_device_stood_at(
    runtime: Runtime, world: World, dev: Dev
) -> None:
    install(runtime, dev)
    with transaction(runtime.sessions) as session:
        inventory.update_device(session, runtime.audit, world.admin, dev.device_id, site_id=None)
    install(runtime, dev, left=T0 + timedelta(days=1), target=("4.4.0", 440))

    assert [a.site_id for a in attempts(runtime)] == [world.site_a, None]


def test_a_replayed_or_forged_report_records_no_attempt(runtime: Runtime, dev: Dev) -> None:
    first = document(dev, outcome="committed", left=T0, minutes=5)
    send(runtime, dev, first)
    forged = first.replace(b'"committed"', b'"rolled_back"')
    with pytest.raises(ReportNotTrustedError, match="does not verify"):
        send(runtime, dev, forged)
    assert [a.outcome for a in attempts(runtime)] == ["committed"]


def test_a_hospital_sees_only_its_own_attempts(runtime: Runtime, world: World, dev: Dev) -> None:
    other = enrolled(runtime, world, "SN-B", org_id=world.hospital_b, site_id=world.site_b)
    install(runtime, dev, left=T0)
    install(runtime, other, left=T0 + timedelta(days=2))

    with transaction(runtime.sessions) as session:
        for principal, seen in (
            (world.biomed_a, [world.hospital_a]),
            (world.admin_b, [world.hospital_b]),
            (world.admin, [world.hospital_a, world.hospital_b]),
            (world.auditor, [world.hospital_a, world.hospital_b]),
        ):
            assert [a.org_id for a in attempts_in_scope(session, principal)] == seen
        only_b = attempts_in_scope(session, world.admin, hospital_id=world.hospital_b)
        assert [a.org_id for a in only_b] == [world.hospital_b]
        with pytest.raises(PlaceNotFoundError):
            attempts_in_scope(session, world.biomed_a, hospital_id=world.hospital_b)
        with pytest.raises(PlaceNotFoundError):
            attempts_in_scope(session, world.admin, hospital_id=world.admin.org_id)


def test_the_period_is_the_reported_time_start_included_end_excluded(
    runtime: Runtime, world: World, dev: Dev
) -> None:
    install(runtime, dev, left=T0, minutes=5)  # reported at T0 + 5 min 5 s
    reported = T0 + timedelta(minutes=5, seconds=5)
    with transaction(runtime.sessions) as session:

        def seen(since: datetime | None, until: datetime | None) -> int:
            return len(attempts_in_scope(session, world.admin, since=since, until=until))

        assert seen(reported, None) == 1
        assert seen(None, reported) == 0
        assert seen(None, reported + timedelta(microseconds=1)) == 1
        assert seen(reported + timedelta(microseconds=1), None) == 0


@pytest.mark.parametrize(
    ("since", "until"),
    [
        (T0, T0),
        (T0, T0 - timedelta(days=1)),
        (datetime(2026, 3, 1), None),
        (None, datetime(2026, 3, 1)),
    ],
)
def test_an_empty_or_naive_period_is_refused(
    since: datetime | None, until: datetime | None
) -> None:
    with pytest.raises(InvalidReportPeriodError):
        check_period(since, until)


@given(
    st.datetimes(timezones=st.just(UTC)),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
)
def test_downtime_is_whole_seconds_never_negative(left: datetime, length: timedelta) -> None:
    try:
        returned = left + length
    except OverflowError:
        return
    seconds = downtime_seconds(left, returned)
    assert seconds is not None
    assert abs(seconds - length.total_seconds()) <= 0.5
    assert downtime_seconds(returned, left) == 0
    assert downtime_seconds(left, None) is None
    assert downtime_seconds(None, returned) is None
