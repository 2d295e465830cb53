"""requirements, tests, links, verification runs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import medfleet.db.base

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "requirement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("created_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_requirement_org_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requirement")),
        sa.UniqueConstraint("org_id", "key", name=op.f("uq_requirement_org_id_key")),
    )
    op.create_index(op.f("ix_requirement_org_id"), "requirement", ["org_id"], unique=False)
    op.create_table(
        "trace_test",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=True),
        sa.Column("created_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_trace_test_org_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_test")),
        sa.UniqueConstraint("org_id", "key", name=op.f("uq_trace_test_org_id_key")),
    )
    op.create_index(op.f("ix_trace_test_org_id"), "trace_test", ["org_id"], unique=False)
    op.create_table(
        "control_requirement_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("control_key", sa.String(length=32), nullable=False),
        sa.Column("requirement_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
            name=op.f("fk_control_requirement_link_org_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["requirement_id"],
            ["requirement.id"],
            name=op.f("fk_control_requirement_link_requirement_id_requirement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_control_requirement_link")),
        sa.UniqueConstraint(
            "org_id",
            "control_key",
            "requirement_id",
            name=op.f("uq_control_requirement_link_org_id_control_key_requirement_id"),
        ),
    )
    op.create_index(
        op.f("ix_control_requirement_link_org_id"),
        "control_requirement_link",
        ["org_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_control_requirement_link_requirement_id"),
        "control_requirement_link",
        ["requirement_id"],
        unique=False,
    )
    op.create_table(
        "requirement_test_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("requirement_id", sa.Integer(), nullable=False),
        sa.Column("test_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
            name=op.f("fk_requirement_test_link_org_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["requirement_id"],
            ["requirement.id"],
            name=op.f("fk_requirement_test_link_requirement_id_requirement"),
        ),
        sa.ForeignKeyConstraint(
            ["test_id"], ["trace_test.id"], name=op.f("fk_requirement_test_link_test_id_trace_test")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requirement_test_link")),
        sa.UniqueConstraint(
            "requirement_id",
            "test_id",
            name=op.f("uq_requirement_test_link_requirement_id_test_id"),
        ),
    )
    op.create_index(
        op.f("ix_requirement_test_link_org_id"), "requirement_test_link", ["org_id"], unique=False
    )
    op.create_index(
        op.f("ix_requirement_test_link_test_id"), "requirement_test_link", ["test_id"], unique=False
    )
    op.create_table(
        "requirement_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("requirement_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("software_item", sa.String(length=200), nullable=False),
        sa.Column("change_request_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_requirement_version_author_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_request.id"],
            name=op.f("fk_requirement_version_change_request_id_change_request"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_requirement_version_org_id_organization")
        ),
        sa.ForeignKeyConstraint(
            ["requirement_id"],
            ["requirement.id"],
            name=op.f("fk_requirement_version_requirement_id_requirement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requirement_version")),
        sa.UniqueConstraint(
            "requirement_id", "version", name=op.f("uq_requirement_version_requirement_id_version")
        ),
    )
    op.create_index(
        op.f("ix_requirement_version_change_request_id"),
        "requirement_version",
        ["change_request_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_requirement_version_org_id"), "requirement_version", ["org_id"], unique=False
    )
    op.create_index(
        op.f("ix_requirement_version_requirement_id"),
        "requirement_version",
        ["requirement_id"],
        unique=False,
    )
    op.create_table(
        "verification_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("build_id", sa.String(length=200), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("change_request_id", sa.Integer(), nullable=True),
        sa.Column("imported_by_id", sa.Integer(), nullable=False),
        sa.Column("imported_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_request.id"],
            name=op.f("fk_verification_run_change_request_id_change_request"),
        ),
        sa.ForeignKeyConstraint(
            ["imported_by_id"],
            ["user_account.id"],
            name=op.f("fk_verification_run_imported_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_verification_run_org_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_run")),
        sa.UniqueConstraint(
            "org_id",
            "build_id",
            "source_sha256",
            name=op.f("uq_verification_run_org_id_build_id_source_sha256"),
        ),
    )
    op.create_index(
        op.f("ix_verification_run_change_request_id"),
        "verification_run",
        ["change_request_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_verification_run_org_id"), "verification_run", ["org_id"], unique=False
    )
    op.create_table(
        "test_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("test_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_test_result_org_id_organization")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["verification_run.id"], name=op.f("fk_test_result_run_id_verification_run")
        ),
        sa.ForeignKeyConstraint(
            ["test_id"], ["trace_test.id"], name=op.f("fk_test_result_test_id_trace_test")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_result")),
        sa.UniqueConstraint("run_id", "test_id", name=op.f("uq_test_result_run_id_test_id")),
    )
    op.create_index(op.f("ix_test_result_org_id"), "test_result", ["org_id"], unique=False)
    op.create_index(op.f("ix_test_result_test_id"), "test_result", ["test_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_test_result_test_id"), table_name="test_result")
    op.drop_index(op.f("ix_test_result_org_id"), table_name="test_result")
    op.drop_table("test_result")
    op.drop_index(op.f("ix_verification_run_org_id"), table_name="verification_run")
    op.drop_index(op.f("ix_verification_run_change_request_id"), table_name="verification_run")
    op.drop_table("verification_run")
    op.drop_index(op.f("ix_requirement_version_requirement_id"), table_name="requirement_version")
    op.drop_index(op.f("ix_requirement_version_org_id"), table_name="requirement_version")
    op.drop_index(
        op.f("ix_requirement_version_change_request_id"), table_name="requirement_version"
    )
    op.drop_table("requirement_version")
    op.drop_index(op.f("ix_requirement_test_link_test_id"), table_name="requirement_test_link")
    op.drop_index(op.f("ix_requirement_test_link_org_id"), table_name="requirement_test_link")
    op.drop_table("requirement_test_link")
    op.drop_index(
        op.f("ix_control_requirement_link_requirement_id"), table_name="control_requirement_link"
    )
    op.drop_index(op.f("ix_control_requirement_link_org_id"), table_name="control_requirement_link")
    op.drop_table("control_requirement_link")
    op.drop_index(op.f("ix_trace_test_org_id"), table_name="trace_test")
    op.drop_table("trace_test")
    op.drop_index(op.f("ix_requirement_org_id"), table_name="requirement")
    op.drop_table("requirement")
