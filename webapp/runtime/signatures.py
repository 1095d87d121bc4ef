"""Signed acts: user tasks and start events that a diagram declares a person must sign.

An element declares it with `spiffworkflow:property` entries:
- `signatureRequired`: an expression over the data; when it is true the act needs a signature
  (an expression that fails counts as true, so a broken condition never waives one);
- `signer`: an expression naming who signs; a user task's signer is its assignee unless given;
- `signatureField`: the data field that carries the evidence (`signature` unless given).

The document a signer signs is built here, from the task, its instance and the answer (the
submitted data less the evidence), so that every entry point signs and checks the same bytes.
Its data is turned into the signed bytes (a readable text in the signer's language and the
canonical data) by a renderer the composition roots hand to the runtime; each step renders it
again, in the language the evidence names, so a signature counts only over those bytes. The
check itself is the product's: a verifier handed to the runtime by the composition roots
returns the verified evidence, which replaces what was submitted in the data, or raises.
"""

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import HumanTask

from .errors import Forbidden, TirkeuError

REQUIRED = "signatureRequired"
SIGNER = "signer"
FIELD = "signatureField"
DEFAULT_FIELD = "signature"
DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True)
class Rendered:
    """A document as signed: its language, its readable text and the exact bytes to sign."""

    language: str
    text: str
    content: bytes

    @property
    def sha256(self) -> str:
        """Return the hex SHA-256 of the signed bytes."""
        return hashlib.sha256(self.content).hexdigest()

    def record(self) -> dict[str, str]:
        """Return what is kept of the document with the verified evidence."""
        return {"language": self.language, "signed_text": self.text, "sha256": self.sha256}


# Renders an act's document, given the data the act was taken on, in a language; raises a
# TirkeuError for a language it has no text in.
DocumentRenderer = Callable[[dict, Mapping, str], Rendered]


@dataclass(frozen=True)
class Signing:
    """What a signer must sign for an act: the document, who signs it, the evidence field,
    and the document rendered in one language (the bytes a signature must cover)."""

    document: dict[str, Any]
    signer: str
    field: str
    rendered: Rendered


@dataclass(frozen=True)
class SignedAct:
    """An act with the evidence submitted for it, as the verifier is asked to check it."""

    document: dict[str, Any]
    rendered: Rendered
    signer: str
    evidence: Any
    actor: str | None
    at: datetime


# Returns the verified evidence as JSON data, or raises a TirkeuError saying why not.
SignatureVerifier = Callable[[Session, SignedAct], dict]


def json_renderer(document: dict, _context: Mapping, language: str) -> Rendered:
    """Render a document as its indented JSON: the runtime's own, for products with no texts."""
    text = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False)
    return Rendered(language, text, text.encode())


def evidence_language(evidence: Any) -> str:
    """Return the language of the document the evidence says it signed (English by default)."""
    if isinstance(evidence, str) and evidence.strip().startswith("{"):
        try:
            evidence = json.loads(evidence)
        except ValueError:
            return DEFAULT_LANGUAGE
    language = evidence.get("language") if isinstance(evidence, Mapping) else None
    return language if isinstance(language, str) and language else DEFAULT_LANGUAGE


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
    field = field_of(spec)
    return (str(signer) if signer not in (None, "") else None), field


def field_of(spec) -> str:
    """Return the data field that carries an element's evidence."""
    return _properties(spec).get(FIELD) or DEFAULT_FIELD


def start_language(spec, data: Mapping) -> str:
    """Return the language named by the evidence of the process's signed start, if any."""
    for event in none_starts(spec):
        if _properties(event).get(REQUIRED):
            return evidence_language(data.get(field_of(event)))
    return DEFAULT_LANGUAGE


def answer_of(data: Mapping, field: str) -> dict:
    """Return the answer a signer signs: the submitted data less the evidence."""
    return {key: value for key, value in data.items() if key != field}


def start_signing(
    evaluate: Callable[[str, dict], Any],
    spec,
    process_id: str,
    data: Mapping,
    render: DocumentRenderer,
    language: str,
) -> Signing | None:
    """Return what starting the process with this data must be signed with, if anything."""
    for event in none_starts(spec):
        needed = requirement(evaluate, event, data)
        if needed is None:
            continue
        signer, field = needed
        if signer is None:
            raise unsignable(event.bpmn_id)
        answer = answer_of(data, field)
        document = start_document(process_id, event.bpmn_id, signer, answer)
        return Signing(
            document, signer, field, _rendered(render, document, answer, language, field)
        )
    return None


def task_signing(
    evaluate: Callable[[str, dict], Any],
    session: Session,
    task,
    row,
    data: Mapping,
    render: DocumentRenderer,
    language: str,
) -> Signing | None:
    """Return what completing the open user task `task` (its list row `row`) must be signed
    with, if anything; the document is rendered with the task's data as its context."""
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
    rendered = _rendered(render, document, dict(task.data), language, field)
    return Signing(document, signer, field, rendered)


def _rendered(render: DocumentRenderer, document: dict, context: Mapping, language: str,
              field: str) -> Rendered:  # fmt: skip
    """Render the document, a refusal (a language with no text) naming the evidence field."""
    try:
        return render(document, context, language)
    except TirkeuError as error:
        _name_field(error, field)
        raise


def _name_field(error: TirkeuError, field: str) -> None:
    """Make a refusal of the evidence name its field, unless it names fields already."""
    if getattr(error, "errors", None) is None:
        error.errors = {field: error.message}


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
    """Have the verifier check the evidence against the signing; return the verified evidence
    with the document it covers (language, text and hash) kept beside it.

    A refusal names the evidence field, so every entry point says which field was wrong.
    """
    if verifier is None:
        raise Forbidden(
            "this act must be signed, and no signature verifier is configured to check it"
        )
    act = SignedAct(signing.document, signing.rendered, signing.signer, evidence, actor, at)
    try:
        verified = verifier(session, act)
    except TirkeuError as error:
        _name_field(error, signing.field)
        raise
    return {**verified, "document": signing.rendered.record()}


def unsignable(element: str) -> Forbidden:
    """Return the refusal of an act whose diagram names nobody to sign it."""
    return Forbidden(f"{element} must be signed, but the diagram names no signer for it")
