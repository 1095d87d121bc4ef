"""Masking of personal data for viewers whose role may not see it: IINs and people's names."""

import re

IIN = re.compile(r"(?<!\d)\d{12}(?!\d)")
# Keys whose text value is a person's name; other `*_name` keys (file, template) are not.
NAME_KEYS = frozenset(
    {"name", "first_name", "last_name", "middle_name", "surname", "patronymic", "full_name"}
)
NAME_SUFFIXES = ("_first_name", "_last_name", "_middle_name", "_surname", "_full_name")


def mask_iin(value: str) -> str:
    """Return an IIN with its middle hidden: `850314304175` becomes `8503******75`."""
    return f"{value[:4]}{'*' * (len(value) - 6)}{value[-2:]}"


def initials(value: str) -> str:
    """Return a name as initials: `Aigerim Nurlanovna` becomes `A. N.`."""
    return " ".join(f"{part[0]}." for part in value.split() if part)


def is_name_key(key: str) -> bool:
    """Tell whether a data field holds a person's name."""
    key = key.lower()
    return key in NAME_KEYS or key.endswith(NAME_SUFFIXES)


def mask(value, key: str = ""):
    """Return data with every IIN masked and every person's name reduced to initials."""
    if isinstance(value, dict):
        return {k: mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(item, key) for item in value]
    if isinstance(value, str):
        if is_name_key(key):
            return initials(value)
        return IIN.sub(lambda match: mask_iin(match.group()), value)
    return value
