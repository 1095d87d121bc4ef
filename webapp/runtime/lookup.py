"""Finding an instance by what people call it: its id, or its application number."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import Instance

from .errors import Conflict, NotFound

# Row ids are 32-bit integers on PostgreSQL: a larger number is no id.
LARGEST_ID = 2**31 - 1


def find_instance(session: Session, reference: str) -> int:
    """Return the id of the instance that `reference` names: an id (`42`), or a business key
    (`A-000042`) that one instance holds. Unknown references raise NotFound; a business key
    that instances of several processes hold raises Conflict naming them."""
    reference = str(reference).strip()
    if reference.isdigit() and int(reference) <= LARGEST_ID:
        return int(reference)
    found = session.execute(
        select(Instance.id, Instance.process_id)
        .where(Instance.business_key == reference)
        .order_by(Instance.id)
        .limit(10)
    ).all()
    if not found:
        raise NotFound(f"no instance with id or application number {reference!r}")
    if len(found) > 1:
        named = ", ".join(f"{row.id} ({row.process_id})" for row in found)
        raise Conflict(f"{reference!r} names several instances: {named}; give the id")
    return found[0].id
