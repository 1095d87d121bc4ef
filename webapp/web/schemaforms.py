"""JSON Schema forms: fields for the Jinja macros, typed values from posts, field errors.

The subset: a flat object of string, integer, number and boolean properties; choices by
`enum`, `oneOf` or `anyOf` of `const` items; the `date` and `email` formats; and the UI keys
`ui:widget` (textarea, radio, hidden), `ui:help`, `ui:order` and `ui:placeholder`. Read-only
properties are the case's own data (see `webapp.runtime.forms`): no form shows them as inputs.
"""

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from jsonschema import Draft202012Validator, FormatChecker
from werkzeug.datastructures import MultiDict

from service_tasks.identifiers import is_valid_arc, is_valid_iin


@dataclass(frozen=True)
class Field:
    """One form field, as the macros render it."""

    name: str
    label: str
    type: str
    widget: str
    required: bool
    options: tuple[tuple[str, str], ...] = ()
    help: str = ""
    placeholder: str = ""
    description: str = ""
    check: str = ""
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None


def _choices(spec: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    if "enum" in spec:
        names = spec.get("enumNames") or spec["enum"]
        pairs = zip(spec["enum"], names, strict=False)
        return tuple((_text(value), str(label)) for value, label in pairs)
    for key in ("oneOf", "anyOf"):
        items = spec.get(key) or []
        if items and all("const" in item for item in items):
            return tuple((_text(i["const"]), str(i.get("title", i["const"]))) for i in items)
    return ()


def _type_of(spec: dict[str, Any]) -> str:
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind is None:
        for item in spec.get("anyOf") or spec.get("oneOf") or []:
            if item.get("type") not in (None, "null"):
                return _type_of(item)
            if "const" in item:
                return {bool: "boolean", int: "integer", float: "number"}.get(
                    type(item["const"]), "string"
                )
    return kind or "string"


def _check_of(name: str) -> str:
    lowered = name.lower()
    if lowered == "iin" or lowered.endswith("_iin"):
        return "iin"
    if lowered == "arc" or lowered.endswith("_arc"):
        return "arc"
    return ""


def _ordered(names: list[str], order: list[str] | None) -> list[str]:
    if not order:
        return names
    listed = [n for n in order if n in names]
    rest = [n for n in names if n not in listed]
    if "*" not in order:
        return listed + rest
    star = order.index("*")
    before = [n for n in order[:star] if n in names]
    after = [n for n in order[star + 1 :] if n in names]
    return before + rest + after


def form_fields(schema: dict[str, Any], ui_schema: dict[str, Any] | None = None) -> list[Field]:
    """Return the fields of a flat object schema in display order."""
    ui_schema = ui_schema or {}
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    fields = []
    names = [name for name, spec in properties.items() if spec.get("readOnly") is not True]
    for name in _ordered(names, ui_schema.get("ui:order")):
        spec = properties[name]
        ui = ui_schema.get(name, {})
        kind = _type_of(spec)
        options = _choices(spec)
        widget = ui.get("ui:widget", "")
        if widget not in ("textarea", "radio", "hidden"):
            if options:
                widget = "select"
            elif kind == "boolean":
                widget = "checkbox"
            elif spec.get("format") in ("date", "email"):
                widget = spec["format"]
            else:
                widget = {"integer": "integer", "number": "number"}.get(kind, "text")
        if widget == "radio" and kind == "boolean" and not options:
            options = (("true", _("Yes")), ("false", _("No")))
        fields.append(
            Field(
                name=name,
                label=str(spec.get("title", name.replace("_", " ").capitalize())),
                type=kind,
                widget=widget,
                required=name in required,
                options=options,
                help=str(ui.get("ui:help", "")),
                placeholder=str(ui.get("ui:placeholder", "")),
                description=str(spec.get("description", "")),
                check=_check_of(name),
                minimum=spec.get("minimum"),
                maximum=spec.get("maximum"),
                max_length=spec.get("maxLength"),
            )
        )
    return fields


def _text(value: Any) -> str:
    """Return a value as a form shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def display_values(data: dict[str, Any], fields: list[Field]) -> dict[str, str]:
    """Return the data's values of the fields as text for the form."""
    return {f.name: _text(data[f.name]) for f in fields if f.name in data}


def posted_values(form: MultiDict, fields: list[Field]) -> dict[str, str]:
    """Return what was typed into the fields, as text, to show it again."""
    values = {}
    for field in fields:
        if field.widget == "checkbox":
            values[field.name] = "true" if form.get(field.name) else "false"
        elif field.name in form:
            values[field.name] = form.get(field.name, "")
    return values


def _typed(field: Field, raw: str) -> Any:
    """Return the value converted to the field's JSON type; raise ValueError if impossible."""
    if field.type == "boolean":
        if raw in ("true", "on", "1"):
            return True
        if raw in ("false", "0", ""):
            return False
        raise ValueError(raw)
    if field.type == "integer":
        return int(raw)
    if field.type == "number":
        return float(raw)
    return raw


def typed_data(values: dict[str, str], fields: list[Field]) -> tuple[dict[str, Any], dict]:
    """Return the posted values as JSON data, and the fields that could not be converted."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in fields:
        raw = values.get(field.name, "").strip()
        if raw == "" and field.type != "boolean":
            continue
        try:
            data[field.name] = _typed(field, raw)
        except ValueError:
            errors[field.name] = (
                _("Enter a whole number.") if field.type == "integer" else _("Enter a number.")
            )
    return data, errors


def _message(error: Any) -> str:
    messages = {
        "required": _("This field is required."),
        "enum": _("Choose one of the options."),
        "const": _("Choose one of the options."),
        "oneOf": _("Choose one of the options."),
        "anyOf": _("Choose one of the options."),
        "type": _("Enter a value of the right kind."),
        "minimum": _("The value is too small."),
        "maximum": _("The value is too large."),
        "minLength": _("The value is too short."),
        "maxLength": _("The value is too long."),
        "pattern": _("The value has the wrong format."),
    }
    if error.validator == "const" and error.validator_value is True:
        return _("Tick this check: the answer you chose needs it for this application.")
    if error.validator == "format":
        return {
            "date": _("Enter a date as YYYY-MM-DD."),
            "email": _("Enter an e-mail address."),
        }.get(error.validator_value, _("The value has the wrong format."))
    return messages.get(error.validator, _("The value is not valid."))


def validate(schema: dict[str, Any], data: dict[str, Any]) -> dict[str, str]:
    """Return field errors of the data against the schema and the IIN/ARC checks."""
    errors: dict[str, str] = {}
    # The identifier checks come first: their message says more than a failed pattern's.
    for name, value in data.items():
        check = _check_of(name)
        if check == "iin" and isinstance(value, str) and not is_valid_iin(value):
            errors[name] = _("Not a valid IIN: 12 digits with a correct check digit.")
        if check == "arc" and isinstance(value, str) and not is_valid_arc(value):
            errors[name] = _("Not a valid address registration code: 10 to 20 digits.")
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    for error in validator.iter_errors(data):
        if error.validator == "required":
            missing = [n for n in error.validator_value if n not in data]
            for name in missing:
                errors.setdefault(name, _message(error))
            continue
        if error.validator == "dependentRequired":
            errors.setdefault(error.message.split("'")[1], _("This field is required."))
            continue
        name = str(error.path[0]) if error.path else ""
        errors.setdefault(name, _message(error))
    return errors
