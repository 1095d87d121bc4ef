"""The documents people sign online: the application and an owner's answer to a consent request."""

import json
from collections.abc import Mapping
from typing import Any

from webapp.signing import SignatureEvidence

SERVICE = "residence_registration"
# How the portal's signing methods are named in the process's consent form.
FORM_METHODS = {"sms_code": "otp", "eds": "eds"}
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


def consent_document(task_data: Mapping[str, Any], owner_iin: str, given: bool) -> dict[str, Any]:
    """Return an owner's answer to sign: who asks, for whom, where, which type and period."""
    document = {
        "service": SERVICE,
        "consent_to_application": task_data.get("application_number"),
        "owner_iin": owner_iin,
        "applicant_iin": task_data.get("applicant_iin"),
        "person_iin": task_data.get("person_iin"),
        "arc": task_data.get("arc"),
        "address": address_text(task_data.get("premises") or {}),
        "registration_type": task_data.get("registration_type"),
        "consent_given": given,
    }
    if task_data.get("period_months") is not None:
        document["period_months"] = task_data["period_months"]
    return document


def consent_form_data(document: Mapping[str, Any], evidence: SignatureEvidence) -> dict[str, Any]:
    """Return the consent task's form data, the signature evidence kept in its `signature`."""
    return {
        "consent_given": bool(document["consent_given"]),
        "signature_method": FORM_METHODS[evidence.method.value],
        "signature": json.dumps(evidence.to_dict(), ensure_ascii=False, sort_keys=True),
    }


def address_text(premises: Mapping[str, Any]) -> str:
    """Return the premises' address on one line, or an empty string when it is unknown."""
    address = premises.get("address") or {}
    parts = [address.get("settlement"), address.get("district")]
    street = " ".join(str(p) for p in (address.get("street"), address.get("building")) if p)
    parts.append(street)
    if address.get("block"):
        parts.append(f"block {address['block']}")
    if address.get("flat"):
        parts.append(f"flat {address['flat']}")
    return ", ".join(str(p) for p in parts if p)


def readable(document: Mapping[str, Any]) -> str:
    """Return the document as indented JSON with sorted keys, as the signature covers it."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False)
