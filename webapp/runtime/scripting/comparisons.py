"""Comparisons of one value with literals, run by Python alone.

A decision table's cell, translated to Python, is most often only that: `(? < 16)`,
`(? == "a") or (? == "b")`, `(1 <= ? < 5)`. Such an expression calls, loops, computes and reads
nothing but the value, so neither the restricted namespace nor the budget's trace hook has
anything to guard, and it is run without them. Any other expression is left to the engine.
"""

import ast
from functools import lru_cache
from types import CodeType

# The syntax of an expression that only compares a name with literals.
COMPARISON_SYNTAX = (
    ast.Expression, ast.Compare, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
    ast.UAdd, ast.Constant, ast.Tuple, ast.List, ast.Set, ast.Load, ast.Eq, ast.NotEq, ast.Lt,
    ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
)  # fmt: skip


@lru_cache(maxsize=4096)
def comparison(expression: str, name: str) -> CodeType | None:
    """Return the expression compiled when it only compares `name` with literals; else None."""
    try:
        tree = ast.parse(expression, mode="eval")
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name:
            continue
        if not isinstance(node, COMPARISON_SYNTAX):
            return None
    return compile(tree, "<comparison>", "eval")


def compare(code: CodeType, name: str, value: object) -> object:
    """Run a compiled comparison (from `comparison`) on a value."""
    # Its syntax was checked above: it reads only `name` and literals.
    return eval(code, {"__builtins__": {}}, {name: value})  # noqa: S307  # nosec B307
