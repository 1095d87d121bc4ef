"""sessions end server-side, tokens are revocable, sign-in failures are counted per client

Revision ID: 0010
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from webapp.db.base import UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("app_user") as batch_op:
        batch_op.add_column(
            sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.drop_column("failed_attempts")
        batch_op.drop_column("locked_until")
    with op.batch_alter_table("api_token") as batch_op:
        batch_op.add_column(sa.Column("revoked_at", UtcDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("sign_in_attempt") as batch_op:
        batch_op.add_column(sa.Column("client", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_sign_in_attempt_username_client_at", ["username", "client", "at"])


def downgrade() -> None:
    with op.batch_alter_table("sign_in_attempt") as batch_op:
        batch_op.drop_index("ix_sign_in_attempt_username_client_at")
        batch_op.drop_column("client")
    with op.batch_alter_table("api_token") as batch_op:
        batch_op.drop_column("revoked_at")
    with op.batch_alter_table("app_user") as batch_op:
        batch_op.add_column(sa.Column("locked_until", UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.drop_column("session_generation")
