"""An administrator's edit of an instance's variable: typed, checked against the process's forms,
with a reason, audited with the value before and after, in one step like any other repair."""

import re
from copy import deepcopy
from typing import TYPE_CHECKING

from . import forms, inputs
from .errors import Conflict, InvalidData
from .instance_data import LIVE, current_data, json_safe
from .repair import check_open, check_version, checked_reason
from .specs import start_forms

if TYPE_CHECKING:
    from .engine import Runtime
    from .steps import Step
    from .versions import VersionInfo

VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,119}")


def form_fields(runtime: "Runtime", session, info: "VersionInfo") -> dict[str, list[dict]]:
    """Return, per field name, its schema in each form of the process (start and user tasks)."""
    names = set(start_forms(info.spec))
    for spec in (info.spec, *info.subprocess_specs.values()):
        for task_spec in spec.task_specs.values():
            properties = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
            if properties.get("formJsonSchemaFilename"):
                names.add(properties["formJsonSchemaFilename"])
    fields: dict[str, list[dict]] = {}
    for name in sorted(names):
        schema = runtime.versions.form(session, info.deployment_id, name)
        for field, field_schema in schema.get("properties", {}).items():
            fields.setdefault(field, []).append(field_schema)
    return fields


def _signature_fields(info: "VersionInfo") -> set[str]:
    """Return the fields that carry the evidence of a signed act: only a signer writes them."""
    fields = set()
    for spec in (info.spec, *info.subprocess_specs.values()):
        for task_spec in spec.task_specs.values():
            properties = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
            if properties.get("signatureRequired"):
                fields.add(properties.get("signatureField") or "signature")
    return fields


def check_variable(runtime: "Runtime", step: "Step", name: str, value: object) -> None:
    """Refuse a variable an administrator may not set, or a value its forms or the product's
    rule for the field (`field_rules`, as a start checks them) would refuse."""
    if not isinstance(name, str) or not VARIABLE.fullmatch(name):
        raise InvalidData(
            f"{name!r} is not a variable name",
            {"name": "letters, digits and underscores, not starting with a digit"},
        )
    if name in _signature_fields(step.info):
        raise Conflict(f"{name} holds the evidence of a signed act: only its signer sets it")
    try:
        inputs.check_data({name: value}, "value")
    except InvalidData as error:
        reasons = "; ".join(f"{path}: {reason}" for path, reason in error.errors.items())
        raise InvalidData(f"{name}: {reasons}", {"value": reasons}) from error
    for schema in form_fields(runtime, step.session, step.info).get(name, []):
        form = {"type": "object", "properties": {name: schema}}
        try:
            forms.validate_form_data(form, {name: value}, runtime.formats, "value")
        except InvalidData as error:
            reason = error.errors.get(name, error.message)
            raise InvalidData(f"{name}: {reason}", {"value": reason}) from error
    problem = inputs.rule_problems(runtime.field_rules, {name: value}).get(name)
    if problem:
        raise InvalidData(f"{name}: {problem}", {"value": problem})


def set_variable(
    runtime: "Runtime",
    instance_id: int,
    name: str,
    value: object,
    reason: str,
    actor: str,
    expected_version: int | None = None,
):
    """Set a variable in every live token of an instance in one step, audited with its reason
    and the value before and after; the engine then runs on as after any step."""
    reason = checked_reason(reason)
    value = json_safe(value)

    def apply(step: "Step") -> None:
        check_open(step)
        check_version(step, expected_version)
        check_variable(runtime, step, name, value)
        data = current_data(step.workflow)
        live = list(step.workflow.get_tasks(state=LIVE))
        if not live:
            raise Conflict(f"instance {instance_id} has no live token to carry the variable")
        for task in live:
            task.data[name] = deepcopy(value)
        step.record(
            "variable_changed",
            data={
                "variable": name,
                "before": {name: data[name]} if name in data else {},
                "after": {name: value},
                "reason": reason,
            },
        )

    return runtime._run_step(instance_id, apply, actor, allow_inactive=True)


def parse_value(text: str) -> object:
    """Return the JSON value an administrator typed, or refuse text that is not JSON."""
    try:
        return inputs.loads(text)
    except ValueError as error:
        raise InvalidData(
            "the value is not JSON", {"value": f"not a JSON value ({error}); quote text"}
        ) from error
