"""Kazakh identifiers: the IIN check digit and the address registration code (ARC) format."""

import re

FIRST_WEIGHTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
SECOND_WEIGHTS = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
ARC_PATTERN = re.compile(r"^[0-9]{10,20}$")


def iin_check_digit(first_eleven: str) -> int | None:
    """Return the check digit for eleven IIN digits, or None when no valid IIN has them."""
    digits = [int(c) for c in first_eleven]
    for weights in (FIRST_WEIGHTS, SECOND_WEIGHTS):
        remainder = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
        if remainder != 10:
            return remainder
    return None


def is_valid_iin(value: str) -> bool:
    """Tell whether the value is twelve digits with a correct check digit."""
    if len(value) != 12 or not value.isdigit():
        return False
    return iin_check_digit(value[:11]) == int(value[11])


def is_valid_arc(value: str) -> bool:
    """Tell whether the value has the shape of an address registration code."""
    return bool(ARC_PATTERN.match(value))
