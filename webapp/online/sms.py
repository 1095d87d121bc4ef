"""The SMS gateway connector; its sandbox keeps every message in an outbox table."""

from collections.abc import Callable
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from webapp.db.base import utcnow
from webapp.db.online import SmsMessage


class SmsGateway(Protocol):
    """Sends one text message to one phone."""

    def send(self, phone: str, text: str) -> None:
        """Send the text to the phone or raise."""


class SandboxSmsGateway:
    """A gateway that delivers nowhere: each message is written to the outbox."""

    def __init__(self, sessions: sessionmaker[Session] | Callable[[], Session]) -> None:
        self.sessions = sessions

    def send(self, phone: str, text: str) -> None:
        """Write the message to the outbox in its own transaction."""
        with self.sessions() as session, session.begin():
            session.add(SmsMessage(phone=phone, text=text, sent_at=utcnow()))


def outbox(session: Session, phone: str, limit: int = 50) -> list[SmsMessage]:
    """Return the newest messages sent to the phone, newest first."""
    return list(
        session.scalars(
            select(SmsMessage)
            .where(SmsMessage.phone == phone)
            .order_by(SmsMessage.sent_at.desc(), SmsMessage.id.desc())
            .limit(limit)
        )
    )
