"""VEX statements keep the OpenVEX justification they were made with

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vex_statement") as batch:
        batch.add_column(sa.Column("openvex_justification", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vex_statement") as batch:
        batch.drop_column("openvex_justification")
