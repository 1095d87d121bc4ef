"""DMN input entries are FEEL unary tests; SpiffWorkflow evaluates Python. Translate between them.

SpiffWorkflow compares an input with an entry by Python equality unless the entry starts with
an operator, so the FEEL list `"a","b"` would compare with a tuple and never match. Every
entry is translated at deployment into a Python test over `?` (SpiffWorkflow's placeholder
for the input value), and refused with a clear reason when it is not a unary test.
"""

import ast
import re

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
