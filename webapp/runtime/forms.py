"""Forms: the JSON Schema subset we render, checked at deployment and on submission.

A user task's form checks its completion data; a start event's form (the same
`formJsonSchemaFilename` property) checks the data that starts an instance. Besides `date`
and `email`, a form may use the formats the runtime is given (`iin`), each a function that
returns why a value is not of it, or None.

A form's rules may depend on the case: a `readOnly` property is the task's own data (the
runtime takes its value from the task, and refuses it from the submitter), and conditions
(`if` / `then` / `else`, `allOf` of them, `dependentRequired`, `const`) may read it. So
"accepted needs the owner's check only when someone else owns the premises" is one rule in
the form, enforced wherever a task is completed.
"""

import json
from collections.abc import Callable, Collection, Iterator, Mapping
from functools import lru_cache

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from .errors import InvalidData

FIELD_TYPES = {"string", "integer", "number", "boolean"}
# A condition (`if`, `then`, `else`, an `allOf` item) speaks of the form's own fields only.
CONDITION_KEYS = {"properties", "required", "dependentRequired", "if", "then", "else", "allOf"}
CONSTRAINT_KEYS = {
    "const",
    "enum",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
}
FORMATS = {"date", "email"}
SCHEMA_KEYS = {
    "$schema",
    "$id",
    "title",
    "description",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "dependentRequired",
    "allOf",
    "if",
    "then",
    "else",
}
FIELD_KEYS = CONSTRAINT_KEYS | {
    "type",
    "title",
    "description",
    "default",
    "oneOf",
    "anyOf",
    "format",
    "examples",
    "readOnly",
}
CHOICE_KEYS = {"const", "title", "description", "type", "enum", "format", "pattern"}

Format = Callable[[object], str | None]


class _NotOfFormat(ValueError):
    """A value a format refused; the message says why."""


def format_checker(formats: Mapping[str, Format]) -> FormatChecker:
    """Return jsonschema's format checker with our formats added to its own."""
    checker = FormatChecker()
    for name, problem_of in formats.items():
        checker.checks(name, raises=_NotOfFormat)(_checking(problem_of))
    return checker


def _checking(problem_of: Format) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        problem = problem_of(value)
        if problem:
            raise _NotOfFormat(problem)
        return True

    return check


# Checking a schema against the metaschema is the slow part of a deploy: asked once per text.
@lru_cache(maxsize=256)
def _metaschema_problem(text: str) -> str | None:
    """Return why a schema's JSON text is not a valid JSON Schema, or None."""
    try:
        Draft202012Validator.check_schema(json.loads(text))
    except SchemaError as error:
        return error.message
    return None


def schema_problems(schema: object, formats: Collection[str] = FORMATS) -> list[str]:
    """Return why a form schema falls outside the subset our form macros render."""
    if not isinstance(schema, Mapping):
        return ["a form schema must be a JSON object"]
    problems = [f"unsupported keyword '{k}'" for k in schema if k not in SCHEMA_KEYS]
    if schema.get("type", "object") != "object":
        problems.append("a form schema must have type 'object'")
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        return [*problems, "'properties' must be an object"]
    for name, field in properties.items():
        problems.extend(f"field '{name}': {p}" for p in _field_problems(field, formats))
    for name in schema.get("required", []):
        if name not in properties:
            problems.append(f"required field '{name}' is not among the properties")
    problems.extend(_condition_problems(schema, properties, "the form", top=True))
    invalid = _metaschema_problem(json.dumps(schema, sort_keys=True))
    if invalid:
        problems.append(f"not a valid JSON Schema: {invalid}")
    return problems


def _field_problems(field: object, formats: Collection[str]) -> list[str]:
    if not isinstance(field, Mapping):
        return ["must be an object"]
    problems = [f"unsupported keyword '{k}'" for k in field if k not in FIELD_KEYS]
    kinds = field.get("type", [])
    if not set(kinds if isinstance(kinds, list) else [kinds]) <= FIELD_TYPES | {"null"}:
        problems.append(f"type {kinds!r} is not one of {sorted(FIELD_TYPES)} (flat forms only)")
    if field.get("format") not in (None, *formats):
        problems.append(f"format '{field['format']}' is not one of {sorted(formats)}")
    for key in ("oneOf", "anyOf"):
        for choice in field.get(key, []):
            if not isinstance(choice, Mapping) or set(choice) - CHOICE_KEYS:
                problems.append(f"{key} entries may only use {sorted(CHOICE_KEYS)}")
    return problems


def _condition_problems(
    condition: object, properties: Mapping, where: str, top: bool = False
) -> list[str]:
    """Return why a condition of a form goes beyond its own fields or the supported keywords."""
    if not isinstance(condition, Mapping):
        return [f"{where}: a condition must be an object"]
    problems = [] if top else [f"{where}: unsupported keyword '{k}'" for k in condition
                               if k not in CONDITION_KEYS]  # fmt: skip
    named = list(condition.get("required", [])) if not top else []
    for name, needed in (condition.get("dependentRequired") or {}).items():
        named += [name, *needed]
    if not top:
        for name, constraint in (condition.get("properties") or {}).items():
            named.append(name)
            if not isinstance(constraint, Mapping) or set(constraint) - CONSTRAINT_KEYS:
                problems.append(f"{where}: '{name}' may only use {sorted(CONSTRAINT_KEYS)}")
    problems += [f"{where}: '{n}' is not a field of the form" for n in named if n not in properties]
    for key in ("if", "then", "else"):
        if key in condition:
            problems += _condition_problems(condition[key], properties, f"{where} '{key}'")
    for index, item in enumerate(condition.get("allOf", [])):
        problems += _condition_problems(item, properties, f"{where} allOf[{index}]")
    return problems


def read_only(schema: Mapping) -> set[str]:
    """Return the fields of a form that are the task's own data, not the submitter's."""
    return {n for n, f in schema.get("properties", {}).items() if f.get("readOnly") is True}


def with_case(schema: Mapping, data: Mapping, case: Mapping | None) -> dict:
    """Return submitted data with the form's read-only fields taken from the case's data."""
    fixed = read_only(schema)
    case = case or {}
    return {**data, **{name: case[name] for name in fixed if name in case}}


def _rules(schema: Mapping) -> Iterator[tuple[Mapping, Mapping]]:
    """Yield each (condition, what it asks) pair of a form: `if`/`then` and `allOf` items."""
    for item in [schema, *schema.get("allOf", [])]:
        if "if" in item:
            yield item["if"], item.get("then", {})


def unasked_fields(schema: Mapping, case: Mapping) -> set[str]:
    """Return the fields only conditions that this case rules out ask for.

    A condition is ruled out when its part on the read-only fields (the case's data) fails;
    a desk hides the fields nothing else asks for, so the clerk sees the checks that apply.
    """
    fixed = read_only(schema)
    asked: set[str] = set()
    possible: set[str] = set()
    for condition, then in _rules(schema):
        names = set(then.get("required", [])) | set(then.get("properties", {}))
        asked |= names
        on_case = {
            "properties": {n: c for n, c in condition.get("properties", {}).items() if n in fixed},
            "required": [n for n in condition.get("required", []) if n in fixed],
        }
        if Draft202012Validator(on_case).is_valid(dict(case)):
            possible |= names
    return asked - possible - fixed


def _reason(error) -> str:
    """Return why a value was refused, in words a clerk or a program can act on."""
    if error.validator == "const":
        return f"must be {json.dumps(error.validator_value)} for this answer on this case"
    # A format's own reason (a wrong check digit, no 13th month) says more.
    cause = f": {error.cause}" if error.validator == "format" and error.cause else ""
    return error.message + cause


def validate_form_data(
    schema: Mapping,
    data: Mapping,
    formats: Mapping[str, Format] | None = None,
    what: str = "form data",
    case: Mapping | None = None,
) -> None:
    """Raise InvalidData naming each refused field, or return if the data fits the schema.

    `case` is the task's data, where the form's read-only fields come from.
    """
    validator = Draft202012Validator(schema, format_checker=format_checker(formats or {}))
    errors = {
        name: "read-only: the process sets it, not the form"
        for name in sorted(read_only(schema) & set(data))
    }
    checked = with_case(schema, data, case)
    for error in sorted(validator.iter_errors(checked), key=lambda e: list(e.path)):
        if error.validator in ("required", "dependentRequired"):
            field = error.message.split("'")[1]
            errors.setdefault(field, "this field is required")
        else:
            field = ".".join(str(p) for p in error.path) or "_form"
            errors.setdefault(field, _reason(error))
    if errors:
        raise InvalidData(f"the {what} was refused", errors)
