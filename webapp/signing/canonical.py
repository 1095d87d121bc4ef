"""Canonical bytes of a document's data: the data part of every signed document."""

import json
from collections.abc import Mapping
from typing import Any

from webapp.signing.errors import DocumentNotSignable


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """Return the document as canonical JSON: sorted keys, no spaces, UTF-8."""
    try:
        text = json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise DocumentNotSignable(f"The document is not plain JSON data: {exc}") from exc
    return text.encode()
