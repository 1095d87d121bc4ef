"""SQL pieces the analytics queries share, written once for SQLite and PostgreSQL."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Float, and_, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
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


class utc_day(FunctionElement):  # noqa: N801  (a SQL function, named like one)
    """The UTC calendar day of a timestamp, whatever the session's time zone."""

    name = "utc_day"
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _day_sqlite(element, compiler, **kw) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day)
def _day_standard(element, compiler, **kw) -> str:
    return f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC') AS DATE)"


@dataclass(frozen=True)
class Distribution:
    """How many values a group has, their mean, and the percentiles asked for."""

    count: int
    mean: float
    percentiles: dict[int, float]


def distributions(
    session: Session, query: Select, keys: Sequence[str], percents: Sequence[int]
) -> dict[tuple, Distribution]:
    """Return count, mean and nearest-rank percentiles of `query`'s `value` per group of `keys`.

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
        func.avg(values.c.value).over(partition_by=groups).label("mean"),
    ).subquery()
    rank, n = ranked.c.rank, ranked.c.n
    wanted = [and_(rank * 100 >= p * n, (rank - 1) * 100 < p * n) for p in percents]
    found: dict[tuple, Distribution] = {}
    rows = session.execute(
        select(*(ranked.c[key] for key in keys), ranked.c.value, rank, n, ranked.c.mean).where(
            or_(*wanted)
        )
    )
    for *group, value, rank_, count, mean in rows:
        entry = found.setdefault(tuple(group), Distribution(count, float(mean), {}))
        for percent in percents:
            if rank_ * 100 >= percent * count > (rank_ - 1) * 100:
                entry.percentiles[percent] = float(value)
    return found
