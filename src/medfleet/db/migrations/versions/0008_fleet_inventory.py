"""device models, hardware revisions, device inventory fields, version history

Registering a device now needs its model and hardware revision in the catalogue, so the
upgrade enters every model and revision that existing devices already use (owned by the
manufacturer, display name = name, image kind "software", no GTIN); the manufacturer can then
complete the entries. The new device columns are added in place (nullable foreign keys inline,
which SQLite allows without rebuilding the table that reports and install records refer to).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21 20:00:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import medfleet.db.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_DEVICE_COLUMNS = (
    "site_id",
    "department_id",
    "is_test_device",
    "tags",
    "udi_di",
    "udi_hri",
    "udi_lot",
    "udi_manufactured_on",
    "udi_expires_on",
    "in_clinical_use",
    "clinical_use_reported_at",
)


def upgrade() -> None:
    op.create_table(
        "device_model",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("gtin", sa.String(length=14), nullable=True),
        sa.Column("image_kind", sa.String(length=16), nullable=False),
        sa.Column("supported_from_version_number", sa.BigInteger(), nullable=True),
        sa.Column("created_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_device_model_org_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_model")),
        sa.UniqueConstraint("gtin", name=op.f("uq_device_model_gtin")),
        sa.UniqueConstraint("name", name=op.f("uq_device_model_name")),
    )
    op.create_index(op.f("ix_device_model_org_id"), "device_model", ["org_id"], unique=False)
    op.create_table(
        "hardware_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["device_model.id"],
            name=op.f("fk_hardware_revision_model_id_device_model"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hardware_revision")),
        sa.UniqueConstraint("model_id", "name", name=op.f("uq_hardware_revision_model_id_name")),
    )
    op.create_index(
        op.f("ix_hardware_revision_model_id"), "hardware_revision", ["model_id"], unique=False
    )
    op.create_table(
        "device_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_pk", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("version_number", sa.BigInteger(), nullable=True),
        sa.Column("report_seq", sa.BigInteger(), nullable=False),
        sa.Column("reported_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_pk"], ["device.id"], name=op.f("fk_device_version_device_pk_device")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_version")),
        sa.UniqueConstraint(
            "device_pk", "report_seq", name=op.f("uq_device_version_device_pk_report_seq")
        ),
    )
    op.create_index(
        op.f("ix_device_version_device_pk"), "device_version", ["device_pk"], unique=False
    )
    op.add_column(
        "device",
        sa.Column(
            "site_id",
            sa.Integer(),
            sa.ForeignKey("site.id", name=op.f("fk_device_site_id_site")),
            nullable=True,
        ),
        inline_references=True,
    )
    op.add_column(
        "device",
        sa.Column(
            "department_id",
            sa.Integer(),
            sa.ForeignKey("department.id", name=op.f("fk_device_department_id_department")),
            nullable=True,
        ),
        inline_references=True,
    )
    op.add_column(
        "device",
        sa.Column("is_test_device", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "device", sa.Column("tags", sa.JSON(), server_default=sa.text("'[]'"), nullable=False)
    )
    op.add_column("device", sa.Column("udi_di", sa.String(length=14), nullable=True))
    op.add_column("device", sa.Column("udi_hri", sa.String(length=300), nullable=True))
    op.add_column("device", sa.Column("udi_lot", sa.String(length=20), nullable=True))
    op.add_column("device", sa.Column("udi_manufactured_on", sa.Date(), nullable=True))
    op.add_column("device", sa.Column("udi_expires_on", sa.Date(), nullable=True))
    op.add_column("device", sa.Column("in_clinical_use", sa.Boolean(), nullable=True))
    op.add_column(
        "device",
        sa.Column(
            "clinical_use_reported_at",
            medfleet.db.base.UTCDateTime(timezone=True),
            nullable=True,
        ),
    )
    op.create_index(op.f("ix_device_site_id"), "device", ["site_id"], unique=False)
    _catalogue_existing_devices()


def _catalogue_existing_devices() -> None:
    """Enter the models and revisions existing devices use, so none of them is orphaned."""
    connection = op.get_bind()
    organization = sa.table("organization", sa.column("id"), sa.column("kind"))
    device = sa.table("device", sa.column("model"), sa.column("hardware_revision"))
    model_table = sa.table(
        "device_model",
        sa.column("id"),
        sa.column("org_id"),
        sa.column("name"),
        sa.column("display_name"),
        sa.column("gtin"),
        sa.column("image_kind"),
        sa.column("supported_from_version_number"),
        sa.column("created_at", medfleet.db.base.UTCDateTime(timezone=True)),
    )
    revision_table = sa.table(
        "hardware_revision",
        sa.column("model_id"),
        sa.column("name"),
        sa.column("description"),
        sa.column("created_at", medfleet.db.base.UTCDateTime(timezone=True)),
    )
    used = connection.execute(
        sa.select(device.c.model, device.c.hardware_revision)
        .distinct()
        .order_by(device.c.model, device.c.hardware_revision)
    ).all()
    manufacturer = connection.scalar(
        sa.select(organization.c.id).where(organization.c.kind == "manufacturer")
    )
    if not used or manufacturer is None:
        return
    now = datetime.now(UTC)
    model_ids: dict[str, int] = {}
    for model, hardware_revision in used:
        if model not in model_ids:
            connection.execute(
                model_table.insert().values(
                    org_id=manufacturer,
                    name=model,
                    display_name=model,
                    gtin=None,
                    image_kind="software",
                    supported_from_version_number=None,
                    created_at=now,
                )
            )
            model_ids[model] = connection.execute(
                sa.select(model_table.c.id).where(model_table.c.name == model)
            ).scalar_one()
        connection.execute(
            revision_table.insert().values(
                model_id=model_ids[model], name=hardware_revision, description="", created_at=now
            )
        )


def downgrade() -> None:
    """Drop the inventory again (its data is lost).

    On SQLite the device table is rebuilt without the new columns, which SQLite (with foreign
    keys on, as medfleet runs it) refuses while reports or install records refer to devices.
    """
    op.drop_index(op.f("ix_device_version_device_pk"), table_name="device_version")
    op.drop_table("device_version")
    with op.batch_alter_table("device") as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_site_id"))
        for column in _DEVICE_COLUMNS:
            batch_op.drop_column(column)
    op.drop_index(op.f("ix_hardware_revision_model_id"), table_name="hardware_revision")
    op.drop_table("hardware_revision")
    op.drop_index(op.f("ix_device_model_org_id"), table_name="device_model")
    op.drop_table("device_model")
