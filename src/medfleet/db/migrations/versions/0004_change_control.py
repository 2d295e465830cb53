"""change requests: problem reports, states, classification, software items, regulatory assessment

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import medfleet.db.base

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "software_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("safety_class", sa.String(length=1), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_software_item_org_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_software_item")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_software_item_org_id_name")),
    )
    op.create_index(op.f("ix_software_item_org_id"), "software_item", ["org_id"], unique=False)
    op.create_table(
        "pccp_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("device_model", sa.String(length=64), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("registered_by_id", sa.Integer(), nullable=False),
        sa.Column("registered_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_pccp_plan_org_id_organization")
        ),
        sa.ForeignKeyConstraint(
            ["registered_by_id"],
            ["user_account.id"],
            name=op.f("fk_pccp_plan_registered_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pccp_plan")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_pccp_plan_org_id_name")),
    )
    op.create_index(op.f("ix_pccp_plan_org_id"), "pccp_plan", ["org_id"], unique=False)
    op.create_table(
        "problem_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("criticality", sa.String(length=32), nullable=False),
        sa.Column("affected_versions", sa.JSON(), nullable=False),
        sa.Column("investigation", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("created_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_problem_report_author_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_problem_report_org_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_problem_report")),
        sa.UniqueConstraint("org_id", "number", name=op.f("uq_problem_report_org_id_number")),
    )
    op.create_index(op.f("ix_problem_report_org_id"), "problem_report", ["org_id"], unique=False)
    op.create_table(
        "assessor_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("change_request_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Boolean(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("assessor_id", sa.Integer(), nullable=False),
        sa.Column("answered_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessor_id"],
            ["user_account.id"],
            name=op.f("fk_assessor_answer_assessor_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_request.id"],
            name=op.f("fk_assessor_answer_change_request_id_change_request"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_assessor_answer_org_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessor_answer")),
        sa.UniqueConstraint(
            "change_request_id",
            "question_id",
            name=op.f("uq_assessor_answer_change_request_id_question_id"),
        ),
    )
    op.create_index(
        op.f("ix_assessor_answer_change_request_id"),
        "assessor_answer",
        ["change_request_id"],
        unique=False,
    )
    op.create_index(op.f("ix_assessor_answer_org_id"), "assessor_answer", ["org_id"], unique=False)
    op.create_table(
        "change_request_item",
        sa.Column("change_request_id", sa.Integer(), nullable=False),
        sa.Column("software_item_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_request.id"],
            name=op.f("fk_change_request_item_change_request_id_change_request"),
        ),
        sa.ForeignKeyConstraint(
            ["software_item_id"],
            ["software_item.id"],
            name=op.f("fk_change_request_item_software_item_id_software_item"),
        ),
        sa.PrimaryKeyConstraint(
            "change_request_id", "software_item_id", name=op.f("pk_change_request_item")
        ),
    )
    op.create_table(
        "change_request_problem",
        sa.Column("change_request_id", sa.Integer(), nullable=False),
        sa.Column("problem_report_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_request.id"],
            name=op.f("fk_change_request_problem_change_request_id_change_request"),
        ),
        sa.ForeignKeyConstraint(
            ["problem_report_id"],
            ["problem_report.id"],
            name=op.f("fk_change_request_problem_problem_report_id_problem_report"),
        ),
        sa.PrimaryKeyConstraint(
            "change_request_id", "problem_report_id", name=op.f("pk_change_request_problem")
        ),
    )
    op.create_table(
        "model_evaluation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("change_request_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_request.id"],
            name=op.f("fk_model_evaluation_change_request_id_change_request"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organization.id"], name=op.f("fk_model_evaluation_org_id_organization")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["pccp_plan.id"], name=op.f("fk_model_evaluation_plan_id_pccp_plan")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["user_account.id"],
            name=op.f("fk_model_evaluation_recorded_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_evaluation")),
        sa.UniqueConstraint(
            "change_request_id", name=op.f("uq_model_evaluation_change_request_id")
        ),
    )
    op.create_index(
        op.f("ix_model_evaluation_org_id"), "model_evaluation", ["org_id"], unique=False
    )
    op.create_table(
        "regulatory_assessment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("change_request_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("facts_sha256", sa.String(length=64), nullable=False),
        sa.Column("fda_outcome", sa.String(length=64), nullable=False),
        sa.Column("mdcg_outcome", sa.String(length=64), nullable=False),
        sa.Column("assessed_by_id", sa.Integer(), nullable=False),
        sa.Column("assessed_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessed_by_id"],
            ["user_account.id"],
            name=op.f("fk_regulatory_assessment_assessed_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_request.id"],
            name=op.f("fk_regulatory_assessment_change_request_id_change_request"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
            name=op.f("fk_regulatory_assessment_org_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regulatory_assessment")),
        sa.UniqueConstraint(
            "change_request_id",
            "number",
            name=op.f("uq_regulatory_assessment_change_request_id_number"),
        ),
    )
    op.create_index(
        op.f("ix_regulatory_assessment_change_request_id"),
        "regulatory_assessment",
        ["change_request_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_regulatory_assessment_org_id"), "regulatory_assessment", ["org_id"], unique=False
    )
    op.create_table(
        "regulatory_clearance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("device_model", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("cleared_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("change_request_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", medfleet.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["change_request.id"],
            name=op.f("fk_regulatory_clearance_change_request_id_change_request"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organization.id"],
            name=op.f("fk_regulatory_clearance_org_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["user_account.id"],
            name=op.f("fk_regulatory_clearance_recorded_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regulatory_clearance")),
        sa.UniqueConstraint(
            "org_id", "reference", name=op.f("uq_regulatory_clearance_org_id_reference")
        ),
    )
    op.create_index(
        op.f("ix_regulatory_clearance_org_id"), "regulatory_clearance", ["org_id"], unique=False
    )
    op.add_column(
        "change_request",
        sa.Column("state", sa.String(length=32), nullable=False, server_default="draft"),
    )
    op.add_column("change_request", sa.Column("change_class", sa.String(length=32), nullable=True))
    op.add_column("change_request", sa.Column("device_model", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column("change_request", "device_model")
    op.drop_column("change_request", "change_class")
    op.drop_column("change_request", "state")
    op.drop_index(op.f("ix_regulatory_clearance_org_id"), table_name="regulatory_clearance")
    op.drop_table("regulatory_clearance")
    op.drop_index(op.f("ix_regulatory_assessment_org_id"), table_name="regulatory_assessment")
    op.drop_index(
        op.f("ix_regulatory_assessment_change_request_id"), table_name="regulatory_assessment"
    )
    op.drop_table("regulatory_assessment")
    op.drop_index(op.f("ix_model_evaluation_org_id"), table_name="model_evaluation")
    op.drop_table("model_evaluation")
    op.drop_table("change_request_problem")
    op.drop_table("change_request_item")
    op.drop_index(op.f("ix_assessor_answer_org_id"), table_name="assessor_answer")
    op.drop_index(op.f("ix_assessor_answer_change_request_id"), table_name="assessor_answer")
    op.drop_table("assessor_answer")
    op.drop_index(op.f("ix_problem_report_org_id"), table_name="problem_report")
    op.drop_table("problem_report")
    op.drop_index(op.f("ix_pccp_plan_org_id"), table_name="pccp_plan")
    op.drop_table("pccp_plan")
    op.drop_index(op.f("ix_software_item_org_id"), table_name="software_item")
    op.drop_table("software_item")
