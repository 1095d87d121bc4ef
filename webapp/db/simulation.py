"""The simulation jobs a process owner asked for: the request, its progress and its result."""

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class SimulationJob(Base):
    """One "Simulate" of a candidate version over a period, run by the worker.

    `pending` until a worker claims it (`locked_by` until `locked_until`, renewed at each run
    done, so a worker that died leaves it to the next), then `running`, then `done` with the
    comparison in `result` or `failed` with the reason in `error`. `attempts` counts the
    claims: a simulation whose workers keep dying (out of memory, say) is given up as failed.
    """

    __tablename__ = "simulation_job"
    __table_args__ = (Index(None, "process_id", "created_at"), Index(None, "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    period_start: Mapped[datetime] = mapped_column()
    period_end: Mapped[datetime] = mapped_column()
    runs: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer, default=1)
    staffing: Mapped[dict | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="pending")
    runs_done: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    locked_by: Mapped[str | None] = mapped_column(String(120))
    locked_until: Mapped[datetime | None] = mapped_column()
    result: Mapped[dict | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
