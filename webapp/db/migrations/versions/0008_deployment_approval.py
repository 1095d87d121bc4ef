"""a deployment is pending until a second person approves or rejects it, and says who and when

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

import webapp.db.base

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deployment") as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=10), server_default="approved", nullable=False)
        )
        batch_op.add_column(sa.Column("decided_by", sa.String(length=120), nullable=True))
        batch_op.add_column(
            sa.Column("decided_at", webapp.db.base.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_deployment_status_id"), ["status", "id"])


def downgrade() -> None:
    with op.batch_alter_table("deployment") as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployment_status_id"))
        batch_op.drop_column("decided_at")
        batch_op.drop_column("decided_by")
        batch_op.drop_column("status")
