"""The Kazakh and Russian catalogues cover every interface text and are compiled."""

import re
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

TRANSLATIONS = Path("webapp/web/translations")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def catalogue(path: Path, reader):
    with path.open("rb") as handle:
        return reader(handle)


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_every_text_is_translated_and_compiled(language):
    template = catalogue(TRANSLATIONS / "messages.pot", read_po)
    folder = TRANSLATIONS / language / "LC_MESSAGES"
    source = catalogue(folder / "messages.po", read_po)
    compiled = catalogue(folder / "messages.mo", read_mo)
    # A text with a context (`pgettext`) is its own entry beside the same English without one.
    wanted = {(m.context, m.id) for m in template if m.id}
    translated = {(m.context, m.id): m.string for m in source if m.id and m.string and not m.fuzzy}
    assert wanted <= set(translated)
    assert {(m.context, m.id): m.string for m in compiled if m.id} == translated


@pytest.mark.parametrize("language", ["kk", "ru"])
def test_placeholders_survive_translation(language):
    source = catalogue(TRANSLATIONS / language / "LC_MESSAGES" / "messages.po", read_po)
    for message in source:
        if message.id:
            expected = sorted(PLACEHOLDER.findall(message.id))
            assert sorted(PLACEHOLDER.findall(message.string)) == expected, message.id
