"""The guarded operators: `**`, `*`, `<<`, `+` and `%` (in place too), and `str.format`'s widths.

Each estimates the size of its result from its operands and refuses it past the budget before
computing it: one C-level operation holds the interpreter lock until it ends.
"""

import ast
import math
import operator
import re
import string
from collections.abc import Callable, Mapping

from ..errors import ScriptError
from .limits import MAX_DATA, MAX_LENGTH
from .sizes import _SEQUENCES, _TEXTS, _too_big, _too_long, check_size, expanded_size

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


def _check_add(left: object, right: object) -> None:
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        _too_long(len(left) + len(right), "+")


def _check_mul(left: object, right: object) -> None:
    if isinstance(left, int) and isinstance(right, int):
        _too_big(left.bit_length() + right.bit_length(), "*")
        return
    if isinstance(right, _SEQUENCES) and isinstance(left, int):
        left, right = right, left
    if isinstance(left, _SEQUENCES) and isinstance(right, int) and right > 0:
        _too_long(len(left) * right, "*")
        if isinstance(left, list | tuple) and expanded_size(left) * right > MAX_DATA:
            raise ScriptError(f"refused: * would make more than {MAX_DATA} items written out")


def _check_pow(base: object, exponent: object) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0 and abs(base) > 1:
        _too_big(exponent * math.log2(abs(base)), "**")


def _check_lshift(left: object, right: object) -> None:
    if isinstance(left, int) and isinstance(right, int) and left and right > 0:
        _too_big(left.bit_length() + right, "<<")


def _check_widths(widths: list[str], args: object, computed: bool) -> None:
    """Refuse format widths past MAX_LENGTH, written or computed (`*`, `{:{width}}`)."""
    for width in widths:
        if len(width) > len(str(MAX_LENGTH)) or int(width) > MAX_LENGTH:
            raise ScriptError(f"refused: a format width of {width} is more than {MAX_LENGTH}")
    values = args.values() if isinstance(args, Mapping) else args
    values = values if isinstance(values, tuple | list | type({}.values())) else (values,)
    if computed:
        for value in values:
            if isinstance(value, int) and abs(value) > MAX_LENGTH:
                raise ScriptError(f"refused: a format width of {value} is more than {MAX_LENGTH}")
    check_size(list(values), "what is formatted")


def _check_mod(left: object, right: object) -> None:
    if isinstance(left, _TEXTS):
        text = left.decode("latin-1") if isinstance(left, bytes) else left
        specs = [match.groups() for match in _PERCENT_SPEC.finditer(text)]
        widths = [part for spec in specs for part in spec if part and part != "*"]
        _check_widths(widths, right, any("*" in spec for spec in specs))


def check_format_string(text: str, args: tuple, kwargs: Mapping) -> None:
    """Refuse a `str.format` call whose widths would build a value past MAX_LENGTH."""
    widths, computed = [], False
    for _literal, _field, spec, _conversion in string.Formatter().parse(text):
        widths += _DIGITS.findall(spec or "")
        computed = computed or "{" in (spec or "")
    _check_widths(widths, (*args, *kwargs.values()), computed)


_BINARY_CHECKS: dict[str, Callable[[object, object], None]] = {
    "+": _check_add,
    "*": _check_mul,
    "**": _check_pow,
    "<<": _check_lshift,
    "%": _check_mod,
}
_BINARY = {
    "+": operator.add,
    "*": operator.mul,
    "**": operator.pow,
    "<<": operator.lshift,
    "%": operator.mod,
}
_BINARY_NODES = {ast.Add: "+", ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Mod: "%"}
_INPLACE = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "|=": operator.ior,
    "&=": operator.iand,
    "^=": operator.ixor,
}


_PLAIN = frozenset({int, float, bool})
_SAFE_ON_SMALL = frozenset({"+", "*", "%"})
_SMALL = 2**32


def guarded_binop(symbol: str, left: object, right: object) -> object:
    """Apply a binary operator once its result is known to fit the budget."""
    # Adding, multiplying or dividing small numbers cannot build a big value; the common case
    # skips the check's call, which the trace hook makes dear.
    if (
        symbol in _SAFE_ON_SMALL
        and type(left) in _PLAIN
        and type(right) in _PLAIN
        and -_SMALL < left < _SMALL
        and -_SMALL < right < _SMALL
    ):
        return _BINARY[symbol](left, right)
    _BINARY_CHECKS[symbol](left, right)
    return _BINARY[symbol](left, right)


def _guarded_inplace(symbol: str, target: object, value: object) -> object:
    check = _BINARY_CHECKS.get(symbol[:-1])
    if check is not None:
        check(target, value)
    return _INPLACE[symbol](target, value)
