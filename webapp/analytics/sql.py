"""SQL pieces the analytics queries share, written once for SQLite and PostgreSQL."""

from collections.abc import Sequence

from sqlalchemy import Float, and_, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.functions import FunctionElement


class seconds_between(FunctionElement):  # noqa: N801  (a SQL function, named like one)
    """The seconds from a first timestamp to a second one, as a float."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element, compiler, **kw) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between)
def _seconds_standard(element, compiler, **kw) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


def percentiles(
    session: Session, query: Select, keys: Sequence[str], percents: Sequence[int]
) -> dict[tuple, dict[int, float]]:
    """Return nearest-rank percentiles of `query`'s `value` column per group of `keys`.

    The database ranks the values in each group and returns only the rows at the asked ranks,
    so no group's values are ever held here. Ranks are compared in integers (rank * 100 against
    percent * n) so that the rank picked is exact.
    """
    values = query.subquery()
    groups = [values.c[key] for key in keys]
    ranked = select(
        *groups,
        values.c.value,
        func.row_number().over(partition_by=groups, order_by=values.c.value).label("rank"),
        func.count().over(partition_by=groups).label("n"),
    ).subquery()
    wanted: list[ColumnElement] = [
        and_(
            ranked.c.rank * 100 >= percent * ranked.c.n,
            (ranked.c.rank - 1) * 100 < percent * ranked.c.n,
        )
        for percent in percents
    ]
    found: dict[tuple, dict[int, float]] = {}
    rows = session.execute(
        select(*(ranked.c[key] for key in keys), ranked.c.value, ranked.c.rank, ranked.c.n).where(
            or_(*wanted)
        )
    )
    for row in rows:
        *group, value, rank, n = row
        for percent in percents:
            if rank * 100 >= percent * n > (rank - 1) * 100:
                found.setdefault(tuple(group), {})[percent] = float(value)
    return found
