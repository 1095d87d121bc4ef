"""Garbage collection for processes that run steps: seldom, and never over what they set up.

Each step allocates some hundred thousand short-lived objects (its task tree, its data). At
the interpreter's default thresholds a young collection runs every few hundred of them, and
the full collections walk every object the process keeps: its specs, templates and the
workflows the runtime keeps warm. In the load test's web processes that was a tenth of their
CPU; these thresholds make collections rare, and objects that live as long as the process
are frozen out of them.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (100_000, 50, 100)


def collect_seldom() -> None:
    """From now on, collect seldom and leave every object that exists now out of it.

    Called once a long-running process (a web process, a worker) has set itself up.
    """
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect seldom while the block runs, leaving what exists now out of it."""
    previous = gc.get_threshold()
    collect_seldom()
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
