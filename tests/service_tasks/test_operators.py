"""The operator table: contract names, identifier checks and the sandbox behind it."""

import pytest

from service_tasks.errors import BusinessError
from service_tasks.operators import build_operators, sandbox_store
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
    }
    first = register(**params)
    assert register(**params) == {**first, "created": False}
    close = {"application_number": "A-0200", "iin": APPLICANT}
    assert operators["registration.close"](**close) == {"closed_arc": "0202500015000034"}
    rewrite = operators["idcard.rewrite_address"]
    assert rewrite(application_number="A-0200", iin=APPLICANT, arc=AST_SOLE) == {"status": "done"}
    notice = {"application_number": "A-0200", "iin": APPLICANT, "channel": "account"}
    operators["notify.send"](**notice, template="registered", params={"arc": AST_SOLE})
    operators["notify.send"](**notice, template="registered", params={"arc": AST_SOLE})
    operations = [w["operation"] for w in store.writes(application_number="A-0200")]
    assert operations == ["register", "close", "idcard", "notify"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"iin": "880517401807"}, "wrong check digit"),
        ({"arc": "123"}, "ARC must be"),
        ({"registration_type": "forever"}, "registration_type"),
        ({"registration_type": "temporary", "period_months": None}, "period_months"),
        ({"application_number": ""}, "application number"),
    ],
)
def test_a_malformed_write_is_a_technical_fault(
    operators: dict, params: dict, message: str
) -> None:
    base = {
        "application_number": "A-0201",
        "iin": APPLICANT,
        "arc": AST_SOLE,
        "registration_type": "permanent",
        "period_months": None,
    }
    with pytest.raises(ValueError, match=message):
        operators["registration.register"](**{**base, **params})


def test_a_notice_needs_a_known_channel(operators: dict) -> None:
    with pytest.raises(ValueError, match="channel"):
        operators["notify.send"](
            application_number="A-0202", iin=APPLICANT, channel="fax", template="x", params={}
        )


def test_settings_choose_arc_length_bounds(registry_url: str) -> None:
    store = sandbox_store(
        {"registry_url": registry_url, "arc_min_length": "4", "arc_max_length": 6}
    )
    try:
        counts = store.load_dataset(
            {
                "persons": [],
                "premises": [
                    {
                        "arc": "1234",
                        "address": {},
                        "kind": "house",
                        "accommodation": False,
                        "title": True,
                    }
                ],
            }
        )
    finally:
        store.dispose()
    assert counts == {"persons": 0, "premises": 1}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"registry_mode": "carrier-pigeon"}, "registry_mode"),
        ({"registry_mode": "sandbox"}, "registry_url"),
        ({"registry_mode": "http"}, "registry_base_url"),
    ],
)
def test_incomplete_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_operators(settings)
