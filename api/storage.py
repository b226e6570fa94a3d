"""The job store: every database read and write of the service goes through :class:`Storage`.

Scenarios are stored once under the sha256 of their canonical JSON. Jobs move
``queued -> running -> done | failed | cancelled``; every transition is one
guarded ``UPDATE`` so that a server, its worker processes and Celery workers can
race on the same row safely. On SQLite, write transactions start with
``BEGIN IMMEDIATE`` (a separate engine) so a read-then-write never fails with a
stale snapshot; readers never block in WAL mode.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import sqlite3
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from sqlalchemy import Engine, case, create_engine, delete, event, func, or_, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, defer, sessionmaker

from api.models import BatchRow, JobRow, ProgressRow, ScenarioRow, utcnow
from api.states import CANCELLED, FAILED, JOB_STATUSES, QUEUED, RUNNING
from solver.scenario import Scenario


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3, the driver rdplan ships with."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def canonical_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def scenario_id(doc: dict[str, Any]) -> str:
    """The content hash that identifies a scenario document."""
    return hashlib.sha256(canonical_json(doc)).hexdigest()


def _make_engine(url: str, immediate: bool) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's begin event below emits BEGIN
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    path = _sqlite_file(url)
    if path is not None and path.exists():  # a file the service migrated into being
        # The file deleted under the service (a QA pass): a pooled connection wrote on to the
        # unlinked file, so submissions were taken (202) and lost, and a new connection made an
        # empty file without tables. Now neither: the pool drops a connection whose file is
        # gone, and no connection is made to a file that is not there (the service migrates
        # it into being before any), so each request is an outage, 503 (is_outage).
        @event.listens_for(engine, "do_connect")
        def _refuse_a_new_file(dialect: Any, record: Any, cargs: Any, cparams: Any) -> None:
            if not path.exists():
                raise sqlite3.OperationalError(f"unable to open database file: {path} is gone")

        @event.listens_for(engine, "checkout")
        def _drop_if_gone(dbapi_connection: Any, record: Any, proxy: Any) -> None:
            if not path.exists():
                raise DisconnectionError(f"the SQLite file {path} is gone")

    return engine


@dataclass(frozen=True)
class Claim:
    """What a worker needs to run a job it has just claimed."""

    job_id: str
    document: dict[str, Any]
    options: dict[str, Any]


@dataclass(frozen=True)
class ProgressPoint:
    seq: int
    elapsed: float
    incumbent: int | None
    bound: int | None
    gap: float | None


class DatabaseUnavailable(Exception):
    """The database of a URL cannot be opened or migrated; the message says why in a line."""


def shown_url(url: str) -> str:
    """``url`` with its password hidden, also where SQLAlchemy cannot read it (a port not a
    number showed the password whole; a QA-pass test)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # ValueError: a port not a number
        # what lies between the last ":" of the credentials and the last "@", unless that ":"
        # is the scheme's ("postgresql:/u:pw@h", "pg://u:pa/ss@h:x" showed it; a review)
        credentials, at, rest = url.rpartition("@")
        colon = credentials.rfind(":")
        if not at or colon < 0 or credentials[colon + 1 :].startswith("//"):
            return url
        return f"{credentials[: colon + 1]}***@{rest}"


def why(exc: BaseException) -> str:
    """One line on what went wrong: the driver's own message when there is one."""
    if isinstance(exc, ImportError):
        return f"its database driver is not installed ({exc})"
    detail = getattr(exc, "orig", None) or exc
    lines = [ln.strip() for ln in str(detail).splitlines()]
    return " ".join(ln for ln in lines if ln and not ln.startswith("(Background on this error"))


#: What SQLite says when its file cannot be used now (locked, full, unreadable, read-only),
#: unlike "no such column", which a request would meet again and again: a bug, not an outage.
_SQLITE_OUTAGES = ("locked", "unable to open", "disk i/o", "disk is full", "readonly", "busy")


def is_outage(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database does not answer now (a connection lost or refused, a
    server shutting down, an SQLite file locked or full) rather than that a statement is
    wrong: those are 503s to try again, these stay 500s with their traceback (a review: a
    column dropped from under the service read as "unavailable", for ever)."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    orig = getattr(exc, "orig", None)
    if type(orig).__module__.startswith("sqlite3"):
        said = str(orig).lower()
        return any(word in said for word in _SQLITE_OUTAGES)
    return True  # PostgreSQL's OperationalError: connections, shutdowns, cancelled statements


def log_failure(logger: logging.Logger, what: str) -> None:
    """Log the exception being handled: a database that does not answer (a server down, a file
    gone or locked) in one line, as it repeats every step until it answers; anything else with
    its traceback."""
    exc = sys.exc_info()[1]
    if exc is not None and is_outage(exc):
        logger.warning("%s: the database is unavailable (%s)", what, why(exc))
    else:
        logger.exception("%s", what)


def _sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL (a ``file:`` URI's too, ``file:x.db``, ``file:///x.db`` or
    ``file://localhost/x.db``: its path; the query is the URL's), or None: not SQLite, or in
    memory (``mode=memory`` too: a review found ``file:memdb1`` taken for a file)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or _in_memory(url):
        return None
    database = parsed.database or ""
    if database.startswith("file:"):
        database = unquote(urlparse(database).path)
    return Path(database) if database else None


def _in_memory(url: str) -> bool:
    """An SQLite URL of a database in memory: each connection would see its own, empty."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port not a number
        return False
    database = parsed.database or ""
    return parsed.get_backend_name() == "sqlite" and (
        database in ("", ":memory:") or parsed.query.get("mode") == "memory"
    )


@contextmanager
def _sqlite_migration_lock(url: str) -> Iterator[None]:
    """Servers started at once on a new SQLite file migrate it one after the other (SQLite has
    no advisory lock as PostgreSQL's, env.py): a lock file beside the database."""
    path = _sqlite_file(url)
    if path is None:
        yield
        return
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".migrate-lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (``alembic upgrade head``);
    :class:`DatabaseUnavailable` when the URL is not one, or the database cannot be reached,
    opened or migrated."""
    from alembic import command
    from alembic.config import Config
    from alembic.util.exc import CommandError

    url = normalize_url(url)
    if _in_memory(url):
        raise DatabaseUnavailable(
            f"{url} is an SQLite database in memory, which each connection sees"
            " empty: give a file (sqlite:///path/rdplan.db) or a PostgreSQL URL"
        )
    try:
        with _sqlite_migration_lock(url):
            config = Config(str(Path(__file__).with_name("alembic.ini")))
            config.attributes["url"] = url
            command.upgrade(config, "head")
        _can_write(url)
    except CommandError as exc:  # e.g. a revision of a newer rdplan, after a roll-back
        raise DatabaseUnavailable(
            f"cannot migrate the database {shown_url(url)}: {exc} (a newer rdplan's schema?"
            " run that rdplan, or its `alembic downgrade`, before this one)"
        ) from exc
    except (SQLAlchemyError, ImportError, OSError, ValueError, TypeError) as exc:
        # ValueError, TypeError: a URL's port or query the driver cannot read (notaport,
        # ?timeout=abc), a traceback at start (a QA pass)
        raise DatabaseUnavailable(f"cannot open the database {shown_url(url)}: {why(exc)}") from exc


def _can_write(url: str) -> None:
    """A write that changes nothing, rolled back: a database the service can read and not
    write (a read-only SQLite file, a role without rights) started, said ok, and answered
    every submission 500 (a QA pass)."""
    # jobs, which the service writes (a role may lack rights on alembic_version, which a DBA
    # migrates), no row (nothing locked on PostgreSQL); the service's own engine, whose busy
    # timeout waits out another server's write (a review)
    engine = _make_engine(url, immediate=False)
    try:
        with engine.connect() as conn:
            conn.execute(text("UPDATE jobs SET id = id WHERE 1 = 0"))
            conn.rollback()
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(
            f"cannot write to the database {shown_url(url)}: {why(exc)}"
        ) from exc
    finally:
        engine.dispose()


class Storage:
    """The database of one process (a server, a worker process, a Celery task)."""

    def __init__(self, url: str):
        self.url = normalize_url(url)
        self.read_engine = _make_engine(self.url, immediate=False)
        self.write_engine = (
            _make_engine(self.url, immediate=True)
            if self.url.startswith("sqlite")
            else self.read_engine
        )
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.read_engine.dialect.name

    def dispose(self) -> None:
        self.read_engine.dispose()
        self.write_engine.dispose()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read session whose statements all see one snapshot, so that a count agrees with
        the page read after it. PostgreSQL's default (read committed) gives each statement a
        snapshot of its own: this one reads in ``REPEATABLE READ``. SQLite in WAL mode keeps
        the snapshot of a read transaction's first statement already."""
        with self._read() as session:
            if self.dialect == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        with self._write.begin() as session:
            yield session

    def ping(self) -> None:
        """Raise unless the job store answers: its schema read (``SELECT 1`` answered over a
        pooled connection to an SQLite file deleted under the server, whose new connections
        found no tables, a QA pass), and an SQLite file still there."""
        path = _sqlite_file(self.url)
        if path is not None and not path.exists():
            raise FileNotFoundError(f"the SQLite file {path} is gone")
        with self.reading() as s:
            s.execute(text("SELECT version_num FROM alembic_version"))

    # -- scenarios ---------------------------------------------------------

    def add_scenario(self, scenario: Scenario) -> tuple[ScenarioRow, bool]:
        """Store a validated scenario unless already stored; return it and whether it is new."""
        doc = scenario.to_document()
        sid = scenario_id(doc)
        existing = self.get_scenario(sid)
        if existing is not None:
            return existing, False
        row = ScenarioRow(
            id=sid,
            # PostgreSQL text cannot hold U+0000 (the JSON document keeps the name as it is)
            name=None if scenario.name is None else scenario.name.replace("\x00", "\ufffd"),
            document=doc,
            num_sites=len(scenario.sites),
            num_regions=len(scenario.regions),
            num_years=len(scenario.years),
            num_crew_pools=len(scenario.crews),
            created_at=utcnow(),
        )
        try:
            with self.writing() as s:
                s.add(row)
        except IntegrityError:  # stored by a concurrent request in between
            again = self.get_scenario(sid)
            if again is None:
                raise
            return again, False
        return row, True

    def get_scenario(self, sid: str) -> ScenarioRow | None:
        with self.reading() as s:
            return s.get(ScenarioRow, sid)

    def list_scenarios(self, limit: int, offset: int) -> tuple[Sequence[ScenarioRow], int]:
        with self.snapshot() as s:
            total = s.scalar(select(func.count()).select_from(ScenarioRow)) or 0
            rows = s.scalars(
                select(ScenarioRow)
                # a list is of summaries: the documents (up to MAX_BODY_BYTES each) stay in the
                # database, where 30 lists of 50 large ones held the server ~30 s (a QA pass)
                .options(defer(ScenarioRow.document, raiseload=True))
                .order_by(ScenarioRow.created_at.desc(), ScenarioRow.id)
                .limit(limit)
                .offset(offset)
            ).all()
            return rows, total

    # -- jobs: the API side ------------------------------------------------

    def create_job(self, sid: str, options: dict[str, Any]) -> JobRow:
        job = JobRow(
            id=str(uuid.uuid4()),
            scenario_id=sid,
            base_scenario_id=options.get("base_scenario_id"),
            options=options,
            status=QUEUED,
            created_at=utcnow(),
        )
        with self.writing() as s:
            s.add(job)
        return job

    def get_job(self, job_id: str) -> JobRow | None:
        with self.reading() as s:
            return s.get(JobRow, job_id)

    def list_jobs(
        self, status: str | None, sid: str | None, limit: int, offset: int
    ) -> tuple[Sequence[JobRow], int]:
        query = select(JobRow)
        count = select(func.count()).select_from(JobRow)
        if status is not None:
            query, count = (
                query.where(JobRow.status == status),
                count.where(JobRow.status == status),
            )
        if sid is not None:  # the scenario's jobs and its re-plans'
            of = or_(JobRow.scenario_id == sid, JobRow.base_scenario_id == sid)
            query, count = query.where(of), count.where(of)
        with self.snapshot() as s:
            total = s.scalar(count) or 0
            rows = s.scalars(
                query.order_by(JobRow.created_at.desc(), JobRow.id).limit(limit).offset(offset)
            ).all()
            return rows, total

    def progress(self, job_id: str, after: int = 0) -> list[ProgressPoint]:
        with self.reading() as s:
            rows = s.scalars(
                select(ProgressRow)
                .where(ProgressRow.job_id == job_id, ProgressRow.seq > after)
                .order_by(ProgressRow.seq)
            ).all()
            return [ProgressPoint(r.seq, r.elapsed, r.incumbent, r.bound, r.gap) for r in rows]

    def request_cancel(self, job_id: str) -> JobRow | None:
        """Cancel a queued job at once; flag a running one for its worker to stop."""
        now = utcnow()
        with self.writing() as s:
            job = s.get(JobRow, job_id, with_for_update=True)
            if job is None:
                return None
            if job.status == QUEUED:
                job.status, job.reason, job.finished_at = (
                    CANCELLED,
                    "cancelled before it started",
                    now,
                )
            elif job.status == RUNNING and job.cancel_requested_at is None:
                job.cancel_requested_at = now
            return job

    def set_failed(self, job_id: str, reason: str, only_if: str = QUEUED) -> bool:
        with self.writing() as s:
            res = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == only_if)
                .values(status=FAILED, reason=reason, finished_at=utcnow())
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]

    def discard_unsent(self, job_ids: Sequence[str], batch_id: str | None = None) -> bool:
        """Delete jobs just created whose queue refused them (nothing ran them, nobody was told
        their ids: the submission answers 503), and their batch: all of them while every one is
        still queued (True), else none."""
        ids = list(set(job_ids))
        with self.writing() as s:
            queued = s.scalar(
                select(func.count()).where(JobRow.id.in_(ids), JobRow.status == QUEUED)
            )
            if queued != len(ids):
                # a worker took one all the same (the broker had the message, its answer was
                # lost): nothing is undone, the caller says what is stored (a review)
                return False
            if batch_id is not None:  # first: it refers to its base job
                s.execute(delete(BatchRow).where(BatchRow.id == batch_id))
            s.execute(delete(JobRow).where(JobRow.id.in_(ids)))
            return True

    def jobs(self, job_ids: Sequence[str]) -> dict[str, JobRow]:
        """The jobs of ``job_ids`` that exist, by id (with their plans)."""
        with self.reading() as s:
            rows = s.scalars(select(JobRow).where(JobRow.id.in_(list(job_ids)))).all()
            return {r.id: r for r in rows}

    def job_statuses(self, job_ids: Sequence[str]) -> dict[str, str]:
        """The status of each job of ``job_ids`` that exists (without loading plans)."""
        with self.reading() as s:
            rows = s.execute(
                select(JobRow.id, JobRow.status).where(JobRow.id.in_(list(job_ids)))
            ).all()
            return {str(r[0]): str(r[1]) for r in rows}

    # -- batches -----------------------------------------------------------

    def create_batch(
        self,
        jobs: Mapping[str, tuple[str, dict[str, Any]] | None],
        errors: Mapping[str, list[dict[str, str]]],
        start_from_base: bool = False,
    ) -> BatchRow:
        """Store a batch and its queued jobs in one transaction.

        ``jobs`` maps ``"base"`` and every variant name, in order, to the job's
        (scenario id, options), or to ``None`` for a variant that has no job. The jobs are
        queued in that order (the base first); with ``start_from_base`` a variant's job that
        starts after the base job has ended starts from its plan (``start_solve_id``, without
        waiting: ``start_wait`` false).
        """
        now = utcnow()
        specs = [(name, spec) for name, spec in jobs.items() if spec is not None]
        ids = {name: str(uuid.uuid4()) for name, _ in specs}
        rows = {
            name: JobRow(
                id=ids[name],
                scenario_id=sid,
                base_scenario_id=options.get("base_scenario_id"),
                options={**options, "start_solve_id": ids["base"], "start_wait": False}
                if start_from_base and name != "base"
                else options,
                status=QUEUED,
                # one microsecond apart: the queue (oldest first) takes the base first
                created_at=now + dt.timedelta(microseconds=i),
            )
            for i, (name, (sid, options)) in enumerate(specs)
        }
        batch = BatchRow(
            id=str(uuid.uuid4()),
            created_at=now,
            base_job_id=rows["base"].id,
            variants={
                name: (rows[name].id if name in rows else None) for name in jobs if name != "base"
            },
            errors=dict(errors),
        )
        with self.writing() as s:
            s.add_all(rows.values())
            s.flush()  # the jobs first: the batch refers to the base job
            s.add(batch)
        return batch

    def get_batch(self, batch_id: str) -> BatchRow | None:
        with self.reading() as s:
            return s.get(BatchRow, batch_id)

    def list_batches(self, limit: int, offset: int) -> tuple[Sequence[BatchRow], int]:
        with self.snapshot() as s:
            total = s.scalar(select(func.count()).select_from(BatchRow)) or 0
            rows = s.scalars(
                select(BatchRow)
                .order_by(BatchRow.created_at.desc(), BatchRow.id)
                .limit(limit)
                .offset(offset)
            ).all()
            return rows, total

    # -- jobs: the worker side ---------------------------------------------

    def claim(self, job_id: str, runner: str, worker: str) -> Claim | None:
        """Move a queued job to running for ``worker``; ``None`` when it is not queued any more."""
        now = utcnow()
        with self.writing() as s:
            res = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == QUEUED)
                .values(
                    status=RUNNING, runner=runner, worker=worker, started_at=now, heartbeat_at=now
                )
            )
            if res.rowcount != 1:  # type: ignore[attr-defined]
                return None
            job = s.get(JobRow, job_id)
            assert job is not None
            scenario = s.get(ScenarioRow, job.scenario_id)
            assert scenario is not None
            # A retried claim (same id) must start from an empty history.
            s.execute(delete(ProgressRow).where(ProgressRow.job_id == job_id))
            return Claim(job_id, dict(scenario.document), dict(job.options))

    def heartbeat(self, job_id: str, worker: str, points: Sequence[ProgressPoint]) -> bool | None:
        """Store new progress, stamp the heartbeat; return whether a cancel was asked.

        ``None`` means the job is no longer this worker's (failed by a reaper, say).
        """
        with self.writing() as s:
            res = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == RUNNING, JobRow.worker == worker)
                .values(heartbeat_at=utcnow())
            )
            if res.rowcount != 1:  # type: ignore[attr-defined]
                return None
            for p in points:
                s.add(
                    ProgressRow(
                        job_id=job_id,
                        seq=p.seq,
                        elapsed=p.elapsed,
                        incumbent=p.incumbent,
                        bound=p.bound,
                        gap=p.gap,
                    )
                )
            return (
                s.scalar(select(JobRow.cancel_requested_at).where(JobRow.id == job_id)) is not None
            )

    def finish(
        self,
        job_id: str,
        worker: str,
        status: str,
        reason: str | None,
        plan: dict[str, Any] | None,
        checked: bool | None,
        seconds: float,
    ) -> bool:
        """Record the end of a running job (only if ``worker`` still owns it)."""
        values: dict[str, Any] = {
            "status": status,
            "reason": reason,
            "finished_at": utcnow(),
            "seconds": round(seconds, 3),
            "checked": checked,
            "plan": plan,
        }
        if plan is not None:
            values.update(
                plan_status=plan.get("status"),
                objective=plan.get("objective"),
                bound=plan.get("bound"),
                gap=plan.get("gap"),
            )
        with self.writing() as s:
            res = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == RUNNING, JobRow.worker == worker)
                .values(**values)
            )
            return bool(res.rowcount)  # type: ignore[attr-defined]

    # -- recovery ----------------------------------------------------------

    def fail_running(
        self,
        reason: str,
        *,
        runner: str | None = None,
        worker_prefix: str | None = None,
        job_ids: Sequence[str] | None = None,
        workers: Sequence[str] | None = None,
        heartbeat_before: dt.datetime | None = None,
        status: str = FAILED,
    ) -> list[str]:
        """Mark running jobs (filtered) failed — or ``status`` — with ``reason``; return their ids."""
        cond = [JobRow.status == RUNNING]
        if runner is not None:
            cond.append(JobRow.runner == runner)
        if worker_prefix is not None:
            cond.append(JobRow.worker.startswith(worker_prefix, autoescape=True))
        if workers is not None:
            cond.append(JobRow.worker.in_(list(workers)))
        if job_ids is not None:
            cond.append(JobRow.id.in_(list(job_ids)))
        if heartbeat_before is not None:
            cond.append(JobRow.heartbeat_at < heartbeat_before)
        with self.writing() as s:
            ids = list(s.scalars(select(JobRow.id).where(*cond)).all())
            failed = []
            now = utcnow()
            for job_id in ids:  # a few: the running jobs of some workers
                # the same conditions again: a heartbeat (or finish) that commits in between wins
                res = s.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, *cond)
                    .values(status=status, reason=reason, finished_at=now)
                )
                if res.rowcount == 1:  # type: ignore[attr-defined]
                    failed.append(job_id)
            return failed

    def requeue_running(self, job_id: str, worker: str, note: str) -> bool:
        """Put a running job of ``worker`` back in the queue (a server shutting down): it runs
        again from the start, here after a restart or on another server; ``note`` is its reason
        until then. False when it is not that worker's running job any more, or when its cancel
        was asked for: it ends ``cancelled`` then."""
        with self.writing() as s:
            # A cancel asked for and not yet seen by the solver ends the job: it ran again from
            # the start after a restart, then "did not stop within" its grace (a QA pass).
            s.execute(
                update(JobRow)
                .where(
                    JobRow.id == job_id,
                    JobRow.status == RUNNING,
                    JobRow.worker == worker,
                    JobRow.cancel_requested_at.is_not(None),
                )
                .values(
                    status=CANCELLED,
                    reason="cancelled on request; stopped (SIGTERM) before the solver saw it,"
                    " without a plan",
                    finished_at=utcnow(),
                )
            )
            res = s.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == RUNNING, JobRow.worker == worker)
                .values(
                    status=QUEUED,
                    reason=note,
                    runner=None,
                    worker=None,
                    started_at=None,
                    heartbeat_at=None,
                    # sent again now (Celery), or claimed from the queue (in-process): the
                    # server's resend waits its RDPLAN_REQUEUE_AFTER from here
                    published_at=utcnow(),
                )
            )
            return bool(res.rowcount == 1)  # type: ignore[attr-defined]

    def running(self, runner: str) -> list[tuple[str, str | None]]:
        """The running jobs of ``runner``: (id, worker)."""
        with self.reading() as s:
            rows = s.execute(
                select(JobRow.id, JobRow.worker).where(
                    JobRow.status == RUNNING, JobRow.runner == runner
                )
            ).all()
            return [(r[0], r[1]) for r in rows]

    def stale_running(
        self, heartbeat_before: dt.datetime
    ) -> list[tuple[str, str | None, dt.datetime | None]]:
        """Running jobs whose last heartbeat is older than ``heartbeat_before``: (id, worker, heartbeat)."""
        with self.reading() as s:
            rows = s.execute(
                select(JobRow.id, JobRow.worker, JobRow.heartbeat_at).where(
                    JobRow.status == RUNNING, JobRow.heartbeat_at < heartbeat_before
                )
            ).all()
            return [(r[0], r[1], r[2]) for r in rows]

    def take_for_requeue(
        self, now: dt.datetime, after: float, max_interval: float = 3600.0, limit: int = 500
    ) -> list[tuple[str, float]]:
        """Queued jobs whose broker message is due to be sent again: (id, seconds queued).

        A job is due ``after`` seconds after its submission, then after as long again as it
        had waited when last re-sent (doubling, at most ``max_interval``), so a long but
        healthy queue gets few duplicates. Each returned job's ``published_at`` is set to
        ``now`` with a compare-and-set, so two servers never both re-send it. At most
        ``limit`` jobs a call.
        """
        sent = func.coalesce(JobRow.published_at, JobRow.created_at)
        due: list[tuple[str, float]] = []
        with self.writing() as s:
            rows = s.execute(
                select(JobRow.id, JobRow.created_at, JobRow.published_at)
                .where(JobRow.status == QUEUED, sent < now - dt.timedelta(seconds=after))
                .order_by(JobRow.created_at, JobRow.id)
            ).all()
            for job_id, created, published in rows:
                if len(due) >= limit:  # the rest at the next sweep
                    break
                waited = 0.0 if published is None else (published - created).total_seconds()
                interval = min(max(after, waited), max(after, max_interval))
                if published is not None and (now - published).total_seconds() < interval:
                    continue
                same = (
                    JobRow.published_at.is_(None)
                    if published is None
                    else JobRow.published_at == published
                )
                res = s.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.status == QUEUED, same)
                    .values(published_at=now)
                )
                if res.rowcount == 1:  # type: ignore[attr-defined]
                    due.append((str(job_id), (now - created).total_seconds()))
        return due

    def queued(self, limit: int, exclude: Sequence[str] = ()) -> list[str]:
        query = select(JobRow.id).where(JobRow.status == QUEUED)
        if exclude:
            query = query.where(JobRow.id.not_in(list(exclude)))
        with self.reading() as s:
            return list(s.scalars(query.order_by(JobRow.created_at, JobRow.id).limit(limit)).all())

    def cancel_overdue(
        self, requested_before: dt.datetime
    ) -> list[tuple[str, str | None, str | None]]:
        """Running jobs whose cancel was asked before ``requested_before``: (id, runner, worker)."""
        with self.reading() as s:
            rows = s.execute(
                select(JobRow.id, JobRow.runner, JobRow.worker).where(
                    JobRow.status == RUNNING, JobRow.cancel_requested_at < requested_before
                )
            ).all()
            return [(r[0], r[1], r[2]) for r in rows]

    def job_state(self, job_id: str) -> tuple[str, str | None] | None:
        with self.reading() as s:
            row = s.execute(select(JobRow.status, JobRow.worker).where(JobRow.id == job_id)).first()
            return None if row is None else (row[0], row[1])

    # -- metrics -----------------------------------------------------------

    def counts_by_status(self) -> dict[str, int]:
        with self.reading() as s:
            rows = s.execute(select(JobRow.status, func.count()).group_by(JobRow.status)).all()
        counts = dict.fromkeys(JOB_STATUSES, 0)
        counts.update({str(status): int(n) for status, n in rows})
        return counts

    def seconds_histogram(self, buckets: Sequence[float]) -> tuple[list[int], int, float]:
        """Cumulative counts of finished jobs' wall seconds per bucket, their count and sum."""
        cols = [func.sum(case((JobRow.seconds <= b, 1), else_=0)) for b in buckets]
        with self.reading() as s:
            row = s.execute(
                select(func.count(), func.coalesce(func.sum(JobRow.seconds), 0.0), *cols).where(
                    JobRow.seconds.is_not(None)
                )
            ).one()
        count, total = int(row[0]), float(row[1])
        return [int(v or 0) for v in row[2:]], count, total
