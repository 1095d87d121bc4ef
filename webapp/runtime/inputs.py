"""Data from outside: the strict JSON parser every entry uses, and the limits of instance data.

Scripts see the top-level keys of task data as names, so a key such as `__builtins__` would
replace what they may call; keys starting with `_` are refused at any depth, as the script
checks refuse such names in scripts. Python's `json` reads `NaN`, `Infinity` and `1e999`, which
JSON does not have and which compare unequal to themselves; and data nested a thousand levels
deep makes every recursive reader (the serializer, deep copies, JSON Schema) fail.
"""

import json
import math
from collections.abc import Callable, Iterator, Mapping

from .errors import InvalidData

MAX_DATA_BYTES = 64 * 1024
MAX_DATA_DEPTH = 10
# Any JSON document the product parses: request bodies, command options, bundle files.
MAX_JSON_DEPTH = 32
MAX_REPORTED = 10
RESERVED = "names starting with '_' are reserved"


class NotJson(ValueError):
    """Text that is not a JSON document the product accepts; the message says why."""


def _no_constant(name: str) -> float:
    raise NotJson(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise NotJson(f"{text} is too large a number")
    return number


def loads(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> object:
    """Parse a JSON document: no NaN or Infinity, nothing nested deeper than `max_depth`."""
    try:
        document = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise NotJson(f"nested deeper than {max_depth} levels") from None
    if _deeper_than(document, max_depth):
        for path, _value, depth in _walk(document):
            if depth > max_depth:
                raise NotJson(f"nested deeper than {max_depth} levels at {path or 'the top'}")
    return document


def _deeper_than(document: object, max_depth: int) -> bool:
    """Tell whether a parsed document has a value deeper than `max_depth`.

    Every request body is checked: only its objects and arrays are visited, and no path is
    written unless one is too deep.
    """
    if not isinstance(document, dict | list):
        return False
    stack = [(document, 0)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth >= max_depth and children:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _walk(value: object) -> Iterator[tuple[str, object, int]]:
    """Yield (path, value, depth) of every value in a JSON-like document, without recursion."""
    stack = [("", value, 0)]
    while stack:
        path, item, depth = stack.pop()
        yield path, item, depth
        if isinstance(item, Mapping):
            stack.extend((f"{path}.{k}" if path else str(k), v, depth + 1) for k, v in item.items())
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}[{i}]", v, depth + 1) for i, v in enumerate(item))


def data_problems(data: Mapping) -> dict[str, str]:
    """Return why the shape of data keeps it out of an instance, by path; empty when it may."""
    problems: dict[str, str] = {}
    for path, value, depth in _walk(data):
        if len(problems) >= MAX_REPORTED:
            break
        if depth > MAX_DATA_DEPTH:
            problems[path] = f"nested deeper than {MAX_DATA_DEPTH} levels"
            break
        if isinstance(value, Mapping):
            for key in value:
                if isinstance(key, str) and key.startswith("_"):
                    problems[f"{path}.{key}" if path else key] = RESERVED
        elif isinstance(value, float) and not math.isfinite(value):
            problems[path] = f"{value} is not a finite number"
    return problems


def check_data(data: Mapping, what: str) -> dict:
    """Return data that may enter an instance as plain JSON (dates become ISO strings), or
    raise InvalidData naming each refused path.

    The one encoding that measures the data also makes the plain copy.
    """
    problems = data_problems(data)
    if problems:
        raise InvalidData(f"the {what} was refused", problems)
    text = json.dumps(dict(data), default=str, ensure_ascii=False)
    size = len(text.encode())
    if size > MAX_DATA_BYTES:
        reason = f"{size} bytes as JSON, more than the {MAX_DATA_BYTES} allowed"
        raise InvalidData(f"the {what} was refused", {"data": reason})
    return json.loads(text)


def rule_problems(rules: Mapping[str, Callable[[object], str | None]], data: Mapping) -> dict:
    """Return why each field of data breaks the product's rule for it (`Runtime.field_rules`).

    A field the data leaves out, or sets to null, is not checked: an online application names
    no service centre.
    """
    return {
        field: problem
        for field, rule in rules.items()
        if data.get(field) is not None and (problem := rule(data[field]))
    }
