"""Database tables (SQLAlchemy 2 declarative). The schema itself is owned by Alembic."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (same on SQLite and PostgreSQL)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class ScenarioRow(Base):
    """A validated scenario document, stored once under the sha256 of its canonical JSON."""

    __tablename__ = "scenarios"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    num_sites: Mapped[int] = mapped_column(Integer)
    num_regions: Mapped[int] = mapped_column(Integer)
    num_years: Mapped[int] = mapped_column(Integer)
    num_crew_pools: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class JobRow(Base):
    """One solve: its options, its life cycle and, once finished, its plan document."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_created", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    scenario_id: Mapped[str] = mapped_column(ForeignKey("scenarios.id"), index=True)
    # a re-plan: the scenario it was made from (scenario_id is the re-planned one)
    base_scenario_id: Mapped[str | None] = mapped_column(String(64), index=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # queued|running|done|failed|cancelled
    reason: Mapped[str | None] = mapped_column(Text)
    runner: Mapped[str | None] = mapped_column(String(16))  # local|celery, set when claimed
    worker: Mapped[str | None] = mapped_column(String(255))  # host/pid or celery node/pid
    cancel_requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # when the job's broker message was last re-sent (NULL: only at submission, created_at)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    seconds: Mapped[float | None] = mapped_column(Float)  # wall seconds from start to finish
    plan_status: Mapped[str | None] = mapped_column(String(16))
    objective: Mapped[int | None] = mapped_column(BigInteger)
    bound: Mapped[int | None] = mapped_column(BigInteger)
    gap: Mapped[float | None] = mapped_column(Float)
    checked: Mapped[bool | None] = mapped_column(Boolean)  # the evaluator's verdict on the plan
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ProgressRow(Base):
    """One incumbent/bound report of a running job, in order (``seq``)."""

    __tablename__ = "job_progress"
    __table_args__ = (Index("ix_job_progress_job_seq", "job_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    elapsed: Mapped[float] = mapped_column(Float)
    incumbent: Mapped[int | None] = mapped_column(BigInteger)
    bound: Mapped[int | None] = mapped_column(BigInteger)
    gap: Mapped[float | None] = mapped_column(Float)


class BatchRow(Base):
    """A what-if batch: the base job and one job per valid variant (``None`` for an invalid one)."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    base_job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"))
    variants: Mapped[dict[str, str | None]] = mapped_column(JSON)  # name -> job id, in order
    errors: Mapped[dict[str, list[dict[str, str]]]] = mapped_column(JSON)  # name -> errors
