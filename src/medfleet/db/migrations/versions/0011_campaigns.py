"""campaigns, phases, device assignments

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-21 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import medfleet.db.base

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UTC = medfleet.db.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("release_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("urgency", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("selection", sa.JSON(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("plan_summary", sa.JSON(), nullable=False),
        sa.Column("current_phase", sa.Integer(), nullable=False),
        sa.Column("acknowledged", sa.JSON(), nullable=False),
        sa.Column("notified", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("scheduled_for", UTC(timezone=True), nullable=True),
        sa.Column("started_at", UTC(timezone=True), nullable=True),
        sa.Column("paused_at", UTC(timezone=True), nullable=True),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("finished_at", UTC(timezone=True), nullable=True),
        sa.Column("abort_reason", sa.Text(), nullable=True),
        sa.Column("rollback_of", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_campaign_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_campaign_org_id_organization")
        ),
        sa.ForeignKeyConstraint(
            ["release_pk"],
            ["release_record.id"],
            name=op.f("fk_campaign_release_pk_release_record"),
        ),
        sa.ForeignKeyConstraint(
            ["rollback_of"], ["campaign.id"], name=op.f("fk_campaign_rollback_of_campaign")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign")),
        sa.UniqueConstraint("org_id", "number", name=op.f("uq_campaign_org_id_number")),
    )
    op.create_index(op.f("ix_campaign_org_id"), "campaign", ["org_id"], unique=False)
    op.create_index(op.f("ix_campaign_release_pk"), "campaign", ["release_pk"], unique=False)
    op.create_index(op.f("ix_campaign_state"), "campaign", ["state"], unique=False)
    op.create_table(
        "campaign_device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("device_pk", sa.Integer(), nullable=False),
        sa.Column("phase", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("step_release_pk", sa.Integer(), nullable=True),
        sa.Column("start_version_number", sa.BigInteger(), nullable=True),
        sa.Column("from_version_number", sa.BigInteger(), nullable=True),
        sa.Column("hops", sa.Integer(), nullable=False),
        sa.Column("assigned_at", UTC(timezone=True), nullable=True),
        sa.Column("install_after", UTC(timezone=True), nullable=True),
        sa.Column("install_before", UTC(timezone=True), nullable=True),
        sa.Column("finished_at", UTC(timezone=True), nullable=True),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["attempt_id"],
            ["install_attempt.id"],
            name=op.f("fk_campaign_device_attempt_id_install_attempt"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_campaign_device_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["device_pk"], ["device.id"], name=op.f("fk_campaign_device_device_pk_device")
        ),
        sa.ForeignKeyConstraint(
            ["step_release_pk"],
            ["release_record.id"],
            name=op.f("fk_campaign_device_step_release_pk_release_record"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_device")),
        sa.UniqueConstraint(
            "campaign_id", "device_pk", name=op.f("uq_campaign_device_campaign_id_device_pk")
        ),
    )
    op.create_index(
        "ix_campaign_device_campaign_id_status",
        "campaign_device",
        ["campaign_id", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_campaign_device_device_pk"), "campaign_device", ["device_pk"], unique=False
    )
    op.create_table(
        "active_assignment",
        sa.Column("device_pk", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("campaign_device_id", sa.Integer(), nullable=False),
        sa.Column("release_pk", sa.Integer(), nullable=False),
        sa.Column("assigned_at", UTC(timezone=True), nullable=False),
        sa.Column("instructed_at", UTC(timezone=True), nullable=True),
        sa.Column("clear_pending", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_device_id"],
            ["campaign_device.id"],
            name=op.f("fk_active_assignment_campaign_device_id_campaign_device"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaign.id"], name=op.f("fk_active_assignment_campaign_id_campaign")
        ),
        sa.ForeignKeyConstraint(
            ["device_pk"], ["device.id"], name=op.f("fk_active_assignment_device_pk_device")
        ),
        sa.ForeignKeyConstraint(
            ["release_pk"],
            ["release_record.id"],
            name=op.f("fk_active_assignment_release_pk_release_record"),
        ),
        sa.PrimaryKeyConstraint("device_pk", name=op.f("pk_active_assignment")),
    )
    op.create_index(
        op.f("ix_active_assignment_campaign_id"), "active_assignment", ["campaign_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_active_assignment_campaign_id"), table_name="active_assignment")
    op.drop_table("active_assignment")
    op.drop_index(op.f("ix_campaign_device_device_pk"), table_name="campaign_device")
    op.drop_index("ix_campaign_device_campaign_id_status", table_name="campaign_device")
    op.drop_table("campaign_device")
    op.drop_index(op.f("ix_campaign_state"), table_name="campaign")
    op.drop_index(op.f("ix_campaign_release_pk"), table_name="campaign")
    op.drop_index(op.f("ix_campaign_org_id"), table_name="campaign")
    op.drop_table("campaign")
