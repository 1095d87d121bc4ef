"""JSON Schema forms: fields from the schema, the macros' HTML, typed values and field errors."""

import pytest
from flask import render_template_string
from werkzeug.datastructures import MultiDict

from webapp.web import schemaforms

SCHEMA = {
    "type": "object",
    "required": ["surname", "age", "consent"],
    "properties": {
        "surname": {"type": "string", "title": "Surname", "maxLength": 40},
        "age": {"type": "integer", "title": "Age", "minimum": 14},
        "area": {"type": "number", "title": "Floor area"},
        "consent": {"type": "boolean", "title": "Owner consents"},
        "present": {"type": "boolean", "title": "Owner present"},
        "kind": {"type": "string", "title": "Kind", "enum": ["permanent", "temporary"]},
        "acts_as": {
            "type": "string",
            "title": "Acts as",
            "oneOf": [{"const": "self", "title": "Self"}, {"const": "parent", "title": "Parent"}],
        },
        "document": {
            "title": "Document",
            "anyOf": [
                {"const": "id_card", "title": "Identity card"},
                {"const": "passport", "title": "Passport"},
            ],
        },
        "birth_date": {"type": "string", "format": "date", "title": "Birth date"},
        "email": {"type": "string", "format": "email", "title": "E-mail"},
        "note": {"type": "string", "title": "Note", "description": "Seen by the clerk only."},
        "token": {"type": "string"},
        "owner_iin": {"type": "string", "title": "Owner's IIN"},
        "nickname": {"type": ["string", "null"], "title": "Nickname"},
    },
}
UI = {
    "ui:order": ["surname", "*", "token"],
    "note": {"ui:widget": "textarea", "ui:placeholder": "Anything unusual"},
    "present": {"ui:widget": "radio"},
    "acts_as": {"ui:widget": "radio", "ui:help": "Who signs"},
    "token": {"ui:widget": "hidden"},
    "email": {"ui:help": "For the notice"},
}


def render(app, values=None, errors=None):
    fields = schemaforms.form_fields(SCHEMA, UI)
    with app.test_request_context("/"):
        return render_template_string(
            '{% from "macros/forms.html" import fields as f %}{{ f(items, values, errors) }}',
            items=fields,
            values=values or {},
            errors=errors or {},
        )


def test_fields_follow_ui_order_with_the_rest_in_schema_order():
    names = [f.name for f in schemaforms.form_fields(SCHEMA, UI)]
    assert names[0] == "surname" and names[-1] == "token"
    assert names[1:4] == ["age", "area", "consent"]


@pytest.mark.parametrize(
    ("name", "widget"),
    [
        ("surname", "text"),
        ("age", "integer"),
        ("area", "number"),
        ("consent", "checkbox"),
        ("present", "radio"),
        ("kind", "select"),
        ("acts_as", "radio"),
        ("document", "select"),
        ("birth_date", "date"),
        ("email", "email"),
        ("note", "textarea"),
        ("token", "hidden"),
        ("nickname", "text"),
    ],
)
def test_each_property_gets_its_widget(name, widget):
    fields = {f.name: f for f in schemaforms.form_fields(SCHEMA, UI)}
    assert fields[name].widget == widget


def test_macros_render_every_widget(app):
    html = render(app)
    assert '<input id="field-surname" name="surname" required aria-required="true"' in html
    assert 'type="text"' in html and 'maxlength="40"' in html
    assert 'name="age"' in html and 'type="number" step="1"' in html and 'min="14"' in html
    assert 'type="number" step="any"' in html
    assert 'type="checkbox" value="true" id="field-consent"' in html
    assert '<input type="radio" name="present" value="true">' in html
    assert '<option value="temporary">temporary</option>' in html
    assert '<input type="radio" name="acts_as" value="parent"> Parent' in html
    assert '<option value="passport">Passport</option>' in html
    assert 'type="date"' in html and 'type="email"' in html
    assert "<textarea" in html and 'placeholder="Anything unusual"' in html
    assert '<input type="hidden" name="token" value="">' in html
    assert 'data-check="iin"' in html


def test_required_fields_are_marked_and_help_is_linked(app):
    html = render(app)
    assert html.count('<span class="required" aria-hidden="true"> *</span>') == 3
    assert 'id="help-email">For the notice</p>' in html
    assert 'aria-describedby="help-email"' in html
    assert "Seen by the clerk only." in html
    assert 'id="help-acts_as">Who signs</p>' in html


def test_errors_are_shown_beside_their_fields_and_values_are_kept(app):
    values = {"surname": "Abenov <b>", "age": "ten", "kind": "temporary", "consent": "true",
              "acts_as": "parent", "note": "line one"}  # fmt: skip
    errors = {"age": "Enter a whole number.", "elsewhere": "Checked by the registry."}
    html = render(app, values, errors)
    assert 'value="Abenov &lt;b&gt;"' in html
    assert 'value="ten"' in html and 'aria-invalid="true"' in html
    assert '<p class="field-error" id="error-age">Enter a whole number.</p>' in html
    assert html.count("autofocus") == 1 and 'id="field-age" name="age" autofocus' in html
    assert 'aria-describedby="error-age"' in html
    assert '<option value="temporary" selected>' in html
    assert 'id="field-consent" name="consent" required aria-required="true" checked' in html
    assert 'value="parent" checked' in html
    assert ">line one</textarea>" in html
    assert "elsewhere: Checked by the registry." in html


def test_posted_text_becomes_typed_data():
    fields = schemaforms.form_fields(SCHEMA, UI)
    form = MultiDict({"surname": "Abenov", "age": "16", "area": "54.5", "present": "false",
                      "consent": "true", "note": ""})  # fmt: skip
    values = schemaforms.posted_values(form, fields)
    data, errors = schemaforms.typed_data(values, fields)
    assert errors == {}
    assert data == {"surname": "Abenov", "age": 16, "area": 54.5, "consent": True,
                    "present": False}  # fmt: skip


def test_unchecked_checkbox_is_false_and_bad_numbers_are_errors():
    fields = schemaforms.form_fields(SCHEMA, UI)
    values = schemaforms.posted_values(MultiDict({"age": "x", "area": "y"}), fields)
    data, errors = schemaforms.typed_data(values, fields)
    assert data["consent"] is False
    assert errors == {"age": "Enter a whole number.", "area": "Enter a number."}


def test_validation_names_each_field_with_a_readable_reason(app):
    with app.test_request_context("/"):
        errors = schemaforms.validate(
            SCHEMA,
            {"age": 12, "kind": "forever", "birth_date": "14.03.1985", "email": "nobody",
             "owner_iin": "880517401807"},
        )  # fmt: skip
    assert errors == {
        "surname": "This field is required.",
        "consent": "This field is required.",
        "age": "The value is too small.",
        "kind": "Choose one of the options.",
        "birth_date": "Enter a date as YYYY-MM-DD.",
        "email": "Enter an e-mail address.",
        "owner_iin": "Not a valid IIN: 12 digits with a correct check digit.",
    }
