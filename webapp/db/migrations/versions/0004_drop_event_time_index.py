"""drop the audit log's index on event time, which no query uses

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instance_event") as batch_op:
        batch_op.drop_index(batch_op.f("ix_instance_event_at"))


def downgrade() -> None:
    with op.batch_alter_table("instance_event") as batch_op:
        batch_op.create_index(batch_op.f("ix_instance_event_at"), ["at"], unique=False)
