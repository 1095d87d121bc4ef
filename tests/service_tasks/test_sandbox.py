"""The sandbox registries: data set loading, lookups, registered counts and idempotent writes."""

import copy
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import partial
from threading import Barrier

import pytest
from sqlalchemy import event

from service_tasks.dataset import DEFAULT_DATASET_PATH, DatasetError
from service_tasks.errors import BusinessError, KeyReused, TechnicalError
from service_tasks.identifiers import is_valid_arc, is_valid_iin
from service_tasks.sandbox import SandboxStore
from service_tasks.sandbox_registries import add_months

APPLICANT = "850314304175"
AST_SOLE = "0201300012740054"
ALM_PARENTS = "0202500015000034"
AST_COOWNED = "0201100045810023"
KRG_RUBBER = "0351300004700031"


@pytest.fixture
def dataset() -> dict:
    return json.loads(DEFAULT_DATASET_PATH.read_text(encoding="utf-8"))


def test_default_dataset_loads_with_valid_identifiers(store: SandboxStore, dataset: dict) -> None:
    assert store.load_dataset(dataset) == {"persons": 42, "premises": 18}
    assert all(is_valid_iin(p["iin"]) for p in dataset["persons"])
    assert all(is_valid_arc(p["arc"]) for p in dataset["premises"])


def test_default_dataset_links_parent_children_and_co_owners(store: SandboxStore) -> None:
    population = store.registries().population
    for child in ("110610600781", "121120500429"):
        assert population.person(child)["parents"] == ["830422401983"]
    ward = population.person("750830403504")
    assert ward["legal_capacity"] == "incapable" and ward["guardians"]
    owners = store.registries().realestate.title(AST_COOWNED)["owners"]
    assert {o["iin"] for o in owners} == {"621102401239", "600520302564"}


def test_missing_key_error_names_the_record(registry_url: str, dataset: dict) -> None:
    del dataset["persons"][0]["birth_date"]
    with pytest.raises(DatasetError) as caught:
        SandboxStore(registry_url).load_dataset(dataset)
    assert caught.value.problems == ["persons[0] (iin 850314304175): missing key 'birth_date'"]


def test_unknown_keys_are_ignored(store: SandboxStore, dataset: dict) -> None:
    dataset["persons"][0]["nickname"] = "Yerke"
    dataset["premises"][0]["floor_area"] = 72.5
    dataset["extra"] = []
    store.load_dataset(dataset)
    assert "nickname" not in store.registries().population.person(APPLICANT)


def test_invalid_identifiers_and_duplicates_are_reported_together(
    store: SandboxStore, dataset: dict
) -> None:
    dataset["persons"][1]["parents"] = ["880517401807"]
    dataset["premises"][2]["arc"] = "12-34"
    dataset["persons"].append(copy.deepcopy(dataset["persons"][0]))
    with pytest.raises(DatasetError) as caught:
        store.load_dataset(dataset)
    problems = "\n".join(caught.value.problems)
    assert (
        "persons[1] (iin 570821316047): parents[0]: IIN 880517401807 has a wrong check" in problems
    )
    assert "premises[2] (arc 12-34): arc: ARC must be 10 to 20 digits" in problems
    assert "persons: iin 850314304175 appears more than once" in problems


def test_a_refused_dataset_leaves_the_previous_data(store: SandboxStore) -> None:
    with pytest.raises(DatasetError):
        store.load_dataset({"persons": [{"iin": APPLICANT}]})
    assert store.registries().population.person(APPLICANT)["surname"] == "Akhmetov"


def test_loading_replaces_persons_premises_and_writes(store: SandboxStore) -> None:
    store.registries().idcard.rewrite_address("A-1:Task_RewriteIdCard", "A-1", APPLICANT, AST_SOLE)
    counts = store.load_dataset({"persons": [], "premises": []})
    assert counts == {"persons": 0, "premises": 0}
    assert store.writes() == []
    with pytest.raises(BusinessError):
        store.registries().population.person(APPLICANT)


def test_unknown_person_is_business_error_person_not_found(store: SandboxStore) -> None:
    with pytest.raises(BusinessError) as caught:
        store.registries().population.person("900701300108")
    assert caught.value.error_code == "person_not_found"


def test_unknown_arc_is_premises_not_found_in_both_registries(store: SandboxStore) -> None:
    registries = store.registries()
    for lookup in (registries.address.premises, registries.realestate.title):
        with pytest.raises(BusinessError) as caught:
            lookup("9999999999")
        assert caught.value.error_code == "premises_not_found"


def test_phone_is_none_for_persons_without_one(store: SandboxStore) -> None:
    mobile = store.registries().mobile
    assert mobile.phone("700308364394") == {"iin": "700308364394", "phone": None}
    assert mobile.phone(APPLICANT)["phone"].startswith("+7")
    assert mobile.phone("900701300108")["phone"] is None


def test_consular_register_tells_deregistered_from_not(store: SandboxStore) -> None:
    consular = store.registries().consular
    assert consular.deregistration("900719435363") == {
        "iin": "900719435363",
        "deregistered": True,
        "country": "Germany",
        "date": "2026-09-15",
    }
    assert consular.deregistration("921201306115")["deregistered"] is False
    assert consular.deregistration(APPLICANT)["deregistered"] is False


def test_premises_and_title_have_the_contract_shape(store: SandboxStore) -> None:
    registries = store.registries()
    premises = registries.address.premises(KRG_RUBBER)
    assert set(premises) == {"arc", "address", "kind", "accommodation", "title", "registered_count"}
    assert premises["registered_count"] == 16
    assert len(premises["address"]["kato"]) == 9
    title = registries.realestate.title("0202800004010017")
    assert title["state_rental"] is True
    assert title["rental_contract"] == ["880517401806", "861003325766"]


def test_permanent_registration_moves_the_registered_count(store: SandboxStore) -> None:
    registries = store.registries()
    result = registries.registration.register(
        "A-0100:r", "A-0100", APPLICANT, AST_SOLE, "permanent", None
    )
    assert result["created"] is True
    assert registries.address.premises(AST_SOLE)["registered_count"] == 1
    assert registries.address.premises(ALM_PARENTS)["registered_count"] == 2
    registration = registries.population.person(APPLICANT)["registration"]
    assert registration["arc"] == AST_SOLE and registration["kind"] == "permanent"


def test_a_permanent_registration_closes_the_one_it_replaces_in_the_same_write(
    store: SandboxStore,
) -> None:
    point = store.registries().registration
    result = point.register("A-0100:r", "A-0100", APPLICANT, AST_SOLE, "permanent", None)
    assert result["closed_arc"] == ALM_PARENTS
    assert point.register("A-0100:r", "A-0100", APPLICANT, AST_SOLE, "permanent", None) == {
        **result,
        "created": False,
    }
    (write,) = store.writes()
    assert write["payload"]["previous"]["arc"] == ALM_PARENTS


def test_registering_at_the_current_address_closes_nothing(store: SandboxStore) -> None:
    point = store.registries().registration
    result = point.register("A-0101:r", "A-0101", APPLICANT, ALM_PARENTS, "permanent", None)
    assert result["closed_arc"] is None


def test_temporary_registration_keeps_the_permanent_one(store: SandboxStore) -> None:
    registries = store.registries()
    result = registries.registration.register(
        "A-0102:r", "A-0102", APPLICANT, AST_COOWNED, "temporary", 6
    )
    assert result["closed_arc"] is None
    person = registries.population.person(APPLICANT)
    assert person["registration"]["arc"] == ALM_PARENTS
    temporary = person["temporary_registration"]
    assert temporary["arc"] == AST_COOWNED and temporary["kind"] == "temporary"
    assert registries.address.premises(AST_COOWNED)["registered_count"] == 3


def test_registering_the_same_key_twice_writes_once(store: SandboxStore) -> None:
    point = store.registries().registration
    first = point.register("A-0103:r", "A-0103", APPLICANT, AST_SOLE, "permanent", None)
    again = point.register("A-0103:r", "A-0103", APPLICANT, AST_SOLE, "permanent", None)
    assert again == {**first, "created": False}
    (write,) = store.writes(operation="register", application_number="A-0103")
    assert write["payload"]["previous"]["arc"] == ALM_PARENTS
    assert write["result"] == {
        "registration_id": first["registration_id"],
        "closed_arc": ALM_PARENTS,
    }


def test_eight_threads_registering_one_application_make_one_row(store: SandboxStore) -> None:
    assert_concurrent_registrations_make_one_row(store)


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[SandboxStore]:
    """Return a sandbox store in a PostgreSQL schema of its own holding the default data set."""
    store = SandboxStore(postgres_url)
    store.load_dataset_file(DEFAULT_DATASET_PATH)
    yield store
    store.dispose()


@pytest.mark.postgres
def test_eight_threads_registering_one_application_make_one_row_on_postgresql(
    postgres: SandboxStore,
) -> None:
    assert_concurrent_registrations_make_one_row(postgres)
    assert_concurrent_notices_make_one_row(postgres)


def test_eight_threads_sending_one_notice_make_one_row(store: SandboxStore) -> None:
    assert_concurrent_notices_make_one_row(store)


def assert_concurrent_notices_make_one_row(store: SandboxStore) -> None:
    """Send one notice from eight threads at once and check it was logged once."""
    notify = store.registries().notify
    barrier = Barrier(8)

    def send(_: int) -> dict:
        barrier.wait()
        return notify.send("A-0107:n", "A-0107", APPLICANT, "sms", "registered", {"n": 1})

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, range(8)))
    assert len({r["delivery_id"] for r in results}) == 1
    assert len(store.writes(operation="notify", application_number="A-0107")) == 1


def assert_concurrent_registrations_make_one_row(store: SandboxStore) -> None:
    """Register one application from eight threads at once and check it happened once."""
    point = store.registries().registration
    barrier = Barrier(8)

    def register(_: int) -> dict:
        barrier.wait()
        return point.register("A-0104:r", "A-0104", APPLICANT, AST_SOLE, "permanent", None)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(register, range(8)))
    assert len({r["registration_id"] for r in results}) == 1
    assert sum(r["created"] for r in results) == 1
    assert len(store.writes(operation="register")) == 1
    assert store.registries().address.premises(AST_SOLE)["registered_count"] == 1


def test_id_card_rewrite_is_idempotent(store: SandboxStore) -> None:
    idcard = store.registries().idcard
    assert idcard.rewrite_address("A-0105:c", "A-0105", APPLICANT, AST_SOLE) == {"status": "done"}
    assert idcard.rewrite_address("A-0105:c", "A-0105", APPLICANT, AST_SOLE) == {"status": "done"}
    assert len(store.writes(operation="idcard", application_number="A-0105")) == 1


def test_notices_are_sent_once_per_key(store: SandboxStore) -> None:
    notify = store.registries().notify
    params = {"arc": AST_SOLE}
    first = notify.send("A-0106:n", "A-0106", APPLICANT, "account", "registered", params)
    assert notify.send("A-0106:n", "A-0106", APPLICANT, "account", "registered", params) == first
    other = notify.send("A-0106:o:0", "A-0106", "621102401239", "sms", "registered", {})
    assert other != first
    notify.send("A-0106:c", "A-0106", APPLICANT, "account", "consent_requested", {})
    assert len(store.writes(operation="notify")) == 3
    assert store.writes(application_number="A-0106")[0]["payload"]["params"] == {"arc": AST_SOLE}


def test_a_notice_key_reused_with_other_content_is_refused_and_writes_nothing(
    store: SandboxStore,
) -> None:
    notify = store.registries().notify
    first = notify.send("A-0108:n", "A-0108", APPLICANT, "sms", "registered", {"n": 1})
    with pytest.raises(KeyReused, match="A-0108:n"):
        notify.send("A-0108:n", "A-0108", APPLICANT, "sms", "registered", {"n": 2})
    (write,) = store.writes(operation="notify")
    assert write["result"] == first and write["payload"]["params"] == {"n": 1}


def test_writes_for_a_person_the_registry_does_not_know_are_faults_that_log_nothing(
    store: SandboxStore,
) -> None:
    registries = store.registries()
    unknown = "900701300108"
    with pytest.raises(TechnicalError, match="knows no person"):
        registries.idcard.rewrite_address("A-0109:c", "A-0109", unknown, AST_SOLE)
    with pytest.raises(TechnicalError, match="knows no person"):
        registries.registration.register("A-0109:r", "A-0109", unknown, AST_SOLE, "permanent", None)
    assert store.writes() == []


def test_each_call_is_one_statement_but_a_registration(store: SandboxStore) -> None:
    assert_fewest_statements(store)


@pytest.mark.postgres
def test_each_call_is_one_statement_but_a_registration_on_postgresql(
    postgres: SandboxStore,
) -> None:
    assert_fewest_statements(postgres)


def assert_fewest_statements(store: SandboxStore) -> None:
    """Check the statements each call sends: lookups, notices and ID card rewrites one, a
    registration BEGIN, the person for update, the log entry, the person saved, COMMIT."""
    sent: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    event.listen(store.engine, "commit", lambda _conn: sent.append("COMMIT"))
    registries = store.registries()

    def statements(call) -> list[str]:
        sent.clear()
        call()
        return [statement.split()[0] for statement in sent]

    for lookup in (
        partial(registries.population.person, APPLICANT),
        partial(registries.mobile.phone, APPLICANT),
        partial(registries.consular.deregistration, APPLICANT),
        partial(registries.address.premises, AST_SOLE),
        partial(registries.realestate.title, AST_SOLE),
    ):
        assert statements(lookup) == ["SELECT"]
    for write in (
        partial(registries.idcard.rewrite_address, "A-0110:c", "A-0110", APPLICANT, AST_SOLE),
        partial(registries.notify.send, "A-0110:n", "A-0110", APPLICANT, "sms", "done", {}),
    ):
        assert statements(write) == ["INSERT"]
        # A repeated write inserts nothing and reads the first one's answer.
        assert statements(write) == ["INSERT", "SELECT"]
    register = partial(
        registries.registration.register,
        "A-0110:r",
        "A-0110",
        APPLICANT,
        AST_SOLE,
        "permanent",
        None,
    )
    assert statements(register) == ["BEGIN", "SELECT", "INSERT", "UPDATE", "COMMIT"]
    assert len(store.writes()) == 3


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        ("2026-01-31", 1, "2026-02-28"),
        ("2026-11-27", 12, "2027-11-27"),
        ("2024-03-31", 11, "2025-02-28"),
    ],
)
def test_add_months_clamps_to_the_last_day_of_the_month(start: str, months: int, end: str) -> None:
    assert add_months(date.fromisoformat(start), months) == date.fromisoformat(end)
