"""the dashboard's per-day figures of completed instances

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_day",
        sa.Column("process_version_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("instances", sa.Integer(), nullable=False),
        sa.Column("id_sum", sa.BigInteger(), nullable=False),
        sa.Column("lead_sum", sa.Float(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["process_version_id"],
            ["process_version.id"],
            name=op.f("fk_dashboard_day_process_version_id_process_version"),
        ),
        sa.PrimaryKeyConstraint("process_version_id", "day", name=op.f("pk_dashboard_day")),
    )


def downgrade() -> None:
    op.drop_table("dashboard_day")
