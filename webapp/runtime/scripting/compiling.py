"""Checking and compiling sources: the syntax tree first (imports, names and attributes that are
not allowed, constant parts past the budget), then RestrictedPython with the operators,
f-strings, comparisons and hashed keys rewritten into calls of the guards.
"""

import ast
import functools
from collections.abc import Callable
from functools import lru_cache
from types import CodeType

from RestrictedPython import (
    RestrictingNodeTransformer,
    compile_restricted_eval,
    compile_restricted_exec,
)

from ..errors import ScriptError
from .limits import MAX_LENGTH, SCRIPT_FILENAME
from .method_guards import _WIDENING, guard_attribute
from .operator_guards import _BINARY_NODES, _DIGITS, guarded_binop

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
    return list(_source_problems(source, mode))


# Each deploy, validation and editor check asks again of the same hundreds of expressions.
@lru_cache(maxsize=4096)
def _source_problems(source: str, mode: str) -> tuple[str, ...]:
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as error:
        return (f"syntax error on line {error.lineno}: {error.msg}",)
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
    return tuple(problems)


@lru_cache(maxsize=4096)
def compile_source(source: str, mode: str) -> CodeType:
    """Compile a checked source under RestrictedPython, raising ScriptError if refused."""
    problems = check_source(source, mode)
    if problems:
        raise ScriptError(f"refused {'expression' if mode == 'eval' else 'script'}: {problems[0]}")
    return _restricted(source, mode).code
