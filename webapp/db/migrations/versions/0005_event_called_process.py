"""the called process an audit event's element and a user task belong to, in the dashboard's indexes

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


EVENTS = ["instance_id", "kind", "task_id", "at", "bpmn_id", "name"]
TASKS = ["instance_id", "state", "bpmn_id", "name", "created_at", "claimed_at", "completed_at"]


def upgrade() -> None:
    for table, columns in (("instance_event", EVENTS), ("human_task", TASKS)):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("called_process", sa.String(length=255), nullable=True))
            batch_op.drop_index(f"ix_{table}_dashboard")
            batch_op.create_index(f"ix_{table}_dashboard", [*columns, "called_process"])


def downgrade() -> None:
    for table, columns in (("instance_event", EVENTS), ("human_task", TASKS)):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_index(f"ix_{table}_dashboard")
            batch_op.create_index(f"ix_{table}_dashboard", columns)
            batch_op.drop_column("called_process")
