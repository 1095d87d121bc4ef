"""the audit table refuses updates and deletes on PostgreSQL, except while archiving

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The archiver sets `tirkeu.archiving` with SET LOCAL, so only its own transaction may delete.
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION instance_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('tirkeu.archiving', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'instance_event is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql
"""
TRIGGER = """
CREATE TRIGGER instance_event_append_only BEFORE UPDATE OR DELETE ON instance_event
FOR EACH ROW EXECUTE FUNCTION instance_event_append_only()
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(APPEND_ONLY)
    op.execute(TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS instance_event_append_only ON instance_event")
    op.execute("DROP FUNCTION IF EXISTS instance_event_append_only()")
