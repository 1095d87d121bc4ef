"""The script environment: diagrams' scripts and expressions run under RestrictedPython.

Diagrams are uploaded by people, so every script, condition, DMN cell and timer expression is
untrusted. Sources are checked on their syntax tree (imports, dunder and `format` attributes,
dangerous names) before RestrictedPython compiles them, they see only an explicit set of names,
and a trace hook bounds how many lines and how much time one evaluation may take.
"""

import ast
import copy
import inspect
import json
import operator
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from functools import lru_cache
from types import CodeType

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.PrintCollector import PrintCollector
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from .errors import ScriptError

MAX_LINES = 200_000
MAX_SECONDS = 2.0
MAX_RANGE = 100_000
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

_INPLACE = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "|=": operator.ior,
    "&=": operator.iand,
    "^=": operator.ixor,
}


def _range(*args: int) -> range:
    """Return a range no longer than MAX_RANGE items."""
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise ValueError(f"range() of more than {MAX_RANGE} items is not allowed")
    return result


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
    "min": min,
    "max": max,
    "sum": sum,
    "sorted": sorted,
    "reversed": reversed,
    "any": any,
    "all": all,
    "abs": abs,
    "round": round,
    "divmod": divmod,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "list": list,
    "dict": dict,
    "set": set,
    "frozenset": frozenset,
    "tuple": tuple,
    "range": _range,
    "enumerate": enumerate,
    "zip": zip,
    "map": map,
    "filter": filter,
    "isinstance": isinstance,
    "repr": repr,
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
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": lambda op, x, y: _INPLACE[op](x, y),
    # `print()` in a script writes to a collector nobody reads, instead of failing.
    "_print_": PrintCollector,
}


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
    if not problems:
        compiled = (compile_restricted_eval if mode == "eval" else compile_restricted_exec)(
            source, SCRIPT_FILENAME
        )
        problems.extend(compiled.errors)
    return problems


@lru_cache(maxsize=4096)
def compile_source(source: str, mode: str) -> CodeType:
    """Compile a checked source under RestrictedPython, raising ScriptError if refused."""
    problems = check_source(source, mode)
    if problems:
        raise ScriptError(f"refused {'expression' if mode == 'eval' else 'script'}: {problems[0]}")
    compiled = (compile_restricted_eval if mode == "eval" else compile_restricted_exec)(
        source, SCRIPT_FILENAME
    )
    return compiled.code


class _Budget:
    """A trace hook that stops a script after MAX_LINES lines or MAX_SECONDS seconds."""

    def __init__(self) -> None:
        self.lines = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def __call__(self, frame, event, _arg):
        if frame.f_code.co_filename != SCRIPT_FILENAME:
            return None
        if event == "line":
            self.lines += 1
            if self.lines > MAX_LINES or (
                self.lines % 1000 == 0 and time.monotonic() > self.deadline
            ):
                raise ScriptError(
                    f"script stopped: it ran more than {MAX_LINES} lines or {MAX_SECONDS} s"
                )
        return self


def _run_bounded(code: CodeType, namespace: dict) -> object:
    previous = sys.gettrace()
    sys.settrace(_Budget())
    try:
        return eval(code, namespace)  # noqa: S307  (compiled by RestrictedPython, checked above)
    finally:
        sys.settrace(previous)


class ScriptEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow's script environment, restricted, with an explicit set of helpers."""

    def __init__(self, helpers: Mapping[str, Callable | type]):
        self.helpers = {"date": date, "timedelta": timedelta, "age_on": age_on, "today": today}
        self.helpers.update(helpers)
        super().__init__({"__builtins__": SAFE_BUILTINS, **_GUARDS, **self.helpers})

    def _namespace(self, context: Mapping, external_context: Mapping | None) -> dict:
        namespace = dict(self.globals)
        namespace.update(external_context or {})
        namespace.update(context)
        return namespace

    def evaluate(self, expression, context, external_context=None):
        """Evaluate an expression over the task data."""
        code = compile_source(expression.strip(), "eval")
        return _run_bounded(code, self._namespace(context, external_context))

    def execute(self, script, context, external_context=None):
        """Run a script over a deep copy of the task data and write back what it changed.

        SpiffWorkflow 3.2 shares nested values between a task and its parent, so mutating
        them in place would rewrite the data of tasks already completed.
        """
        code = compile_source(script, "exec")
        base = self._namespace({}, external_context)
        namespace = {**base, **copy.deepcopy(dict(context))}
        _run_bounded(code, namespace)
        for name in list(context):
            if name not in namespace:
                del context[name]
        for name, value in namespace.items():
            if name in base and value is base[name]:
                continue
            if callable(value) or name.startswith("_"):
                continue
            context[name] = value
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
        return json.dumps(operator_(**params))
