"""The operator table: contract names, identifier checks and the sandbox behind it."""

import pytest

from service_tasks.errors import BusinessError
from service_tasks.operators import build_operators
from service_tasks.sandbox import SandboxStore

CONTRACT_OPERATORS = {
    "population.person",
    "mobile.phone",
    "address.premises",
    "realestate.title",
    "consular.deregistration",
    "registration.register",
    "registration.close",
    "idcard.rewrite_address",
    "notify.send",
}
APPLICANT = "850314304175"
AST_SOLE = "0201300012740054"


@pytest.fixture
def operators(store: SandboxStore, registry_url: str) -> dict:
    return build_operators({"registry_mode": "sandbox", "registry_url": registry_url})


def test_the_table_has_exactly_the_contract_operators(operators: dict) -> None:
    assert set(operators) == CONTRACT_OPERATORS


def test_sandbox_is_the_default_mode(store: SandboxStore, registry_url: str) -> None:
    operators = build_operators({"registry_url": registry_url})
    assert operators["population.person"](iin=APPLICANT)["given_name"] == "Yerlan"


def test_lookups_give_the_contract_results(operators: dict) -> None:
    person = operators["population.person"](iin=APPLICANT)
    assert {"iin", "birth_date", "documents", "parents", "guardians", "registration"} <= set(person)
    assert operators["mobile.phone"](iin="700308364394") == {"iin": "700308364394", "phone": None}
    assert operators["address.premises"](arc=AST_SOLE)["registered_count"] == 0
    assert operators["realestate.title"](arc=AST_SOLE)["owners"] == [{"iin": APPLICANT, "share": 1}]
    assert operators["consular.deregistration"](iin="921201306115")["deregistered"] is False


@pytest.mark.parametrize("iin", ["880517401807", "85031430417", "abc"])
def test_a_malformed_iin_is_person_not_found(operators: dict, iin: str) -> None:
    with pytest.raises(BusinessError) as caught:
        operators["population.person"](iin=iin)
    assert caught.value.error_code == "person_not_found"


def test_a_malformed_arc_is_premises_not_found(operators: dict) -> None:
    for name in ("address.premises", "realestate.title"):
        with pytest.raises(BusinessError) as caught:
            operators[name](arc="12 34")
        assert caught.value.error_code == "premises_not_found"


def test_writes_through_the_table_are_idempotent(operators: dict, store: SandboxStore) -> None:
    register = operators["registration.register"]
    params = {
        "application_number": "A-0200",
        "iin": APPLICANT,
        "arc": AST_SOLE,
        "registration_type": "permanent",
        "period_months": None,
        "idempotency_key": "A-0200:Task_Register",
    }
    first = register(**params)
    assert first["closed_arc"] == "0202500015000034"
    assert register(**params) == {**first, "created": False}
    rewrite = operators["idcard.rewrite_address"]
    key = {"idempotency_key": "A-0200:Task_RewriteIdCard"}
    assert rewrite(application_number="A-0200", iin=APPLICANT, arc=AST_SOLE, **key) == {
        "status": "done"
    }
    notice = {"application_number": "A-0200", "iin": APPLICANT, "channel": "account"}
    key = {"idempotency_key": "A-0200:Task_NotifyApplicant"}
    operators["notify.send"](**notice, template="registered", params={"arc": AST_SOLE}, **key)
    operators["notify.send"](**notice, template="registered", params={"arc": AST_SOLE}, **key)
    operations = [w["operation"] for w in store.writes(application_number="A-0200")]
    assert operations == ["register", "idcard", "notify"]


def test_a_write_without_an_idempotency_key_is_refused(operators: dict) -> None:
    with pytest.raises(ValueError, match="idempotency key"):
        operators["idcard.rewrite_address"](
            application_number="A-0201", iin=APPLICANT, arc=AST_SOLE, idempotency_key=" "
        )


def test_close_only_reports_the_registration_that_register_replaces(
    operators: dict, store: SandboxStore
) -> None:
    close = operators["registration.close"]
    assert close(application_number="A-0202", iin=APPLICANT) == {"closed_arc": "0202500015000034"}
    assert store.writes() == []
    person = operators["population.person"](iin=APPLICANT)
    assert person["registration"]["arc"] == "0202500015000034"
