"""Process texts as translatable data: gettext catalogues deployed beside the diagrams.

A bundle's English source texts are in its files: the names of its process, lanes and flow
nodes, user tasks' instructions, its forms' titles, descriptions, option labels and UI help,
and the prose outputs of its decision tables (refusal texts). Each has a key, the gettext
`msgctxt`: `<element id>:<field>` for a diagram (`Task_CheckDocuments:name`), `<file>:<JSON
pointer>` for a form (`check_documents.schema.json:/properties/check_result/title`) and
`<file>:<output entry id>` for a decision table. Two kinds of text have no English in the
diagrams, so their catalogue entries declare it as their `msgid`: the notices a process sends
(`notice:<template>`, required for every template a `notify.send` task names) and the labels
of the code values people see (`value:<code>`).

The translations are `translations/<language>.po` in the bundle, read with Babel's own reader
and deployed with the rest, so each version carries its own texts. A bundle with any
translation must have every text in every language the product serves: an entry missing,
empty, fuzzy or written for another English text is a problem naming the element, the field
and the language, and so is an entry whose key the bundle no longer has.
"""

import ast
import io
import json
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field

from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError, read_po, write_po

from .errors import Problem
from .xmlsafe import UnsafeXml, parse_xml

FOLDER = "translations/"
PO_NAME = re.compile(r"^translations/([a-z]{2,3})\.po$")
BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
)
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NAMED_TAGS = (
    "process", "participant", "lane", "startEvent", "endEvent", "boundaryEvent",
    "intermediateCatchEvent", "intermediateThrowEvent", "task", "userTask", "serviceTask",
    "scriptTask", "businessRuleTask", "manualTask", "sendTask", "receiveTask", "callActivity",
    "subProcess", "transaction", "exclusiveGateway", "inclusiveGateway", "parallelGateway",
    "eventBasedGateway", "complexGateway",
)  # fmt: skip
SCHEMA_TEXTS = ("title", "description")
UI_TEXTS = ("ui:help", "ui:placeholder", "ui:title", "ui:description")
NOTICE = "notice:"
VALUE = "value:"
DECLARED = (NOTICE, VALUE)
# A decision table's output that is a code (`"no_title"`) is data; one with a space is prose.
CODE = re.compile(r"^[A-Za-z0-9_.,\-]*$")
HEADER = (
    "# {language} texts of the process, keyed by element and field (msgctxt); msgid is the\n"
    "# English source. Edit on the process editor's Texts page, or here and validate.\n\n"
)
LANGUAGE_NAMES = {"en": "English", "kk": "Kazakh", "ru": "Russian"}


@dataclass(frozen=True)
class Source:
    """One English text of a bundle, where it is and its key."""

    key: str
    element: str
    field: str
    text: str
    file: str


@dataclass(frozen=True)
class Entry:
    """One translation: the English it was written for and the text, with its line."""

    source: str
    text: str
    fuzzy: bool
    line: int | None


@dataclass(frozen=True)
class Catalogue:
    """The texts of one bundle: English sources by key and translations by language."""

    sources: dict[str, Source] = field(default_factory=dict)
    languages: dict[str, dict[str, Entry]] = field(default_factory=dict)

    def text(self, language: str, key: str, source: str | None = None) -> str | None:
        """Return the translation of a key into a language, or None when there is none.

        With `source`, only a translation written for that English text counts, so a text
        changed since it was translated is not shown with its old meaning.
        """
        entry = self.languages.get(language, {}).get(key)
        if entry is None or not entry.text or entry.fuzzy:
            return None
        if source is not None and entry.source != source:
            return None
        return entry.text

    def by_source(self, language: str, source: str) -> str | None:
        """Return the translation of an English text wherever the bundle has it (data that a
        decision table or a diagram wrote, such as a refusal text), or None."""
        for key in self._keys_of(source):
            text = self.text(language, key, source)
            if text:
                return text
        return None

    def _keys_of(self, source: str) -> Iterator[str]:
        for key, item in self.sources.items():
            if item.text == source:
                yield key
        for entries in self.languages.values():
            for key, entry in entries.items():
                if key.startswith(DECLARED) and entry.source == source:
                    yield key

    def declared(self, key: str) -> str | None:
        """Return the English a catalogue declares for a notice or value key, or None."""
        for entries in self.languages.values():
            entry = entries.get(key)
            if entry is not None and entry.source:
                return entry.source
        return None


def is_catalogue_file(name: str) -> bool:
    """Tell whether a bundle file name is a translation catalogue's."""
    return PO_NAME.match(name) is not None


def po_name(language: str) -> str:
    """Return the bundle file name of a language's catalogue."""
    return f"{FOLDER}{language}.po"


def language_label(language: str) -> str:
    """Return a language's English name with its code, for messages."""
    name = LANGUAGE_NAMES.get(language)
    return f"{name} ({language})" if name else language


def split_key(key: str) -> tuple[str, str]:
    """Return the element (or file) and the field of a key."""
    element, _sep, rest = key.partition(":")
    return element, rest


def _bpmn_sources(name: str, tree) -> Iterator[Source]:
    for tag in NAMED_TAGS:
        for element in tree.iter(f"{{{BPMN}}}{tag}"):
            text, element_id = (element.get("name") or "").strip(), element.get("id")
            if text and element_id:
                yield Source(f"{element_id}:name", element_id, "name", text, name)
    for instructions in tree.iter(f"{{{SPIFF}}}instructionsForEndUser"):
        owner = instructions.getparent().getparent()
        text = (instructions.text or "").strip()
        if text and owner is not None and owner.get("id"):
            element_id = owner.get("id")
            yield Source(f"{element_id}:instructions", element_id, "instructions", text, name)


def _dmn_sources(name: str, tree) -> Iterator[Source]:
    for namespace in DMN_NAMESPACES:
        for entry in tree.iter(f"{{{namespace}}}outputEntry"):
            text_node = entry.find(f"{{{namespace}}}text")
            raw = (text_node.text if text_node is not None else "") or ""
            text = _string_literal(raw)
            if text and not CODE.match(text) and entry.get("id"):
                yield Source(f"{name}:{entry.get('id')}", name, entry.get("id"), text, name)


def _string_literal(raw: str) -> str | None:
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def _json_sources(name: str, value: object, pointer: str = "") -> Iterator[Source]:
    """Yield the texts of a form schema or UI schema, keyed by JSON pointer."""
    ui = name.endswith(".uischema.json")
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{pointer}/{escape_pointer(key)}"
            wanted = UI_TEXTS if ui else SCHEMA_TEXTS
            if key in wanted and isinstance(item, str) and item.strip():
                yield Source(f"{name}:{path}", name, path, item.strip(), name)
            elif key == "enumNames" and isinstance(item, list) and not ui:
                for index, label in enumerate(item):
                    if isinstance(label, str) and label.strip():
                        where = f"{path}/{index}"
                        yield Source(f"{name}:{where}", name, where, label.strip(), name)
            elif isinstance(item, dict | list) and key not in ("const", "enum", "default"):
                yield from _json_sources(name, item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_sources(name, item, f"{pointer}/{index}")


def escape_pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _dmn_codes(trees: Mapping[str, object]) -> dict[str, set[str]]:
    """Return the code values each named decision table output can take."""
    codes: dict[str, set[str]] = {}
    for tree in trees.values():
        for namespace in DMN_NAMESPACES:
            for table in tree.iter(f"{{{namespace}}}decisionTable"):
                outputs = [o.get("name") for o in table.iterfind(f"{{{namespace}}}output")]
                for rule in table.iterfind(f"{{{namespace}}}rule"):
                    entries = rule.iterfind(f"{{{namespace}}}outputEntry")
                    for output, entry in zip(outputs, entries, strict=False):
                        text = _string_literal(entry.findtext(f"{{{namespace}}}text") or "")
                        if output and text and CODE.match(text):
                            codes.setdefault(output, set()).add(text)
    return codes


def _notice_templates(trees: Mapping[str, object]) -> set[str]:
    """Return every template code the bundle's `notify.send` tasks can name: a literal, or a
    literal prefix joined to a decision table's output (`"application_" + outcome`)."""
    codes = _dmn_codes(trees)
    templates: set[str] = set()
    for name, tree in trees.items():
        if name.endswith(".dmn"):
            continue
        for parameter in tree.iter(f"{{{SPIFF}}}parameter"):
            if parameter.get("id") != "template":
                continue
            try:
                expression = ast.parse(parameter.get("value") or "", mode="eval").body
            except SyntaxError:
                continue  # reported by the script checks
            if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
                templates.add(expression.value)
            elif (
                isinstance(expression, ast.BinOp)
                and isinstance(expression.op, ast.Add)
                and isinstance(expression.left, ast.Constant)
                and isinstance(expression.right, ast.Name)
            ):
                prefix = str(expression.left.value)
                templates.update(prefix + code for code in codes.get(expression.right.id, ()))
    return templates


def sources(files: Mapping[str, bytes]) -> dict[str, Source]:
    """Return the English texts of a bundle by key, in file order."""
    found: dict[str, Source] = {}
    trees = {}
    for name, content in sorted(files.items()):
        if name.endswith((".bpmn", ".bpmn20.xml", ".dmn")):
            try:
                trees[name] = parse_xml(content)
            except UnsafeXml:
                continue  # reported by the bundle's checks
            texts = _dmn_sources if name.endswith(".dmn") else _bpmn_sources
            found.update((s.key, s) for s in texts(name, trees[name]))
        elif name.endswith((".schema.json", ".uischema.json")):
            try:
                document = json.loads(content)
            except ValueError:
                continue
            found.update((s.key, s) for s in _json_sources(name, document))
    for template in sorted(_notice_templates(trees)):
        key = f"{NOTICE}{template}"
        found[key] = Source(key, template, "notice", "", "")
    return found


def read_catalogue(content: bytes) -> dict[str, Entry]:
    """Return the entries of one `.po` file by key; raise ValueError when it does not parse."""
    try:
        catalog = read_po(io.BytesIO(content), ignore_obsolete=True, abort_invalid=True)
    except (PoFileError, UnicodeDecodeError) as error:
        raise ValueError(str(error)) from error
    entries = {}
    for message in catalog:
        if not message.id or not message.context:
            continue
        text = message.string if isinstance(message.string, str) else ""
        line = message.lineno if isinstance(message.lineno, int) else None
        entries[message.context] = Entry(str(message.id), text, message.fuzzy, line)
    return entries


def load(files: Mapping[str, bytes]) -> Catalogue:
    """Return the catalogue of a bundle; a `.po` file that does not parse counts as empty."""
    languages = {}
    for name, content in files.items():
        match = PO_NAME.match(name)
        if match:
            try:
                languages[match.group(1)] = read_catalogue(content)
            except ValueError:
                languages[match.group(1)] = {}
    return Catalogue(sources(files), languages)


def problems(files: Mapping[str, bytes], languages: Collection[str]) -> list[Problem]:
    """Return the translation problems of a bundle: catalogues that do not parse, texts
    missing or outdated in a language, and entries for keys the bundle no longer has.

    A bundle with no catalogue at all is untranslated and has none: its texts show in English,
    marked. One with a catalogue must have every language of `languages`. Every problem but a
    catalogue that does not parse is a warning: the version may be proposed, to be completed,
    but a text missing or outdated stops it taking effect; a stale entry is only reported.
    """
    found: list[Problem] = []
    present: dict[str, dict[str, Entry]] = {}
    for name, content in sorted(files.items()):
        match = PO_NAME.match(name)
        if not match:
            continue
        try:
            present[match.group(1)] = read_catalogue(content)
        except ValueError as error:
            found.append(Problem(name, None, None, f"not a valid gettext catalogue: {error}"))
    if found or not present:
        return found  # what a catalogue that does not parse lacks is not known
    texts = sources(files)
    declared = {k: e.source for entries in present.values() for k, e in entries.items()
                if k.startswith(DECLARED)}  # fmt: skip
    wanted = sorted({*languages, *present})
    for language in wanted:
        entries = present.get(language, {})
        file = po_name(language)
        for key, source in texts.items():
            english = source.text or declared.get(key, "")
            found.extend(_entry_problems(file, language, source, english, entries.get(key)))
        for key in sorted(set(declared) - set(texts)):
            if not key.startswith(NOTICE):
                item = Source(key, split_key(key)[1], "label", declared[key], "")
                found.extend(_entry_problems(file, language, item, declared[key], entries.get(key)))
        for key, entry in sorted(entries.items()):
            if key not in texts and not key.startswith(VALUE):
                element, what = split_key(key)
                message = (f"stale {language_label(language)} entry '{key}': the bundle has no"
                           f" {what or 'text'} of {element}; remove it")  # fmt: skip
                found.append(Problem(file, entry.line, element or None, message, True, False))
    return found


def _entry_problems(
    file: str, language: str, source: Source, english: str, entry: Entry | None
) -> list[Problem]:
    where = f"the {source.field} of {source.element}"
    label = language_label(language)
    if not english:
        message = f"no English text for {where}: declare it as the msgid of '{source.key}'"
        return [Problem(file, None, source.element, message, warning=True)]
    if entry is None or not entry.text:
        message = f"missing {label} translation of {where} ('{source.key}'): {english!r}"
        return [Problem(file, entry.line if entry else None, source.element, message, True)]
    if entry.fuzzy or entry.source != english:
        message = (f"outdated {label} translation of {where} ('{source.key}'): written for"
                   f" {entry.source!r}, the text is now {english!r}")  # fmt: skip
        return [Problem(file, entry.line, source.element, message, warning=True)]
    return []


def write(
    catalogue: Catalogue, language: str, texts: Mapping[str, str], declared: Mapping[str, str]
) -> bytes:
    """Return the `.po` file of one language with the given translations of the bundle's
    current keys, in the bundle's order; entries for keys it no longer has are dropped.

    `declared` holds the English of notice and value keys, which no diagram holds.
    """
    catalog = Catalog(locale=language, fuzzy=False)
    for key, source in catalogue.sources.items():
        english = source.text or declared.get(key, "")
        if english:
            catalog.add(english, texts.get(key, ""), context=key)
    for key in sorted(declared):
        if key.startswith(VALUE) and declared[key]:
            catalog.add(declared[key], texts.get(key, ""), context=key)
    out = io.BytesIO()
    # No header: its dates would change the bundle's hash at every save of the same texts.
    out.write(HEADER.format(language=language_label(language)).encode())
    write_po(out, catalog, width=100, omit_header=True, no_location=True)
    return out.getvalue()
