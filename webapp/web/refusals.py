"""The coded reasons for refusing an application, with their labels for people."""

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


def refusal_label(code: str) -> str:
    """Return the label of a refusal code, or the code itself when it is not ours."""
    return str(REFUSAL_REASONS.get(code, code))
