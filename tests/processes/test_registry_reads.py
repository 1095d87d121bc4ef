"""A step asks the registries each question once until it writes to them.

A signed consent start renders the applicant's document from the registries to check the
signature, then runs the process, whose service tasks ask for the same people and premises.
"""

import pytest

from service_tasks.sandbox import SandboxStore
from tests.processes.driver import PROCESS_ID
from tests.processes.test_residence_registration import (
    ARC_SHARED_FLAT,
    CONSENT,
    FULL_PERMANENT,
    application,
    assert_registered,
)

READS = ("person", "premises", "premises_and_count")
WRITES = ("write_once", "change_person_once")


@pytest.fixture
def asked(monkeypatch) -> list[tuple]:
    """Record the sandbox store's reads as (method, key) and its writes as "write"."""
    calls: list[tuple] = []

    def recorded(name: str, method):
        def call(store, *args, **kwargs):
            calls.append("write" if name in WRITES else (name, *args))
            return method(store, *args, **kwargs)

        return call

    for name in READS + WRITES:
        monkeypatch.setattr(SandboxStore, name, recorded(name, getattr(SandboxStore, name)))
    return calls


def between_writes(calls: list) -> list[list[tuple]]:
    """Split the recorded calls into the reads made between two writes."""
    runs: list[list[tuple]] = [[]]
    for call in calls:
        if call == "write":
            runs.append([])
        else:
            runs[-1].append(call)
    return runs


def test_a_consent_start_and_its_answers_ask_each_question_once_between_writes(process, asked):
    data = application(arc=ARC_SHARED_FLAT)
    signed = process.signer.signed(data, process.runtime.start_signing(PROCESS_ID, data))
    asked.clear()  # what the applicant's page asked to show the document
    view = process.runtime.start(PROCESS_ID, signed)
    process.instance_id, process.application_number = view.id, view.data["application_number"]
    steps = [list(asked)]
    for task in process.ready_tasks():
        answer = process.signer.signed(CONSENT, process.runtime.task_signing(task.id, CONSENT))
        asked.clear()  # what the owner's page asked
        inst = process.runtime.complete(task.id, answer, actor=task.assignee)
        steps.append(list(asked))
    assert_registered(process, inst, **FULL_PERMANENT)
    for step in steps:
        runs = between_writes(step)
        assert all(len(set(run)) == len(run) for run in runs), step
    # The start's document read the applicant and the premises, which the process then used.
    assert ("person", data["applicant_iin"]) in steps[0]
    assert len(steps) == 3
