"""Uploaded XML: DOCTYPEs, entities and oversized files are refused before parsing."""

import pytest

from webapp.runtime.xmlsafe import UnsafeXml, parse_xml

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<d>&x;</d>"""
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">]>
<lolz>&lol2;</lolz>"""


@pytest.mark.parametrize("content", [EXTERNAL_ENTITY, BILLION_LAUGHS, b"<!doctype html><d/>"])
def test_doctype_and_entities_are_refused_with_their_line(content):
    with pytest.raises(UnsafeXml, match="DOCTYPE") as refused:
        parse_xml(content)
    assert refused.value.line in (1, 2)


def test_oversized_files_are_refused():
    with pytest.raises(UnsafeXml, match="limit"):
        parse_xml(b"<d>" + b"x" * 100 + b"</d>", max_bytes=50)


def test_malformed_xml_names_its_line():
    with pytest.raises(UnsafeXml, match="not well-formed") as refused:
        parse_xml(b"<a>\n<b>\n</a>")
    assert refused.value.line == 3
