"""Measuring values before a C call builds, writes out, compares or hashes them.

No trace hook can stop such a call once it runs, so the length of a result, the bits of a
number, and what a value amounts to written out or compared are measured first, and refused
past their budget.
"""

from collections.abc import Mapping

from ..errors import ScriptError
from .limits import MAX_COMPARED, MAX_DATA, MAX_INT_BITS, MAX_LENGTH

_SEQUENCES = (str, bytes, list, tuple)
_TEXTS = (str, bytes)


def _too_long(length: int, what: str) -> None:
    if length > MAX_LENGTH:
        raise ScriptError(f"refused: {what} would make {length} items, more than {MAX_LENGTH}")


def _too_big(bits: float, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise ScriptError(
            f"refused: {what} would make a number of {int(bits)} bits, more than {MAX_INT_BITS}"
        )


def expanded_size(value: object, limit: int = MAX_DATA) -> int:
    """Return how many items and characters `value` amounts to written out, stopping past `limit`.

    A list can hold the same big object many times at the cost of one reference each; turning
    it into text or JSON writes that object out every time, so shared objects count each time.
    """
    size, stack = 0, [value]
    while stack and size <= limit:
        item = stack.pop()
        size += 1
        if isinstance(item, _TEXTS):
            size += len(item)
        elif isinstance(item, dict):
            size += len(item)
            if size <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            size += len(item)
            if size <= limit:
                stack.extend(item)
    return size


def check_size(value: object, what: str = "the value") -> object:
    """Return `value`, refusing it when written out it would pass MAX_DATA."""
    if isinstance(value, (*_SEQUENCES, dict, set, frozenset)):
        size = expanded_size(value)
        if size > MAX_DATA:
            raise ScriptError(f"refused: {what} amounts to more than {MAX_DATA} items")
    return value


def check_compared(value: object) -> object:
    """Return `value`, refusing it when comparing or hashing it could pass MAX_COMPARED steps.

    Python compares and hashes nested lists, tuples and dicts element by element in one C call
    that no trace hook interrupts, and a structure holding the same object twice at each of 40
    levels takes 2**40 steps: every value compared or hashed is measured as written out first.
    """
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        size = expanded_size(value, MAX_COMPARED)
        if size > MAX_COMPARED:
            raise ScriptError(
                f"refused: a value compared or hashed has more than {MAX_COMPARED} items"
            )
    return value


def _compared_items(values: object) -> object:
    """Return what a call compares or hashes the items of, as a list of checked items.

    A mapping passes unchanged: its keys were checked when they went in, and their hashes are
    kept with them; a text's items are characters.
    """
    if isinstance(values, (*_TEXTS, Mapping)):
        return values
    items = list(values)
    for item in items:
        check_compared(item)
    return items


def _checked_call(args: tuple, kwargs: dict, over: str) -> tuple[tuple, dict]:
    """Check what a call compares or hashes: its `values`, the `items` of every argument, or
    the items of the `first` and the others as values; and what its `key` returns."""
    if over == "items":
        args = tuple(_compared_items(arg) for arg in args)
    else:
        for arg in args[1:] if over == "first" else args:
            check_compared(arg)
        if over == "first" and args:
            args = (_compared_items(args[0]), *args[1:])
    key = kwargs.get("key")
    if callable(key):
        kwargs = {**kwargs, "key": lambda item: check_compared(key(item))}
    return args, kwargs
