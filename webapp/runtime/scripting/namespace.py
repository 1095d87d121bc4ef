"""What a script sees: the safe builtins, the helpers every evaluation has, and the guards that
RestrictedPython's compiled code calls for attributes, items, operators and `print`.
"""

from collections.abc import Callable
from datetime import date, datetime

from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.PrintCollector import PrintCollector

from ..errors import ScriptError
from .limits import MAX_RANGE, MAX_ROUND_DIGITS
from .method_guards import guard_attribute, guard_comparing
from .operator_guards import _guarded_inplace, guarded_binop
from .sizes import _SEQUENCES, _checked_call, check_compared, check_size


def _comparing_call(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Check a call of `sorted`, `min`, `max`, `set`, `frozenset` or `dict`: the items of its
    one iterable, or the values it is given."""
    return _checked_call(args, kwargs, "items" if len(args) == 1 else "values")


def _written_call(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Check a call of `str` or `repr`: what it writes out."""
    for arg in args[:1]:
        check_size(arg)
    return args, kwargs


class _Checked:
    """A builtin whose calls are checked first, however it is reached (by name, under another
    name, or from C as `map(str, ...)`); `isinstance` and attributes (`dict.fromkeys`) see
    the builtin itself."""

    def __init__(self, builtin: Callable, check: Callable[[tuple, dict], tuple]) -> None:
        self.builtin, self.check = builtin, check

    def __call__(self, *args, **kwargs):
        args, kwargs = self.check(args, kwargs)
        return self.builtin(*args, **kwargs)

    def __getattr__(self, name: str) -> object:
        return getattr(self.builtin, name)


def _builtin(value: object) -> object:
    """Return the builtin a `_Checked` stands for, or the value itself."""
    return value.builtin if isinstance(value, _Checked) else value


def _isinstance(value: object, kinds: object) -> bool:
    """`isinstance`, which also takes the checked builtins for the types they stand for."""
    if isinstance(kinds, tuple):
        kinds = tuple(_builtin(kind) for kind in kinds)
    return isinstance(value, _builtin(kinds))


def _guarded_getattr(subject: object, name: str, *default: object) -> object:
    subject = _builtin(subject)
    value = safer_getattr(subject, name, *default)
    return guard_comparing(subject, name, guard_attribute(subject, name, value))


def _range(*args: int) -> range:
    """Return a range no longer than MAX_RANGE items."""
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise ScriptError(f"refused: range() of more than {MAX_RANGE} items")
    return result


def _sum(values, start=0):
    """Add numbers (or durations): summing lists or texts copies them once per item."""
    if isinstance(start, _SEQUENCES):
        raise ScriptError("refused: sum() adds numbers and durations, not lists or texts")
    return sum(values, start)


def _round(number, ndigits=None):
    """Round, with a bounded number of digits: round(5, -10**9) computes 10**(10**9)."""
    if isinstance(ndigits, int) and abs(ndigits) > MAX_ROUND_DIGITS:
        raise ScriptError(f"refused: round() to more than {MAX_ROUND_DIGITS} digits")
    return round(number, ndigits)


class _SizedPrintCollector(PrintCollector):
    """`print()` in a script writes to a collector nobody reads, each value checked for size."""

    def _call_print(self, *objects, **kwargs):
        check_size(list(objects), "what is printed")
        return super()._call_print(*objects, **kwargs)


def age_on(birth_date: str, on_date: str) -> int:
    """Return the age in whole years on `on_date` of someone born on `birth_date` (ISO dates)."""
    born, on = date.fromisoformat(str(birth_date)), date.fromisoformat(str(on_date))
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def today() -> str:
    """Return today's date (UTC) as an ISO string."""
    return datetime.now().date().isoformat()


SAFE_BUILTINS = {
    "None": None,
    "True": True,
    "False": False,
    "len": len,
    "min": _Checked(min, _comparing_call),
    "max": _Checked(max, _comparing_call),
    "sum": _sum,
    "sorted": _Checked(sorted, _comparing_call),
    "reversed": reversed,
    "any": any,
    "all": all,
    "abs": abs,
    "round": _round,
    "divmod": divmod,
    "int": int,
    "float": float,
    "str": _Checked(str, _written_call),
    "bool": bool,
    "list": list,
    "dict": _Checked(dict, _comparing_call),
    "set": _Checked(set, _comparing_call),
    "frozenset": _Checked(frozenset, _comparing_call),
    "tuple": tuple,
    "range": _range,
    "enumerate": enumerate,
    "zip": zip,
    "map": map,
    "filter": filter,
    "isinstance": _isinstance,
    "repr": _Checked(repr, _written_call),
    "chr": chr,
    "ord": ord,
    "hasattr": hasattr,
    "Exception": Exception,
    "ValueError": ValueError,
    "KeyError": KeyError,
    "TypeError": TypeError,
    "IndexError": IndexError,
}

_GUARDS = {
    "_getattr_": _guarded_getattr,
    "_getitem_": lambda value, key: default_guarded_getitem(value, check_compared(key)),
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _guarded_inplace,
    "_binop_": guarded_binop,
    "_sized_": check_size,
    "_compared_": check_compared,
    "_print_": _SizedPrintCollector,
}
