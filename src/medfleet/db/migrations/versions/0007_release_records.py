"""release records, artifacts, notes, included change requests

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import medfleet.db.base

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "release_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("version_number", sa.BigInteger(), nullable=False),
        sa.Column("min_from_version_number", sa.BigInteger(), nullable=True),
        sa.Column("build_id", sa.String(length=200), nullable=False),
        sa.Column("hardware_revisions", sa.JSON(), nullable=False),
        sa.Column("artifact_sha256", sa.String(length=64), nullable=True),
        sa.Column("artifact_filename", sa.String(length=200), nullable=True),
        sa.Column("artifact_length", sa.BigInteger(), nullable=True),
        sa.Column("sbom_sha256", sa.String(length=64), nullable=True),
        sa.Column("sbom_format", sa.String(length=32), nullable=True),
        sa.Column("notes_what_changed", sa.Text(), nullable=False),
        sa.Column("notes_risk_summary", sa.Text(), nullable=False),
        sa.Column("notes_downtime_minutes", sa.Integer(), nullable=True),
        sa.Column("notes_compatibility", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=True),
        sa.Column("target_path", sa.String(length=300), nullable=True),
        sa.Column("target_sha256", sa.String(length=64), nullable=True),
        sa.Column("target_length", sa.BigInteger(), nullable=True),
        sa.Column("target_deltas", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_release_record_author_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_release_record_org_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_record")),
        sa.UniqueConstraint(
            "org_id", "model", "version", name=op.f("uq_release_record_org_id_model_version")
        ),
    )
    op.create_index(op.f("ix_release_record_org_id"), "release_record", ["org_id"], unique=False)
    op.create_table(
        "release_change",
        sa.Column("release_pk", sa.Integer(), nullable=False),
        sa.Column("change_request_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_request.id"],
            name=op.f("fk_release_change_change_request_id_change_request"),
        ),
        sa.ForeignKeyConstraint(
            ["release_pk"],
            ["release_record.id"],
            name=op.f("fk_release_change_release_pk_release_record"),
        ),
        sa.PrimaryKeyConstraint("release_pk", "change_request_id", name=op.f("pk_release_change")),
    )
    op.create_index(
        op.f("ix_release_change_change_request_id"),
        "release_change",
        ["change_request_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_release_change_change_request_id"), table_name="release_change")
    op.drop_table("release_change")
    op.drop_index(op.f("ix_release_record_org_id"), table_name="release_record")
    op.drop_table("release_record")
