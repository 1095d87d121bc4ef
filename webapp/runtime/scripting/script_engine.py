"""SpiffWorkflow's script engine and environment on the restricted compiler and namespace, and
the engine the DMN engine calls over plain data.
"""

import ast
import copy
import functools
import json
import keyword
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from types import CodeType

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException

from .. import calls
from .budget import _run_bounded
from .compiling import compile_source
from .namespace import _GUARDS, SAFE_BUILTINS, age_on, today
from .sizes import check_size
from .writes import _WRITE_SCOPE, IDEMPOTENCY_KEY, idempotency_key, takes_idempotency_key

# The literals an expression may be alone, given without an evaluation.
LITERALS = (str, int, float, bool, type(None))


@functools.lru_cache(maxsize=4096)
def _literal(source: str) -> tuple[bool, object]:
    """Return (True, value) for an expression that is one literal (a text, a number, True,
    False, None), else (False, None)."""
    body = ast.parse(source, mode="eval").body
    if isinstance(body, ast.Constant) and isinstance(body.value, LITERALS):
        return True, body.value
    return False, None


@functools.lru_cache(maxsize=4096)
def _names(code: CodeType) -> frozenset[str]:
    """Return the public names a compiled source (its nested functions and comprehensions too)
    can read or write: the restricted compiler leaves no other way to reach the data by name
    (no `globals`, `vars`, `locals` or `eval`)."""
    names, codes = set(), [code]
    while codes:
        current = codes.pop()
        names.update(current.co_names)
        codes += (c for c in current.co_consts if isinstance(c, CodeType))
    return frozenset(name for name in names if not name.startswith("_"))


def _is_data_name(source: str) -> bool:
    """Tell whether an expression is a name the data may hold: in an evaluation the data's
    names come before the helpers' and the external context's, but for those starting with
    `_`, which are refused, and keywords, which are not names."""
    return source.isidentifier() and not source.startswith("_") and not keyword.iskeyword(source)


class ScriptEnvironment(BasePythonScriptEngineEnvironment):
    """SpiffWorkflow's script environment, restricted, with an explicit set of helpers."""

    def __init__(self, helpers: Mapping[str, Callable | type]):
        self.helpers = {"date": date, "timedelta": timedelta, "age_on": age_on, "today": today}
        self.helpers.update(helpers)
        super().__init__({"__builtins__": SAFE_BUILTINS, **_GUARDS, **self.helpers})

    def _namespace(
        self, code: CodeType, context: Mapping, external_context: Mapping | None
    ) -> dict:
        """Return the namespace a compiled source runs in: the helpers, then the external
        context, then the data, each holding only the names the source reaches; names
        starting with `_` would replace `__builtins__` and the guards, and are never merged."""
        namespace = dict(self.globals)
        names = _names(code)
        for values in (external_context or {}, context):
            namespace.update((name, values[name]) for name in names & values.keys())
        return namespace

    def evaluate(self, expression, context, external_context=None):
        """Evaluate an expression over the task data.

        Most expressions a step evaluates are one name of the data (a service task's
        parameter, a gateway's flag): such a name is read from the data as the evaluation
        would read it, without a namespace or a budget, which cost twenty times the lookup.
        Most others are one literal (a parameter's fixed value, a default): once the compiler
        has accepted it, its value is given as evaluating it would give it.
        """
        source = expression.strip()
        if source in context and _is_data_name(source):
            return check_size(context[source])
        code = compile_source(source, "eval")
        is_literal, value = _literal(source)
        if is_literal:
            return check_size(value)
        return check_size(_run_bounded(code, self._namespace(code, context, external_context)))

    def execute(self, script, context, external_context=None):
        """Run a script over deep copies of the data it names and write back what it changed.

        SpiffWorkflow 3.2 shares nested values between a task and its parent, so mutating
        them in place would rewrite the data of tasks already completed. A value the script
        only read is left as it was, the same object, so what later compares the task's data
        with its parent's (the audit log, the state document) finds it unchanged at once.
        """
        code = compile_source(script, "exec")
        copies = {name: copy.deepcopy(context[name]) for name in _names(code) & context.keys()}
        base = self._namespace(code, {}, external_context)
        namespace = self._namespace(code, copies, external_context)
        _run_bounded(code, namespace)
        for name, value in copies.items():
            if name not in namespace:
                del context[name]  # deleted by the script
            elif namespace[name] is value and value == context[name]:
                del namespace[name]  # read, not changed
        for name, value in namespace.items():
            if name in base and value is base[name]:
                continue
            if callable(value) or name.startswith("_"):
                continue
            context[name] = check_size(value, f"'{name}'")
        return True


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
