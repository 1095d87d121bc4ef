"""SQL pieces the analytics queries share, written once for SQLite and PostgreSQL."""

from sqlalchemy import Float, String
from sqlalchemy.ext.compiler import compiles
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


class summary_values(FunctionElement):  # noqa: N801  (a SQL function, named like one)
    """Fields of a JSON document as the text of one JSON array, the document parsed once."""

    type = String()
    name = "summary_values"
    inherit_cache = False

    def __init__(self, document, keys: tuple[str, ...]) -> None:
        # Several paths make SQLite answer with an array; one would give the bare value.
        if len(keys) < 2 or not all(key.isidentifier() for key in keys):
            raise ValueError(f"summary_values needs two or more plain keys, not {keys!r}")
        self.keys = keys
        super().__init__(document)


@compiles(summary_values, "sqlite")
def _values_sqlite(element, compiler, **kw) -> str:
    paths = ", ".join(f"'$.{key}'" for key in element.keys)
    return f"json_extract({compiler.process(element.clauses, **kw)}, {paths})"


@compiles(summary_values)
def _values_standard(element, compiler, **kw) -> str:
    document = compiler.process(element.clauses, **kw)
    fields = ", ".join(f"{document} ->> '{key}'" for key in element.keys)
    return f"CAST(json_build_array({fields}) AS TEXT)"
