"""Move a waiting instance to a newer version of its process, where SpiffWorkflow's diff allows.

SpiffWorkflow aligns the old version's task specs with the new one's by BPMN id (then by
structure). Moving is safe when every task of the instance, finished or not, has a counterpart
in the new version and every subprocess the instance runs still exists: the state then refers
only to specs the new version has. Open tasks of changed specs are reset and predicted again,
so their task-list rows are re-created (claims are released).
"""

from dataclasses import dataclass

from SpiffWorkflow.bpmn.util.diff import diff_workflow, migrate_workflow
from SpiffWorkflow.util.task import TaskState

OPEN = TaskState.READY | TaskState.WAITING


@dataclass(frozen=True)
class MigrationPreview:
    """What moving an instance to another version would change, and whether it is safe."""

    instance_id: int
    process_id: str
    from_version: int
    to_version: int
    safe: bool
    reasons: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    reset: tuple[str, ...]


def _bpmn_id(spec) -> str | None:
    return getattr(spec, "bpmn_id", None)


def _ids(specs) -> tuple[str, ...]:
    return tuple(sorted({i for i in map(_bpmn_id, specs) if i}))


def _removed(task) -> str:
    spec = task.task_spec
    return (
        f"'{_bpmn_id(spec) or spec.name}' is not in the new version but the instance has a task"
        f" of it ({TaskState.get_name(task.state).lower()})"
    )


class Plan:
    """SpiffWorkflow's diff of one instance against a version, with our verdict on it."""

    def __init__(self, registry, workflow, spec, subprocess_specs) -> None:
        self.workflow, self.spec, self.subprocess_specs = workflow, spec, subprocess_specs
        self.top, self.subprocesses = diff_workflow(registry, workflow, spec, subprocess_specs)
        self.reasons = [_removed(task) for task in self.top.removed]
        for sp_id, diff in self.subprocesses.items():
            name = workflow.subprocesses[sp_id].spec.name
            if diff is None:
                self.reasons.append(f"the new version lacks the subprocess '{name}' it runs")
            else:
                self.reasons += [f"{_removed(task)} (in '{name}')" for task in diff.removed]

    def preview(
        self, instance_id: int, process_id: str, old: int, new: int, status: str
    ) -> MigrationPreview:
        """Describe the move for a person deciding on it."""
        diffs = [self.top, *(d for d in self.subprocesses.values() if d is not None)]
        old_specs, new_specs = self.workflow.spec.task_specs, self.spec.task_specs
        reasons = list(self.reasons)
        if new <= old:
            reasons.insert(0, f"version {new} is not newer than version {old}")
        if status != "waiting":
            reasons.insert(0, f"the instance is {status}; only waiting instances move")
        return MigrationPreview(
            instance_id=instance_id,
            process_id=process_id,
            from_version=old,
            to_version=new,
            safe=not reasons,
            reasons=tuple(reasons),
            added=_ids(s for name, s in new_specs.items() if name not in old_specs),
            removed=_ids(s for name, s in old_specs.items() if name not in new_specs),
            changed=_ids(t.task_spec for d in diffs for t in d.changed),
            reset=_ids(t.task_spec for d in diffs for t in d.changed if t.state & OPEN),
        )

    def apply(self) -> None:
        """Point the instance at the new specs; reset and predict its changed open tasks."""
        migrate_workflow(self.top, self.workflow, self.spec)
        for sp_id, diff in self.subprocesses.items():
            subworkflow = self.workflow.subprocesses[sp_id]
            migrate_workflow(diff, subworkflow, self.subprocess_specs[subworkflow.spec.name])
        self.workflow.subprocess_specs = self.subprocess_specs
