"""Registry reads shared within a transaction: asked once, copied, forgotten at a write."""

import pytest

from webapp.runtime.scripting import takes_idempotency_key
from webapp.runtime.shared_reads import reads_shared, sharing_reads


class Registry:
    """Counts the questions it is asked; 'flaky' fails the first time."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.flaky = True

    def person(self, iin: str) -> dict:
        self.asked.append(iin)
        if iin == "flaky" and self.flaky:
            self.flaky = False
            raise TimeoutError("the registry did not answer in time")
        return {"iin": iin, "documents": [{"kind": "id_card"}]}

    def send(self, iin: str, *, idempotency_key: str) -> dict:
        return {"sent": iin, "key": idempotency_key}


@pytest.fixture
def registry() -> Registry:
    return Registry()


@pytest.fixture
def operators(registry: Registry) -> dict:
    return sharing_reads({"population.person": registry.person, "notify.send": registry.send})


def test_a_question_asked_by_position_and_by_name_is_asked_once(registry, operators):
    person = operators["population.person"]
    with reads_shared():
        first = person("850314304175")
        again = person(iin="850314304175")
        other = person("621102401239")
    assert first == again == {"iin": "850314304175", "documents": [{"kind": "id_card"}]}
    assert other["iin"] == "621102401239"
    assert registry.asked == ["850314304175", "621102401239"]


def test_outside_a_shared_block_every_read_asks_the_registry(registry, operators):
    person = operators["population.person"]
    person("850314304175")
    person("850314304175")
    with reads_shared():
        person("850314304175")
    with reads_shared():
        person("850314304175")
    assert registry.asked == ["850314304175"] * 4


def test_a_block_inside_another_shares_its_reads(registry, operators):
    person = operators["population.person"]
    with reads_shared():
        person("850314304175")
        with reads_shared():
            person("850314304175")
        person("850314304175")
    assert registry.asked == ["850314304175"]


def test_a_write_makes_the_next_read_ask_again(registry, operators):
    person, send = operators["population.person"], operators["notify.send"]
    with reads_shared():
        person("850314304175")
        assert send("850314304175", idempotency_key="A-000001:Task_Notify") == {
            "sent": "850314304175",
            "key": "A-000001:Task_Notify",
        }
        person("850314304175")
        person("850314304175")
    assert registry.asked == ["850314304175"] * 2


def test_each_reader_gets_its_own_copy(operators):
    person = operators["population.person"]
    with reads_shared():
        person("850314304175")["documents"][0]["kind"] = "changed by a reader"
        assert person("850314304175")["documents"] == [{"kind": "id_card"}]


def test_a_read_that_failed_is_asked_again(registry, operators):
    person = operators["population.person"]
    with reads_shared():
        with pytest.raises(TimeoutError):
            person("flaky")
        assert person("flaky") == {"iin": "flaky", "documents": [{"kind": "id_card"}]}
    assert registry.asked == ["flaky", "flaky"]


def test_operators_keep_their_signatures(operators):
    assert takes_idempotency_key(operators["notify.send"])
    assert not takes_idempotency_key(operators["population.person"])
