"""The online application's data, and how the portal shows an address and a signed document.

What a person signs is the runtime's document of the act (`webapp.runtime.signatures`): the
application data below for an online start, the task and the answer for an owner's consent.
"""

import json
from collections.abc import Mapping
from typing import Any

SERVICE = "residence_registration"
APPLICANT_TYPES = {"self": "self", "child": "parent", "ward": "guardian", "attorney": "attorney"}


def application_document(
    form: Mapping[str, Any], applicant_iin: str, application_date: str
) -> dict[str, Any]:
    """Return the application to sign from the checked form values: the process's start data."""
    for_whom = form["for_whom"]
    document: dict[str, Any] = {
        "service": SERVICE,
        "channel": "online",
        "registration_type": form["registration_type"],
        "applicant_iin": applicant_iin,
        "applicant_type": APPLICANT_TYPES[for_whom],
        "person_iin": applicant_iin if for_whom == "self" else form["person_iin"],
        "arc": form["arc"],
        "arrived_from_abroad": bool(form.get("arrived_from_abroad")),
        "application_date": application_date,
    }
    if form["registration_type"] == "temporary":
        document["period_months"] = int(form["period_months"])
    if form.get("ownership") == "not_owner":
        document["declared_owner_iin"] = form["owner_iin"]
        document["declared_address"] = form["address_text"]
    return document


def readable(document: Mapping[str, Any]) -> str:
    """Return the document as indented JSON with sorted keys, as the signature covers it."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False)
