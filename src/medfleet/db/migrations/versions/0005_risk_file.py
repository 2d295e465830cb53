"""ISO 14971 risk file: matrix, hazards, situations, controls, deltas

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import medfleet.db.base

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_matrix",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("doc", sa.JSON(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_risk_matrix_org_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_matrix")),
        sa.UniqueConstraint("org_id", name=op.f("uq_risk_matrix_org_id")),
    )
    op.create_table(
        "risk_key_sequence",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=4), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_risk_key_sequence_org_id_organization")
        ),
        sa.PrimaryKeyConstraint("org_id", "prefix", name=op.f("pk_risk_key_sequence")),
    )
    op.create_table(
        "risk_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("change_request_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_request.id"],
            name=op.f("fk_risk_item_change_request_id_change_request"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_risk_item_org_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_item")),
        sa.UniqueConstraint(
            "org_id", "key", "version", name=op.f("uq_risk_item_org_id_key_version")
        ),
    )
    op.create_index(op.f("ix_risk_item_org_id"), "risk_item", ["org_id"], unique=False)
    op.create_index(
        op.f("ix_risk_item_change_request_id"), "risk_item", ["change_request_id"], unique=False
    )
    op.create_table(
        "risk_delta_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("change_request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("after", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("updated_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_request.id"],
            name=op.f("fk_risk_delta_entry_change_request_id_change_request"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_risk_delta_entry_org_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_delta_entry")),
        sa.UniqueConstraint(
            "change_request_id", "key", name=op.f("uq_risk_delta_entry_change_request_id_key")
        ),
    )
    op.create_index(
        op.f("ix_risk_delta_entry_org_id"), "risk_delta_entry", ["org_id"], unique=False
    )
    op.create_index(
        op.f("ix_risk_delta_entry_change_request_id"),
        "risk_delta_entry",
        ["change_request_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_risk_delta_entry_change_request_id"), table_name="risk_delta_entry")
    op.drop_index(op.f("ix_risk_delta_entry_org_id"), table_name="risk_delta_entry")
    op.drop_table("risk_delta_entry")
    op.drop_index(op.f("ix_risk_item_change_request_id"), table_name="risk_item")
    op.drop_index(op.f("ix_risk_item_org_id"), table_name="risk_item")
    op.drop_table("risk_item")
    op.drop_table("risk_key_sequence")
    op.drop_table("risk_matrix")
