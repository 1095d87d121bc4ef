"""the called process an audit event's element belongs to, covered by the dashboard's index

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


DASHBOARD = ["instance_id", "kind", "task_id", "at", "bpmn_id", "name"]


def upgrade() -> None:
    with op.batch_alter_table("instance_event") as batch_op:
        batch_op.add_column(sa.Column("called_process", sa.String(length=255), nullable=True))
        batch_op.drop_index("ix_instance_event_dashboard")
        batch_op.create_index("ix_instance_event_dashboard", [*DASHBOARD, "called_process"])


def downgrade() -> None:
    with op.batch_alter_table("instance_event") as batch_op:
        batch_op.drop_index("ix_instance_event_dashboard")
        batch_op.create_index("ix_instance_event_dashboard", DASHBOARD)
        batch_op.drop_column("called_process")
