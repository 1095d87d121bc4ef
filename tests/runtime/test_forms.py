"""Form schemas: conditions on the case's read-only data, at deployment and on submission."""

import pytest

from webapp.runtime.errors import InvalidData
from webapp.runtime.forms import schema_problems, unasked_fields, validate_form_data

CHECK = {
    "type": "object",
    "properties": {
        "owner_documents": {"type": "string", "readOnly": True},
        "owner_checked": {"type": "boolean"},
        "decision": {"type": "string", "enum": ["accepted", "refused"]},
        "document_number": {"type": "string"},
        "document_date": {"type": "string", "format": "date"},
    },
    "required": ["decision"],
    "dependentRequired": {"document_number": ["document_date"]},
    "allOf": [
        {
            "if": {
                "properties": {
                    "decision": {"const": "accepted"},
                    "owner_documents": {"minLength": 1},
                },
                "required": ["decision", "owner_documents"],
            },
            "then": {
                "properties": {"owner_checked": {"const": True}},
                "required": ["owner_checked"],
            },
        }
    ],
    "additionalProperties": False,
}
OWNER_MUST_CONSENT = {"owner_documents": "owner_id_card,owner_written_consent", "other": 1}
SOLE_OWNER = {"owner_documents": ""}


def refused(data: dict, case: dict) -> dict[str, str]:
    with pytest.raises(InvalidData) as error:
        validate_form_data(CHECK, data, case=case)
    return error.value.errors


def test_conditions_on_the_forms_own_fields_are_in_the_supported_subset():
    assert schema_problems(CHECK) == []


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        ({"if": {"required": ["nobody"]}, "then": {}}, "'nobody' is not a field of the form"),
        ({"if": {"properties": {"decision": {"$ref": "#/x"}}}, "then": {}}, "may only use"),
        ({"if": {"anyOf": []}, "then": {}}, "unsupported keyword 'anyOf'"),
    ],
)
def test_conditions_beyond_the_subset_are_refused_at_deployment(condition, problem):
    problems = schema_problems({**CHECK, "allOf": [condition]})
    assert any(problem in p for p in problems), problems


def test_accepting_needs_the_check_the_case_makes_apply():
    errors = refused({"decision": "accepted"}, OWNER_MUST_CONSENT)
    assert errors == {"owner_checked": "this field is required"}
    errors = refused({"decision": "accepted", "owner_checked": False}, OWNER_MUST_CONSENT)
    assert errors["owner_checked"].startswith("must be true")
    validate_form_data(
        CHECK, {"decision": "accepted", "owner_checked": True}, case=OWNER_MUST_CONSENT
    )


def test_a_check_the_case_rules_out_is_not_needed_and_a_refusal_needs_none():
    validate_form_data(CHECK, {"decision": "accepted"}, case=SOLE_OWNER)
    validate_form_data(CHECK, {"decision": "refused"}, case=OWNER_MUST_CONSENT)


def test_read_only_fields_come_from_the_case_never_from_the_submitter():
    errors = refused({"decision": "accepted", "owner_documents": ""}, OWNER_MUST_CONSENT)
    assert "read-only" in errors["owner_documents"]


def test_dependent_required_names_the_missing_field():
    errors = refused({"decision": "refused", "document_number": "1"}, SOLE_OWNER)
    assert errors == {"document_date": "this field is required"}


def test_a_desk_is_told_which_checks_the_case_rules_out():
    assert unasked_fields(CHECK, SOLE_OWNER) == {"owner_checked"}
    assert unasked_fields(CHECK, OWNER_MUST_CONSENT) == set()
