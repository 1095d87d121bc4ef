"""the process owner's simulations, run by the worker in the background

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

import webapp.db.base

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    time = webapp.db.base.UtcDateTime(timezone=True)
    op.create_table(
        "simulation_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("period_start", time, nullable=False),
        sa.Column("period_end", time, nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("staffing", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("runs_done", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", time, nullable=False),
        sa.Column("finished_at", time, nullable=True),
        sa.Column("locked_by", sa.String(length=120), nullable=True),
        sa.Column("locked_until", time, nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_simulation_job")),
    )
    op.create_index(
        op.f("ix_simulation_job_process_id_created_at"),
        "simulation_job",
        ["process_id", "created_at"],
    )
    op.create_index(op.f("ix_simulation_job_status"), "simulation_job", ["status"])


def downgrade() -> None:
    op.drop_table("simulation_job")
