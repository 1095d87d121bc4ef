"""Signature evidence: what is kept with an application to prove who signed which document."""

from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class SigningMethod(StrEnum):
    SMS_CODE = "sms_code"
    EDS = "eds"


@dataclass(frozen=True)
class SignatureEvidence:
    """Proof of one signature; the certificate fields are set for EDS, the code fields for SMS."""

    method: SigningMethod
    signer_iin: str
    document_sha256: str
    signed_at: datetime
    cms: str | None = None
    certificate_subject: str | None = None
    certificate_issuer: str | None = None
    certificate_serial: str | None = None
    certificate_fingerprint: str | None = None
    certificate_pem: str | None = None
    challenge_id: str | None = None
    phone: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the evidence as JSON-able data, the time as an ISO string."""
        data = asdict(self)
        data["method"] = self.method.value
        data["signed_at"] = self.signed_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SignatureEvidence":
        """Rebuild evidence from what `to_dict` returned."""
        values = dict(data)
        values["method"] = SigningMethod(values["method"])
        values["signed_at"] = datetime.fromisoformat(values["signed_at"])
        return cls(**values)
