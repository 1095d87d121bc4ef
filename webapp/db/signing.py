"""Tables of the signing module: one-time codes sent by SMS to sign a document."""

from datetime import datetime

from sqlalchemy import DateTime, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.db.base import Base


class SigningCode(Base):
    """One code sent to a signer's phone, bound to one document; the code itself is not kept."""

    __tablename__ = "signing_code"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    signer_iin: Mapped[str] = mapped_column(String(12))
    phone: Mapped[str] = mapped_column(String(32))
    document_sha256: Mapped[str] = mapped_column(String(64))
    salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(default=0)
    # pending -> used | superseded (a newer code was sent) | unsent (the gateway failed);
    # used -> applied, in the transaction of the signed act it proved (once)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index(None, "signer_iin", "created_at"),)
