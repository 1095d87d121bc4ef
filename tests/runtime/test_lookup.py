"""Instances are found by id or by application number, and an ambiguous number is refused."""

import pytest

from webapp.runtime.errors import Conflict, NotFound
from webapp.runtime.lookup import find_instance

from .conftest import bundle


def test_an_instance_is_found_by_its_id_or_its_application_number(runtime):
    runtime.deploy(bundle("parallel.bpmn"))
    numbered = runtime.start("parallel", {})
    given = runtime.start("parallel", {"application_number": "C-42"})
    with runtime.transaction() as session:
        assert find_instance(session, str(given.id)) == given.id
        assert find_instance(session, " C-42 ") == given.id
        assert find_instance(session, numbered.business_key) == numbered.id
        with pytest.raises(NotFound, match="'C-43'"):
            find_instance(session, "C-43")


def test_a_number_that_instances_of_two_processes_hold_names_both(runtime):
    runtime.deploy(bundle("parallel.bpmn"))
    runtime.deploy(bundle("exclusive.bpmn"))
    first = runtime.start("parallel", {"application_number": "C-7"})
    second = runtime.start("exclusive", {"application_number": "C-7", "amount": 1})
    with runtime.transaction() as session, pytest.raises(Conflict) as refused:
        find_instance(session, "C-7")
    assert f"{first.id} (parallel)" in str(refused.value)
    assert f"{second.id} (exclusive)" in str(refused.value)
