"""Process texts in the reader's language, from the catalogue of the version that wrote them.

Every text a process shows a person (task titles, forms, instructions, status history, notices,
refusal texts, the labels of code values) goes through here. A text the catalogue lacks in the
reader's language shows in English, never silently: marked `lang="en"` with a visible "EN"
badge, and logged once per process version, language and key.
"""

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from flask import Flask, current_app, g
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup, escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.db.models import Deployment, Instance, ProcessVersion
from webapp.runtime import scripting, texts
from webapp.runtime.deployments import IN_EFFECT
from webapp.runtime.texts import Catalogue

from . import process_catalogue
from .database import db
from .schemaforms import Field

log = logging.getLogger(__name__)
SOURCE_LANGUAGE = "en"
CACHE = "tirkeu_process_texts"
PAGE_TEXTS = "process_texts"
T = TypeVar("T")


class ProcessText(str):
    """A process text as shown: a str, which renders in HTML with its fallback marked."""

    untranslated: bool = False

    def __new__(cls, text: str, untranslated: bool = False) -> "ProcessText":
        """Return the text, marked untranslated when it is the English fallback."""
        made = super().__new__(cls, text)
        made.untranslated = untranslated
        return made

    def __html__(self) -> Markup:
        """Return the text escaped; a fallback in a span with `lang="en"` and an EN badge."""
        if not self.untranslated:
            return escape(str(self))
        badge = _("Not translated yet: shown in English")
        return Markup(
            '<span lang="en" class="untranslated">{}<abbr class="untranslated-badge" title="{}">'
            "EN</abbr></span>"
        ).format(str(self), badge)


def language() -> str:
    """Return the reader's language."""
    return str(get_locale() or SOURCE_LANGUAGE)


def _read(query: Callable[[Session], T]) -> T:
    """Run a read in the request's transaction, or in one of its own that it closes, so that
    a page may still begin its own afterwards."""
    session = db()
    if session.in_transaction():
        return query(session)
    with session.begin():
        return query(session)


def catalogue(deployment_id: int) -> Catalogue:
    """Return the texts of a deployment, cached: deployed content never changes."""
    cache = current_app.extensions.setdefault(CACHE, {})
    if deployment_id not in cache:
        files = _read(lambda session: process_catalogue.files(session, deployment_id))
        cache[deployment_id] = texts.load(files)
    return cache[deployment_id]


def of_instance(instance_id: int) -> Catalogue:
    """Return the texts of the version an instance runs on (looked up once per request)."""
    known = g.setdefault("instance_deployments", {})
    if instance_id not in known:
        query = (
            select(ProcessVersion.deployment_id)
            .join(Instance, Instance.process_version_id == ProcessVersion.id)
            .where(Instance.id == instance_id)
        )
        known[instance_id] = _read(lambda session: session.scalar(query))
    deployment_id = known[instance_id]
    return catalogue(deployment_id) if deployment_id is not None else Catalogue()


def use(texts_of: Catalogue) -> Catalogue:
    """Make a catalogue the one of the page's case, for the labels of its data's values."""
    g.setdefault(PAGE_TEXTS, texts_of)
    return texts_of


def of_version(process_id: str, version: int) -> Catalogue:
    """Return the texts of one version of a process."""
    query = select(ProcessVersion.deployment_id).where(
        ProcessVersion.process_id == process_id, ProcessVersion.version == version
    )
    deployment_id = _read(lambda session: session.scalar(query))
    return catalogue(deployment_id) if deployment_id is not None else Catalogue()


def of_process(process_id: str) -> Catalogue:
    """Return the texts of the version of a process in effect (for forms not yet of an
    instance: the counter's application)."""
    query = (
        select(ProcessVersion.deployment_id)
        .join(Deployment, IN_EFFECT)
        .where(ProcessVersion.process_id == process_id)
        .order_by(ProcessVersion.version.desc())
        .limit(1)
    )
    deployment_id = _read(lambda session: session.scalar(query))
    return catalogue(deployment_id) if deployment_id is not None else Catalogue()


def _shown(found: str | None, english: str, where: str) -> ProcessText:
    reader = language()
    if reader == SOURCE_LANGUAGE or not english:
        return ProcessText(english)
    if found:
        return ProcessText(found)
    logged = current_app.extensions.setdefault("tirkeu_untranslated", set())
    if (reader, where) not in logged:
        logged.add((reader, where))
        log.warning("no %s text for %s: shown in English", reader, where)
    return ProcessText(english, untranslated=True)


def text(texts_of: Catalogue, key: str, english: str) -> ProcessText:
    """Return the text of a key in the reader's language, written for this English."""
    return _shown(texts_of.text(language(), key, english), english, key)


def field_title(name: str) -> ProcessText | None:
    """Return the title a form of the page's process gives a data field, in the reader's
    language, or None when no form names it."""
    texts_of = g.get(PAGE_TEXTS, Catalogue())
    ending = f":/properties/{texts.escape_pointer(name)}/title"
    for key, source in texts_of.sources.items():
        if key.endswith(ending) and source.text:
            return text(texts_of, key, source.text)
    return None


def from_source(texts_of: Catalogue, english: str) -> ProcessText:
    """Return an English text the process wrote into data (a refusal text) in the reader's
    language."""
    return _shown(texts_of.by_source(language(), english), english, repr(english[:40]))


def element_name(texts_of: Catalogue, element: str | None, english: str | None) -> ProcessText:
    """Return the name of a diagram element (a task, an event) in the reader's language."""
    if not element or not english or english == element:
        # An unnamed element shows its id (the engine records the id as its name): a code.
        return ProcessText(english or element or "")
    return text(texts_of, f"{element}:name", english)


def value_label(texts_of: Catalogue, code: object) -> ProcessText | object:
    """Return the label of a code value (`flat`, `permanent`) where the process declares one."""
    if not isinstance(code, str):
        return code
    key = f"{texts.VALUE}{code}"
    english = texts_of.declared(key)
    return code if english is None else text(texts_of, key, english)


def notice(texts_of: Catalogue, template: str) -> ProcessText:
    """Return the text of a notice template, or its code spelled out where none is declared."""
    key = f"{texts.NOTICE}{template}"
    english = texts_of.declared(key) or template.replace("_", " ")
    return text(texts_of, key, english)


class LabelledCode(str):
    """A code value of the data that compares as its code but prints as its label, so that a
    translated template shows `тұрақты` where its data holds `permanent`."""

    label: str = ""

    def __new__(cls, code: str, label: str) -> "LabelledCode":
        """Return the code, printed as the label."""
        made = super().__new__(cls, code)
        made.label = label
        return made

    def __str__(self) -> str:
        """Return the label."""
        return self.label


def labelled(texts_of: Catalogue, data: Any) -> Any:
    """Return the data with each code value the catalogue labels printing as its label."""
    if isinstance(data, dict):
        return {key: labelled(texts_of, value) for key, value in data.items()}
    if isinstance(data, list):
        return [labelled(texts_of, value) for value in data]
    if isinstance(data, str):
        label = value_label(texts_of, data)
        return LabelledCode(data, str(label)) if isinstance(label, ProcessText) else data
    return data


def instructions(texts_of: Catalogue, task: Any, data: dict[str, Any]) -> ProcessText | None:
    """Return a task's instructions in the reader's language, rendered over its data; the
    English rendered when the task became ready is the fallback."""
    if not task.instructions:
        return None
    key = f"{task.bpmn_id}:instructions"
    source = texts_of.sources.get(key)
    found = texts_of.text(language(), key, source.text) if source else None
    if found:
        try:
            found = scripting.render(found, labelled(texts_of, data))
        except Exception:  # noqa: BLE001  (a translation that fails shows the English, logged)
            log.exception("the %s instructions of %s do not render", language(), task.bpmn_id)
            found = None
    return _shown(found, task.instructions, key)


def _pointer(file: str | None, *parts: object) -> str:
    return f"{file}:" + "".join(f"/{texts.escape_pointer(str(part))}" for part in parts)


def localised_fields(
    texts_of: Catalogue,
    fields: list[Field],
    schema: dict[str, Any],
    schema_file: str | None,
    ui_file: str | None,
) -> list[Field]:
    """Return form fields with their labels, descriptions, options and help translated."""
    properties = schema.get("properties", {})
    shown = []
    for field in fields:
        spec = properties.get(field.name, {})
        at = ("properties", field.name)
        changes: dict[str, Any] = {}
        if "title" in spec:
            changes["label"] = text(texts_of, _pointer(schema_file, *at, "title"), field.label)
        if field.description:
            key = _pointer(schema_file, *at, "description")
            changes["description"] = text(texts_of, key, field.description)
        if field.help:
            changes["help"] = text(texts_of, _pointer(ui_file, field.name, "ui:help"), field.help)
        if field.placeholder:
            key = _pointer(ui_file, field.name, "ui:placeholder")
            changes["placeholder"] = str(text(texts_of, key, field.placeholder))
        changes["options"] = tuple(
            (value, _option(texts_of, spec, schema_file, at, value, label))
            for value, label in field.options
        )
        shown.append(replace(field, **changes))
    return shown


def _option(
    texts_of: Catalogue, spec: dict, file: str | None, at: tuple, value: str, label: str
) -> str:
    for key in ("oneOf", "anyOf"):
        for index, item in enumerate(spec.get(key) or []):
            if isinstance(item, dict) and str(item.get("const")) == value and "title" in item:
                return text(texts_of, _pointer(file, *at, key, index, "title"), label)
    names = spec.get("enumNames")
    if names and value in [str(v) for v in spec.get("enum", [])]:
        index = [str(v) for v in spec["enum"]].index(value)
        return text(texts_of, _pointer(file, *at, "enumNames", index), label)
    return label


def init_app(app: Flask) -> None:
    """Give templates the process texts: `task_title`, `element_name`, `value_label`,
    `refusal_text` and `notice_text`, each for an instance."""

    @app.template_filter("task_title")
    def task_title(row: Any, instance_id: int | None = None) -> ProcessText:
        """Return a task's (or an event's) name from its instance's catalogue, or from the
        page's catalogue (`use`) for a row of no instance."""
        owner = instance_id if instance_id is not None else getattr(row, "instance_id", None)
        texts_of = of_instance(owner) if owner is not None else g.get(PAGE_TEXTS, Catalogue())
        return element_name(texts_of, row.bpmn_id, row.name)

    @app.template_filter("value_label")
    def value_label_filter(code: object, instance_id: int | None = None) -> object:
        """Return a code value's label from the instance's catalogue, or from the catalogue
        of the page's case (`use`)."""
        texts_of = of_instance(instance_id) if instance_id else g.get(PAGE_TEXTS, Catalogue())
        return value_label(texts_of, code)

    @app.template_filter("version_name")
    def version_name(row: Any) -> ProcessText:
        """Return the name of a process version from its own catalogue, or its id."""
        texts_of = catalogue(row.deployment_id)
        return element_name(texts_of, row.process_id, row.name) if row.name else row.process_id

    @app.template_filter("plain")
    def plain(value: object) -> str:
        """Return a text without its fallback mark, for a title or an attribute."""
        return str(value)

    @app.template_filter("process_text")
    def process_text(english: str, instance_id: int) -> ProcessText:
        """Return a text the instance's process wrote into its data, translated."""
        return from_source(of_instance(instance_id), english)

    @app.template_filter("instance_of_application")
    def instance_of_application(number: str) -> int | None:
        """Return the instance with an application number, to find its catalogue."""
        query = select(Instance.id).where(Instance.business_key == number).limit(1)
        return _read(lambda session: session.scalar(query))

    @app.template_filter("notice_text")
    def notice_text(template: str, instance_id: int | None) -> ProcessText:
        """Return a notice template's text from the instance's catalogue."""
        return notice(of_instance(instance_id) if instance_id else Catalogue(), template)
