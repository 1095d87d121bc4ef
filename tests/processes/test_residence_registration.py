"""Every path of the residence registration process, run on the in-memory harness."""

import copy
import json
from collections import Counter
from pathlib import Path

import pytest

from tests.processes.harness import Harness

REGISTRIES = json.loads((Path(__file__).parent / "registries.json").read_text())

ADULT = "850314304175"
OWNER = "621102401239"
CO_OWNER = "600520302564"
PARENT = "830422401983"
CHILD_16 = "100115500316"
CHILD_15 = "110610600781"
CHILD_14 = "121120500429"
CHILD_11 = "150203600191"
WARD = "750830403504"
RETURNEE = "921201306115"
SECOND_WEIGHTS = "880517401806"

ARC_SHARED_FLAT = "0201000000000001"
ARC_ADULTS_HOUSE = "0201000000000002"
ARC_DORMITORY = "0201000000000003"
ARC_STATE_RENTAL = "0201000000000004"
ARC_NO_TITLE = "0201000000000005"
ARC_CROWDED = "0201000000000006"
ARC_OLD_HOME = "0201000000000007"
ARC_ASTANA = "0101000000000008"

WRITES = ("registration.register", "registration.close", "idcard.rewrite_address")
CONSENT = {"consent_given": True, "signature_method": "otp", "signature": "otp-4711"}
REFUSAL = {"consent_given": False, "signature_method": "eds"}


def registries(**changes: dict) -> dict:
    """Return the personas' data set with some persons' fields changed."""
    data = copy.deepcopy(REGISTRIES)
    for person in data["persons"]:
        person.update(changes.get(person["iin"], {}))
    return data


def with_registered_at(arc: str, count: int) -> dict:
    """Return the data set with `count` extra persons registered at `arc`."""
    data = registries()
    for n in range(count):
        filler = copy.deepcopy(data["persons"][-1])
        filler["iin"] = f"99000000{n:04d}"
        filler["registration"] = {"arc": arc, "kind": "permanent", "since": "2020-01-01"}
        data["persons"].append(filler)
    return data


def application(**fields) -> dict:
    """Return an online permanent application of the adult for themself at their own house."""
    document = {
        "application_number": "A-0100",
        "channel": "online",
        "registration_type": "permanent",
        "applicant_iin": ADULT,
        "applicant_type": "self",
        "person_iin": ADULT,
        "arc": ARC_ADULTS_HOUSE,
        "arrived_from_abroad": False,
        "application_date": "2026-11-27",
    }
    document.update(fields)
    return document


def writes(h: Harness) -> Counter:
    """Count the registry writes the instance made."""
    return Counter(name for name, _ in h.calls if name in WRITES)


def notices(h: Harness) -> list[tuple[str, str]]:
    """List the notifications sent as (recipient IIN, template)."""
    return [(p["iin"], p["template"]) for name, p in h.calls if name == "notify.send"]


def ready_ids(h: Harness) -> list[str]:
    """List the bpmn ids of the ready user tasks."""
    return sorted(t.bpmn_id for t in h.ready_tasks())


def assert_registered(h: Harness, inst, **expected_writes: int) -> None:
    """Assert a finished registration and the exact registry writes."""
    assert inst.completed
    assert inst.data["outcome"] == "registered"
    assert inst.data["refusal_reason"] is None
    assert inst.data["registration_id"] == f"REG-{inst.data['application_number']}"
    assert writes(h) == Counter({name: count for name, count in expected_writes.items() if count})


def assert_refused(h: Harness, inst, reason: str, outcome: str = "refused") -> None:
    """Assert an instance that ended without registration, wrote nothing and told the applicant."""
    assert inst.completed
    assert inst.data["outcome"] == outcome
    assert inst.data["refusal_reason"] == reason
    assert inst.data["refusal_text"]
    assert "registration_id" not in inst.data
    assert writes(h) == Counter()
    assert notices(h)[-1] == (inst.data["applicant_iin"], f"application_{outcome}")


REGISTER_ONLY = {"registration.register": 1}
REGISTER_AND_CARD = {"registration.register": 1, "idcard.rewrite_address": 1}
FULL_PERMANENT = {
    "registration.close": 1,
    "registration.register": 1,
    "idcard.rewrite_address": 1,
}


def test_adult_sole_owner_registers_permanently_without_consent():
    h = Harness(registries())
    inst = h.start(application())
    assert_registered(h, inst, **FULL_PERMANENT)
    assert h.ready_tasks() == []
    assert notices(h) == [(ADULT, "registration_completed")]


def test_new_permanent_registration_closes_the_old_one_before_registering():
    h = Harness(registries())
    h.start(application())
    names = [name for name, _ in h.calls if name in WRITES]
    assert names == ["registration.close", "registration.register", "idcard.rewrite_address"]
    close = next(p for name, p in h.calls if name == "registration.close")
    assert close == {"application_number": "A-0100", "iin": ADULT}


def test_adult_temporary_registration_keeps_legal_address_and_card():
    h = Harness(registries())
    inst = h.start(application(registration_type="temporary", period_months=6))
    assert_registered(h, inst, **REGISTER_ONLY)
    register = next(p for name, p in h.calls if name == "registration.register")
    assert register["registration_type"] == "temporary"
    assert register["period_months"] == 6


@pytest.mark.parametrize("months", [1, 12])
def test_temporary_period_bounds_are_accepted(months):
    h = Harness(registries())
    inst = h.start(application(registration_type="temporary", period_months=months))
    assert inst.data["outcome"] == "registered"


@pytest.mark.parametrize("months", [0, 13])
def test_temporary_period_outside_1_to_12_months_is_refused(months):
    h = Harness(registries())
    inst = h.start(application(registration_type="temporary", period_months=months))
    assert_refused(h, inst, "data_unreliable")


def test_parent_registers_child_of_15_with_birth_certificate_after_owner_consent():
    h = Harness(registries())
    inst = h.start(application(applicant_iin=PARENT, applicant_type="parent", person_iin=CHILD_15))
    [consent] = h.ready_tasks()
    assert (consent.bpmn_id, consent.lane, consent.assignee) == ("Task_GiveConsent", "Owner", ADULT)
    assert f"ARC {ARC_ADULTS_HOUSE}" in consent.instructions
    inst = h.complete(consent, CONSENT)
    # no ID card before 16: nothing to rewrite; the child had no registration to close
    assert_registered(h, inst, **REGISTER_ONLY)
    assert (ADULT, "registration_completed_owner") in notices(h)


def test_parent_registers_child_of_16_with_id_card():
    h = Harness(registries())
    inst = h.start(application(applicant_iin=PARENT, applicant_type="parent", person_iin=CHILD_16))
    inst = h.complete("Task_GiveConsent", CONSENT)
    assert_registered(h, inst, **REGISTER_AND_CARD)


def test_child_who_turned_14_on_the_application_date_is_registered():
    h = Harness(registries())
    h.start(
        application(
            applicant_iin=PARENT,
            applicant_type="parent",
            person_iin=CHILD_14,
            application_date="2026-11-20",
        )
    )
    inst = h.complete("Task_GiveConsent", CONSENT)
    assert_registered(h, inst, **REGISTER_ONLY)


def test_child_one_day_before_14_is_refused_under_14():
    h = Harness(registries())
    inst = h.start(
        application(
            applicant_iin=PARENT,
            applicant_type="parent",
            person_iin=CHILD_14,
            application_date="2026-11-19",
        )
    )
    assert_refused(h, inst, "under_14")


def test_child_under_14_is_refused_under_14():
    h = Harness(registries())
    inst = h.start(application(applicant_iin=PARENT, applicant_type="parent", person_iin=CHILD_11))
    assert_refused(h, inst, "under_14")


def test_child_of_15_applying_alone_is_refused_no_authority():
    h = Harness(registries())
    inst = h.start(application(applicant_iin=CHILD_15, person_iin=CHILD_15))
    assert_refused(h, inst, "no_authority")


def test_parent_not_named_in_population_registry_is_refused_no_authority():
    h = Harness(registries())
    inst = h.start(application(applicant_iin=OWNER, applicant_type="parent", person_iin=CHILD_15))
    assert_refused(h, inst, "no_authority")


def test_guardian_registers_incapable_adult():
    h = Harness(registries())
    h.start(application(applicant_iin=PARENT, applicant_type="guardian", person_iin=WARD))
    inst = h.complete("Task_GiveConsent", CONSENT)
    assert_registered(h, inst, **REGISTER_AND_CARD)


def test_guardian_not_named_in_population_registry_is_refused_no_authority():
    h = Harness(registries())
    inst = h.start(application(applicant_iin=OWNER, applicant_type="guardian", person_iin=WARD))
    assert_refused(h, inst, "no_authority")


def test_incapable_adult_applying_for_themself_is_refused_no_authority():
    h = Harness(registries())
    inst = h.start(application(applicant_iin=WARD, person_iin=WARD))
    assert_refused(h, inst, "no_authority")


def test_attorney_online_is_refused_no_authority():
    h = Harness(registries())
    inst = h.start(application(applicant_iin=OWNER, applicant_type="attorney"))
    assert_refused(h, inst, "no_authority")
    assert [name for name, _ in h.calls] == ["notify.send"]


def test_attorney_at_service_centre_registers_after_counter_check():
    h = Harness(registries())
    h.start(application(channel="service_centre", applicant_iin=OWNER, applicant_type="attorney"))
    [check] = h.ready_tasks()
    assert (check.bpmn_id, check.lane) == ("Task_CheckDocuments", "Clerk")
    assert "power_of_attorney" in check.data["required_documents"]
    inst = h.complete(check, {"authority_checked": True, "check_result": "accepted"})
    assert_registered(h, inst, **FULL_PERMANENT)


def test_counter_clerk_refusal_ends_with_the_chosen_reason():
    h = Harness(registries())
    h.start(application(channel="service_centre"))
    inst = h.complete("Task_CheckDocuments", {"check_result": "document_invalid"})
    assert_refused(h, inst, "document_invalid")


def test_person_not_found_is_refused_and_the_lookup_is_cancelled():
    h = Harness(registries())
    inst = h.start(application(person_iin="990101300009", applicant_iin="990101300009"))
    assert_refused(h, inst, "person_not_found")
    assert h.task_states("Task_LookUpPerson") == ["CANCELLED"]
    assert h.task_states("Event_PersonNotFound") == ["COMPLETED"]
    assert inst.data["service_error"]["error_code"] == "person_not_found"


def test_person_who_is_not_a_citizen_is_refused_not_a_citizen():
    h = Harness(registries(**{SECOND_WEIGHTS: {"citizenship": "RU"}}))
    inst = h.start(application(applicant_iin=SECOND_WEIGHTS, person_iin=SECOND_WEIGHTS))
    assert_refused(h, inst, "not_a_citizen")


def test_deceased_person_is_refused_person_not_found():
    h = Harness(registries(**{WARD: {"alive": False}}))
    inst = h.start(application(applicant_iin=PARENT, applicant_type="guardian", person_iin=WARD))
    assert_refused(h, inst, "person_not_found")


def test_iin_digits_that_disagree_with_birth_date_only_warn_the_clerk():
    h = Harness(registries(**{SECOND_WEIGHTS: {"birth_date": "1988-05-18"}}))
    h.start(
        application(
            channel="service_centre", applicant_iin=SECOND_WEIGHTS, person_iin=SECOND_WEIGHTS
        )
    )
    [check] = h.ready_tasks()
    assert check.data["iin_date_mismatch"] is True
    assert "not a reason to refuse" in check.instructions
    inst = h.complete(check, {"check_result": "accepted"})
    assert inst.data["outcome"] == "registered"


def test_expired_id_card_is_refused_document_invalid():
    expired = [{"kind": "id_card", "number": "041234574", "valid_until": "2026-01-01"}]
    h = Harness(registries(**{SECOND_WEIGHTS: {"documents": expired}}))
    inst = h.start(application(applicant_iin=SECOND_WEIGHTS, person_iin=SECOND_WEIGHTS))
    assert_refused(h, inst, "document_invalid")


def test_owner_and_every_co_owner_consent_then_registration_follows():
    h = Harness(registries())
    h.start(application(arc=ARC_SHARED_FLAT))
    tasks = h.ready_tasks()
    assert {(t.bpmn_id, t.lane, t.assignee) for t in tasks} == {
        ("Task_GiveConsent", "Owner", OWNER),
        ("Task_GiveConsent", "Owner", CO_OWNER),
    }
    assert {iin for iin, template in notices(h) if template == "consent_request"} == {
        OWNER,
        CO_OWNER,
    }
    h.complete(tasks[0], CONSENT)
    assert writes(h) == Counter()
    inst = h.complete(h.ready_tasks()[0], CONSENT)
    assert_registered(h, inst, **FULL_PERMANENT)
    owners_told = {iin for iin, t in notices(h) if t == "registration_completed_owner"}
    assert owners_told == {OWNER, CO_OWNER}


def test_owner_refusal_ends_with_reason_owner_refused():
    h = Harness(registries())
    h.start(application(arc=ARC_SHARED_FLAT))
    first, _ = h.ready_tasks()
    inst = h.complete(first, REFUSAL)
    assert_refused(h, inst, "owner_refused")
    assert h.ready_tasks() == []
    assert "CANCELLED" in h.task_states("Task_GiveConsent")


def test_co_owner_refusal_after_owner_consent_ends_with_owner_refused():
    h = Harness(registries())
    h.start(application(arc=ARC_SHARED_FLAT))
    h.complete(h.ready_tasks()[0], CONSENT)
    inst = h.complete(h.ready_tasks()[0], REFUSAL)
    assert_refused(h, inst, "owner_refused")


def test_no_answer_within_consent_window_cancels_with_consent_timeout():
    h = Harness(registries())
    h.start(application(arc=ARC_SHARED_FLAT))
    h.complete(h.ready_tasks()[0], CONSENT)
    assert h.waiting_timers() == ["Event_ConsentTimeout"]
    inst = h.fire_timers("Event_ConsentTimeout")
    assert_refused(h, inst, "consent_timeout", outcome="cancelled")
    assert h.ready_tasks() == []


def test_accommodation_building_petition_replaces_owner_consent():
    h = Harness(registries())
    h.start(application(arc=ARC_DORMITORY, registration_type="temporary", period_months=10))
    [petition] = h.ready_tasks()
    assert (petition.bpmn_id, petition.lane) == ("Task_CheckPetition", "Clerk")
    inst = h.complete(
        petition,
        {"petition_number": "17-04/311", "petition_date": "2026-11-25", "check_result": "accepted"},
    )
    assert_registered(h, inst, **REGISTER_ONLY)


def test_accommodation_building_without_petition_is_refused_owner_refused():
    h = Harness(registries())
    h.start(application(arc=ARC_DORMITORY))
    inst = h.complete("Task_CheckPetition", {"check_result": "owner_refused"})
    assert_refused(h, inst, "owner_refused")


def test_state_rental_housing_registers_person_named_in_contract():
    h = Harness(registries())
    inst = h.start(application(arc=ARC_STATE_RENTAL))
    assert_registered(h, inst, **FULL_PERMANENT)


def test_state_rental_housing_refuses_person_not_in_contract():
    h = Harness(registries())
    inst = h.start(
        application(arc=ARC_STATE_RENTAL, person_iin=SECOND_WEIGHTS, applicant_iin=SECOND_WEIGHTS)
    )
    assert_refused(h, inst, "not_in_rental_contract")


def test_premises_without_title_documents_are_refused_no_title():
    h = Harness(registries())
    inst = h.start(application(arc=ARC_NO_TITLE))
    assert_refused(h, inst, "no_title")


def test_unknown_address_code_is_refused_no_title():
    h = Harness(registries())
    inst = h.start(application(arc="0299999999999999"))
    assert_refused(h, inst, "no_title")
    assert h.task_states("Task_LookUpPremises") == ["CANCELLED"]


def test_returnee_deregistered_in_consular_register_continues():
    h = Harness(registries())
    h.start(application(applicant_iin=RETURNEE, person_iin=RETURNEE, arrived_from_abroad=True))
    inst = h.complete("Task_GiveConsent", CONSENT)
    assert_registered(h, inst, **REGISTER_AND_CARD)
    assert ("consular.deregistration", {"iin": RETURNEE}) in h.calls


def test_returnee_without_consular_mark_registers_on_alternative_document():
    h = Harness(registries(**{RETURNEE: {"abroad": {"deregistered": False, "country": "DE"}}}))
    h.start(application(applicant_iin=RETURNEE, person_iin=RETURNEE, arrived_from_abroad=True))
    [check] = h.ready_tasks()
    assert (check.bpmn_id, check.lane) == ("Task_CheckDeregistrationDocument", "Clerk")
    inst = h.complete(
        check,
        {
            "deregistration_document": "foreign_authority_document",
            "deregistration_document_date": "2026-09-30",
            "check_result": "accepted",
        },
    )
    assert ready_ids(h) == ["Task_GiveConsent"]
    inst = h.complete("Task_GiveConsent", CONSENT)
    assert_registered(h, inst, **REGISTER_AND_CARD)


def test_returnee_without_any_proof_is_refused_no_deregistration_proof():
    h = Harness(registries(**{RETURNEE: {"abroad": None}}))
    h.start(application(applicant_iin=RETURNEE, person_iin=RETURNEE, arrived_from_abroad=True))
    inst = h.complete(
        "Task_CheckDeregistrationDocument",
        {"deregistration_document": "none", "check_result": "no_deregistration_proof"},
    )
    assert_refused(h, inst, "no_deregistration_proof")


def test_temporary_stay_after_return_needs_no_deregistration_proof():
    h = Harness(registries(**{RETURNEE: {"abroad": None}}))
    h.start(
        application(
            applicant_iin=RETURNEE,
            person_iin=RETURNEE,
            arrived_from_abroad=True,
            registration_type="temporary",
            period_months=3,
        )
    )
    assert ready_ids(h) == ["Task_GiveConsent"]
    inst = h.complete("Task_GiveConsent", CONSENT)
    assert_registered(h, inst, **REGISTER_ONLY)


def test_crowded_address_approved_by_supervisor_registers():
    h = Harness(with_registered_at(ARC_CROWDED, 15))
    h.start(application(arc=ARC_CROWDED))
    [review] = h.ready_tasks()
    assert (review.bpmn_id, review.lane) == ("Task_ReviewRubberFlat", "Supervisor")
    assert review.data["registered_count"] == 15
    h.complete(review, {"check_result": "accepted", "review_note": "family of the owner"})
    inst = h.complete("Task_GiveConsent", CONSENT)
    assert_registered(h, inst, **FULL_PERMANENT)


def test_crowded_address_refused_by_supervisor_is_refused_data_unreliable():
    h = Harness(with_registered_at(ARC_CROWDED, 16))
    h.start(application(arc=ARC_CROWDED))
    inst = h.complete("Task_ReviewRubberFlat", {"check_result": "data_unreliable"})
    assert_refused(h, inst, "data_unreliable")


def test_address_under_threshold_skips_supervisor_review():
    h = Harness(with_registered_at(ARC_CROWDED, 14))
    h.start(application(arc=ARC_CROWDED))
    assert ready_ids(h) == ["Task_GiveConsent"]


def test_capital_address_over_local_cap_is_refused_capital_cap_exceeded():
    h = Harness(with_registered_at(ARC_ASTANA, 20))
    inst = h.start(application(arc=ARC_ASTANA))
    assert_refused(h, inst, "capital_cap_exceeded")


def test_overdue_counter_check_escalates_to_supervisor_without_stopping():
    h = Harness(registries())
    h.start(application(channel="service_centre"))
    assert h.waiting_timers() == ["Event_ServiceTermExceeded"]
    h.fire_timers("Event_ServiceTermExceeded")
    assert ready_ids(h) == ["Task_CheckDocuments", "Task_HandleOverdueCheck"]
    lanes = {t.bpmn_id: t.lane for t in h.ready_tasks()}
    assert lanes["Task_HandleOverdueCheck"] == "Supervisor"
    h.complete("Task_HandleOverdueCheck", {"escalation_action": "assisted"})
    inst = h.complete("Task_CheckDocuments", {"check_result": "accepted"})
    assert_registered(h, inst, **FULL_PERMANENT)


def test_finishing_the_counter_check_closes_an_open_escalation():
    h = Harness(registries())
    h.start(application(channel="service_centre"))
    h.fire_timers("Event_ServiceTermExceeded")
    inst = h.complete("Task_CheckDocuments", {"check_result": "accepted"})
    assert_registered(h, inst, **FULL_PERMANENT)
    assert h.ready_tasks() == []
    assert h.task_states("Task_HandleOverdueCheck") == ["CANCELLED"]


def test_refusal_notifies_applicant_with_reason():
    h = Harness(registries())
    h.start(application(applicant_iin=PARENT, applicant_type="parent", person_iin=CHILD_11))
    [(name, params)] = [c for c in h.calls if c[0] == "notify.send"]
    assert params["template"] == "application_refused"
    assert params["params"]["refusal_reason"] == "under_14"
