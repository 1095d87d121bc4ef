"""Registry reads shared within one transaction: a record asked for twice is read once.

A step that checks a signed act renders the act's document from the registries, then runs the
process, whose service tasks ask the same registries for the same people and premises: a
consent start asked for one person five times. Inside `reads_shared` (each runtime
transaction), an operator that only reads answers a repeated question (same operator, same
arguments) with a copy of its first answer, so the process acts on the facts the signature
was checked against, as a database transaction sees one version of the rows it reads. Any
registry write forgets what was read: a read after it asks the registry again. A read that
fails is not kept.
"""

import copy
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

from .scripting import takes_idempotency_key

_ANSWERS: ContextVar[dict | None] = ContextVar("registry_answers", default=None)


@contextmanager
def reads_shared() -> Iterator[None]:
    """Share the registry reads made inside (within an enclosing block's, if any)."""
    token = _ANSWERS.set({}) if _ANSWERS.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _ANSWERS.reset(token)


def sharing_reads(operators: Mapping[str, Callable[..., dict]]) -> dict[str, Callable[..., dict]]:
    """Return the operator table with its reads shared inside `reads_shared`, its writes
    (operators taking an idempotency key) forgetting them."""
    return {
        name: _forgetting(operator_)
        if takes_idempotency_key(operator_)
        else _shared(name, operator_)
        for name, operator_ in operators.items()
    }


def _shared(name: str, read: Callable[..., dict]) -> Callable[..., dict]:
    signature = inspect.signature(read)

    @functools.wraps(read)
    def call(*args, **kwargs):
        answers = _ANSWERS.get()
        if answers is None:
            return read(*args, **kwargs)
        # The same question asked by position (a document) or by name (a service task).
        key = (name, tuple(signature.bind(*args, **kwargs).arguments.items()))
        if key not in answers:
            answers[key] = read(*args, **kwargs)
        # A copy each time: no reader's change reaches another.
        return copy.deepcopy(answers[key])

    return call


def _forgetting(write: Callable[..., dict]) -> Callable[..., dict]:
    @functools.wraps(write)
    def call(*args, **kwargs):
        try:
            return write(*args, **kwargs)
        finally:
            answers = _ANSWERS.get()
            if answers is not None:
                answers.clear()

    return call
