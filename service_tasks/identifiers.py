"""Validation of the identifiers registries key on: the IIN and the address registration code."""

import re
from datetime import date

IIN_WEIGHTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
IIN_FALLBACK_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
ARC_MIN_LENGTH = 10
ARC_MAX_LENGTH = 20

_CENTURY_BY_DIGIT = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000}


def iin_check_digit(prefix: str) -> int | None:
    """Return the check digit for the first 11 digits of an IIN, or None if never issued."""
    if len(prefix) != 11 or not prefix.isascii() or not prefix.isdigit():
        raise ValueError(f"an IIN prefix is 11 digits, got {prefix!r}")
    digits = [int(c) for c in prefix]
    for weights in (IIN_WEIGHTS, IIN_FALLBACK_WEIGHTS):
        remainder = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if remainder != 10:
            return remainder
    return None


def iin_problem(value: object) -> str | None:
    """Return why value is not a valid IIN, or None when it is one."""
    if not isinstance(value, str):
        return f"IIN must be a string of 12 digits, got {type(value).__name__}"
    if len(value) != 12 or not value.isascii() or not value.isdigit():
        return f"IIN must be 12 digits, got {value!r}"
    expected = iin_check_digit(value[:11])
    if expected is None:
        return f"IIN {value} is never issued (no check digit exists for its first 11 digits)"
    if int(value[11]) != expected:
        return f"IIN {value} has a wrong check digit (expected {expected})"
    return None


def is_valid_iin(value: object) -> bool:
    """Tell whether value is a valid IIN."""
    return iin_problem(value) is None


def iin_birth_date(iin: str) -> date | None:
    """Return the birth date the IIN's digits imply, or None when they imply none.

    Since 2013 the digits need not match the person's data: use this for a warning only.
    """
    if len(iin) != 12 or not iin.isascii() or not iin.isdigit():
        return None
    century = _CENTURY_BY_DIGIT.get(iin[6])
    if century is None:
        return None
    try:
        return date(century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))
    except ValueError:
        return None


def arc_problem(
    value: object, min_length: int = ARC_MIN_LENGTH, max_length: int = ARC_MAX_LENGTH
) -> str | None:
    """Return why value is not an address registration code, or None when it is one."""
    if not isinstance(value, str):
        return f"ARC must be a string of digits, got {type(value).__name__}"
    if not re.fullmatch(rf"[0-9]{{{min_length},{max_length}}}", value):
        return f"ARC must be {min_length} to {max_length} digits, got {value!r}"
    return None


def is_valid_arc(
    value: object, min_length: int = ARC_MIN_LENGTH, max_length: int = ARC_MAX_LENGTH
) -> bool:
    """Tell whether value is an address registration code."""
    return arc_problem(value, min_length, max_length) is None


# The JSON Schema formats of these identifiers that forms may use (`"format": "iin"`), each a
# function returning why a value is not of it. The ARC has none: its lengths are settings.
SCHEMA_FORMATS = {"iin": iin_problem}
