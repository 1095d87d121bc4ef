"""The guarded methods: those of texts and lists that widen their result, and those of lists,
tuples, dicts and sets that compare or hash what they are given, each checked before it runs.
"""

import functools
import sys
from collections.abc import Mapping

from .budget import _Budget
from .sizes import _TEXTS, _checked_call, _compared_items, _too_long


def _widened_length(subject: object, name: str, args: tuple, kwargs: Mapping) -> int:
    """Return the longest result a widening method could give; `join`'s items are a list."""
    if name in ("ljust", "rjust", "center", "zfill"):
        width = args[0] if args else kwargs.get("width", 0)
        return max(len(subject), width if isinstance(width, int) else 0)
    if name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        return len(subject) * max(tab if isinstance(tab, int) else 1, 1)
    if name == "replace":
        new = args[1] if len(args) > 1 else ""
        count = len(subject) + 1
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            count = min(count, args[2])
        return len(subject) + count * len(new)
    if name == "translate":
        table = args[0] if args else None
        values = table.values() if isinstance(table, Mapping) else ()
        longest = max((len(v) for v in values if isinstance(v, _TEXTS)), default=1)
        return len(subject) * max(longest, 1)
    items = args[0]
    if name == "join":
        parts = sum(len(item) if isinstance(item, _TEXTS) else 1 for item in items)
        return parts + len(subject) * max(len(items) - 1, 0)
    return len(subject) + len(items)  # extend


_WIDENING = {
    str: {"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "translate", "join"},
    bytes: {"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "translate", "join"},
    list: {"extend"},
}


def guard_attribute(subject: object, name: str, value: object) -> object:
    """Return an attribute, wrapping the methods that widen their result in a size check."""
    kind = subject if isinstance(subject, type) else type(subject)
    if name not in _WIDENING.get(kind, ()) or not callable(value):
        return value
    bound = not isinstance(subject, type)

    @functools.wraps(value)
    def widening(*args, **kwargs):
        this, rest = (subject, args) if bound else (args[0], args[1:])
        if name in ("join", "extend") and rest:
            rest = (list(rest[0]), *rest[1:])
        _too_long(_widened_length(this, name, rest, kwargs), f"{name}()")
        # Called from C (`map(str.ljust, ...)`), it runs no line of the script, so the trace
        # hook would not see the memory its results take: check the budget here.
        budget = sys.gettrace()
        if isinstance(budget, _Budget):
            budget.check()
        return value(*rest, **kwargs) if bound else value(this, *rest, **kwargs)

    return widening


_SET_ITEMS = (
    "union",
    "intersection",
    "difference",
    "symmetric_difference",
    "issubset",
    "issuperset",
    "isdisjoint",
)
# Methods that compare or hash what they are given, and how (see `_checked_call`); `sort`
# compares the list's own items.
_COMPARING = {
    list: {"index": "values", "count": "values", "remove": "values", "sort": "values"},
    tuple: {"index": "values", "count": "values"},
    dict: {
        **dict.fromkeys(("get", "pop", "setdefault"), "values"),
        **dict.fromkeys(("update", "fromkeys"), "first"),
    },
    set: {
        **dict.fromkeys(("add", "discard", "remove"), "values"),
        **dict.fromkeys(_SET_ITEMS, "items"),
        **dict.fromkeys(
            ("update", "intersection_update", "difference_update", "symmetric_difference_update"),
            "items",
        ),
    },
    frozenset: dict.fromkeys(_SET_ITEMS, "items"),
}


def guard_comparing(subject: object, name: str, value: object) -> object:
    """Return an attribute, wrapping the methods that compare or hash in a size check."""
    kind = subject if isinstance(subject, type) else type(subject)
    over = _COMPARING.get(kind, {}).get(name)
    if over is None or not callable(value):
        return value
    # `dict.fromkeys` is a class method: the type is its subject already.
    bound = not isinstance(subject, type) or name == "fromkeys"

    @functools.wraps(value)
    def comparing(*args, **kwargs):
        this, rest = (subject, args) if bound else (args[0], args[1:])
        if name == "sort":
            _compared_items(this)
        rest, kwargs = _checked_call(rest, kwargs, over)
        return value(*rest, **kwargs) if bound else value(this, *rest, **kwargs)

    return comparing
