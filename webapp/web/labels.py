"""Labels for the codes people see: refusal reasons, the documents of the checklist, and the
runtime's states and audit events."""

from flask import Flask
from flask_babel import lazy_gettext as _l

REFUSAL_REASONS = {
    "under_14": _l("Under 14: the residence is the parents'"),
    "person_not_found": _l("Person not found in the population registry"),
    "not_a_citizen": _l("Not a citizen of Kazakhstan"),
    "document_invalid": _l("Identity document not valid"),
    "no_authority": _l("Representative not entitled"),
    "owner_refused": _l("Owner refused consent"),
    "consent_timeout": _l("Owner did not answer in time"),
    "not_in_rental_contract": _l("Not named in the rental contract"),
    "no_title": _l("No title documents for the premises"),
    "no_deregistration_proof": _l("No proof of deregistration abroad"),
    "capital_cap_exceeded": _l("Capital's registration cap exceeded"),
    "data_unreliable": _l("Data unreliable"),
}
DOCUMENTS = {
    "id_card": _l("Identity card"),
    "applicant_id_card": _l("Applicant's identity card"),
    "owner_id_card": _l("Owner's identity card"),
    "owner_written_consent": _l("Owner's written consent"),
    "birth_certificate": _l("Birth certificate"),
    "passport": _l("Passport"),
    "passport_if_any": _l("Passport, if the person has one"),
    "court_decision": _l("Court decision or guardianship document"),
    "power_of_attorney": _l("Notarised power of attorney"),
    "accommodation_petition": _l("Petition of the accommodation's administration"),
}


def refusal_label(code: str) -> str:
    """Return the label of a refusal code, or the code itself when it is not ours."""
    return str(REFUSAL_REASONS.get(code, code))


def document_label(code: str) -> str:
    """Return the label of a document code, or the text itself when it is not a code of ours."""
    return str(DOCUMENTS.get(code, code))


STATUSES = {
    "waiting": _l("waiting"),
    "completed": _l("completed"),
    "error": _l("error"),
    "suspended": _l("suspended"),
    "terminated": _l("terminated"),
    "ready": _l("ready"),
    "claimed": _l("claimed"),
    "cancelled": _l("cancelled"),
    "active": _l("active"),
    "open": _l("open"),
    "resolved": _l("resolved"),
}
EVENTS = {
    "instance_started": _l("instance started"),
    "instance_completed": _l("instance completed"),
    "instance_terminated": _l("instance terminated"),
    "instance_suspended": _l("instance suspended"),
    "instance_resumed": _l("instance resumed"),
    "instance_migrated": _l("moved to another version"),
    "task_ready": _l("task ready"),
    "task_waiting": _l("waiting"),
    "task_completed": _l("task completed"),
    "task_cancelled": _l("task cancelled"),
    "task_error": _l("task failed"),
    "claimed": _l("claimed"),
    "unclaimed": _l("released"),
    "assigned": _l("assigned"),
    "timer_fired": _l("timer fired"),
    "message_received": _l("message received"),
    "message_undelivered": _l("message not delivered"),
    "error_thrown": _l("error thrown"),
    "incident_opened": _l("incident opened"),
    "retry": _l("retried"),
}


def init_app(app: Flask) -> None:
    """Give templates the labels of states and audit events (`status_label`, `event_label`)."""
    app.add_template_filter(lambda code: str(STATUSES.get(code, code)), "status_label")
    app.add_template_filter(lambda code: str(EVENTS.get(code, code)), "event_label")
