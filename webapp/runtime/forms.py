"""Forms: the JSON Schema subset we render, checked at deployment and on submission.

A user task's form checks its completion data; a start event's form (the same
`formJsonSchemaFilename` property) checks the data that starts an instance. Besides `date`
and `email`, a form may use the formats the runtime is given (`iin`), each a function that
returns why a value is not of it, or None.
"""

from collections.abc import Callable, Collection, Mapping

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from .errors import InvalidData

FIELD_TYPES = {"string", "integer", "number", "boolean"}
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
}
FIELD_KEYS = {
    "type",
    "title",
    "description",
    "default",
    "enum",
    "oneOf",
    "anyOf",
    "const",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
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
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        problems.append(f"not a valid JSON Schema: {error.message}")
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


def validate_form_data(
    schema: Mapping,
    data: Mapping,
    formats: Mapping[str, Format] | None = None,
    what: str = "form data",
) -> None:
    """Raise InvalidData naming each refused field, or return if the data fits the schema."""
    validator = Draft202012Validator(schema, format_checker=format_checker(formats or {}))
    errors: dict[str, str] = {}
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.path)):
        if error.validator == "required":
            field = error.message.split("'")[1]
            errors.setdefault(field, "this field is required")
        else:
            field = ".".join(str(p) for p in error.path) or "_form"
            # A format's own reason (a wrong check digit, no 13th month) says more.
            cause = f": {error.cause}" if error.validator == "format" and error.cause else ""
            errors.setdefault(field, error.message + cause)
    if errors:
        raise InvalidData(f"the {what} was refused", errors)
