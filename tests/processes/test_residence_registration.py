"""Every path of the residence registration, run by the runtime on the sandbox registries.

Each test starts an application on a migrated database, completes its tasks as their workers,
fires its timers with the worker, and checks the outcome, the registry writes (each made once)
and the events the runtime recorded.
"""

import copy
import itertools
from collections import Counter
from datetime import timedelta

import pytest

from service_tasks.identifiers import iin_check_digit
from tests.processes.driver import REGISTRIES, ProcessDriver
from webapp.runtime.errors import InvalidData
from webapp.runtime.views import InstanceView

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
UNKNOWN = "990101300003"
MALFORMED = "990101300009"

ARC_SHARED_FLAT = "0201000000000001"
ARC_ADULTS_HOUSE = "0201000000000002"
ARC_DORMITORY = "0201000000000003"
ARC_STATE_RENTAL = "0201000000000004"
ARC_NO_TITLE = "0201000000000005"
ARC_CROWDED = "0201000000000006"
ARC_OLD_HOME = "0201000000000007"
ARC_ASTANA = "0101000000000008"

# The day before and the day the online-first rule of processes/settings.json came into force.
BEFORE_ONLINE_FIRST = "2025-10-31"
ONLINE_FIRST_DAY = "2025-11-01"
# The counter checks that apply to the adult registering himself at his own house.
IDENTITY_CHECKED = {"identity_document_checked": True, "check_result": "accepted"}

CONSENT = {"consent_given": True}
REFUSAL = {"consent_given": False}
# Past the consent window (PT1H) and the service term (PT15M) of processes/settings.json.
AFTER_CONSENT_WINDOW = timedelta(hours=1, minutes=1)
AFTER_SERVICE_TERM = timedelta(minutes=16)
# The service task each registry write is made by.
WRITE_TASKS = {
    "register": "Task_Register",
    "idcard": "Task_RewriteIdCard",
}


def registries(**changes: dict) -> dict:
    """Return the personas' data set with some persons' fields changed."""
    data = copy.deepcopy(REGISTRIES)
    for person in data["persons"]:
        person.update(changes.get(person["iin"], {}))
    return data


def filler_iins(count: int) -> list[str]:
    """Return valid IINs of adults who only fill an address."""
    prefixes = (f"9001013{serial:04d}" for serial in range(10_000))
    valid = (p + str(d) for p in prefixes if (d := iin_check_digit(p)) is not None)
    return list(itertools.islice(valid, count))


def with_registered_at(arc: str, count: int) -> dict:
    """Return the data set with `count` extra persons registered at `arc`."""
    data = registries()
    for iin in filler_iins(count):
        filler = copy.deepcopy(data["persons"][-1])
        filler["iin"] = iin
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


def counter_application(**fields) -> dict:
    """Return the adult's application at a service centre, made before the online-first rule
    (1 November 2025) sent adults of full capacity online."""
    return application(channel="service_centre", application_date=BEFORE_ONLINE_FIRST, **fields)


def assert_completed_once(process: ProcessDriver, inst: InstanceView) -> None:
    """Assert the instance finished and the runtime recorded its completion once."""
    assert inst.status == "completed"
    assert all(i.status != "open" for i in inst.incidents)
    assert len(process.events("instance_completed")) == 1


def assert_registered(process: ProcessDriver, inst: InstanceView, **expected_writes: int) -> None:
    """Assert a finished registration and its registry writes, each made exactly once."""
    assert_completed_once(process, inst)
    data = inst.data
    assert data["outcome"] == "registered"
    assert data["refusal_reason"] is None
    assert data["registration_id"] == process.write("register")["result"]["registration_id"]
    expected = Counter({name: count for name, count in expected_writes.items() if count})
    assert process.writes() == expected
    for operation, task in WRITE_TASKS.items():
        assert len(process.events("task_completed", task)) == expected[operation], task
    assert process.notices().count((data["applicant_iin"], "registration_completed")) == 1
    assert len(process.events("task_completed", "Task_NotifyApplicant")) == 1


def assert_refused(
    process: ProcessDriver, inst: InstanceView, reason: str | None, outcome: str = "refused"
) -> None:
    """Assert an instance that ended without registration, wrote nothing and told the applicant."""
    assert_completed_once(process, inst)
    data = inst.data
    assert data["outcome"] == outcome
    assert data["refusal_reason"] == reason
    assert data["refusal_text"]
    assert "registration_id" not in data
    assert process.writes() == Counter()
    assert process.notices()[-1] == (data["applicant_iin"], f"application_{outcome}")
    assert len(process.events("task_completed", "Task_NotifyApplicantOfRefusal")) == 1


REGISTER_ONLY = {"register": 1}
REGISTER_AND_CARD = {"register": 1, "idcard": 1}
FULL_PERMANENT = REGISTER_AND_CARD


def test_adult_sole_owner_registers_permanently_without_consent(process):
    inst = process.start(application())
    assert_registered(process, inst, **FULL_PERMANENT)
    assert process.ready_tasks() == []
    assert process.notices() == [(ADULT, "registration_completed")]
    assert process.events("task_ready") == []


def test_new_permanent_registration_closes_the_old_one_in_the_same_write(process):
    inst = process.start(application())
    assert [w["operation"] for w in process.store.writes(application_number="A-0100")] == [
        "register",
        "idcard",
        "notify",
    ]
    register = process.write("register")
    assert (register["iin"], register["arc"]) == (ADULT, ARC_ADULTS_HOUSE)
    assert register["payload"]["previous"]["arc"] == ARC_OLD_HOME
    assert inst.data["registration"]["closed_arc"] == ARC_OLD_HOME
    assert process.store.registries().population.person(ADULT)["registration"]["arc"] == (
        ARC_ADULTS_HOUSE
    )


def test_adult_temporary_registration_keeps_legal_address_and_card(process):
    inst = process.start(application(registration_type="temporary", period_months=6))
    assert_registered(process, inst, **REGISTER_ONLY)
    register = process.write("register")["payload"]
    assert register["registration_type"] == "temporary"
    assert register["period_months"] == 6


@pytest.mark.parametrize("months", [1, 12])
def test_temporary_period_bounds_are_accepted(process, months):
    inst = process.start(application(registration_type="temporary", period_months=months))
    assert_registered(process, inst, **REGISTER_ONLY)


@pytest.mark.parametrize("months", [0, 13])
def test_temporary_period_outside_1_to_12_months_is_refused(process, months):
    inst = process.start(application(registration_type="temporary", period_months=months))
    assert_refused(process, inst, "data_unreliable")


def test_parent_registers_child_of_15_with_birth_certificate_after_owner_consent(process):
    process.start(application(applicant_iin=PARENT, applicant_type="parent", person_iin=CHILD_15))
    [consent] = process.ready_tasks()
    assert (consent.bpmn_id, consent.lane, consent.assignee) == ("Task_GiveConsent", "Owner", ADULT)
    assert f"ARC {ARC_ADULTS_HOUSE}" in process.instructions(consent)
    inst = process.complete(consent, CONSENT)
    # no ID card before 16: nothing to rewrite; the child had no registration to close
    assert_registered(process, inst, **REGISTER_ONLY)
    assert (ADULT, "registration_completed_owner") in process.notices()
    [answered] = process.events("task_completed", "Task_GiveConsent", "UserTask")
    assert answered.actor == ADULT


def test_parent_registers_child_of_16_with_id_card(process):
    process.start(application(applicant_iin=PARENT, applicant_type="parent", person_iin=CHILD_16))
    inst = process.complete("Task_GiveConsent", CONSENT)
    assert_registered(process, inst, **REGISTER_AND_CARD)


def test_child_who_turned_14_on_the_application_date_is_registered(process):
    process.start(
        application(
            applicant_iin=PARENT,
            applicant_type="parent",
            person_iin=CHILD_14,
            application_date="2026-11-20",
        )
    )
    inst = process.complete("Task_GiveConsent", CONSENT)
    assert_registered(process, inst, **REGISTER_ONLY)


def test_child_one_day_before_14_is_refused_under_14(process):
    inst = process.start(
        application(
            applicant_iin=PARENT,
            applicant_type="parent",
            person_iin=CHILD_14,
            application_date="2026-11-19",
        )
    )
    assert_refused(process, inst, "under_14")


def test_child_under_14_is_refused_under_14(process):
    inst = process.start(
        application(applicant_iin=PARENT, applicant_type="parent", person_iin=CHILD_11)
    )
    assert_refused(process, inst, "under_14")


def test_child_of_15_applying_alone_is_refused_no_authority(process):
    inst = process.start(application(applicant_iin=CHILD_15, person_iin=CHILD_15))
    assert_refused(process, inst, "no_authority")


def test_parent_not_named_in_population_registry_is_refused_no_authority(process):
    inst = process.start(
        application(applicant_iin=OWNER, applicant_type="parent", person_iin=CHILD_15)
    )
    assert_refused(process, inst, "no_authority")


def test_guardian_registers_incapable_adult(process):
    process.start(application(applicant_iin=PARENT, applicant_type="guardian", person_iin=WARD))
    inst = process.complete("Task_GiveConsent", CONSENT)
    assert_registered(process, inst, **REGISTER_AND_CARD)


def test_guardian_not_named_in_population_registry_is_refused_no_authority(process):
    inst = process.start(
        application(applicant_iin=OWNER, applicant_type="guardian", person_iin=WARD)
    )
    assert_refused(process, inst, "no_authority")


def test_incapable_adult_applying_for_themself_is_refused_no_authority(process):
    inst = process.start(application(applicant_iin=WARD, person_iin=WARD))
    assert_refused(process, inst, "no_authority")


def test_attorney_online_is_told_to_apply_at_a_service_centre_not_refused(process):
    inst = process.start(application(applicant_iin=OWNER, applicant_type="attorney"))
    assert_refused(process, inst, None, outcome="redirected")
    assert inst.data["channel_answer"] == "service_centre"
    assert "service centre" in inst.data["refusal_text"]
    assert process.events("task_completed", "Task_DecideEligibility") == []
    assert [w["operation"] for w in process.store.writes()] == ["notify"]


@pytest.mark.parametrize("day", [BEFORE_ONLINE_FIRST, ONLINE_FIRST_DAY])
def test_attorney_online_is_sent_to_a_centre_before_and_after_the_online_first_rule(process, day):
    inst = process.start(
        application(applicant_iin=OWNER, applicant_type="attorney", application_date=day)
    )
    assert (inst.data["outcome"], inst.data["channel_answer"]) == ("redirected", "service_centre")


def test_adult_at_a_centre_is_served_there_the_day_before_the_online_first_rule(process):
    process.start(application(channel="service_centre", application_date=BEFORE_ONLINE_FIRST))
    assert process.ready_ids() == ["Task_CheckDocuments"]


def test_adult_at_a_centre_is_sent_online_from_the_day_of_the_online_first_rule(process):
    inst = process.start(application(channel="service_centre", application_date=ONLINE_FIRST_DAY))
    assert_refused(process, inst, None, outcome="redirected")
    assert inst.data["channel_answer"] == "online"
    assert process.ready_tasks() == []


def test_minor_and_incapable_person_are_still_served_at_a_centre_under_online_first(process):
    process.start(
        application(
            channel="service_centre",
            applicant_iin=PARENT,
            applicant_type="parent",
            person_iin=CHILD_16,
            arc=ARC_SHARED_FLAT,
        )
    )
    assert process.ready_ids() == ["Task_CheckDocuments"]
    process.start(
        application(
            application_number="A-0101",
            channel="service_centre",
            applicant_iin=PARENT,
            applicant_type="guardian",
            person_iin=WARD,
            arc=ARC_SHARED_FLAT,
        )
    )
    assert process.ready_ids() == ["Task_CheckDocuments"]


def test_counter_accept_is_refused_while_an_applicable_check_is_unticked(process):
    process.start(counter_application(applicant_iin=OWNER, applicant_type="attorney"))
    [check] = process.ready_tasks()
    with pytest.raises(InvalidData) as refused:
        process.complete(check, IDENTITY_CHECKED)
    assert set(refused.value.errors) == {"authority_checked"}
    with pytest.raises(InvalidData) as refused:
        process.complete(check, {**IDENTITY_CHECKED, "authority_checked": False})
    assert "true" in refused.value.errors["authority_checked"]
    assert process.ready_tasks() == [check]
    assert process.events("task_completed", "Task_CheckDocuments") == []


def test_counter_check_form_refuses_the_checklist_the_process_sets(process):
    process.start(counter_application())
    [check] = process.ready_tasks()
    with pytest.raises(InvalidData) as refused:
        process.complete(check, {**IDENTITY_CHECKED, "authority_documents": ""})
    assert "read-only" in refused.value.errors["authority_documents"]


def test_counter_accept_needs_no_owner_check_when_the_applicant_owns_the_premises(process):
    process.start(counter_application())
    [check] = process.ready_tasks()
    data = process.task_data(check)
    assert (data["authority_documents"], data["owner_documents"]) == ("", "")
    assert "must be present" not in process.instructions(check)
    assert "No owner's consent is needed" in process.instructions(check)
    inst = process.complete(check, IDENTITY_CHECKED)
    assert_registered(process, inst, **FULL_PERMANENT)


def test_counter_instructions_name_the_documents_in_words_and_ask_for_the_owner(process):
    process.start(
        application(
            channel="service_centre",
            applicant_iin=PARENT,
            applicant_type="parent",
            person_iin=CHILD_15,
            arc=ARC_SHARED_FLAT,
        )
    )
    [check] = process.ready_tasks()
    text = process.instructions(check)
    assert (
        "the birth certificate of the person registered; their passport, if they have one" in text
    )
    assert "the written consent of every owner who is not the applicant" in text
    assert "must be present" in text
    assert "birth_certificate" not in text and "passport_if_any" not in text
    with pytest.raises(InvalidData) as refused:
        process.complete(check, {"identity_document_checked": True, "authority_checked": True,
                                 "check_result": "accepted"})  # fmt: skip
    assert set(refused.value.errors) == {"owner_consent_checked"}


def test_attorney_at_service_centre_registers_after_counter_check(process):
    process.start(
        application(channel="service_centre", applicant_iin=OWNER, applicant_type="attorney")
    )
    [check] = process.ready_tasks()
    assert (check.bpmn_id, check.lane, check.role) == ("Task_CheckDocuments", "Clerk", "clerk")
    assert "power_of_attorney" in process.task_data(check)["authority_documents"]
    assert "the notarised power of attorney" in process.instructions(check)
    inst = process.complete(check, {**IDENTITY_CHECKED, "authority_checked": True}, actor="clerk-1")
    assert_registered(process, inst, **FULL_PERMANENT)
    [checked] = process.events("task_completed", "Task_CheckDocuments")
    assert checked.actor == "clerk-1"


def test_counter_clerk_refusal_ends_with_the_chosen_reason(process):
    process.start(counter_application())
    inst = process.complete("Task_CheckDocuments", {"check_result": "document_invalid"})
    assert_refused(process, inst, "document_invalid")


def test_person_not_found_is_refused_and_the_lookup_is_interrupted(process):
    inst = process.start(application(person_iin=UNKNOWN, applicant_iin=UNKNOWN))
    assert_refused(process, inst, "person_not_found")
    [thrown] = process.events("error_thrown", "Task_LookUpPerson")
    assert thrown.data["error_code"] == "person_not_found"
    assert process.events("task_completed", "Task_LookUpPerson") == []
    assert len(process.events("task_completed", "Event_PersonNotFound")) == 1
    assert inst.data["service_error"]["error_code"] == "person_not_found"


def test_malformed_person_iin_is_refused_at_the_start_before_any_registry_is_asked(process):
    with pytest.raises(InvalidData) as refused:
        process.start(
            application(applicant_iin=PARENT, applicant_type="parent", person_iin=MALFORMED)
        )
    assert "check digit" in refused.value.errors["person_iin"]
    assert process.runtime.ready_tasks() == [] and process.instance_id is None


def test_person_who_is_not_a_citizen_is_refused_not_a_citizen(process):
    process.load(registries(**{SECOND_WEIGHTS: {"citizenship": "RU"}}))
    inst = process.start(application(applicant_iin=SECOND_WEIGHTS, person_iin=SECOND_WEIGHTS))
    assert_refused(process, inst, "not_a_citizen")


def test_deceased_person_is_refused_person_not_found(process):
    process.load(registries(**{WARD: {"alive": False}}))
    inst = process.start(
        application(applicant_iin=PARENT, applicant_type="guardian", person_iin=WARD)
    )
    assert_refused(process, inst, "person_not_found")


def test_iin_digits_that_disagree_with_birth_date_only_warn_the_clerk(process):
    process.load(registries(**{SECOND_WEIGHTS: {"birth_date": "1988-05-18"}}))
    process.start(counter_application(applicant_iin=SECOND_WEIGHTS, person_iin=SECOND_WEIGHTS))
    [check] = process.ready_tasks()
    assert process.task_data(check)["iin_date_mismatch"] is True
    assert "not a reason to refuse" in process.instructions(check)
    inst = process.complete(check, {**IDENTITY_CHECKED, "owner_consent_checked": True})
    # she had no registration to close
    assert_registered(process, inst, **REGISTER_AND_CARD)


def test_expired_id_card_is_refused_document_invalid(process):
    expired = [{"kind": "id_card", "number": "041234574", "valid_until": "2026-01-01"}]
    process.load(registries(**{SECOND_WEIGHTS: {"documents": expired}}))
    inst = process.start(application(applicant_iin=SECOND_WEIGHTS, person_iin=SECOND_WEIGHTS))
    assert_refused(process, inst, "document_invalid")


def test_owner_and_every_co_owner_consent_then_registration_follows(process):
    process.start(application(arc=ARC_SHARED_FLAT))
    tasks = process.ready_tasks()
    assert {(t.bpmn_id, t.lane, t.assignee) for t in tasks} == {
        ("Task_GiveConsent", "Owner", OWNER),
        ("Task_GiveConsent", "Owner", CO_OWNER),
    }
    assert all(t.due_at is not None for t in tasks)
    requested = {iin for iin, template in process.notices() if template == "consent_request"}
    assert requested == {OWNER, CO_OWNER}
    process.complete(tasks[0], CONSENT)
    assert process.writes() == Counter()
    inst = process.complete(process.ready_tasks()[0], CONSENT)
    assert_registered(process, inst, **FULL_PERMANENT)
    owners_told = {iin for iin, t in process.notices() if t == "registration_completed_owner"}
    assert owners_told == {OWNER, CO_OWNER}
    answered = process.events("task_completed", "Task_GiveConsent", "UserTask")
    assert {e.actor for e in answered} == {OWNER, CO_OWNER}


def test_owner_refusal_ends_with_reason_owner_refused(process):
    process.start(application(arc=ARC_SHARED_FLAT))
    first, _ = process.ready_tasks()
    inst = process.complete(first, REFUSAL)
    assert_refused(process, inst, "owner_refused")
    assert process.ready_tasks() == []
    assert len(process.events("task_cancelled", "Task_GiveConsent", "UserTask")) == 1


def test_co_owner_refusal_after_owner_consent_ends_with_owner_refused(process):
    process.start(application(arc=ARC_SHARED_FLAT))
    process.complete(process.ready_tasks()[0], CONSENT)
    inst = process.complete(process.ready_tasks()[0], REFUSAL)
    assert_refused(process, inst, "owner_refused")


def test_no_answer_within_consent_window_cancels_with_consent_timeout(process):
    process.start(application(arc=ARC_SHARED_FLAT))
    answered, unanswered = process.ready_tasks()
    process.complete(answered, CONSENT)
    assert process.run_jobs(timedelta(minutes=59)).status == "waiting"
    inst = process.run_jobs(AFTER_CONSENT_WINDOW)
    assert_refused(process, inst, "consent_timeout", outcome="cancelled")
    assert [e.bpmn_id for e in process.events("timer_fired")] == ["Event_ConsentTimeout"]
    assert process.ready_tasks() == []
    assert process.runtime.task(unanswered.id).state == "cancelled"
    assert len(process.events("task_cancelled", "Task_GiveConsent", "UserTask")) == 1


def test_accommodation_building_petition_replaces_owner_consent(process):
    process.start(application(arc=ARC_DORMITORY, registration_type="temporary", period_months=10))
    [petition] = process.ready_tasks()
    assert (petition.bpmn_id, petition.lane) == ("Task_CheckPetition", "Clerk")
    inst = process.complete(
        petition,
        {"petition_number": "17-04/311", "petition_date": "2026-11-25", "check_result": "accepted"},
    )
    assert_registered(process, inst, **REGISTER_ONLY)


def test_accommodation_building_without_petition_is_refused_owner_refused(process):
    process.start(application(arc=ARC_DORMITORY))
    inst = process.complete("Task_CheckPetition", {"check_result": "owner_refused"})
    assert_refused(process, inst, "owner_refused")


def test_state_rental_housing_registers_person_named_in_contract(process):
    inst = process.start(application(arc=ARC_STATE_RENTAL))
    assert_registered(process, inst, **FULL_PERMANENT)


def test_state_rental_housing_refuses_person_not_in_contract(process):
    inst = process.start(
        application(arc=ARC_STATE_RENTAL, person_iin=SECOND_WEIGHTS, applicant_iin=SECOND_WEIGHTS)
    )
    assert_refused(process, inst, "not_in_rental_contract")


def test_premises_without_title_documents_are_refused_no_title(process):
    inst = process.start(application(arc=ARC_NO_TITLE))
    assert_refused(process, inst, "no_title")


def test_unknown_address_code_is_refused_no_title(process):
    inst = process.start(application(arc="0299999999999999"))
    assert_refused(process, inst, "no_title")
    [thrown] = process.events("error_thrown", "Task_LookUpPremises")
    assert thrown.data["error_code"] == "premises_not_found"
    assert process.events("task_completed", "Task_LookUpPremises") == []


def test_returnee_deregistered_in_consular_register_continues(process):
    process.start(
        application(applicant_iin=RETURNEE, person_iin=RETURNEE, arrived_from_abroad=True)
    )
    inst = process.complete("Task_GiveConsent", CONSENT)
    assert_registered(process, inst, **REGISTER_AND_CARD)
    assert len(process.events("task_completed", "Task_CheckConsularRegister")) == 1
    assert inst.data["consular"]["deregistered"] is True


def test_returnee_without_consular_mark_registers_on_alternative_document(process):
    process.load(registries(**{RETURNEE: {"abroad": {"deregistered": False, "country": "DE"}}}))
    process.start(
        application(applicant_iin=RETURNEE, person_iin=RETURNEE, arrived_from_abroad=True)
    )
    [check] = process.ready_tasks()
    assert (check.bpmn_id, check.lane) == ("Task_CheckDeregistrationDocument", "Clerk")
    process.complete(
        check,
        {
            "deregistration_document": "foreign_authority_document",
            "deregistration_document_date": "2026-09-30",
            "check_result": "accepted",
        },
    )
    assert process.ready_ids() == ["Task_GiveConsent"]
    inst = process.complete("Task_GiveConsent", CONSENT)
    assert_registered(process, inst, **REGISTER_AND_CARD)


def test_returnee_without_any_proof_is_refused_no_deregistration_proof(process):
    process.load(registries(**{RETURNEE: {"abroad": None}}))
    process.start(
        application(applicant_iin=RETURNEE, person_iin=RETURNEE, arrived_from_abroad=True)
    )
    inst = process.complete(
        "Task_CheckDeregistrationDocument",
        {"deregistration_document": "none", "check_result": "no_deregistration_proof"},
    )
    assert_refused(process, inst, "no_deregistration_proof")


def test_temporary_stay_after_return_needs_no_deregistration_proof(process):
    process.load(registries(**{RETURNEE: {"abroad": None}}))
    process.start(
        application(
            applicant_iin=RETURNEE,
            person_iin=RETURNEE,
            arrived_from_abroad=True,
            registration_type="temporary",
            period_months=3,
        )
    )
    assert process.ready_ids() == ["Task_GiveConsent"]
    inst = process.complete("Task_GiveConsent", CONSENT)
    assert_registered(process, inst, **REGISTER_ONLY)


def test_crowded_address_approved_by_supervisor_registers(process):
    process.load(with_registered_at(ARC_CROWDED, 15))
    process.start(application(arc=ARC_CROWDED))
    [review] = process.ready_tasks()
    assert (review.bpmn_id, review.lane) == ("Task_ReviewRubberFlat", "Supervisor")
    assert process.task_data(review)["registered_count"] == 15
    process.complete(review, {"check_result": "accepted", "review_note": "family of the owner"})
    inst = process.complete("Task_GiveConsent", CONSENT)
    assert_registered(process, inst, **FULL_PERMANENT)


def test_crowded_address_refused_by_supervisor_is_refused_data_unreliable(process):
    process.load(with_registered_at(ARC_CROWDED, 16))
    process.start(application(arc=ARC_CROWDED))
    inst = process.complete("Task_ReviewRubberFlat", {"check_result": "data_unreliable"})
    assert_refused(process, inst, "data_unreliable")


def test_address_under_threshold_skips_supervisor_review(process):
    process.load(with_registered_at(ARC_CROWDED, 14))
    process.start(application(arc=ARC_CROWDED))
    assert process.ready_ids() == ["Task_GiveConsent"]


def test_capital_address_at_its_cap_of_30_is_refused_capital_cap_exceeded(process):
    process.load(with_registered_at(ARC_ASTANA, 30))
    inst = process.start(application(arc=ARC_ASTANA))
    assert_refused(process, inst, "capital_cap_exceeded")


def test_capital_address_under_its_cap_goes_on_to_the_crowded_address_review(process):
    process.load(with_registered_at(ARC_ASTANA, 29))
    process.start(application(arc=ARC_ASTANA))
    assert process.ready_ids() == ["Task_ReviewRubberFlat"]


def test_capital_cap_follows_the_kato_code_not_the_settlement_name(process):
    data = with_registered_at(ARC_ASTANA, 30)
    [flat] = [p for p in data["premises"] if p["arc"] == ARC_ASTANA]
    flat["address"]["settlement"] = "Nur-Sultan"
    process.load(data)
    assert_refused(process, process.start(application(arc=ARC_ASTANA)), "capital_cap_exceeded")
    flat["address"].update(settlement="Astana", kato="751410000")
    process.load(data)
    process.start(application(application_number="A-0101", arc=ARC_ASTANA))
    assert process.ready_ids() == ["Task_ReviewRubberFlat"]


def test_capital_cap_is_the_dated_entry_in_force_on_the_application_date(process):
    process.runtime.config["capital_cap_per_premises"] = [
        {"value": 30, "from": "2024-01-01"},
        {"value": 40, "from": "2026-12-01"},
    ]
    process.load(with_registered_at(ARC_ASTANA, 35))
    inst = process.start(application(arc=ARC_ASTANA, application_date="2026-11-30"))
    assert_refused(process, inst, "capital_cap_exceeded")
    process.start(
        application(application_number="A-0101", arc=ARC_ASTANA, application_date="2026-12-01")
    )
    assert process.ready_ids() == ["Task_ReviewRubberFlat"]


def test_overdue_counter_check_escalates_to_supervisor_without_stopping(process):
    process.start(counter_application())
    process.run_jobs(AFTER_SERVICE_TERM)
    assert [e.bpmn_id for e in process.events("timer_fired")] == ["Event_ServiceTermExceeded"]
    assert process.ready_ids() == ["Task_CheckDocuments", "Task_HandleOverdueCheck"]
    lanes = {t.bpmn_id: t.lane for t in process.ready_tasks()}
    assert lanes["Task_HandleOverdueCheck"] == "Supervisor"
    process.complete("Task_HandleOverdueCheck", {"escalation_action": "assisted"})
    inst = process.complete("Task_CheckDocuments", IDENTITY_CHECKED)
    assert_registered(process, inst, **FULL_PERMANENT)


def test_finishing_the_counter_check_closes_an_open_escalation(process):
    process.start(counter_application())
    process.run_jobs(AFTER_SERVICE_TERM)
    inst = process.complete("Task_CheckDocuments", IDENTITY_CHECKED)
    assert_registered(process, inst, **FULL_PERMANENT)
    assert process.ready_tasks() == []
    assert len(process.events("task_cancelled", "Task_HandleOverdueCheck")) == 1


def test_refusal_notifies_applicant_with_reason(process):
    process.start(application(applicant_iin=PARENT, applicant_type="parent", person_iin=CHILD_11))
    [notice] = process.store.writes("notify")
    assert notice["iin"] == PARENT
    assert notice["payload"]["template"] == "application_refused"
    assert notice["payload"]["params"]["refusal_reason"] == "under_14"
