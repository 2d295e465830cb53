"""maintenance windows and blackout periods

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import medfleet.db.base

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_window",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("start_local", sa.String(length=16), nullable=False),
        sa.Column("rrule", sa.String(length=500), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_maintenance_window_created_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_maintenance_window_department_id_department"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
            name=op.f("fk_maintenance_window_org_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_maintenance_window_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_window")),
    )
    op.create_index(
        op.f("ix_maintenance_window_department_id"),
        "maintenance_window",
        ["department_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_maintenance_window_org_id"), "maintenance_window", ["org_id"], unique=False
    )
    op.create_index(
        op.f("ix_maintenance_window_site_id"), "maintenance_window", ["site_id"], unique=False
    )
    op.create_table(
        "blackout_period",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user_account.id"],
            name=op.f("fk_blackout_period_created_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_blackout_period_org_id_organization")
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["site.id"], name=op.f("fk_blackout_period_site_id_site")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blackout_period")),
    )
    op.create_index(op.f("ix_blackout_period_org_id"), "blackout_period", ["org_id"], unique=False)
    op.create_index(
        op.f("ix_blackout_period_site_id"), "blackout_period", ["site_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_blackout_period_site_id"), table_name="blackout_period")
    op.drop_index(op.f("ix_blackout_period_org_id"), table_name="blackout_period")
    op.drop_table("blackout_period")
    op.drop_index(op.f("ix_maintenance_window_site_id"), table_name="maintenance_window")
    op.drop_index(op.f("ix_maintenance_window_org_id"), table_name="maintenance_window")
    op.drop_index(op.f("ix_maintenance_window_department_id"), table_name="maintenance_window")
    op.drop_table("maintenance_window")
