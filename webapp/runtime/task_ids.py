"""Lever `ids`: task ids that compute their hash and their text once.

A counter registration looks tasks up by id about 2,000 times (a task's parent and children are
found in the workflow's task table by their ids) and writes about 400 ids as text (the state
document, the task list, the audit log); a plain UUID computes both anew each time.
"""

import os
from uuid import UUID

from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState


class TaskId(UUID):
    """A task's UUID keeping its hash and text: equal to, and hashed as, the same plain UUID."""

    __slots__ = ("_hash", "_text")

    def __init__(self, value: UUID | None = None) -> None:
        if value is None:
            super().__init__(bytes=os.urandom(16), version=4)  # as uuid4() makes one
        else:
            super().__init__(int=value.int)
        object.__setattr__(self, "_hash", hash(self.int))
        object.__setattr__(self, "_text", None)

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        if self._text is None:
            object.__setattr__(self, "_text", super().__str__())
        return self._text

    def __reduce__(self):
        # Copied or pickled through its constructor: UUID's own state leaves the hash unset.
        return type(self), (UUID(int=self.int),)


class IdentifiedTask(Task):
    """A task whose id, new or restored, is a `TaskId`."""

    def __init__(self, workflow, task_spec, parent=None, state=TaskState.MAYBE, id=None):  # noqa: A002
        super().__init__(workflow, task_spec, parent, state, TaskId(id))
