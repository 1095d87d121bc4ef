"""Workflow state as one compact JSON document, with the spec kept out of it.

The spec of a process version is stored once (and cached in memory); an instance's document
holds only its task tree and data. One serializer per thread: a shared one corrupts output
under concurrency.
"""

import json
import threading
import zlib
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.defaults import BusinessRuleTask
from SpiffWorkflow.util.deep_merge import DeepMerge

from .decisions import DecisionTaskConverter

SERIALIZER_VERSION = VERSION


class _SpecFreeWorkflowConverter(BpmnWorkflowConverter):
    """Leave the specs out of the document; restore them from objects handed in."""

    def to_dict(self, workflow):
        # SpiffWorkflow's own to_dict converts every spec (decision tables and all) on each
        # save; built here without them, a save costs the task tree alone.
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        spec, subprocess_specs = dct.pop("spec"), dct.pop("subprocess_specs")
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


class _DateEncoder(json.JSONEncoder):
    """Scripts may leave dates in task data; they are kept as ISO strings."""

    def default(self, o):
        if isinstance(o, date):
            return o.isoformat()
        return super().default(o)


@dataclass(frozen=True)
class StoredTask:
    """One task as a state document holds it: its spec and the data it sees."""

    task_spec: TaskSpec
    data: dict


class StateSerializer:
    """Convert workflows to and from their state document, and specs to and from JSON."""

    def __init__(self) -> None:
        self._local = threading.local()

    def _get(self) -> tuple[BpmnWorkflowSerializer, BpmnWorkflowSerializer]:
        if not hasattr(self._local, "pair"):
            config = {**SPIFF_CONFIG, BusinessRuleTask: DecisionTaskConverter}
            full = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
            config[BpmnWorkflow] = _SpecFreeWorkflowConverter
            registry = BpmnWorkflowSerializer.configure(config)
            lean = BpmnWorkflowSerializer(registry, json_encoder_cls=_DateEncoder)
            self._local.pair = (full, lean)
        return self._local.pair

    @property
    def registry(self):
        """Return the converter registry SpiffWorkflow's spec diff compares specs with."""
        return self._get()[0].registry

    def dump_specs(self, spec, subprocess_specs: dict) -> str:
        """Return the JSON of a process spec and the specs it calls."""
        full, _ = self._get()
        return json.dumps(
            {
                "spec": full.to_dict(spec),
                "subprocess_specs": {k: full.to_dict(v) for k, v in subprocess_specs.items()},
            }
        )

    def load_specs(self, text: str):
        """Return `(spec, subprocess_specs)` from their JSON."""
        full, _ = self._get()
        dct = json.loads(text)
        subprocess_specs = {k: full.from_dict(v) for k, v in dct["subprocess_specs"].items()}
        return full.from_dict(dct["spec"]), subprocess_specs

    def dump(self, workflow: BpmnWorkflow) -> bytes:
        """Return the state document of a workflow, without its spec, compressed.

        The JSON compresses about sixfold, which SQLite (unlike PostgreSQL) would not do.
        """
        _, lean = self._get()
        return zlib.compress(lean.serialize_json(workflow).encode(), 1)

    def load(self, state: bytes, spec, subprocess_specs: dict, script_engine) -> BpmnWorkflow:
        """Restore a workflow from its state document and the cached spec objects."""
        _, lean = self._get()
        dct = json.loads(zlib.decompress(state))
        lean.migrate(dct)
        dct["spec"], dct["subprocess_specs"] = spec, subprocess_specs
        workflow = lean.from_dict(dct)
        # A deserialized workflow gets a fresh, unrestricted engine: always attach ours.
        workflow.script_engine = script_engine
        return workflow

    def task(self, state: bytes, task_id, spec, subprocess_specs: dict) -> StoredTask | None:
        """Return one task of a state document, None where it has no such task, without
        restoring the workflow: a third of the CPU for the registration waiting at its check.

        The data is built as SpiffWorkflow's task converter builds it: the first task of its
        workflow (the top one or a subprocess) holds its data whole, any other its parent's
        with the updates its delta lists and without the keys it deletes.
        """
        _, lean = self._get()
        dct = json.loads(zlib.decompress(state))
        lean.migrate(dct)
        key = str(task_id)
        tables = [(dct["tasks"], spec)]
        tables += [
            (sub["tasks"], subprocess_specs.get(sub["spec"]))
            for sub in dct["subprocesses"].values()
        ]
        tasks, owner = next(((t, s) for t, s in tables if key in t), (None, None))
        if tasks is None or owner is None:
            return None
        line = []
        while key in tasks:
            line.append(tasks[key])
            key = tasks[key]["parent"]
        data = None
        for saved in reversed(line):
            delta = saved.get("delta")
            if data is None or not delta:
                data = lean.registry.restore(saved["data"])
                continue
            data = DeepMerge.merge({}, data)
            data.update(lean.registry.restore(delta.get("updates", {})))
            for name in delta.get("deletions", ()):
                data.pop(name, None)
        return StoredTask(owner.task_specs[line[0]["task_spec"]], data)
