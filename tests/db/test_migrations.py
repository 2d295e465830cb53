"""The Alembic migrations and the SQLAlchemy models describe the same schema (no drift)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from medfleet.db.migrate import current_revision, head_revision, upgrade
from medfleet.db.tables import metadata
from medfleet.runtime import Runtime


def test_migrated_schema_matches_models(runtime: Runtime) -> None:
    with runtime.db.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []


def test_database_is_at_head_and_upgrade_is_idempotent(runtime: Runtime) -> None:
    assert current_revision(runtime.db) == head_revision(runtime.db)
    upgrade(runtime.db)
    assert current_revision(runtime.db) == head_revision(runtime.db)


def test_every_model_table_exists(runtime: Runtime) -> None:
    existing = set(inspect(runtime.db).get_table_names())
    assert set(metadata.tables) <= existing
