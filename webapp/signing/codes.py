"""One-time SMS codes: send a code bound to a document, then accept it once as a signature."""

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from webapp.db.signing import SigningCode
from webapp.signing.errors import (
    ChallengeNotFound,
    CodeAlreadyUsed,
    CodeAttemptsExhausted,
    CodeExpired,
    CodeResendTooSoon,
    CodeSuperseded,
    DocumentMismatch,
    MalformedCode,
    PhoneUnknown,
    WrongCode,
)
from webapp.signing.evidence import SignatureEvidence, SigningMethod

CODE_DIGITS = 6
RATE_WINDOW = timedelta(hours=1)
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def _duration(value: Any) -> timedelta:
    """Read a setting given as an ISO 8601 duration (`PT5M`), seconds or a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value).strip().upper())
    if not match or str(value).strip().upper() in ("P", "PT"):
        raise ValueError(f"not a duration: {value!r}")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


@dataclass(frozen=True)
class CodeSettings:
    """Limits on one-time codes; every one is a product setting with the default shown."""

    lifetime: timedelta = timedelta(minutes=5)
    max_attempts: int = 3
    resend_interval: timedelta = timedelta(seconds=60)
    max_per_hour: int = 5

    @classmethod
    def from_mapping(cls, settings: Mapping[str, Any] | None) -> "CodeSettings":
        """Read `signing_code_*` settings, keeping the default for each one missing."""
        settings = settings or {}
        default = cls()
        return cls(
            lifetime=_duration(settings.get("signing_code_lifetime", default.lifetime)),
            max_attempts=int(settings.get("signing_code_attempts", default.max_attempts)),
            resend_interval=_duration(
                settings.get("signing_code_resend_interval", default.resend_interval)
            ),
            max_per_hour=int(settings.get("signing_code_hourly_limit", default.max_per_hour)),
        )


@dataclass(frozen=True)
class CodeChallenge:
    """A code on its way to the signer's phone: what the signing page needs, never the code."""

    challenge_id: str
    signer_iin: str
    phone: str
    document_sha256: str
    expires_at: datetime
    resend_after: datetime
    attempts_allowed: int


def _utc(moment: datetime) -> datetime:
    """Return an aware UTC time; naive values are UTC as SQLite hands them back."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _hash(code: str, salt: bytes) -> bytes:
    """Return the slow salted hash under which a code is stored."""
    return hashlib.scrypt(code.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)


def mask_phone(phone: str) -> str:
    """Return the phone number with all but the country prefix and last four digits hidden."""
    visible_tail = phone[-4:]
    head = phone[:2] if phone.startswith("+") else phone[:1]
    return head + "*" * max(len(phone) - len(head) - len(visible_tail), 0) + visible_tail


def code_message(code: str, document: str, minutes: int) -> str:
    """Return the text of a code message in English."""
    return (
        f"Tirkeu: {code} is your code to sign document {document}. "
        f"Valid {minutes} min. Never tell it to anyone."
    )


def request_code(
    session: Session,
    *,
    signer_iin: str,
    content: bytes,
    phone: str | None,
    send: Callable[[str, str], None],
    now: datetime,
    settings: Mapping[str, Any] | None = None,
    message: Callable[[str, str, int], str] | None = None,
) -> CodeChallenge:
    """Send a new one-time code for this signer and the document's bytes by `send(phone, text)`;
    the text is `message(code, document digest prefix, minutes valid)`, in the signer's language."""
    if not phone:
        raise PhoneUnknown(
            "The signer's phone is not in the mobile citizens database, so a one-time code "
            "cannot be sent: sign with an EDS instead."
        )
    limits = CodeSettings.from_mapping(settings)
    now = _utc(now)
    digest = hashlib.sha256(content).hexdigest()
    _check_rate(session, signer_iin, now, limits)

    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    salt = secrets.token_bytes(16)
    row = SigningCode(
        id=uuid.uuid4().hex,
        signer_iin=signer_iin,
        phone=phone,
        document_sha256=digest,
        salt=salt,
        code_hash=_hash(code, salt),
        created_at=now,
        expires_at=now + limits.lifetime,
        attempts=0,
        status="pending",
    )
    session.add(row)
    challenge = CodeChallenge(
        challenge_id=row.id,
        signer_iin=signer_iin,
        phone=mask_phone(phone),
        document_sha256=digest,
        expires_at=row.expires_at,
        resend_after=now + limits.resend_interval,
        attempts_allowed=limits.max_attempts,
    )
    # Commit before sending: the gateway may write to this same database, and an SQLite write
    # transaction held open across the call would lock it out.
    session.commit()
    minutes = max(int(limits.lifetime.total_seconds() // 60), 1)
    text = (message or code_message)(code, digest[:8], minutes)
    try:
        send(phone, text)
    except Exception:
        session.rollback()
        session.execute(
            update(SigningCode)
            .where(SigningCode.id == challenge.challenge_id)
            .values(status="unsent")
        )
        session.commit()
        raise
    # Only a delivered code replaces the earlier ones for the same document.
    session.execute(
        update(SigningCode)
        .where(
            SigningCode.signer_iin == signer_iin,
            SigningCode.document_sha256 == digest,
            SigningCode.status == "pending",
            SigningCode.id != challenge.challenge_id,
        )
        .values(status="superseded")
    )
    session.commit()
    return challenge


def _check_rate(session: Session, signer_iin: str, now: datetime, limits: CodeSettings) -> None:
    """Refuse a new code too soon after the last one or past the hourly limit."""
    sent = (
        select(SigningCode.created_at)
        .where(
            SigningCode.signer_iin == signer_iin,
            SigningCode.status != "unsent",
            SigningCode.created_at > now - RATE_WINDOW,
        )
        .subquery()
    )
    count, latest, earliest = session.execute(
        select(func.count(), func.max(sent.c.created_at), func.min(sent.c.created_at))
    ).one()
    if latest is not None and now - _utc(latest) < limits.resend_interval:
        wait = limits.resend_interval - (now - _utc(latest))
        raise CodeResendTooSoon(
            f"A code was sent less than {int(limits.resend_interval.total_seconds())} seconds "
            f"ago; a new one can be requested in {int(wait.total_seconds()) + 1} seconds.",
            retry_after=int(wait.total_seconds()) + 1,
        )
    if count >= limits.max_per_hour:
        wait = _utc(earliest) + RATE_WINDOW - now
        raise CodeResendTooSoon(
            f"At most {limits.max_per_hour} codes are sent in an hour; a new one can be "
            f"requested in {int(wait.total_seconds() // 60) + 1} minutes.",
            retry_after=int(wait.total_seconds()) + 1,
        )


def verify_code(
    session: Session,
    *,
    challenge_id: str,
    signer_iin: str,
    content: bytes,
    code: str,
    now: datetime,
    settings: Mapping[str, Any] | None = None,
) -> SignatureEvidence:
    """Accept the code as the signer's signature of the document's bytes, once; return the
    evidence.

    Like `request_code` it commits its own transactions: a failed attempt must stay counted
    although the call ends in an error that a caller would roll back.
    """
    limits = CodeSettings.from_mapping(settings)
    now = _utc(now)
    row = session.get(SigningCode, challenge_id, populate_existing=True)
    if row is None or row.signer_iin != signer_iin or row.status == "unsent":
        raise ChallengeNotFound("No code was sent to this signer under that request.")
    if row.status == "used":
        raise CodeAlreadyUsed("This code has already been used; request a new one.")
    if row.status == "superseded":
        raise CodeSuperseded("A newer code was sent; enter the latest code you received.")
    if row.attempts >= limits.max_attempts:
        raise CodeAttemptsExhausted(
            f"The code was entered wrongly {limits.max_attempts} times; request a new one."
        )
    if now >= _utc(row.expires_at):
        raise CodeExpired("The code has expired; request a new one.")
    if hashlib.sha256(content).hexdigest() != row.document_sha256:
        raise DocumentMismatch(
            "The code was sent for a different document: the document changed after the code "
            "was requested. Review it and request a new code."
        )
    entered = code.strip().replace(" ", "")
    if len(entered) != CODE_DIGITS or not entered.isdigit():
        raise MalformedCode(f"A code is {CODE_DIGITS} digits.")

    # Take the attempt with a conditional update, so concurrent guesses cannot exceed the limit.
    taken = session.execute(
        update(SigningCode)
        .where(
            SigningCode.id == challenge_id,
            SigningCode.status == "pending",
            SigningCode.attempts < limits.max_attempts,
        )
        .values(attempts=SigningCode.attempts + 1)
    ).rowcount
    session.commit()
    if not taken:
        raise CodeAttemptsExhausted("The code can no longer be used; request a new one.")
    if not hmac.compare_digest(_hash(entered, row.salt), row.code_hash):
        used = session.scalar(select(SigningCode.attempts).where(SigningCode.id == challenge_id))
        left = max(limits.max_attempts - used, 0)
        raise WrongCode(
            f"The code is wrong; {left} attempt(s) left."
            if left
            else "The code is wrong and no attempts are left; request a new one.",
            attempts_left=left,
        )
    accepted = session.execute(
        update(SigningCode)
        .where(SigningCode.id == challenge_id, SigningCode.status == "pending")
        .values(status="used", used_at=now)
    ).rowcount
    session.commit()
    if not accepted:
        raise CodeAlreadyUsed("This code has already been used; request a new one.")
    return SignatureEvidence(
        method=SigningMethod.SMS_CODE,
        signer_iin=signer_iin,
        document_sha256=row.document_sha256,
        signed_at=now,
        challenge_id=challenge_id,
        phone=mask_phone(row.phone),
    )
