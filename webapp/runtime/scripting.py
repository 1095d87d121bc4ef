"""The one evaluator: diagrams' scripts, expressions and templates, restricted and bounded.

Diagrams are uploaded by people, so every script, condition, DMN cell, timer expression,
service parameter and instructions template is untrusted, and nothing else in the product
evaluates them. Sources are checked on their syntax tree (imports, dunder and `format`
attributes, dangerous names) before RestrictedPython compiles them, and they see only an
explicit set of names. No single operation may build a value past its budget: `**`, `*`, `<<`,
`+` and `%`, and the str methods that widen their result, are rewritten to guarded helpers that
estimate the result's size before computing it, because one C-level operation holds the
interpreter lock until it ends and no trace hook can stop it. A trace hook then bounds the lines,
the time and the memory growth of a whole evaluation. Templates get the same guards from a
sandboxed Jinja environment and run under the same hook, with their output bounded too.
"""

import ast
import copy
import functools
import inspect
import itertools
import json
import math
import operator
import os
import re
import resource
import string
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from functools import lru_cache
from types import CodeType

from jinja2 import TemplateSyntaxError
from jinja2.compiler import CodeGenerator, operators
from jinja2.sandbox import ImmutableSandboxedEnvironment
from RestrictedPython import (
    RestrictingNodeTransformer,
    compile_restricted_eval,
    compile_restricted_exec,
)
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.PrintCollector import PrintCollector
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from . import calls
from .errors import ScriptError

MAX_LINES = 200_000
MAX_SECONDS = 2.0
MAX_RANGE = 100_000
# One value: items of a list or tuple, characters of a str, bytes of a bytes.
MAX_LENGTH = 1_000_000
# About 30,000 decimal digits: far past any amount or count, and each operation stays in
# milliseconds (a 1,000,000-bit power already takes tens of them).
MAX_INT_BITS = 100_000
# What a value amounts to once written out, counting a shared object every time it appears:
# data a script writes back, a value an expression returns, what is formatted or printed.
MAX_DATA = 2_000_000
# Items of a value compared or hashed, each time it appears: far more than task data holds.
MAX_COMPARED = 100_000
# Growth of the process's resident memory during one evaluation.
MAX_MEMORY = 256 * 1024 * 1024
# Lines between two checks of the clock and the memory.
CHECK_EVERY = 16
# Seconds between two readings of the memory, which a line can grow by tens of MiB at most.
MEMORY_EVERY = 0.02
MAX_ROUND_DIGITS = 10_000
SCRIPT_FILENAME = "<diagram script>"
# The parameter of a service operator that writes: the runtime gives it, never the diagram.
IDEMPOTENCY_KEY = "idempotency_key"
# What the writes of the running step are keyed by: its instance's business key.
_WRITE_SCOPE: ContextVar[str | None] = ContextVar("write_scope", default=None)

FORBIDDEN_NAMES = frozenset(
    {
        "__import__",
        "open",
        "exec",
        "eval",
        "compile",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "type",
        "breakpoint",
        "input",
        "help",
        "memoryview",
        "object",
        "super",
        "classmethod",
        "staticmethod",
        "property",
        "__builtins__",
    }
)
FORBIDDEN_ATTRIBUTES = frozenset({"format", "format_map", "mro", "gi_frame", "f_globals"})

_SEQUENCES = (str, bytes, list, tuple)
_TEXTS = (str, bytes)
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


def _too_long(length: int, what: str) -> None:
    if length > MAX_LENGTH:
        raise ScriptError(f"refused: {what} would make {length} items, more than {MAX_LENGTH}")


def _too_big(bits: float, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise ScriptError(
            f"refused: {what} would make a number of {int(bits)} bits, more than {MAX_INT_BITS}"
        )


def expanded_size(value: object, limit: int = MAX_DATA) -> int:
    """Return how many items and characters `value` amounts to written out, stopping past `limit`.

    A list can hold the same big object many times at the cost of one reference each; turning
    it into text or JSON writes that object out every time, so shared objects count each time.
    """
    size, stack = 0, [value]
    while stack and size <= limit:
        item = stack.pop()
        size += 1
        if isinstance(item, _TEXTS):
            size += len(item)
        elif isinstance(item, dict):
            size += len(item)
            if size <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            size += len(item)
            if size <= limit:
                stack.extend(item)
    return size


def check_size(value: object, what: str = "the value") -> object:
    """Return `value`, refusing it when written out it would pass MAX_DATA."""
    if isinstance(value, (*_SEQUENCES, dict, set, frozenset)):
        size = expanded_size(value)
        if size > MAX_DATA:
            raise ScriptError(f"refused: {what} amounts to more than {MAX_DATA} items")
    return value


def check_compared(value: object) -> object:
    """Return `value`, refusing it when comparing or hashing it could pass MAX_COMPARED steps.

    Python compares and hashes nested lists, tuples and dicts element by element in one C call
    that no trace hook interrupts, and a structure holding the same object twice at each of 40
    levels takes 2**40 steps: every value compared or hashed is measured as written out first.
    """
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        size = expanded_size(value, MAX_COMPARED)
        if size > MAX_COMPARED:
            raise ScriptError(
                f"refused: a value compared or hashed has more than {MAX_COMPARED} items"
            )
    return value


def _compared_items(values: object) -> object:
    """Return what a call compares or hashes the items of, as a list of checked items.

    A mapping passes unchanged: its keys were checked when they went in, and their hashes are
    kept with them; a text's items are characters.
    """
    if isinstance(values, (*_TEXTS, Mapping)):
        return values
    items = list(values)
    for item in items:
        check_compared(item)
    return items


def _checked_call(args: tuple, kwargs: dict, over: str) -> tuple[tuple, dict]:
    """Check what a call compares or hashes: its `values`, the `items` of every argument, or
    the items of the `first` and the others as values; and what its `key` returns."""
    if over == "items":
        args = tuple(_compared_items(arg) for arg in args)
    else:
        for arg in args[1:] if over == "first" else args:
            check_compared(arg)
        if over == "first" and args:
            args = (_compared_items(args[0]), *args[1:])
    key = kwargs.get("key")
    if callable(key):
        kwargs = {**kwargs, "key": lambda item: check_compared(key(item))}
    return args, kwargs


def _comparing_call(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Check a call of `sorted`, `min`, `max`, `set`, `frozenset` or `dict`: the items of its
    one iterable, or the values it is given."""
    return _checked_call(args, kwargs, "items" if len(args) == 1 else "values")


def _written_call(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Check a call of `str` or `repr`: what it writes out."""
    for arg in args[:1]:
        check_size(arg)
    return args, kwargs


class _Checked:
    """A builtin whose calls are checked first, however it is reached (by name, under another
    name, or from C as `map(str, ...)`); `isinstance` and attributes (`dict.fromkeys`) see
    the builtin itself."""

    def __init__(self, builtin: Callable, check: Callable[[tuple, dict], tuple]) -> None:
        self.builtin, self.check = builtin, check

    def __call__(self, *args, **kwargs):
        args, kwargs = self.check(args, kwargs)
        return self.builtin(*args, **kwargs)

    def __getattr__(self, name: str) -> object:
        return getattr(self.builtin, name)


def _builtin(value: object) -> object:
    """Return the builtin a `_Checked` stands for, or the value itself."""
    return value.builtin if isinstance(value, _Checked) else value


def _isinstance(value: object, kinds: object) -> bool:
    """`isinstance`, which also takes the checked builtins for the types they stand for."""
    if isinstance(kinds, tuple):
        kinds = tuple(_builtin(kind) for kind in kinds)
    return isinstance(value, _builtin(kinds))


def _check_add(left: object, right: object) -> None:
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        _too_long(len(left) + len(right), "+")


def _check_mul(left: object, right: object) -> None:
    if isinstance(left, int) and isinstance(right, int):
        _too_big(left.bit_length() + right.bit_length(), "*")
        return
    if isinstance(right, _SEQUENCES) and isinstance(left, int):
        left, right = right, left
    if isinstance(left, _SEQUENCES) and isinstance(right, int) and right > 0:
        _too_long(len(left) * right, "*")
        if isinstance(left, list | tuple) and expanded_size(left) * right > MAX_DATA:
            raise ScriptError(f"refused: * would make more than {MAX_DATA} items written out")


def _check_pow(base: object, exponent: object) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        _too_big(exponent * math.log2(abs(base)), "**")


def _check_lshift(left: object, right: object) -> None:
    if isinstance(left, int) and isinstance(right, int) and left and right > 0:
        _too_big(left.bit_length() + right, "<<")


def _check_widths(widths: list[str], args: object, computed: bool) -> None:
    """Refuse format widths past MAX_LENGTH, written or computed (`*`, `{:{width}}`)."""
    for width in widths:
        if len(width) > len(str(MAX_LENGTH)) or int(width) > MAX_LENGTH:
            raise ScriptError(f"refused: a format width of {width} is more than {MAX_LENGTH}")
    values = args.values() if isinstance(args, Mapping) else args
    values = values if isinstance(values, tuple | list | type({}.values())) else (values,)
    if computed:
        for value in values:
            if isinstance(value, int) and abs(value) > MAX_LENGTH:
                raise ScriptError(f"refused: a format width of {value} is more than {MAX_LENGTH}")
    check_size(list(values), "what is formatted")


def _check_mod(left: object, right: object) -> None:
    if isinstance(left, _TEXTS):
        text = left.decode("latin-1") if isinstance(left, bytes) else left
        specs = [match.groups() for match in _PERCENT_SPEC.finditer(text)]
        widths = [part for spec in specs for part in spec if part and part != "*"]
        _check_widths(widths, right, any("*" in spec for spec in specs))


def check_format_string(text: str, args: tuple, kwargs: Mapping) -> None:
    """Refuse a `str.format` call whose widths would build a value past MAX_LENGTH."""
    widths, computed = [], False
    for _literal, _field, spec, _conversion in string.Formatter().parse(text):
        widths += _DIGITS.findall(spec or "")
        computed = computed or "{" in (spec or "")
    _check_widths(widths, (*args, *kwargs.values()), computed)


_BINARY_CHECKS: dict[str, Callable[[object, object], None]] = {
    "+": _check_add,
    "*": _check_mul,
    "**": _check_pow,
    "<<": _check_lshift,
    "%": _check_mod,
}
_BINARY = {
    "+": operator.add,
    "*": operator.mul,
    "**": operator.pow,
    "<<": operator.lshift,
    "%": operator.mod,
}
_BINARY_NODES = {ast.Add: "+", ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Mod: "%"}
_INPLACE = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "|=": operator.ior,
    "&=": operator.iand,
    "^=": operator.ixor,
}


_PLAIN = frozenset({int, float, bool})
_SAFE_ON_SMALL = frozenset({"+", "*", "%"})
_SMALL = 2**32


def guarded_binop(symbol: str, left: object, right: object) -> object:
    """Apply a binary operator once its result is known to fit the budget."""
    # Adding, multiplying or dividing small numbers cannot build a big value; the common case
    # skips the check's call, which the trace hook makes dear.
    if (
        symbol in _SAFE_ON_SMALL
        and type(left) in _PLAIN
        and type(right) in _PLAIN
        and -_SMALL < left < _SMALL
        and -_SMALL < right < _SMALL
    ):
        return _BINARY[symbol](left, right)
    _BINARY_CHECKS[symbol](left, right)
    return _BINARY[symbol](left, right)


def _guarded_inplace(symbol: str, target: object, value: object) -> object:
    check = _BINARY_CHECKS.get(symbol[:-1])
    if check is not None:
        check(target, value)
    return _INPLACE[symbol](target, value)


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


def _guarded_getattr(subject: object, name: str, *default: object) -> object:
    subject = _builtin(subject)
    value = safer_getattr(subject, name, *default)
    return guard_comparing(subject, name, guard_attribute(subject, name, value))


def _range(*args: int) -> range:
    """Return a range no longer than MAX_RANGE items."""
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise ScriptError(f"refused: range() of more than {MAX_RANGE} items")
    return result


def _sum(values, start=0):
    """Add numbers (or durations): summing lists or texts copies them once per item."""
    if isinstance(start, _SEQUENCES):
        raise ScriptError("refused: sum() adds numbers and durations, not lists or texts")
    return sum(values, start)


def _round(number, ndigits=None):
    """Round, with a bounded number of digits: round(5, -10**9) computes 10**(10**9)."""
    if isinstance(ndigits, int) and abs(ndigits) > MAX_ROUND_DIGITS:
        raise ScriptError(f"refused: round() to more than {MAX_ROUND_DIGITS} digits")
    return round(number, ndigits)


class _SizedPrintCollector(PrintCollector):
    """`print()` in a script writes to a collector nobody reads, each value checked for size."""

    def _call_print(self, *objects, **kwargs):
        check_size(list(objects), "what is printed")
        return super()._call_print(*objects, **kwargs)


def age_on(birth_date: str, on_date: str) -> int:
    """Return the age in whole years on `on_date` of someone born on `birth_date` (ISO dates)."""
    born, on = date.fromisoformat(str(birth_date)), date.fromisoformat(str(on_date))
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def today() -> str:
    """Return today's date (UTC) as an ISO string."""
    return datetime.now().date().isoformat()


SAFE_BUILTINS = {
    "None": None,
    "True": True,
    "False": False,
    "len": len,
    "min": _Checked(min, _comparing_call),
    "max": _Checked(max, _comparing_call),
    "sum": _sum,
    "sorted": _Checked(sorted, _comparing_call),
    "reversed": reversed,
    "any": any,
    "all": all,
    "abs": abs,
    "round": _round,
    "divmod": divmod,
    "int": int,
    "float": float,
    "str": _Checked(str, _written_call),
    "bool": bool,
    "list": list,
    "dict": _Checked(dict, _comparing_call),
    "set": _Checked(set, _comparing_call),
    "frozenset": _Checked(frozenset, _comparing_call),
    "tuple": tuple,
    "range": _range,
    "enumerate": enumerate,
    "zip": zip,
    "map": map,
    "filter": filter,
    "isinstance": _isinstance,
    "repr": _Checked(repr, _written_call),
    "chr": chr,
    "ord": ord,
    "hasattr": hasattr,
    "Exception": Exception,
    "ValueError": ValueError,
    "KeyError": KeyError,
    "TypeError": TypeError,
    "IndexError": IndexError,
}

_GUARDS = {
    "_getattr_": _guarded_getattr,
    "_getitem_": lambda value, key: default_guarded_getitem(value, check_compared(key)),
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _guarded_inplace,
    "_binop_": guarded_binop,
    "_sized_": check_size,
    "_compared_": check_compared,
    "_print_": _SizedPrintCollector,
}


def _call(name: str, where: ast.AST, *args: ast.expr) -> ast.Call:
    """Return a call of a guard in place of `where`, located where it is for error lines."""
    call = ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[])
    for node in ast.walk(call):
        if "lineno" not in node.__dict__:
            ast.copy_location(node, where)
    return call


class _GuardingTransformer(RestrictingNodeTransformer):
    """RestrictedPython's policy, with the operators that can build huge values guarded."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        """Route `**`, `*`, `<<`, `+` and `%` through `_binop_`, which checks sizes first."""
        node = super().visit_BinOp(node)
        symbol = _BINARY_NODES.get(type(node.op))
        if symbol is None:
            return node
        return _call("_binop_", node, ast.Constant(symbol), node.left, node.right)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        """Check what an f-string writes out before it is turned into text."""
        node = super().visit_FormattedValue(node)
        node.value = _call("_sized_", node.value, node.value)
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        """Check every operand of a comparison (`==`, `<`, `in` ...) through `_compared_`."""
        node = super().visit_Compare(node)
        node.left = _call("_compared_", node.left, node.left)
        node.comparators = [_call("_compared_", value, value) for value in node.comparators]
        return node

    def visit_Dict(self, node: ast.Dict) -> ast.AST:
        """Check the keys of a dict display, which are hashed, through `_compared_`."""
        node = super().visit_Dict(node)
        node.keys = [key and _call("_compared_", key, key) for key in node.keys]
        return node

    def visit_Set(self, node: ast.Set) -> ast.AST:
        """Check the items of a set display, which are hashed, through `_compared_`."""
        node = super().visit_Set(node)
        node.elts = [_call("_compared_", item, item) for item in node.elts]
        return node

    def visit_SetComp(self, node: ast.SetComp) -> ast.AST:
        """Check the items of a set comprehension, which are hashed, through `_compared_`."""
        node = super().visit_SetComp(node)
        node.elt = _call("_compared_", node.elt, node.elt)
        return node

    def visit_DictComp(self, node: ast.DictComp) -> ast.AST:
        """Check the keys of a dict comprehension, which are hashed, through `_compared_`."""
        node = super().visit_DictComp(node)
        node.key = _call("_compared_", node.key, node.key)
        return node

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        """Check a key written or deleted (`d[k] = v`), which is hashed, through `_compared_`;
        keys read go through `_getitem_`, which checks them too."""
        node = super().visit_Subscript(node)
        if isinstance(node, ast.Subscript) and not any(
            isinstance(part, ast.Slice) for part in ast.walk(node.slice)
        ):
            node.slice = _call("_compared_", node.slice, node.slice)
        return node


def _restricted(source: str, mode: str):
    compile_ = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    return compile_(source, SCRIPT_FILENAME, policy=_GuardingTransformer)


def _format_spec_problem(node: ast.FormattedValue) -> str | None:
    spec = node.format_spec
    if spec is None:
        return None
    if any(isinstance(part, ast.FormattedValue) for part in spec.values):
        return f"line {node.lineno}: a computed format spec is not allowed"
    text = "".join(str(part.value) for part in spec.values if isinstance(part, ast.Constant))
    for width in _DIGITS.findall(text):
        if len(width) > len(str(MAX_LENGTH)) or int(width) > MAX_LENGTH:
            return f"line {node.lineno}: a format width of {width} is more than {MAX_LENGTH}"
    return None


class _Folder:
    """Computes the constant parts of a syntax tree through the guards, to refuse at validation
    what the guards would refuse at run time (`'x' * 10**10` needs no data to be refused)."""

    NOT_CONSTANT = object()

    def __init__(self) -> None:
        self.values: dict[int, object] = {}
        self.problems: list[str] = []

    def __call__(self, node: ast.AST) -> object:
        if id(node) not in self.values:
            self.values[id(node)] = self._fold(node)
        return self.values[id(node)]

    def _fold(self, node: ast.AST) -> object:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.List | ast.Tuple):
            items = [self(item) for item in node.elts]
            if self.NOT_CONSTANT in items:
                return self.NOT_CONSTANT
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            return self._guarded(node, lambda value: -value, self(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_NODES:
            compute = functools.partial(guarded_binop, _BINARY_NODES[type(node.op)])
            return self._guarded(node, compute, self(node.left), self(node.right))
        method_call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        if method_call and not node.keywords:
            name = node.func.attr
            subject = self(node.func.value)
            if name in _WIDENING.get(type(subject), ()):
                method = guard_attribute(subject, name, getattr(subject, name))
                return self._guarded(node, method, *(self(arg) for arg in node.args))
        return self.NOT_CONSTANT

    def _guarded(self, node: ast.AST, compute: Callable, *values: object) -> object:
        if self.NOT_CONSTANT in values:
            return self.NOT_CONSTANT
        try:
            return compute(*values)
        except ScriptError as error:
            self.problems.append(f"line {node.lineno}: {error}")
        except Exception:  # noqa: BLE001  # nosec B110
            pass  # a type error and the like: it fails when it runs, with its data
        return self.NOT_CONSTANT


def check_source(source: str, mode: str) -> list[str]:
    """Return the reasons a script (`exec`) or expression (`eval`) is refused; empty if none."""
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as error:
        return [f"syntax error on line {error.lineno}: {error.msg}"]
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            problems.append(f"line {node.lineno}: imports are not allowed")
        elif isinstance(node, ast.Name) and (node.id in FORBIDDEN_NAMES or node.id.startswith("_")):
            problems.append(f"line {node.lineno}: the name '{node.id}' is not allowed")
        elif isinstance(node, ast.Attribute) and (
            node.attr.startswith("_") or node.attr in FORBIDDEN_ATTRIBUTES
        ):
            problems.append(f"line {node.lineno}: the attribute '{node.attr}' is not allowed")
        elif isinstance(node, ast.Global | ast.Nonlocal | ast.ClassDef | ast.AsyncFunctionDef):
            problems.append(f"line {node.lineno}: {type(node).__name__} is not allowed")
        elif isinstance(node, ast.FormattedValue) and (problem := _format_spec_problem(node)):
            problems.append(problem)
    if not problems:
        fold = _Folder()
        for node in ast.walk(tree):
            fold(node)
        problems.extend(dict.fromkeys(fold.problems))
    if not problems:
        problems.extend(_restricted(source, mode).errors)
    return problems


@lru_cache(maxsize=4096)
def compile_source(source: str, mode: str) -> CodeType:
    """Compile a checked source under RestrictedPython, raising ScriptError if refused."""
    problems = check_source(source, mode)
    if problems:
        raise ScriptError(f"refused {'expression' if mode == 'eval' else 'script'}: {problems[0]}")
    return _restricted(source, mode).code


_STATM: dict[int, int] = {}  # process id -> its open /proc/self/statm


def _resident_memory() -> int:
    """Return the process's resident memory in bytes; its peak where there is no /proc."""
    # Opened once per process (a forked worker must not read its parent's) and read with
    # pread: opening it on every check would cost eight times as much.
    pid = os.getpid()
    if pid not in _STATM:
        try:
            _STATM[pid] = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            return peak if sys.platform == "darwin" else peak * 1024
    return int(os.pread(_STATM[pid], 64, 0).split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _Budget:
    """A trace hook that stops an evaluation past MAX_LINES lines, MAX_SECONDS or MAX_MEMORY.

    With a file name it counts the lines of that code only (a script's); without, every line
    run under it (a template's, whose filters are Python code that may loop).
    """

    def __init__(self, filename: str | None) -> None:
        self.filename = filename
        self.lines = 0
        self.deadline = time.thread_time() + MAX_SECONDS
        self.memory_limit: int | None = None
        self.next_memory_check = 0.0

    def __call__(self, frame, event, _arg):
        if self.filename is not None and frame.f_code.co_filename != self.filename:
            return None
        if event == "line":
            self.lines += 1
            if self.lines > MAX_LINES:
                raise ScriptError(f"script stopped: it ran more than {MAX_LINES} lines")
            if self.lines % CHECK_EVERY == 0:
                self.check()
        return self

    def check(self) -> None:
        """Stop the evaluation if it is past its time or memory.

        Its time is the thread's CPU time: a busy machine slows an evaluation's clock but does
        not use up its budget.
        """
        now = time.thread_time()
        if now > self.deadline:
            raise ScriptError(f"script stopped: it ran more than {MAX_SECONDS} s")
        # Reading the memory releases the interpreter lock for a moment, and each release
        # restarts the wait of a thread asking for it (a request being served): read it at
        # most every MEMORY_EVERY seconds, or other threads starve for tens of milliseconds.
        if now < self.next_memory_check:
            return
        self.next_memory_check = now + MEMORY_EVERY
        memory = _resident_memory()
        # Measured at the first check, not at the start: most expressions end before it.
        if self.memory_limit is None:
            self.memory_limit = memory + MAX_MEMORY
        elif memory > self.memory_limit:
            raise ScriptError(f"script stopped: it took more than {MAX_MEMORY // 2**20} MiB")


def _run_bounded(code: CodeType, namespace: dict) -> object:
    previous = sys.gettrace()
    sys.settrace(_Budget(SCRIPT_FILENAME))
    try:
        # Compiled by RestrictedPython from a source checked on its syntax tree, and guarded.
        return eval(code, namespace)  # noqa: S307  # nosec B307
    finally:
        sys.settrace(previous)


class _GuardingCodeGenerator(CodeGenerator):
    """Jinja's code generator, checking every `~` concatenation and comparison it builds."""

    def visit_Concat(self, node, frame) -> None:
        """Check what each operand of `~` writes out, then the length of the text it makes."""
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.sized({join}((")
        for operand in node.nodes:
            self.write("environment.written(")
            self.visit(operand, frame)
            self.write("), ")
        self.write(")))")

    def visit_Compare(self, node, frame) -> None:
        """Wrap every operand of a comparison (`==`, `<`, `in` ...) in `environment.compared`."""
        self.write("(environment.compared(")
        self.visit(node.expr, frame)
        self.write(")")
        for operand in node.ops:
            self.write(f" {operators[operand.op]} environment.compared(")
            self.visit(operand.expr, frame)
            self.write(")")
        self.write(")")


def _checked_filter(original: Callable, check: Callable[..., None]) -> Callable:
    @functools.wraps(original)
    def filter_(*args, **kwargs):
        check(*args, **kwargs)
        return original(*args, **kwargs)

    return filter_


def _check_width_filter(value, width=80, *_args, **_kwargs) -> None:
    if isinstance(width, int):
        _too_long(width, "a width")


def _check_format_filter(value, *args, **kwargs) -> None:
    _check_mod(str(value), args or kwargs)


def _check_join_filter(_eval_ctx, value, d="", attribute=None) -> None:
    items = value if isinstance(value, list | tuple) else []
    check_size(list(items), "join")
    _too_long(expanded_size(items) + len(str(d)) * len(items), "join")


def _check_replace_filter(_eval_ctx, s, old, new, count=None) -> None:
    args = (old, new) if count is None else (old, new, count)
    _too_long(_widened_length(str(s), "replace", args, {}), "replace")


def _check_round_filter(value, precision=0, method="common") -> None:
    if isinstance(precision, int) and abs(precision) > MAX_ROUND_DIGITS:
        raise ScriptError(f"refused: round to more than {MAX_ROUND_DIGITS} digits")


def _check_sum_filter(_environment, iterable, attribute=None, start=0) -> None:
    if isinstance(start, _SEQUENCES):
        raise ScriptError("refused: sum adds numbers, not lists or texts")


def _check_written_arguments(*args, **kwargs) -> None:
    for value in (*args, *kwargs.values()):
        check_size(value)


def _check_compared_arguments(*args, **kwargs) -> None:
    for value in (*args, *kwargs.values()):
        check_compared(value)


# Filters that compare or hash the items of what they are given.
_COMPARING_FILTERS = ("sort", "unique", "min", "max", "groupby", "dictsort")


def _comparing_filter(original: Callable) -> Callable:
    """Wrap a filter so that what it compares is checked first; iterators become lists."""

    @functools.wraps(original)
    def filter_(*args, **kwargs):
        args = tuple(
            _compared_items(arg) if isinstance(arg, Iterator) else check_compared(arg)
            for arg in args
        )
        return original(*args, **kwargs)

    return filter_


_FILTER_CHECKS = {
    "center": _check_width_filter,
    "indent": _check_width_filter,
    "format": _check_format_filter,
    "join": _check_join_filter,
    "replace": _check_replace_filter,
    "round": _check_round_filter,
    "sum": _check_sum_filter,
}


class TemplateEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the scripts' guards on operators, methods and filters."""

    code_generator_class = _GuardingCodeGenerator
    intercepted_binops = frozenset(_BINARY_CHECKS)

    def __init__(self, **options) -> None:
        super().__init__(finalize=check_size, **options)
        # Filters turn what they are given into text or compare it in C calls: every value
        # given to a filter is checked as written out, and to a test as compared.
        for name, filter_ in self.filters.items():
            self.filters[name] = _checked_filter(filter_, _check_written_arguments)
        for name, test in self.tests.items():
            self.tests[name] = _checked_filter(test, _check_compared_arguments)
        for name, check in _FILTER_CHECKS.items():
            self.filters[name] = _checked_filter(self.filters[name], check)
        for name in _COMPARING_FILTERS:
            self.filters[name] = _comparing_filter(self.filters[name])

    def written(self, value: object) -> object:
        """Return a value to write out, refused when written out it would pass MAX_DATA."""
        return check_size(value)

    def compared(self, value: object) -> object:
        """Return a value to compare, refused when comparing it could take too long."""
        return check_compared(value)

    def sized(self, value: object) -> object:
        """Return a concatenation no longer than MAX_LENGTH."""
        if isinstance(value, _TEXTS):
            _too_long(len(value), "~")
        return value

    def call_binop(self, context, operator, left, right):
        """Apply an operator once its result is known to fit the budget."""
        return guarded_binop(operator, left, right)

    def getattr(self, obj, attribute):
        """Return an attribute, widening and comparing methods guarded."""
        value = guard_attribute(obj, attribute, super().getattr(obj, attribute))
        return guard_comparing(obj, attribute, value)

    def getitem(self, obj, argument):
        """Return an item (its key checked), or an attribute by name with methods guarded."""
        value = super().getitem(obj, check_compared(argument))
        if not isinstance(argument, str):
            return value
        return guard_comparing(obj, argument, guard_attribute(obj, argument, value))

    def wrap_str_format(self, value):
        """Return `str.format` of the sandbox, refusing widths past MAX_LENGTH."""
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        text = value.__self__

        @functools.wraps(formatter)
        def format_(*args, **kwargs):
            check_format_string(text, args, kwargs)
            return formatter(*args, **kwargs)

        return format_


TEMPLATES = TemplateEnvironment(autoescape=False)


@lru_cache(maxsize=512)
def _template(text: str):
    return TEMPLATES.from_string(text)


def check_template(text: str) -> list[str]:
    """Return the reasons a template is refused; empty if none."""
    try:
        TEMPLATES.parse(text)
    except TemplateSyntaxError as error:
        return [f"template error on line {error.lineno}: {error.message}"]
    return []


def render(text: str, data: Mapping) -> str:
    """Render a template over the data, within the budget of lines, time, memory and output."""
    parts, length = [], 0
    previous = sys.gettrace()
    sys.settrace(_Budget(None))
    try:
        for part in _template(text).generate(**data):
            length += len(part)
            _too_long(length, "the rendered text")
            parts.append(part)
    finally:
        sys.settrace(previous)
    return "".join(parts)


def _all_public(names: Mapping) -> bool:
    """Tell whether no name starts with `_`, checked without a Python loop: every expression a
    step evaluates (each decision table cell) builds a namespace."""
    try:
        return not any(map(str.startswith, names, itertools.repeat("_")))
    except TypeError:  # a name that is not text: the careful merge decides
        return False


class ScriptEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow's script environment, restricted, with an explicit set of helpers."""

    def __init__(self, helpers: Mapping[str, Callable | type]):
        self.helpers = {"date": date, "timedelta": timedelta, "age_on": age_on, "today": today}
        self.helpers.update(helpers)
        super().__init__({"__builtins__": SAFE_BUILTINS, **_GUARDS, **self.helpers})

    def _namespace(self, context: Mapping, external_context: Mapping | None) -> dict:
        namespace = dict(self.globals)
        # Data keys starting with `_` would replace `__builtins__` and the guards: never merged.
        for names in (external_context or {}, context):
            if _all_public(names):
                namespace.update(names)
            else:
                namespace.update((k, v) for k, v in names.items() if not str(k).startswith("_"))
        return namespace

    def evaluate(self, expression, context, external_context=None):
        """Evaluate an expression over the task data."""
        code = compile_source(expression.strip(), "eval")
        return check_size(_run_bounded(code, self._namespace(context, external_context)))

    def execute(self, script, context, external_context=None):
        """Run a script over a deep copy of the task data and write back what it changed.

        SpiffWorkflow 3.2 shares nested values between a task and its parent, so mutating
        them in place would rewrite the data of tasks already completed.
        """
        code = compile_source(script, "exec")
        base = self._namespace({}, external_context)
        namespace = self._namespace(copy.deepcopy(dict(context)), external_context)
        _run_bounded(code, namespace)
        for name in list(context):
            if name not in namespace:
                del context[name]
        for name, value in namespace.items():
            if name in base and value is base[name]:
                continue
            if callable(value) or name.startswith("_"):
                continue
            context[name] = check_size(value, f"'{name}'")
        return True


def takes_idempotency_key(operator_: Callable) -> bool:
    """Tell whether a service operator writes, and so takes the key the runtime gives it."""
    return IDEMPOTENCY_KEY in inspect.signature(operator_).parameters


@contextmanager
def writes_keyed_by(scope: str) -> Iterator[None]:
    """Key the writes of the service tasks run inside by scope (an instance's business key)."""
    token = _WRITE_SCOPE.set(scope)
    try:
        yield
    finally:
        _WRITE_SCOPE.reset(token)


def idempotency_key(scope: str, task) -> str:
    """Return the key of a service task's write: `<scope>:<element id>`, plus its iteration.

    The key is the same each time the step runs the task again (a retry after a fault or a
    crash), and differs for each instance of a multi-instance or loop and each element.
    """
    marks = []
    node = task
    while node is not None:
        for name in ("key_or_index", "iteration"):
            if name in node.internal_data:
                marks.append(str(node.internal_data[name]))
        parent = node.parent
        workflow = node.workflow
        if parent is None and workflow is not workflow.top_workflow:
            parent = workflow.top_workflow.get_task_from_id(workflow.parent_task_id)
        node = parent
    return ":".join([scope, task.task_spec.bpmn_id, *reversed(marks)])


class ScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine on our environment, calling services by operator table."""

    def __init__(self, environment: ScriptEnvironment, operators: Mapping[str, Callable]):
        super().__init__(environment)
        self.operators = operators
        self.keyed = {name for name, op in operators.items() if takes_idempotency_key(op)}

    def validate(self, expression):
        """Check an expression the way the engine will compile it."""
        compile_source(expression.strip(), "eval")

    def evaluate(self, task, expression, external_context=None):
        """Evaluate an expression over the task's data; an error says why, not only where.

        SpiffWorkflow's own message names the expression and drops the reason (a refusal, a
        budget stop), which the incident would then not show.
        """
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as error:
            error.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as error:
            raise WorkflowTaskException(
                f"Error evaluating expression '{expression}': {error}", task=task, exception=error
            ) from error

    def over_data(self) -> "DataEngine":
        """Return this engine for evaluations over plain data, outside any workflow."""
        return DataEngine(self.environment)

    def call_service(self, task, operation_name=None, operation_params=None):
        """Call an operator with the evaluated parameters; its errors reach the step unchanged.

        A writing operator also gets its idempotency key. SpiffWorkflow's own `call_service`
        hides every exception behind a NameError.
        """
        operator_ = self.operators.get(operation_name)
        if operator_ is None:
            raise LookupError(f"service operator {operation_name!r} does not exist")
        params = {name: param["value"] for name, param in (operation_params or {}).items()}
        if operation_name in self.keyed:
            scope = _WRITE_SCOPE.get()
            if scope is None:
                raise RuntimeError(f"{operation_name} writes, and runs only inside a step")
            params[IDEMPOTENCY_KEY] = idempotency_key(scope, task)
        return json.dumps(calls.timed(task, operator_, **params))


class DataEngine:
    """The restricted engine as SpiffWorkflow's DMN engine calls it over a task that is only its
    data (a decision asked by name, outside any workflow).

    The DMN engine wraps errors in one that reads a real task's spec and workflow, except its
    own kind, which it passes on: errors leave as that kind, their message kept.
    """

    def __init__(self, environment: ScriptEnvironment) -> None:
        self.environment = environment

    def validate(self, expression: str) -> None:
        """Check an expression the way it will be compiled."""
        compile_source(expression.strip(), "eval")

    def evaluate(self, task, expression: str, external_context=None) -> object:
        """Evaluate an expression over the task's data."""
        try:
            return self.environment.evaluate(expression, task.data, external_context)
        except Exception as error:
            raise SpiffWorkflowException(str(error)) from error


def restricted_engine(
    helpers: Mapping[str, Callable | type] | None = None,
    operators: Mapping[str, Callable] | None = None,
) -> ScriptEngine:
    """Return a script engine on the restricted environment: the only kind the product builds."""
    return ScriptEngine(ScriptEnvironment(helpers or {}), operators or {})


def evaluate(expression: str, data: Mapping | None = None) -> object:
    """Evaluate an expression over plain data with no helpers beyond the standard ones."""
    return ScriptEnvironment({}).evaluate(expression, dict(data or {}))
