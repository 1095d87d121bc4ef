"""Repairing a registration: tokens inside the consents' subprocess and multi-instance."""

import pytest

from tests.processes.test_residence_registration import (
    CHILD_15,
    CONSENT,
    PARENT,
    REGISTER_ONLY,
    application,
    assert_registered,
)
from webapp.runtime import repair, variable_edit
from webapp.runtime.errors import Conflict
from webapp.runtime.repair import Operation


@pytest.fixture
def database_url(sqlite_url):
    return sqlite_url


def test_consent_tokens_are_scoped_and_a_repaired_application_still_registers(process):
    process.start(application(applicant_iin=PARENT, applicant_type="parent", person_iin=CHILD_15))
    tokens = repair.repairable(process.runtime, process.instance_id).tokens
    assert [(t.bpmn_id, t.state, t.scope) for t in tokens] == [
        ("Subprocess_Consents", "started", None),
        ("Task_GiveConsent", "started", "Subprocess_Consents"),
        ("Task_GiveConsent", "ready", "Task_GiveConsent"),
        ("Event_ConsentTimeout", "waiting", None),
    ]
    for token in tokens[1:3]:
        with pytest.raises(Conflict, match="inside"):
            repair.preview(
                process.runtime, process.instance_id, [Operation("cancel", token.task_id)]
            )
    with pytest.raises(Conflict, match="inside subprocess Subprocess_Consents"):
        repair.preview(process.runtime, process.instance_id,
                       [Operation("start_before", "Task_GiveConsent")])  # fmt: skip
    # Asking the owner again: the consents' subprocess from its start, its timeout armed anew.
    operations = [
        Operation("cancel", tokens[0].task_id),
        Operation("start_before", "Subprocess_Consents"),
    ]
    preview = repair.preview(process.runtime, process.instance_id, operations)
    assert [(t.bpmn_id, t.state) for t in preview.after if t.scope is None] == [
        ("Subprocess_Consents", "started"),
        ("Event_ConsentTimeout", "waiting"),
    ]
    # The requests' multi-instance writes its deliveries into an empty list only: the list of
    # the first requests is emptied first.
    variable_edit.set_variable(process.runtime, process.instance_id, "consent_request_deliveries",
                               [], "the requests are sent again", "admin")  # fmt: skip
    view = repair.modify(process.runtime, process.instance_id, operations, "ask again", "admin")
    assert view.status == "waiting"
    [consent] = process.ready_tasks()
    assert consent.bpmn_id == "Task_GiveConsent" and consent.id != tokens[2].task_id
    assert_registered(process, process.complete(consent, CONSENT), **REGISTER_ONLY)
