"""The signed document's facts from the registries: an unknown record reads as such, a registry
that does not answer stops the act instead of changing the document."""

import pytest

from service_tasks.errors import BusinessError, TechnicalError
from webapp.online.documents import Documents
from webapp.runtime.errors import Unavailable


def answering(error: Exception | None):
    """Return an address operator that answers with a premises, or raises `error`."""

    def premises(arc: str) -> dict:
        if error is not None:
            raise error
        return {"arc": arc, "address": {"street": "Abay"}}

    return {"address.premises": premises}


def test_a_record_the_registry_does_not_know_reads_as_not_found():
    documents = Documents(answering(BusinessError("premises_not_found", "no such ARC")))
    assert documents.lookup("address.premises", "0201300012740054") is None


def test_a_found_record_is_what_the_registry_answered():
    found = Documents(answering(None)).lookup("address.premises", "0201300012740054")
    assert found["address"] == {"street": "Abay"}


def test_a_registry_that_does_not_answer_stops_the_act_for_a_retry():
    documents = Documents(answering(TechnicalError("timed out after 1 s")))
    with pytest.raises(Unavailable) as refused:
        documents.lookup("address.premises", "0201300012740054")
    assert refused.value.status == 503
