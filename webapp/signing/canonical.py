"""Canonical bytes of a document: the exact bytes a signature or a one-time code is bound to."""

import hashlib
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


def document_sha256(document: Mapping[str, Any]) -> str:
    """Return the hex SHA-256 of the document's canonical bytes."""
    return hashlib.sha256(canonical_bytes(document)).hexdigest()
