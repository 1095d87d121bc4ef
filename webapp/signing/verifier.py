"""The runtime's signature verifier: checks the evidence of a signed act against its document.

Evidence is `SignatureEvidence` data (an object, or its JSON text where a form can only carry
text). An EDS is a CMS signature (`cms`, base64), verified again in full over the bytes the
step rendered; a one-time code is proven by the code the signer entered, which `verify_code`
marked used for those very bytes and that signer. Nothing else that a caller writes into the
evidence is believed.
"""

import base64
import binascii
import json
from collections.abc import Callable
from datetime import UTC
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from webapp.db.signing import SigningCode
from webapp.runtime.signatures import SignedAct
from webapp.signing.codes import mask_phone
from webapp.signing.eds import verify_cms
from webapp.signing.errors import (
    CodeAlreadyUsed,
    CodeNotEntered,
    DocumentMismatch,
    SignatureInvalid,
    SignatureMissing,
)
from webapp.signing.evidence import SignatureEvidence, SigningMethod


def evidence_data(evidence: Any) -> dict[str, Any]:
    """Return submitted evidence as a dict, refusing anything that cannot be evidence."""
    if isinstance(evidence, str) and evidence.strip():
        try:
            evidence = json.loads(evidence)
        except ValueError as exc:
            raise SignatureInvalid("The signature is not signature evidence.") from exc
    if not isinstance(evidence, dict) or not evidence:
        raise SignatureMissing("This answer must be signed with an EDS or a one-time code.")
    return evidence


def _eds(act: SignedAct, evidence: dict[str, Any], trusted: list[bytes]) -> SignatureEvidence:
    """Verify the CMS in the evidence over the act's rendered bytes."""
    text = "".join(str(evidence.get("cms") or "").split())
    if not text:
        raise SignatureMissing("An EDS signature needs the CMS signature (cms, base64).")
    try:
        cms = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureInvalid("The CMS signature is not base64 text.") from exc
    return verify_cms(
        content=act.rendered.content,
        cms=cms,
        signer_iin=act.signer,
        trusted_ca_pems=trusted,
        now=act.at.astimezone(UTC),
    )


def _sms_code(session: Session, act: SignedAct, evidence: dict[str, Any]) -> SignatureEvidence:
    row = session.get(SigningCode, str(evidence.get("challenge_id") or ""))
    if row is None or row.signer_iin != act.signer or row.status not in ("used", "applied"):
        raise CodeNotEntered(
            "No one-time code was entered by the signer for this answer: request a code and "
            "enter it."
        )
    if row.document_sha256 != act.rendered.sha256:
        raise DocumentMismatch("The one-time code was entered for another document.")
    # One code proves one act: the act's own transaction spends it, so a second start with
    # the same application (or a rolled-back step) cannot reuse or lose it.
    spent = session.execute(
        update(SigningCode)
        .where(SigningCode.id == row.id, SigningCode.status == "used")
        .values(status="applied")
    ).rowcount
    if not spent:
        raise CodeAlreadyUsed("This code has already signed an act; request a new one.")
    return SignatureEvidence(
        method=SigningMethod.SMS_CODE,
        signer_iin=row.signer_iin,
        document_sha256=row.document_sha256,
        signed_at=row.used_at,
        challenge_id=row.id,
        phone=mask_phone(row.phone),
    )


class EvidenceVerifier:
    """Verifies EDS and one-time-code evidence; trusts the CAs `trusted_cas` returns each time."""

    def __init__(self, trusted_cas: Callable[[], list[bytes]]) -> None:
        self.trusted_cas = trusted_cas

    def __call__(self, session: Session, act: SignedAct) -> dict[str, Any]:
        """Return the verified evidence of the act as JSON data, or raise a `SigningError`."""
        evidence = evidence_data(act.evidence)
        method = evidence.get("method")
        if method == SigningMethod.EDS:
            verified = _eds(act, evidence, self.trusted_cas())
        elif method == SigningMethod.SMS_CODE:
            verified = _sms_code(session, act, evidence)
        else:
            raise SignatureInvalid("A signature is made with an EDS or a one-time code.")
        return verified.to_dict()
