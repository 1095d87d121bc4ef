"""Tables of the online channel: the SMS outbox of the sandbox gateway and signed documents."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.db.base import Base, utcnow


class SmsMessage(Base):
    """One text message the sandbox SMS gateway sent: the outbox demo users can read."""

    __tablename__ = "sms_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index(None, "phone", "sent_at"),)


class SignedDocument(Base):
    """A document signed in the portal, its answer and the signature evidence kept with it."""

    __tablename__ = "signed_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    # application: the applicant's application; consent: an owner's answer to a consent task.
    kind: Mapped[str] = mapped_column(String(16))
    signer_iin: Mapped[str] = mapped_column(String(12), index=True)
    instance_id: Mapped[int | None] = mapped_column(index=True)
    task_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # The document as signed: its language, `signed_text`, `sha256` and the submitted `data`.
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
