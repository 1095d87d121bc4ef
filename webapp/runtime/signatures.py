"""Signed acts: user tasks and start events that a diagram declares a person must sign.

An element declares it with `spiffworkflow:property` entries:
- `signatureRequired`: an expression over the data; when it is true the act needs a signature
  (an expression that fails counts as true, so a broken condition never waives one);
- `signer`: an expression naming who signs; a user task's signer is its assignee unless given;
- `signatureField`: the data field that carries the evidence (`signature` unless given).

The document a signer signs is built here, from the task, its instance and the answer (the
submitted data less the evidence), so that every entry point signs and checks the same bytes.
The check itself is the product's: a verifier handed to the runtime by the composition roots
returns the verified evidence, which replaces what was submitted in the data, or raises.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import HumanTask

from .errors import Forbidden

REQUIRED = "signatureRequired"
SIGNER = "signer"
FIELD = "signatureField"
DEFAULT_FIELD = "signature"


@dataclass(frozen=True)
class Signing:
    """What a signer must sign for an act: the document, who signs it, and the evidence field."""

    document: dict[str, Any]
    signer: str
    field: str


@dataclass(frozen=True)
class SignedAct:
    """An act with the evidence submitted for it, as the verifier is asked to check it."""

    document: dict[str, Any]
    signer: str
    evidence: Any
    actor: str | None
    at: datetime


# Returns the verified evidence as JSON data, or raises a TirkeuError saying why not.
SignatureVerifier = Callable[[Session, SignedAct], dict]


def _properties(spec) -> Mapping[str, str]:
    return (getattr(spec, "extensions", None) or {}).get("properties", {})


def _evaluate(evaluate: Callable[[str, dict], Any], expression: str, data: Mapping) -> Any:
    try:
        return evaluate(expression, dict(data))
    except Exception:  # noqa: BLE001  (a diagram's expression over its data)
        return None


def requirement(
    evaluate: Callable[[str, dict], Any], spec, data: Mapping, assignee: str | None = None
) -> tuple[str | None, str] | None:
    """Return (signer, field) when the element requires a signature over this data, else None.

    The signer is None when the diagram names nobody: such an act can never be signed.
    """
    properties = _properties(spec)
    condition = properties.get(REQUIRED)
    if not condition:
        return None
    try:
        required = evaluate(condition, dict(data))
    except Exception:  # noqa: BLE001  (a failing condition must not waive the signature)
        required = True
    if not required:
        return None
    expression = properties.get(SIGNER)
    signer = _evaluate(evaluate, expression, data) if expression else assignee
    field = properties.get(FIELD) or DEFAULT_FIELD
    return (str(signer) if signer not in (None, "") else None), field


def answer_of(data: Mapping, field: str) -> dict:
    """Return the answer a signer signs: the submitted data less the evidence."""
    return {key: value for key, value in data.items() if key != field}


def start_signing(
    evaluate: Callable[[str, dict], Any], spec, process_id: str, data: Mapping
) -> Signing | None:
    """Return what starting the process with this data must be signed with, if anything."""
    for event in none_starts(spec):
        needed = requirement(evaluate, event, data)
        if needed is None:
            continue
        signer, field = needed
        if signer is None:
            raise unsignable(event.bpmn_id)
        document = start_document(process_id, event.bpmn_id, signer, answer_of(data, field))
        return Signing(document, signer, field)
    return None


def task_signing(
    evaluate: Callable[[str, dict], Any], session: Session, task, row, data: Mapping
) -> Signing | None:
    """Return what completing the open user task `task` (its list row `row`) must be signed
    with, if anything."""
    if task is None:
        return None
    needed = requirement(evaluate, task.task_spec, task.data, row.assignee)
    if needed is None:
        return None
    signer, field = needed
    if signer is None:
        raise unsignable(row.bpmn_id)
    instructions = session.scalar(select(HumanTask.instructions).where(HumanTask.id == row.id))
    document = task_document(row, instructions, signer, answer_of(data, field))
    return Signing(document, signer, field)


def task_document(task, instructions: str | None, signer: str, answer: Mapping) -> dict:
    """Return the document of a signed user task: the task, its instance and the answer."""
    return {
        "process": task.process_id,
        "instance": task.instance_id,
        "business_key": task.business_key,
        "task": task.id,
        "element": task.bpmn_id,
        "name": task.name,
        "instructions": instructions,
        "signer": signer,
        "answer": dict(answer),
    }


def start_document(process_id: str, element: str, signer: str, answer: Mapping) -> dict:
    """Return the document of a signed start: the process, the start event and the data."""
    return {"process": process_id, "element": element, "signer": signer, "answer": dict(answer)}


def none_starts(spec) -> list:
    """Return the start events of a process that no event triggers (what `start` runs)."""
    return [
        output
        for output in spec.start.outputs
        if isinstance(output, StartEvent)
        and isinstance(getattr(output, "event_definition", None), NoneEventDefinition)
    ]


def verify(
    verifier: SignatureVerifier | None,
    session: Session,
    signing: Signing,
    evidence: Any,
    actor: str | None,
    at: datetime,
) -> dict:
    """Have the verifier check the evidence against the signing; return the verified evidence."""
    if verifier is None:
        raise Forbidden(
            "this act must be signed, and no signature verifier is configured to check it"
        )
    act = SignedAct(signing.document, signing.signer, evidence, actor, at)
    return verifier(session, act)


def unsignable(element: str) -> Forbidden:
    """Return the refusal of an act whose diagram names nobody to sign it."""
    return Forbidden(f"{element} must be signed, but the diagram names no signer for it")
