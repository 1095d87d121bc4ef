"""the called process an audit event's element belongs to

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instance_event") as batch_op:
        batch_op.add_column(sa.Column("called_process", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instance_event") as batch_op:
        batch_op.drop_column("called_process")
