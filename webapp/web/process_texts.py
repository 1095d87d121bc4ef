"""The process owners' Texts page: every text of a version beside its translations.

One table row per element and field, with the English source and an input per language, the
missing ones marked. Proposing saves the catalogues as a new version through the same path as
a diagram edit: it takes effect when another person approves it, which waits for every text to
be translated; a version proposed with gaps opens here again, to complete them.
"""

import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.runtime import scripting, texts
from webapp.runtime.errors import Conflict, InvalidDiagram
from webapp.settings import PROCESS_LANGUAGES

from .auth import role_required
from .database import runtime
from .processes import ROLES
from .processes import _bundle as version_bundle

bp = Blueprint("process_texts", __name__, url_prefix="/processes")
MAX_TEXT = 4000
# Placeholders of an instructions template: a translation may use only those of its source.
PLACEHOLDER = re.compile(r"{{\s*([A-Za-z_][\w.]*)")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Row:
    """One text of a version: where it is, its English and its translation per language."""

    key: str
    element: str
    field: str
    english: str
    translations: dict[str, str]

    @property
    def missing(self) -> tuple[str, ...]:
        """Return the languages with no translation of this text."""
        return tuple(lang for lang, text in self.translations.items() if not text)


def rows_of(catalogue: texts.Catalogue, typed: dict[str, str] | None = None) -> list[Row]:
    """Return the rows of a catalogue: its texts, then the labels of its code values; with
    `typed`, what the person typed replaces the deployed translations."""
    typed = typed or {}
    keys = list(catalogue.sources)
    labels = {k for entries in catalogue.languages.values() for k in entries}
    keys += sorted(k for k in labels if k.startswith(texts.VALUE))
    rows = []
    for key in keys:
        source = catalogue.sources.get(key)
        english = (source.text if source else "") or catalogue.declared(key) or ""
        element, what = texts.split_key(key)
        translations = {}
        for language in PROCESS_LANGUAGES:
            deployed = catalogue.text(language, key, english) or ""
            translations[language] = typed.get(field_name(language, key), deployed)
        rows.append(Row(key, element, what, english, translations))
    return rows


def field_name(language: str, key: str) -> str:
    """Return the form field of a key's translation into a language."""
    return f"{language}|{key}"


def checked(rows: list[Row], form: Any) -> tuple[dict[str, str], dict[str, str]]:
    """Return the posted translations by field, and a reason per refused field."""
    known = {field_name(lang, row.key): row for row in rows for lang in PROCESS_LANGUAGES}
    typed: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name, value in form.items():
        if name == "csrf_token":
            continue
        row = known.get(name)
        if row is None:
            errors[name] = _("No such text of this version.")
            continue
        text = value.strip()
        typed[name] = text
        reason = text_problem(row, text)
        if reason:
            errors[name] = reason
    return typed, errors


def text_problem(row: Row, text: str) -> str | None:
    """Return why a translation cannot be saved, or None."""
    if len(text) > MAX_TEXT:
        return _("Longer than %(max)s characters.", max=MAX_TEXT)
    if CONTROL.search(text):
        return _("Contains control characters.")
    if row.field == "instructions" and text:
        problems = scripting.check_template(text)
        if problems:
            return _("Not a valid template: %(reason)s", reason=problems[0])
        unknown = set(PLACEHOLDER.findall(text)) - set(PLACEHOLDER.findall(row.english))
        if unknown:
            names = ", ".join(sorted(unknown))
            return _("Uses data the English text does not: %(names)s", names=names)
    return None


def catalogues(
    catalogue: texts.Catalogue, rows: list[Row], typed: dict[str, str]
) -> dict[str, bytes]:
    """Return the bundle's catalogue files with the typed translations."""
    declared = {row.key: row.english for row in rows if row.key.startswith(texts.DECLARED)}
    files = {}
    for language in PROCESS_LANGUAGES:
        chosen = {row.key: typed.get(field_name(language, row.key), "") for row in rows}
        files[texts.po_name(language)] = texts.write(catalogue, language, chosen, declared)
    return files


@bp.get("/<process_id>/<int:number>/texts")
@role_required(*ROLES)
def page(process_id: str, number: int) -> Any:
    """Show every text of a version with its translations, the missing ones marked."""
    row, bundle = version_bundle(process_id, number)
    rows = rows_of(texts.load(bundle))
    return render_template(
        "processes/texts.html", row=row, rows=rows, languages=PROCESS_LANGUAGES, errors={},
        problems=[], missing=sum(len(r.missing) for r in rows),
    )  # fmt: skip


@bp.post("/<process_id>/<int:number>/texts")
@role_required(*ROLES)
def propose(process_id: str, number: int) -> Any:
    """Propose the version with the posted translations as a new version."""
    row, bundle = version_bundle(process_id, number)
    catalogue = texts.load(bundle)
    rows = rows_of(catalogue)
    typed, errors = checked(rows, request.form)
    problems: list[str] = []
    status = 400 if any(name not in _names(rows) for name in errors) else 422
    if not errors:
        bundle.update(catalogues(catalogue, rows, typed))
        try:
            deployed = runtime().propose(bundle, author=current_user.username)
        except InvalidDiagram as error:
            problems = [str(p) for p in error.problems]
        except Conflict as error:
            problems, status = [error.message], 409
        else:
            created = next((d for d in deployed if d.process_id == process_id), None)
            if created is None:
                abort(409)
            return redirect(_proposed(bundle, process_id, created), 303)
    shown = rows_of(catalogue, typed)
    page_html = render_template(
        "processes/texts.html", row=row, rows=shown, languages=PROCESS_LANGUAGES,
        errors=errors, problems=problems, missing=sum(len(r.missing) for r in shown),
    )  # fmt: skip
    return page_html, status


def _proposed(bundle: dict[str, bytes], process_id: str, created: Any) -> str:
    """Say what became of a proposal; return where to go next: its review, or this page
    again when texts are still to translate."""
    if not created.created:
        flash(_("Nothing changed: version %(v)s has these texts already.", v=created.version),
              "info")  # fmt: skip
        return url_for("process_texts.page", process_id=process_id, number=created.version)
    flash(_("The texts are proposed as version %(v)s: another person approves it.",
            v=created.version), "success")  # fmt: skip
    gaps = [p for p in texts.problems(bundle, PROCESS_LANGUAGES) if p.stops_effect]
    if not gaps:
        return url_for("processes.review", deployment_id=created.deployment_id)
    flash(_("%(count)s texts are still to translate: version %(v)s cannot take effect until"
            " they are.", count=len(gaps), v=created.version), "error")  # fmt: skip
    return url_for("process_texts.page", process_id=process_id, number=created.version)


def _names(rows: list[Row]) -> set[str]:
    return {field_name(lang, row.key) for row in rows for lang in PROCESS_LANGUAGES}
