"""install records (installs recorded by people, e.g. from offline field bundles)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 18:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import medfleet.db.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "device_install_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_pk", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("version_number", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("bundle_sha256", sa.String(length=64), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_pk"], ["device.id"], name=op.f("fk_device_install_record_device_pk_device")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_install_record")),
    )
    op.create_index(
        op.f("ix_device_install_record_device_pk"),
        "device_install_record",
        ["device_pk"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_device_install_record_device_pk"), table_name="device_install_record")
    op.drop_table("device_install_record")
