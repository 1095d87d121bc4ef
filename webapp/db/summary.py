"""The text of one field of an instance's JSON summary, as SQL that both databases can index.

SQLAlchemy's own JSON path binds the field's name as a parameter, and an index on an expression
serves only a query that spells the same expression: the name is written into the SQL instead.
"""

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class summary_text(FunctionElement):  # noqa: N801  (a SQL function, named like one)
    """The text of a plain field of a JSON document, or NULL."""

    type = String()
    name = "summary_text"
    inherit_cache = False

    def __init__(self, document, key: str) -> None:
        if not key.isidentifier():
            raise ValueError(f"summary_text needs a plain key, not {key!r}")
        self.key = key
        super().__init__(document)


@compiles(summary_text, "sqlite")
def _text_sqlite(element, compiler, **kw) -> str:
    return f"json_extract({compiler.process(element.clauses, **kw)}, '$.{element.key}')"


@compiles(summary_text)
def _text_standard(element, compiler, **kw) -> str:
    return f"({compiler.process(element.clauses, **kw)} ->> '{element.key}')"
