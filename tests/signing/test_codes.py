"""One-time SMS codes: sent only to known phones, bound to one document, used once."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from webapp.db.signing import SigningCode
from webapp.signing import (
    SignatureEvidence,
    SigningMethod,
    request_code,
    verify_code,
)
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

APPLICANT = "850314304175"
OWNER = "621102401239"
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
PHONE = "+77011234567"
DOCUMENT = b"Application A-0100\nAddress registration code (ARC): 0201300123456789\n"
DIGEST = hashlib.sha256(DOCUMENT).hexdigest()


class Outbox:
    """An SMS gateway that keeps what it was asked to send."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def __call__(self, phone: str, text: str) -> None:
        self.messages.append((phone, text))

    def last_code(self) -> str:
        return self.messages[-1][1].split()[1]


@pytest.fixture
def outbox() -> Outbox:
    return Outbox()


def ask(session, outbox, *, signer=APPLICANT, document=DOCUMENT, now=NOW, settings=None):
    return request_code(
        session,
        signer_iin=signer,
        content=document,
        phone=PHONE,
        send=outbox,
        now=now,
        settings=settings,
    )


def answer(session, challenge, code, *, signer=APPLICANT, document=DOCUMENT, now=NOW, **kw):
    return verify_code(
        session,
        challenge_id=challenge.challenge_id,
        signer_iin=signer,
        content=document,
        code=code,
        now=now,
        **kw,
    )


def test_valid_code_signs_the_document_and_returns_evidence(session, outbox):
    challenge = ask(session, outbox)
    evidence = answer(session, challenge, outbox.last_code(), now=NOW + timedelta(minutes=4))
    assert evidence.method is SigningMethod.SMS_CODE
    assert evidence.signer_iin == APPLICANT
    assert evidence.document_sha256 == DIGEST
    assert evidence.signed_at == NOW + timedelta(minutes=4)
    assert evidence.phone == "+7******4567"
    assert challenge.phone == "+7******4567"
    assert challenge.expires_at == NOW + timedelta(minutes=5)


def test_code_is_six_random_digits_sent_to_the_phone_and_stored_only_hashed(session, outbox):
    ask(session, outbox)
    phone, text = outbox.messages[0]
    code = outbox.last_code()
    assert phone == PHONE
    assert len(code) == 6 and code.isdigit()
    assert DIGEST[:8] in text
    row = session.scalars(select(SigningCode)).one()
    assert code.encode() not in row.code_hash and len(row.code_hash) == 32


def test_signer_without_phone_is_told_they_are_not_in_the_mobile_database(session, outbox):
    with pytest.raises(PhoneUnknown, match="not in the mobile citizens database"):
        request_code(
            session, signer_iin=APPLICANT, content=DOCUMENT, phone=None, send=outbox, now=NOW
        )
    assert outbox.messages == []


def test_wrong_code_is_refused_with_attempts_left(session, outbox):
    challenge = ask(session, outbox)
    wrong = f"{(int(outbox.last_code()) + 1) % 10**6:06d}"
    with pytest.raises(WrongCode) as refused:
        answer(session, challenge, wrong)
    assert refused.value.attempts_left == 2
    assert refused.value.status == 422
    assert answer(session, challenge, outbox.last_code()).signer_iin == APPLICANT


def test_expired_code_is_refused(session, outbox):
    challenge = ask(session, outbox)
    with pytest.raises(CodeExpired) as refused:
        answer(session, challenge, outbox.last_code(), now=NOW + timedelta(minutes=5))
    assert refused.value.status == 410


def test_used_code_cannot_be_used_again(session, outbox):
    challenge = ask(session, outbox)
    answer(session, challenge, outbox.last_code())
    with pytest.raises(CodeAlreadyUsed):
        answer(session, challenge, outbox.last_code(), now=NOW + timedelta(seconds=10))


def test_three_wrong_attempts_lock_the_code_even_against_the_right_one(session, outbox):
    challenge = ask(session, outbox)
    wrong = f"{(int(outbox.last_code()) + 1) % 10**6:06d}"
    for left in (2, 1, 0):
        with pytest.raises(WrongCode) as refused:
            answer(session, challenge, wrong)
        assert refused.value.attempts_left == left
    with pytest.raises(CodeAttemptsExhausted):
        answer(session, challenge, outbox.last_code())


def test_code_for_another_document_is_refused(session, outbox):
    challenge = ask(session, outbox)
    changed = DOCUMENT.replace(b"0201300123456789", b"0201300999999999")
    with pytest.raises(DocumentMismatch):
        answer(session, challenge, outbox.last_code(), document=changed)


def test_code_sent_to_one_signer_cannot_be_used_by_another(session, outbox):
    challenge = ask(session, outbox)
    with pytest.raises(ChallengeNotFound):
        answer(session, challenge, outbox.last_code(), signer=OWNER)


def test_malformed_code_is_refused_without_taking_an_attempt(session, outbox):
    challenge = ask(session, outbox)
    with pytest.raises(MalformedCode):
        answer(session, challenge, "12a45")
    assert session.scalars(select(SigningCode.attempts)).one() == 0


def test_new_code_within_a_minute_is_refused(session, outbox):
    ask(session, outbox)
    with pytest.raises(CodeResendTooSoon) as refused:
        ask(session, outbox, now=NOW + timedelta(seconds=30))
    assert refused.value.status == 429
    assert refused.value.retry_after == 31
    assert len(outbox.messages) == 1


def test_sixth_code_within_an_hour_is_refused(session, outbox):
    for minute in range(5):
        ask(session, outbox, now=NOW + timedelta(minutes=minute * 2))
    with pytest.raises(CodeResendTooSoon, match="At most 5 codes"):
        ask(session, outbox, now=NOW + timedelta(minutes=30))
    assert ask(session, outbox, now=NOW + timedelta(minutes=60, seconds=1))


def test_resent_code_replaces_the_earlier_one(session, outbox):
    first = ask(session, outbox)
    first_code = outbox.last_code()
    second = ask(session, outbox, now=NOW + timedelta(minutes=1))
    with pytest.raises(CodeSuperseded):
        answer(session, first, first_code, now=NOW + timedelta(minutes=1))
    assert answer(session, second, outbox.last_code(), now=NOW + timedelta(minutes=1))


def test_limits_come_from_settings(session, outbox):
    settings = {
        "signing_code_lifetime": "PT1M",
        "signing_code_attempts": "1",
        "signing_code_resend_interval": "PT10S",
        "signing_code_hourly_limit": 2,
    }
    challenge = ask(session, outbox, settings=settings)
    assert challenge.expires_at == NOW + timedelta(minutes=1)
    assert challenge.resend_after == NOW + timedelta(seconds=10)
    with pytest.raises(WrongCode) as refused:
        answer(
            session,
            challenge,
            "000000" if outbox.last_code() != "000000" else "111111",
            settings=settings,
        )
    assert refused.value.attempts_left == 0
    ask(session, outbox, now=NOW + timedelta(seconds=11), settings=settings)
    with pytest.raises(CodeResendTooSoon):
        ask(session, outbox, now=NOW + timedelta(seconds=22), settings=settings)


def test_failed_gateway_leaves_the_earlier_code_usable_and_no_rate_limit(session, outbox):
    def broken_gateway(phone: str, text: str) -> None:
        raise ConnectionError("gateway down")

    first = ask(session, outbox)
    with pytest.raises(ConnectionError):
        request_code(
            session,
            signer_iin=APPLICANT,
            content=DOCUMENT,
            phone=PHONE,
            send=broken_gateway,
            now=NOW + timedelta(minutes=1),
        )
    statuses = session.scalars(select(SigningCode.status).order_by(SigningCode.created_at))
    assert list(statuses) == ["pending", "unsent"]
    assert answer(session, first, outbox.last_code(), now=NOW + timedelta(minutes=1))
    assert ask(session, outbox, now=NOW + timedelta(minutes=1, seconds=1))


def test_evidence_round_trips_through_a_dict(session, outbox):
    challenge = ask(session, outbox)
    evidence = answer(session, challenge, outbox.last_code())
    data = evidence.to_dict()
    assert data["method"] == "sms_code" and data["signed_at"] == NOW.isoformat()
    assert SignatureEvidence.from_dict(data) == evidence
