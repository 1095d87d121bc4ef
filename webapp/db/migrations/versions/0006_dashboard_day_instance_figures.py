"""kept dashboard days hold the instance figures too: the days kept before are computed again

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM dashboard_day")


def downgrade() -> None:
    op.execute("DELETE FROM dashboard_day")
