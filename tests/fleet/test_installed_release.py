"""``device.installed_release_pk`` is kept by the database for every writer (migration 0015).

On both backends: a device is linked to the release record of its model and installed version
when it is registered or its version changes (through the ORM or a bulk ``UPDATE``), is
unlinked from a version medfleet has no record of, is linked when that release is recorded
later, and of two organizations' releases of one model and version gets the one made by the
organization whose catalogue holds the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind
from medfleet.accounts.tables import Organization
from medfleet.db.engine import transaction
from medfleet.fleet import enrollment
from medfleet.fleet.tables import Device
from medfleet.releases.tables import Release
from medfleet.runtime import Runtime
from tests.builders import World, build_world
from tests.vulns.support_rows import release_row


@dataclass
class Fleet:
    world: World
    releases: dict[str, int]  # version -> release pk of IP-100


@pytest.fixture
def fleet(runtime: Runtime) -> Fleet:
    world = build_world(runtime)
    now = runtime.clock.now()
    with transaction(runtime.sessions) as session:
        releases = {
            version: release_row(session, world, "IP-100", version, number, now).id
            for version, number in (("4.1.0", 410), ("4.2.0", 420))
        }
    return Fleet(world, releases)


def register(session: Session, runtime: Runtime, world: World, serial: str) -> Device:
    return enrollment.register_device(
        session,
        runtime.audit,
        world.admin,
        org_id=world.hospital_a,
        model="IP-100",
        hardware_revision="B",
        serial=serial,
    ).device


def linked(runtime: Runtime, serial: str) -> int | None:
    with transaction(runtime.sessions) as session:
        return session.scalar(select(Device.installed_release_pk).where(Device.serial == serial))


def test_a_version_change_links_the_release_the_device_now_runs(
    runtime: Runtime, fleet: Fleet
) -> None:
    with transaction(runtime.sessions) as session:
        device = register(session, runtime, fleet.world, "SN-1")
        session.flush()
        assert device.installed_release_pk is None
        device.installed_version = "4.1.0"
        session.flush()
        assert device.installed_release_pk == fleet.releases["4.1.0"]  # the ORM sees it
    with transaction(runtime.sessions) as session:
        session.execute(
            update(Device).where(Device.serial == "SN-1").values(installed_version="4.2.0")
        )
    assert linked(runtime, "SN-1") == fleet.releases["4.2.0"]


def test_a_version_without_a_release_record_is_unlinked(runtime: Runtime, fleet: Fleet) -> None:
    with transaction(runtime.sessions) as session:
        register(session, runtime, fleet.world, "SN-2").installed_version = "4.1.0"
    with transaction(runtime.sessions) as session:
        session.execute(
            update(Device).where(Device.serial == "SN-2").values(installed_version="9.9.9")
        )
    assert linked(runtime, "SN-2") is None


def test_a_release_recorded_later_links_the_devices_already_running_it(
    runtime: Runtime, fleet: Fleet
) -> None:
    with transaction(runtime.sessions) as session:
        register(session, runtime, fleet.world, "SN-3").installed_version = "4.3.0"
        register(session, runtime, fleet.world, "SN-4").installed_version = "4.1.0"
    assert linked(runtime, "SN-3") is None
    with transaction(runtime.sessions) as session:
        late = release_row(session, fleet.world, "IP-100", "4.3.0", 430, runtime.clock.now()).id
    assert linked(runtime, "SN-3") == late
    assert linked(runtime, "SN-4") == fleet.releases["4.1.0"]


def test_a_release_deleted_or_renamed_unlinks_its_devices(runtime: Runtime, fleet: Fleet) -> None:
    with transaction(runtime.sessions) as session:
        register(session, runtime, fleet.world, "SN-5").installed_version = "4.2.0"
        register(session, runtime, fleet.world, "SN-6").installed_version = "4.1.0"
    with transaction(runtime.sessions) as session:
        session.execute(delete(Release).where(Release.id == fleet.releases["4.2.0"]))
        session.execute(
            update(Release).where(Release.id == fleet.releases["4.1.0"]).values(version="4.1.1")
        )
    assert linked(runtime, "SN-5") is None
    assert linked(runtime, "SN-6") is None


def test_the_catalogue_owner_s_release_wins_over_another_organization_s(
    runtime: Runtime, fleet: Fleet
) -> None:
    with transaction(runtime.sessions) as session:
        other = Organization(
            name="Other Maker", kind=OrgKind.MANUFACTURER, created_at=runtime.clock.now()
        )
        session.add(other)
        session.flush()
        # Made first (the lower id), by an organization that does not own IP-100.
        foreign = release_row(
            session, fleet.world, "IP-100", "5.0.0", 500, runtime.clock.now(), org_id=other.id
        ).id
        register(session, runtime, fleet.world, "SN-7").installed_version = "5.0.0"
    assert linked(runtime, "SN-7") == foreign
    with transaction(runtime.sessions) as session:
        own = release_row(session, fleet.world, "IP-100", "5.0.0", 500, runtime.clock.now()).id
    assert own > foreign
    assert linked(runtime, "SN-7") == own
