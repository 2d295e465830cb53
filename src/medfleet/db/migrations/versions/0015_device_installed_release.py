"""Devices point at the release record of the version they run, kept by the database

``device.installed_release_pk`` is derived from ``(model, installed_version)``: the release
record of that model and version (the one made by the organization whose catalogue holds the
model, if more than one organization made one), or NULL when medfleet has no record of it.
Triggers keep it true for every writer (report intake, imports, tests, bulk loads): on a
device's insert and on a change of its model or installed version, and on the insert, update
or delete of a release record. Exposure counts devices per release and per hospital and site
from one index on it (``medfleet.vulns.exposure_devices``), which replaces the index on
``(model, installed_version)``. PostgreSQL also gets statistics on (hospital, site), so that it
hashes those groups in memory.

SQLite: Alembic's batch mode rebuilds a table and drops its triggers, so a later migration that
alters ``device`` or ``release_record`` in batch mode must create them again
(``tests/fleet/test_installed_release.py`` fails if they are gone).

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-22 02:40:00
"""

# ruff: noqa: S608 - the trigger SQL is assembled from this module's constants, never from input

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def _release_of(model: str, version: str) -> str:
    """SQL for the release record a device of ``model`` running ``version`` runs."""
    return f"""(
        SELECT r.id FROM release_record r
        LEFT JOIN device_model m ON m.name = r.model
        WHERE r.model = {model} AND r.version = {version}
        ORDER BY CASE WHEN m.org_id = r.org_id THEN 0 ELSE 1 END, r.id
        LIMIT 1
    )"""


_POSTGRESQL = [
    f"""
    CREATE FUNCTION device_link_installed_release() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.installed_release_pk := {_release_of("NEW.model", "NEW.installed_version")};
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER device_link_installed_release
    BEFORE INSERT OR UPDATE OF model, installed_version ON device
    FOR EACH ROW EXECUTE FUNCTION device_link_installed_release()
    """,
    # Setting installed_version to itself fires the device trigger, the one place that links.
    """
    CREATE FUNCTION release_relink_devices() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE device SET installed_version = installed_version
            WHERE model = OLD.model AND installed_version = OLD.version;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            UPDATE device SET installed_version = installed_version
            WHERE model = NEW.model AND installed_version = NEW.version;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER release_relink_devices
    AFTER INSERT OR DELETE OR UPDATE OF model, version ON release_record
    FOR EACH ROW EXECUTE FUNCTION release_relink_devices()
    """,
    # A site belongs to one hospital: without this the planner multiplies the two columns'
    # distinct counts, expects far more (hospital, site) groups than exist, and sorts them on
    # disk instead of hashing them in memory.
    "CREATE STATISTICS device_org_site_ndistinct (ndistinct) ON org_id, site_id FROM device",
]

_LINKED = _release_of("device.model", "device.installed_version")

_RELINK_SQLITE = f"""
    UPDATE device SET installed_release_pk = {_LINKED}
    WHERE model = {{row}}.model AND installed_version = {{row}}.version;
"""

_LINK_NEW_SQLITE = f"""
    UPDATE device SET installed_release_pk = {_release_of("NEW.model", "NEW.installed_version")}
    WHERE id = NEW.id;
"""

_SQLITE = [
    f"""
    CREATE TRIGGER device_link_installed_release_on_insert AFTER INSERT ON device BEGIN
        {_LINK_NEW_SQLITE}
    END
    """,
    f"""
    CREATE TRIGGER device_link_installed_release_on_update
    AFTER UPDATE OF model, installed_version ON device BEGIN
        {_LINK_NEW_SQLITE}
    END
    """,
    f"""
    CREATE TRIGGER release_relink_devices_on_insert AFTER INSERT ON release_record BEGIN
        {_RELINK_SQLITE.format(row="NEW")}
    END
    """,
    f"""
    CREATE TRIGGER release_relink_devices_on_update
    AFTER UPDATE OF model, version ON release_record BEGIN
        {_RELINK_SQLITE.format(row="OLD")}
        {_RELINK_SQLITE.format(row="NEW")}
    END
    """,
    f"""
    CREATE TRIGGER release_relink_devices_on_delete AFTER DELETE ON release_record BEGIN
        {_RELINK_SQLITE.format(row="OLD")}
    END
    """,
]

_DROP = {
    "postgresql": [
        "DROP STATISTICS IF EXISTS device_org_site_ndistinct",
        "DROP TRIGGER IF EXISTS release_relink_devices ON release_record",
        "DROP FUNCTION IF EXISTS release_relink_devices()",
        "DROP TRIGGER IF EXISTS device_link_installed_release ON device",
        "DROP FUNCTION IF EXISTS device_link_installed_release()",
    ],
    "sqlite": [
        "DROP TRIGGER IF EXISTS release_relink_devices_on_delete",
        "DROP TRIGGER IF EXISTS release_relink_devices_on_update",
        "DROP TRIGGER IF EXISTS release_relink_devices_on_insert",
        "DROP TRIGGER IF EXISTS device_link_installed_release_on_update",
        "DROP TRIGGER IF EXISTS device_link_installed_release_on_insert",
    ],
}


def upgrade() -> None:
    with op.batch_alter_table("release_record") as batch:
        batch.create_index("ix_release_record_model_version", ["model", "version"])
    with op.batch_alter_table("device") as batch:
        batch.add_column(sa.Column("installed_release_pk", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_device_installed_release_pk_release_record",
            "release_record",
            ["installed_release_pk"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.drop_index("ix_device_model_installed_version")
        batch.create_index(
            "ix_device_installed_release_pk",
            ["installed_release_pk"],
            postgresql_include=["org_id", "site_id", "is_test_device"],
        )
    # After the batch steps: on SQLite they rebuild the tables, which would drop the triggers.
    dialect = op.get_bind().dialect.name
    for statement in _POSTGRESQL if dialect == "postgresql" else _SQLITE:
        op.execute(statement)
    op.execute(f"UPDATE device SET installed_release_pk = {_LINKED}")


def downgrade() -> None:
    for statement in _DROP[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table("device") as batch:
        batch.drop_index("ix_device_installed_release_pk")
        batch.create_index(
            "ix_device_model_installed_version",
            ["model", "installed_version"],
            postgresql_include=["org_id", "site_id", "is_test_device"],
        )
        batch.drop_constraint("fk_device_installed_release_pk_release_record", type_="foreignkey")
        batch.drop_column("installed_release_pk")
    with op.batch_alter_table("release_record") as batch:
        batch.drop_index("ix_release_record_model_version")
