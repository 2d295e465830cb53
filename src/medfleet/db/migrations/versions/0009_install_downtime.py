"""install downtime records

One row per finished install attempt a device reported (``medfleet.fleet.downtime_tables``):
outcome, versions before and after, placement at the time, and when the attempt took the
device out of clinical service and back.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import medfleet.db.base

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "install_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_pk", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("hardware_revision", sa.String(length=64), nullable=False),
        sa.Column("target_path", sa.Text(), nullable=False),
        sa.Column("target_sha256", sa.String(length=64), nullable=False),
        sa.Column("target_version", sa.Text(), nullable=False),
        sa.Column("target_version_number", sa.BigInteger(), nullable=False),
        sa.Column("from_version", sa.String(length=64), nullable=True),
        sa.Column("from_version_number", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("left_service_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "returned_to_service_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("downtime_seconds", sa.Integer(), nullable=True),
        sa.Column("report_seq", sa.BigInteger(), nullable=False),
        sa.Column("reported_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_install_attempt_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["device_pk"], ["device.id"], name=op.f("fk_install_attempt_device_pk_device")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_install_attempt_org_id_organization")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_install_attempt_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_install_attempt")),
        sa.UniqueConstraint(
            "device_pk", "report_seq", name=op.f("uq_install_attempt_device_pk_report_seq")
        ),
    )
    op.create_index(
        op.f("ix_install_attempt_device_pk"), "install_attempt", ["device_pk"], unique=False
    )
    op.create_index(op.f("ix_install_attempt_org_id"), "install_attempt", ["org_id"], unique=False)
    op.create_index(
        op.f("ix_install_attempt_reported_at"), "install_attempt", ["reported_at"], unique=False
    )
    op.create_index(
        op.f("ix_install_attempt_site_id"), "install_attempt", ["site_id"], unique=False
    )


def downgrade() -> None:
    for column in ("site_id", "reported_at", "org_id", "device_pk"):
        op.drop_index(op.f(f"ix_install_attempt_{column}"), table_name="install_attempt")
    op.drop_table("install_attempt")
