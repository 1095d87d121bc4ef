"""The service centres of `data/centres.json`: the ids accounts, counter applications and
staffing plans name them by."""

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType

CENTRES_PATH = Path(__file__).with_name("data") / "centres.json"


@cache
def _records() -> tuple[dict, ...]:
    return tuple(json.loads(CENTRES_PATH.read_text(encoding="utf-8")))


def centre_ids() -> tuple[str, ...]:
    """Return the ids of the service centres, in the order centres.json lists them."""
    return tuple(str(c["id"]) for c in _records())


@cache
def centre_names(language: str) -> Mapping[str, str]:
    """Return each centre's name in the language (its `names`), else its English `name`."""
    names = {str(c["id"]): c.get("names", {}).get(language, c["name"]) for c in _records()}
    return MappingProxyType(names)


def centre_problem(value: object) -> str | None:
    """Return why a value names no service centre, or None when it names one."""
    if isinstance(value, str) and value in centre_ids():
        return None
    return f"{value!r} is not a service centre (known: {', '.join(centre_ids())})"
