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

Where each part lives: `limits` (the budgets), `sizes` (measuring values), `operator_guards`
and `method_guards` (checks before an operator or a method builds its result), `namespace`
(the builtins, helpers and guards a script sees), `compiling` (the syntax tree checks and
RestrictedPython), `budget` (the trace hook), `templates` (Jinja), `writes` (the idempotency
keys of service writes), `comparisons` (a value compared with literals, which needs no guard)
and `script_engine` (what SpiffWorkflow calls).
"""

from .compiling import check_source
from .limits import MAX_SECONDS
from .script_engine import ScriptEngine, ScriptEnvironment, evaluate, restricted_engine
from .templates import check_template, render
from .writes import IDEMPOTENCY_KEY, takes_idempotency_key, writes_keyed_by

__all__ = [
    "IDEMPOTENCY_KEY",
    "MAX_SECONDS",
    "ScriptEngine",
    "ScriptEnvironment",
    "check_source",
    "check_template",
    "evaluate",
    "render",
    "restricted_engine",
    "takes_idempotency_key",
    "writes_keyed_by",
]
