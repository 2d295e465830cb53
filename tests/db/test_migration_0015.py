"""Migration 0015 links the devices already in the database, and downgrades cleanly.

Runs on a database of its own (``empty_engine``), since it moves the schema down and up again.
"""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from medfleet.accounts.model import OrgKind
from medfleet.accounts.tables import Organization, User
from medfleet.db.migrate import alembic_config, current_revision, head_revision, upgrade
from medfleet.fleet.tables import Device
from medfleet.releases.tables import Release

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def _fleet(engine: Engine) -> int:
    """A release of IP-100 4.1.0 and two devices, one running it; the release's pk."""
    with Session(engine) as session, session.begin():
        maker = Organization(name="Maker", kind=OrgKind.MANUFACTURER, created_at=NOW)
        session.add(maker)
        session.flush()
        author = User(
            org_id=maker.id,
            username="eng",
            full_name="Engineer",
            password_hash="-",
            failed_logins=0,
            active=True,
            created_at=NOW,
        )
        session.add(author)
        session.flush()
        release = Release(
            org_id=maker.id, model="IP-100", version="4.1.0", version_number=410,
            build_id="b", hardware_revisions=["B"], notes_what_changed="",
            notes_risk_summary="", notes_compatibility="", author_id=author.id,
            state="released", created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        session.add(release)
        for serial, version in (("SN-1", "4.1.0"), ("SN-2", "4.0.0")):
            session.add(
                Device(
                    device_id=f"dev-{serial}",
                    org_id=maker.id,
                    model="IP-100",
                    hardware_revision="B",
                    serial=serial,
                    registered_at=NOW,
                    installed_version=version,
                )
            )
        session.flush()
        return release.id


def _links(engine: Engine) -> dict[str, int | None]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT serial, installed_release_pk FROM device"))
        return dict(rows.all())


def test_upgrade_links_existing_devices_and_downgrade_removes_the_link(
    empty_engine: Engine,
) -> None:
    upgrade(empty_engine)
    release_pk = _fleet(empty_engine)
    assert _links(empty_engine) == {"SN-1": release_pk, "SN-2": None}

    command.downgrade(alembic_config(empty_engine), "0014")
    columns = {column["name"] for column in inspect(empty_engine).get_columns("device")}
    assert "installed_release_pk" not in columns
    with empty_engine.begin() as connection:  # without the triggers, nothing is kept any more
        connection.execute(text("UPDATE device SET installed_version = '4.1.0'"))

    upgrade(empty_engine)
    assert current_revision(empty_engine) == head_revision(empty_engine)
    assert _links(empty_engine) == {"SN-1": release_pk, "SN-2": release_pk}
