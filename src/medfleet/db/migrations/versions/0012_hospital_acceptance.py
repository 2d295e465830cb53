"""hospital acceptance: per-site decisions on releases, auto-approval policies

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-21 20:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import medfleet.db.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_acceptance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("release_pk", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("out_of_cycle_consent", sa.Boolean(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=False),
        sa.Column("decided_at", medfleet.db.base.UTCDateTime(), nullable=False),
        sa.Column("production_confirmed_by", sa.Integer(), nullable=True),
        sa.Column("production_confirmed_at", medfleet.db.base.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["release_pk"], ["release_record.id"]),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["user_account.id"]),
        sa.ForeignKeyConstraint(["production_confirmed_by"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("release_pk", "site_id"),
    )
    op.create_index(op.f("ix_site_acceptance_release_pk"), "site_acceptance", ["release_pk"])
    op.create_index(op.f("ix_site_acceptance_org_id"), "site_acceptance", ["org_id"])
    op.create_index(op.f("ix_site_acceptance_site_id"), "site_acceptance", ["site_id"])
    op.create_table(
        "auto_approval_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("confirm_production", sa.Boolean(), nullable=False),
        sa.Column("out_of_cycle", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", medfleet.db.base.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organization.id"]),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["user_account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "site_id", "urgency"),
    )
    op.create_index(op.f("ix_auto_approval_policy_org_id"), "auto_approval_policy", ["org_id"])


def downgrade() -> None:
    op.drop_table("auto_approval_policy")
    op.drop_table("site_acceptance")
