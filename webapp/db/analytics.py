"""The analytics' own tables: figures derived from the runtime's, kept to read them faster."""

from datetime import date

from sqlalchemy import BigInteger, Float, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base
from .models import ProcessVersion


class DashboardDay(Base):
    """The dashboard's figures of a version's completed instances started on one UTC day.

    Written by the dashboard when it first reads the day, never by the runtime. The count, id
    sum and exact sum of lead times of those instances say which set the figures describe:
    when an instance of the day completes, is moved or is archived, they no longer match and
    the day is computed again.
    """

    __tablename__ = "dashboard_day"

    process_version_id: Mapped[int] = mapped_column(ForeignKey(ProcessVersion.id), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    instances: Mapped[int] = mapped_column(Integer)
    id_sum: Mapped[int] = mapped_column(BigInteger)
    lead_sum: Mapped[float] = mapped_column(Float)
    figures: Mapped[dict] = mapped_column()
