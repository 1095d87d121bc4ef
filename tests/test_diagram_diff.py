"""Element-by-element comparison of two diagram versions."""

from pathlib import Path

from webapp.diagram_diff import diff_diagrams

FOLDER = Path(__file__).resolve().parents[1] / "processes" / "residence_registration"
REGISTRATION = (FOLDER / "residence_registration.bpmn").read_bytes()
ELIGIBILITY = (FOLDER / "eligibility.dmn").read_bytes()


def test_identical_versions_have_no_changes():
    assert diff_diagrams(REGISTRATION, REGISTRATION).empty


def test_moving_a_shape_is_not_a_change_of_the_process():
    moved = REGISTRATION.replace(b'<dc:Bounds x="', b'<dc:Bounds x="1', 1)
    assert moved != REGISTRATION
    assert diff_diagrams(REGISTRATION, moved).empty


def test_a_renamed_task_is_changed_and_nothing_else():
    renamed = REGISTRATION.replace(b'name="Check documents at the counter"', b'name="Check"')
    assert diff_diagrams(REGISTRATION, renamed).changed == ("Task_CheckDocuments",)


def test_extension_and_script_edits_are_changes_of_their_element():
    edited = REGISTRATION.replace(b'value="check_documents.schema.json"', b'value="x.json"')
    edited = edited.replace(b"<bpmn:script>service_error = None", b"<bpmn:script>service_error = 1")
    assert diff_diagrams(REGISTRATION, edited).changed == (
        "Task_CheckDocuments",
        "Task_PrepareApplication",
    )


def test_renaming_an_id_shows_as_removed_and_added():
    renamed = REGISTRATION.replace(b"Task_CheckDocuments", b"Task_CheckPapers")
    changes = diff_diagrams(REGISTRATION, renamed)
    assert changes.added == ("Task_CheckPapers",)
    assert changes.removed == ("Task_CheckDocuments",)
    # The flows and lane that refer to it change with it.
    assert "Lane_Clerk" in changes.changed


def test_decision_tables_compare_by_rule():
    rule = ELIGIBILITY.split(b'<rule id="', 2)[1].split(b'"', 1)[0].decode()
    edited = ELIGIBILITY.replace(f'<rule id="{rule}"'.encode(), f'<rule id="{rule}_new"'.encode())
    changes = diff_diagrams(ELIGIBILITY, edited)
    assert changes.added == (f"{rule}_new",) and changes.removed == (rule,)


def test_a_changed_element_says_which_attribute_changed_from_what_to_what():
    renamed = REGISTRATION.replace(b'name="Check documents at the counter"', b'name="Check"')
    (detail,) = diff_diagrams(REGISTRATION, renamed).details
    assert (detail.id, detail.element_type, detail.name) == (
        "Task_CheckDocuments",
        "userTask",
        "Check",
    )
    assert [(c.name, c.before, c.after) for c in detail.changes] == [
        ("name", "Check documents at the counter", "Check")
    ]


def test_a_changed_script_shows_a_line_diff_and_an_extension_its_named_value():
    edited = REGISTRATION.replace(b'value="check_documents.schema.json"', b'value="x.json"')
    edited = edited.replace(b"<bpmn:script>service_error = None", b"<bpmn:script>service_error = 1")
    form, script = diff_diagrams(REGISTRATION, edited).details
    assert [(c.name, c.before, c.after) for c in form.changes] == [
        (
            "extensionElements/properties/property[formJsonSchemaFilename]@value",
            "check_documents.schema.json",
            "x.json",
        )
    ]
    (change,) = script.changes
    assert change.name == "script"
    assert change.diff[:3] == ("@@ -1,3 +1,3 @@", "-service_error = None", "+service_error = 1")


def test_a_service_operator_change_belongs_to_its_task_not_to_an_element_of_its_own():
    edited = REGISTRATION.replace(
        b'<spiffworkflow:serviceTaskOperator id="address.premises"',
        b'<spiffworkflow:serviceTaskOperator id="address.other"',
    )
    assert edited != REGISTRATION
    changes = diff_diagrams(REGISTRATION, edited)
    assert (changes.added, changes.removed, changes.changed) == ((), (), ("Task_LookUpPremises",))
    (change,) = changes.details[0].changes
    assert (change.before, change.after) == ("address.premises", "address.other")


def test_a_changed_decision_rule_lists_its_cells_before_and_after_by_column():
    edited = ELIGIBILITY.replace(
        b'<inputEntry id="InputEntry_NotACitizen_2"><text>False</text>',
        b'<inputEntry id="InputEntry_NotACitizen_2"><text>True</text>',
    )
    changes = diff_diagrams(ELIGIBILITY, edited)
    assert changes.changed == ("Rule_NotACitizen",)
    (rule,) = changes.details
    assert rule.rule_before.number == rule.rule_after.number == 2
    assert rule.columns[:2] == ("Person alive", "Citizen")
    assert (rule.rule_before.cells[1], rule.rule_after.cells[1]) == ("False", "True")
    assert rule.changed_cells == {1}
