"""Texts of the product's own scripts around the diagram tools, translated like the pages'.

The scripts ask for a text by its English (`t("Saved")` in `diagram-common.js`); each page
that loads them carries this table in the reader's language as JSON (`#ui-messages`).
"""

from flask import Flask
from flask_babel import lazy_gettext as _l

MESSAGES = {
    "Problems found": _l("Problems found"),
    "The server answered %(status)s.": _l("The server answered %(status)s."),
    "Deployed": _l("Deployed"),
    "Parameter %(n)s %(name)s": _l("Parameter %(n)s %(name)s"),
    "A Python expression over the task data": _l("A Python expression over the task data"),
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
