"""Refusals of the signing module, each with the HTTP status the web layer answers with."""

from webapp.runtime.errors import TirkeuError


class SigningError(TirkeuError):
    """A signature or a one-time code was refused; `message` says why in plain words."""

    status = 422
    reason = "signing_refused"

    @property
    def code(self) -> str:
        """The error code answered to API callers: the refusal's reason."""
        return self.reason


class SignatureMissing(SigningError):
    reason = "signature_missing"


class CodeNotEntered(SigningError):
    reason = "code_not_entered"


class DocumentNotSignable(SigningError):
    reason = "document_not_signable"


class PhoneUnknown(SigningError):
    reason = "phone_unknown"


class CodeResendTooSoon(SigningError):
    status = 429
    reason = "resend_too_soon"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ChallengeNotFound(SigningError):
    status = 404
    reason = "challenge_not_found"


class MalformedCode(SigningError):
    reason = "malformed_code"


class WrongCode(SigningError):
    reason = "wrong_code"

    def __init__(self, message: str, attempts_left: int) -> None:
        super().__init__(message)
        self.attempts_left = attempts_left


class CodeExpired(SigningError):
    status = 410
    reason = "code_expired"


class CodeSuperseded(SigningError):
    status = 410
    reason = "code_superseded"


class CodeAttemptsExhausted(SigningError):
    status = 410
    reason = "attempts_exhausted"


class CodeAlreadyUsed(SigningError):
    status = 409
    reason = "code_already_used"


class DocumentMismatch(SigningError):
    reason = "document_mismatch"


class CertificateUnreadable(SigningError):
    reason = "certificate_unreadable"


class CertificateUntrusted(SigningError):
    reason = "certificate_untrusted"


class CertificateExpired(SigningError):
    reason = "certificate_expired"


class CertificateNotYetValid(SigningError):
    reason = "certificate_not_yet_valid"


class CertificateNotForSigning(SigningError):
    reason = "certificate_not_for_signing"


class CertificateOfAnotherPerson(SigningError):
    reason = "certificate_of_another_person"


class SignatureInvalid(SigningError):
    reason = "signature_invalid"


class KeyUnsupported(SigningError):
    reason = "key_unsupported"


class KeyDoesNotMatchCertificate(SigningError):
    reason = "key_does_not_match_certificate"


class DocumentLanguageUnknown(SigningError):
    reason = "document_language_unknown"
