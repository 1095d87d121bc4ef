"""Workflows this process has just saved, kept for the next step of the same instance.

Restoring a workflow from its state document costs more than running most steps' engine work.
A step that commits leaves its workflow here with the document it saved; the next step that
changes the instance takes it instead of restoring the document, when the row still holds
exactly that document (another process, or a step rolled back since, changes it, and the
workflow is restored as always). A workflow is taken by one step at a time and given back only
by a step that committed, so no step sees another's changes in memory. Steps that only read
restore their own copy: what they do to it is never kept.
"""

import threading
from collections import OrderedDict

# Enough for the instances a busy service centre moves within minutes of each other (the demo's
# month, 70 applications a day, never misses with 32). Each workflow kept is some thousand
# objects that every full garbage collection walks, so no more are kept than that.
DEFAULT_SIZE = 64


class WarmWorkflows:
    """The last saved workflow of recently stepped instances, newest kept when full."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._kept: OrderedDict[int, tuple[bytes, object]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, instance_id: int, state: bytes):
        """Return the workflow kept for this instance if it was saved as `state`, else None."""
        with self._lock:
            kept = self._kept.pop(instance_id, None)
        if kept is None or kept[0] != state:
            return None
        return kept[1]

    def keep(self, instance_id: int, state: bytes, workflow) -> None:
        """Keep a committed step's workflow with the state document it saved."""
        if not self.size:
            return
        with self._lock:
            self._kept[instance_id] = (state, workflow)
            self._kept.move_to_end(instance_id)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
