"""Parse uploaded XML safely: no DOCTYPE, no entities, no network, bounded size."""

import re

from lxml import etree

MAX_XML_BYTES = 2 * 1024 * 1024
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_PARSER_OPTIONS = dict(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=False,
)


class UnsafeXml(ValueError):
    """The document was refused before or while parsing; `line` is where, when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def parse_xml(content: bytes, max_bytes: int = MAX_XML_BYTES) -> etree._ElementTree:
    """Parse XML refusing any DOCTYPE or entity declaration and anything over `max_bytes`."""
    if len(content) > max_bytes:
        raise UnsafeXml(f"file is {len(content)} bytes; the limit is {max_bytes}")
    match = _DOCTYPE.search(content)
    if match:
        line = content.count(b"\n", 0, match.start()) + 1
        raise UnsafeXml("DOCTYPE and entity declarations are not allowed", line)
    try:
        return etree.ElementTree(etree.fromstring(content, etree.XMLParser(**_PARSER_OPTIONS)))
    except etree.XMLSyntaxError as error:
        raise UnsafeXml(f"not well-formed XML: {error.msg}", error.lineno) from error
