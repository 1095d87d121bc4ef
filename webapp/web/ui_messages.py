"""Texts of the product's own scripts around the diagram tools, translated like the pages'.

The scripts ask for a text by its English (`t("Saved")` in `diagram-common.js`); each page
that loads them carries this table in the reader's language as JSON (`#ui-messages`).
"""

from flask import Flask
from flask_babel import lazy_gettext as _l

MESSAGES = {
    "Saved": _l("Saved"),
    "Problems found": _l("Problems found"),
    "Not saved": _l("Not saved"),
    "line %(n)s": _l("line %(n)s"),
    "Problems found: %(n)s": _l("Problems found: %(n)s"),
    "No problems found.": _l("No problems found."),
    "The server answered %(status)s.": _l("The server answered %(status)s."),
    "Texts to translate before the version can take effect: %(n)s": _l(
        "Texts to translate before the version can take effect: %(n)s"
    ),
    "Awaiting approval by another process owner": _l("Awaiting approval by another process owner"),
    "Deployed": _l("Deployed"),
    "Review": _l("Review"),
    "Properties": _l("Properties"),
    "Save": _l("Save"),
    "Save and deploy": _l("Save and deploy"),
    "Saving…": _l("Saving…"),
    "Unsaved changes": _l("Unsaved changes"),
    "Select an element.": _l("Select an element."),
    "Id": _l("Id"),
    "Name": _l("Name"),
    "Lane": _l("Lane"),
    "Operator": _l("Operator"),
    "Result variable": _l("Result variable"),
    "Parameter": _l("Parameter"),
    "Type": _l("Type"),
    "Value": _l("Value"),
    "Add parameter": _l("Add parameter"),
    "Parameters": _l("Parameters"),
    "Parameter %(n)s %(name)s": _l("Parameter %(n)s %(name)s"),
    "A Python expression over the task data": _l("A Python expression over the task data"),
    "Remove parameter": _l("Remove parameter"),
    "Form schema file": _l("Form schema file"),
    "Form UI schema file": _l("Form UI schema file"),
    "Instructions": _l("Instructions"),
    "The server could not be reached; try again.": _l(
        "The server could not be reached; try again."
    ),
    "awaiting approval": _l("awaiting approval"),
    "Awaiting approval": _l("Awaiting approval"),
    "Valid": _l("Valid"),
}


def ui_messages() -> dict[str, str]:
    """Return the scripts' texts in the reader's language, keyed by their English."""
    return {english: str(text) for english, text in MESSAGES.items()}


def init_app(app: Flask) -> None:
    """Give templates `ui_messages()`, for the pages that load the diagram scripts."""
    app.add_template_global(ui_messages)
