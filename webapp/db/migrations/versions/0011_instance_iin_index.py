"""instances are found by the IINs of their summary through an index

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from webapp.db.summary import summary_text

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FIELDS = ("applicant_iin", "person_iin")


def upgrade() -> None:
    for field in FIELDS:
        op.create_index(
            f"ix_instance_{field}", "instance", [summary_text(sa.column("summary"), field)]
        )


def downgrade() -> None:
    for field in FIELDS:
        op.drop_index(f"ix_instance_{field}", "instance")
