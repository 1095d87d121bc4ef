"""Templates (user task instructions): Jinja's immutable sandbox with the scripts' guards on
operators, methods, filters, tests and comparisons, rendered under the same budget, with its
output bounded too.
"""

import functools
import sys
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache

from jinja2 import TemplateSyntaxError
from jinja2.compiler import CodeGenerator, operators
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..errors import ScriptError
from .budget import _Budget
from .limits import MAX_ROUND_DIGITS
from .method_guards import _widened_length, guard_attribute, guard_comparing
from .operator_guards import _BINARY_CHECKS, _check_mod, check_format_string, guarded_binop
from .sizes import (
    _SEQUENCES,
    _TEXTS,
    _compared_items,
    _too_long,
    check_compared,
    check_size,
    expanded_size,
)


class _GuardingCodeGenerator(CodeGenerator):
    """Jinja's code generator, checking every `~` concatenation and comparison it builds."""

    def visit_Concat(self, node, frame) -> None:
        """Check what each operand of `~` writes out, then the length of the text it makes."""
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.sized({join}((")
        for operand in node.nodes:
            self.write("environment.written(")
            self.visit(operand, frame)
            self.write("), ")
        self.write(")))")

    def visit_Compare(self, node, frame) -> None:
        """Wrap every operand of a comparison (`==`, `<`, `in` ...) in `environment.compared`."""
        self.write("(environment.compared(")
        self.visit(node.expr, frame)
        self.write(")")
        for operand in node.ops:
            self.write(f" {operators[operand.op]} environment.compared(")
            self.visit(operand.expr, frame)
            self.write(")")
        self.write(")")


def _checked_filter(original: Callable, check: Callable[..., None]) -> Callable:
    @functools.wraps(original)
    def filter_(*args, **kwargs):
        check(*args, **kwargs)
        return original(*args, **kwargs)

    return filter_


def _check_width_filter(value, width=80, *_args, **_kwargs) -> None:
    if isinstance(width, int):
        _too_long(width, "a width")


def _check_format_filter(value, *args, **kwargs) -> None:
    _check_mod(str(value), args or kwargs)


def _check_join_filter(_eval_ctx, value, d="", attribute=None) -> None:
    items = value if isinstance(value, list | tuple) else []
    check_size(list(items), "join")
    _too_long(expanded_size(items) + len(str(d)) * len(items), "join")


def _check_replace_filter(_eval_ctx, s, old, new, count=None) -> None:
    args = (old, new) if count is None else (old, new, count)
    _too_long(_widened_length(str(s), "replace", args, {}), "replace")


def _check_round_filter(value, precision=0, method="common") -> None:
    if isinstance(precision, int) and abs(precision) > MAX_ROUND_DIGITS:
        raise ScriptError(f"refused: round to more than {MAX_ROUND_DIGITS} digits")


def _check_sum_filter(_environment, iterable, attribute=None, start=0) -> None:
    if isinstance(start, _SEQUENCES):
        raise ScriptError("refused: sum adds numbers, not lists or texts")


def _check_written_arguments(*args, **kwargs) -> None:
    for value in (*args, *kwargs.values()):
        check_size(value)


def _check_compared_arguments(*args, **kwargs) -> None:
    for value in (*args, *kwargs.values()):
        check_compared(value)


# Filters that compare or hash the items of what they are given.
_COMPARING_FILTERS = ("sort", "unique", "min", "max", "groupby", "dictsort")


def _comparing_filter(original: Callable) -> Callable:
    """Wrap a filter so that what it compares is checked first; iterators become lists."""

    @functools.wraps(original)
    def filter_(*args, **kwargs):
        args = tuple(
            _compared_items(arg) if isinstance(arg, Iterator) else check_compared(arg)
            for arg in args
        )
        return original(*args, **kwargs)

    return filter_


_FILTER_CHECKS = {
    "center": _check_width_filter,
    "indent": _check_width_filter,
    "format": _check_format_filter,
    "join": _check_join_filter,
    "replace": _check_replace_filter,
    "round": _check_round_filter,
    "sum": _check_sum_filter,
}


class TemplateEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the scripts' guards on operators, methods and filters."""

    code_generator_class = _GuardingCodeGenerator
    intercepted_binops = frozenset(_BINARY_CHECKS)

    def __init__(self, **options) -> None:
        super().__init__(finalize=check_size, **options)
        # Filters turn what they are given into text or compare it in C calls: every value
        # given to a filter is checked as written out, and to a test as compared.
        for name, filter_ in self.filters.items():
            self.filters[name] = _checked_filter(filter_, _check_written_arguments)
        for name, test in self.tests.items():
            self.tests[name] = _checked_filter(test, _check_compared_arguments)
        for name, check in _FILTER_CHECKS.items():
            self.filters[name] = _checked_filter(self.filters[name], check)
        for name in _COMPARING_FILTERS:
            self.filters[name] = _comparing_filter(self.filters[name])

    def written(self, value: object) -> object:
        """Return a value to write out, refused when written out it would pass MAX_DATA."""
        return check_size(value)

    def compared(self, value: object) -> object:
        """Return a value to compare, refused when comparing it could take too long."""
        return check_compared(value)

    def sized(self, value: object) -> object:
        """Return a concatenation no longer than MAX_LENGTH."""
        if isinstance(value, _TEXTS):
            _too_long(len(value), "~")
        return value

    def call_binop(self, context, operator, left, right):
        """Apply an operator once its result is known to fit the budget."""
        return guarded_binop(operator, left, right)

    def getattr(self, obj, attribute):
        """Return an attribute, widening and comparing methods guarded."""
        value = guard_attribute(obj, attribute, super().getattr(obj, attribute))
        return guard_comparing(obj, attribute, value)

    def getitem(self, obj, argument):
        """Return an item (its key checked), or an attribute by name with methods guarded."""
        value = super().getitem(obj, check_compared(argument))
        if not isinstance(argument, str):
            return value
        return guard_comparing(obj, argument, guard_attribute(obj, argument, value))

    def wrap_str_format(self, value):
        """Return `str.format` of the sandbox, refusing widths past MAX_LENGTH."""
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        text = value.__self__

        @functools.wraps(formatter)
        def format_(*args, **kwargs):
            check_format_string(text, args, kwargs)
            return formatter(*args, **kwargs)

        return format_


TEMPLATES = TemplateEnvironment(autoescape=False)


@lru_cache(maxsize=512)
def _template(text: str):
    return TEMPLATES.from_string(text)


def check_template(text: str) -> list[str]:
    """Return the reasons a template is refused; empty if none."""
    try:
        TEMPLATES.parse(text)
    except TemplateSyntaxError as error:
        return [f"template error on line {error.lineno}: {error.message}"]
    return []


def render(text: str, data: Mapping) -> str:
    """Render a template over the data, within the budget of lines, time, memory and output."""
    parts, length = [], 0
    previous = sys.gettrace()
    sys.settrace(_Budget(None))
    try:
        for part in _template(text).generate(**data):
            length += len(part)
            _too_long(length, "the rendered text")
            parts.append(part)
    finally:
        sys.settrace(previous)
    return "".join(parts)
