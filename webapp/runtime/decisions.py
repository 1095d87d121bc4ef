"""DMN decisions: FEEL unary tests translated to Python, and the UNIQUE hit policy enforced.

SpiffWorkflow compares an input with an entry by Python equality unless the entry starts with
an operator, so the FEEL list `"a","b"` would compare with a tuple and never match. Every
entry is translated at deployment into a Python test over `?` (SpiffWorkflow's placeholder
for the input value), and refused with a clear reason when it is not a unary test.

SpiffWorkflow's engine stops at the first matching rule of a UNIQUE table; `DecisionEngine`
checks every rule and fails when more than one matches, as the DMN standard says, for tables
that write hitPolicy="UNIQUE". The parser and the serializer both build business rule tasks
with it. `CachedDecisionEngine` is the engine lever `decisions` (see `levers`), which the
runtime's cached specs get from `cache_decisions`.
"""

import ast
import re
from collections.abc import Mapping
from contextlib import suppress
from contextvars import ContextVar
from functools import lru_cache
from types import SimpleNamespace

from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.specs.business_rule_task_mixin import BusinessRuleTaskMixin
from SpiffWorkflow.dmn.specs.model import HitPolicy
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.task_spec import BusinessRuleTaskConverter

from .errors import ScriptError
from .scripting.comparisons import compare, comparison

_COMPARISON = re.compile(r"^(<=|>=|<|>|!=|==|=)\s*(.+)$", re.DOTALL)
# SpiffWorkflow's own diagrams also write Python membership tests; keep them working.
_PYTHON_MEMBERSHIP = re.compile(r"^(not\s+in|in)\s+(.+)$", re.DOTALL)
_INTERVAL = re.compile(r"^([\[\]\(])\s*(.+?)\s*\.\.\s*(.+?)\s*([\[\]\)])$", re.DOTALL)
FEEL_WORDS = {"true": "True", "false": "False", "null": "None"}


class NotAUnaryTest(ValueError):
    """The entry is not a unary test we understand."""


def _split(text: str) -> list[str]:
    """Split on top-level commas, outside quotes and brackets."""
    parts, depth, quote, current = [], 0, None, []
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def _value(text: str) -> str:
    """Return a FEEL endpoint or literal as a Python expression."""
    text = text.strip()
    if text in FEEL_WORDS:
        return FEEL_WORDS[text]
    if re.fullmatch(r'date\(\s*"[0-9-]+"\s*\)', text):
        return "date.fromisoformat(" + text[5:-1].strip() + ")"
    try:
        ast.parse(text, mode="eval")
    except SyntaxError as error:
        raise NotAUnaryTest(f"'{text}' is not a value or an expression") from error
    return text


def _test(text: str) -> str:
    if text.startswith("not(") and text.endswith(")"):
        return f"not ({to_python(text[4:-1])})"
    if match := _INTERVAL.match(text):
        opening, low, high, closing = match.groups()
        low_op = "<=" if opening == "[" else "<"
        high_op = "<=" if closing == "]" else "<"
        return f"({_value(low)} {low_op} ? {high_op} {_value(high)})"
    if match := _COMPARISON.match(text):
        op, value = match.groups()
        return f"(? {'==' if op == '=' else op} {_value(value)})"
    if match := _PYTHON_MEMBERSHIP.match(text):
        op, value = match.groups()
        return f"(? {' '.join(op.split())} {_value(value)})"
    return f"(? == {_value(text)})"


def to_python(entry: str | None) -> str | None:
    """Translate a unary test to a Python test over `?`; None means any input matches."""
    text = (entry or "").strip()
    if text in ("", "-"):
        return None
    tests = [_test(part) for part in _split(text)]
    if any(not part for part in _split(text)):
        raise NotAUnaryTest(f"'{text}' has an empty item in its list")
    return tests[0] if len(tests) == 1 else " or ".join(tests)


def translate(table) -> list[tuple[str, str]]:
    """Translate every input entry of a table to Python in place; return (element, reason)
    for each entry that is not a unary test."""
    problems = []
    for rule in table.rules:
        for entry in rule.inputEntries:
            translated = []
            for text in entry.lhs:
                try:
                    translated.append(to_python(text))
                except NotAUnaryTest as error:
                    problems.append((entry.id or table.id, f"rule {rule.row_number}: {error}"))
            entry.lhs = translated
    return problems


def decide(root, decision_id: str, data: Mapping, script_engine) -> dict:
    """Evaluate one decision of a DMN document over plain data, outside any workflow.

    Its cells go through `script_engine`, the same restricted engine that runs the diagrams.
    """
    parser = DecisionParser()
    parser.add_dmn_xml(root)
    table = parser.get_engine(decision_id, None).decision_table
    problems = translate(table)
    if problems:
        raise ScriptError(f"decision {decision_id}: {problems[0][1]}")
    engine = script_engine.over_data()
    task = SimpleNamespace(data=dict(data), workflow=SimpleNamespace(script_engine=engine))
    try:
        return DecisionEngine(table).result(task)
    except SpiffWorkflowException as error:
        raise ScriptError(f"decision {decision_id}: {error}") from error


class DecisionEngine(DMNEngine):
    """SpiffWorkflow's DMN engine, with the UNIQUE hit policy's one match enforced."""

    def decide(self, task):
        """Return the matching rules; more than one in a UNIQUE table is an error."""
        table = self.decision_table
        if table.hit_policy != HitPolicy.UNIQUE.value:
            return super().decide(task)
        # DMNEngine keeps its rule check private and stops UNIQUE tables at the first match.
        matched = [rule for rule in table.rules if self._DMNEngine__check_rule(rule, task)]
        if len(matched) > 1:
            rows = ", ".join(str(rule.row_number) for rule in matched)
            raise SpiffWorkflowException(
                f"rules {rows} of decision table {table.name or table.id} all match; "
                "its hit policy UNIQUE allows one"
            )
        return matched


class DecisionTaskConverter(BusinessRuleTaskConverter):
    """Restores business rule tasks with the DecisionEngine."""

    def from_dict(self, dct):
        """Return the task spec with its decision table in a DecisionEngine."""
        spec = super().from_dict(dct)
        spec.dmnEngine = DecisionEngine(spec.dmnEngine.decision_table)
        return spec


class DecisionParser(SpiffBpmnParser):
    """SpiffWorkflow's parser, building business rule tasks with the DecisionEngine."""

    def get_engine(self, decision_ref, node):
        """Return the engine of a decision, from SpiffWorkflow's own.

        A table that names no hit policy keeps SpiffWorkflow's reading, the first match
        (the diagrams written for it count on that); UNIQUE is checked where it is written.
        """
        table = super().get_engine(decision_ref, node).decision_table
        written = {
            element.get("id"): element.get("hitPolicy")
            for element in self.dmn_parsers[decision_ref].node.iter("{*}decisionTable")
        }
        if written.get(table.id) is None:
            table.hit_policy = "FIRST"
        return DecisionEngine(table)


# Lever `decisions` (see `levers`): SpiffWorkflow's DMN engine marks `?` outside quotes as the
# input with this regex.
PLACEHOLDER = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")
INPUT_NAME = "dmninputexpr"


@lru_cache(maxsize=4096)
def _placed(match_expr: str) -> str:
    """Return a DMN cell with its `?` placeholders replaced by the input's name."""
    return PLACEHOLDER.sub(INPUT_NAME, match_expr)


# The input values of the decision being made (in this thread), by input expression.
_INPUTS: ContextVar[dict | None] = ContextVar("decision_inputs", default=None)


class CachedDecisionEngine(DecisionEngine):
    """Lever `decisions`: the DMN engine with each cell's placeholder substitution cached, and
    each input's value computed once per decision (the task's data does not change within)."""

    def decide(self, task):
        """Return the matching rules, the inputs evaluated as the first cell asks for them."""
        token = _INPUTS.set({})
        try:
            return super().decide(task)
        finally:
            _INPUTS.reset(token)

    def evaluate(self, input_expr, match_expr, task):
        """Evaluate a cell; cells without a placeholder go the stock way."""
        if match_expr is None:
            return True
        placed = _placed(match_expr)
        if INPUT_NAME not in placed:
            return super().evaluate(input_expr, match_expr, task)
        value = self._input(input_expr, task)
        plain = comparison(placed, INPUT_NAME)
        # Task data named like the placeholder would stand for it in the script engine.
        if plain is not None and INPUT_NAME not in task.data:
            # A comparison that raises is run again by the engine, which words the error.
            with suppress(Exception):
                return compare(plain, INPUT_NAME, value)
        return task.workflow.script_engine.evaluate(
            task, placed, external_context={INPUT_NAME: value}
        )

    @staticmethod
    def _input(input_expr: str, task):
        """Return the value of an input expression, once per decision."""
        inputs = _INPUTS.get()
        if inputs is None:
            return task.workflow.script_engine.evaluate(task, input_expr)
        if input_expr not in inputs:
            inputs[input_expr] = task.workflow.script_engine.evaluate(task, input_expr)
        return inputs[input_expr]


def cache_decisions(spec, subprocess_specs: dict) -> None:
    """Give the business rule tasks of a process and the processes it calls the cached engine."""
    for process in (spec, *subprocess_specs.values()):
        for task_spec in process.task_specs.values():
            if isinstance(task_spec, BusinessRuleTaskMixin):
                task_spec.dmnEngine = CachedDecisionEngine(task_spec.dmnEngine.decision_table)
