"""Garbage collection for processes that run steps: seldom, and never over what they set up.

A step makes and drops a workflow's worth of objects. At the interpreter's default thresholds
a young collection ran every registration or so, and every hundredth a full one, which walks
all the process keeps: its specs, templates and the workflows the runtime keeps warm. Through
the API that was 1.6-2.2 ms of a registration's 12-16 ms of CPU. Frozen out of collections,
the objects that live as long as the process are not walked again, and a young collection
every ten thousand new objects brings it to 0.3 ms. A full collection about every twentieth
young one then walks little but the warm workflows, and frees those the runtime let go (their
tasks and workflow refer to each other) before they pile up: in the load test a web process
peaked at 172 MB, against 214-239 MB with full collections ten times rarer and 152 MB at the
interpreter's defaults, for the same CPU.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (10_000, 10, 1)


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
