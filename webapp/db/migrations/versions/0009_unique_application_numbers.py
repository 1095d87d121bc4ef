"""an application number names one instance of a process: a unique index refuses a second

Revision ID: 0009
Revises: 0007

Instances started before the index may share a number (the registries answered the second
with the first one's registration). Each later holder of a number is renamed to
`<number>~<instance id>` before the index is built, so the oldest keeps it and every instance
stays findable by the number it was shown.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

instance = sa.table(
    "instance",
    sa.column("id", sa.Integer),
    sa.column("process_id", sa.String),
    sa.column("business_key", sa.String),
)
human_task = sa.table(
    "human_task",
    sa.column("instance_id", sa.Integer),
    sa.column("business_key", sa.String),
)


def upgrade() -> None:
    bind = op.get_bind()
    first = (
        sa.select(instance.c.process_id, instance.c.business_key, sa.func.min(instance.c.id))
        .where(instance.c.business_key.is_not(None))
        .group_by(instance.c.process_id, instance.c.business_key)
        .having(sa.func.count() > 1)
    )
    for process_id, key, oldest in bind.execute(first).all():
        later = bind.execute(
            sa.select(instance.c.id).where(
                instance.c.process_id == process_id,
                instance.c.business_key == key,
                instance.c.id != oldest,
            )
        ).scalars()
        for instance_id in later:
            renamed = f"{key}~{instance_id}"
            bind.execute(
                instance.update().where(instance.c.id == instance_id).values(business_key=renamed)
            )
            bind.execute(
                human_task.update()
                .where(human_task.c.instance_id == instance_id)
                .values(business_key=renamed)
            )
    with op.batch_alter_table("instance") as batch_op:
        batch_op.create_index(
            "ix_instance_process_id_business_key", ["process_id", "business_key"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("instance") as batch_op:
        batch_op.drop_index("ix_instance_process_id_business_key")
