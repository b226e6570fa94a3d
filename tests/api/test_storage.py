"""The job store's state machine on a real SQLite file — and on PostgreSQL where it races —
(no server): guarded transitions."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from api.settings import Settings
from api.storage import (
    DatabaseUnavailable,
    ProgressPoint,
    Storage,
    migrate,
    normalize_url,
    scenario_id,
)
from solver.scenario import parse_scenario


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    """A migrated SQLite job store in a temporary directory."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    migrate(url)
    migrate(url)  # idempotent: a restart runs it again
    s = Storage(url)
    yield s
    s.dispose()


def test_scenarios_are_content_hashed(storage: Storage, tiny_doc: dict[str, Any]) -> None:
    a, created = storage.add_scenario(parse_scenario(tiny_doc))
    assert created and a.id == scenario_id(parse_scenario(tiny_doc).to_document())
    # the same content with integral floats written differently is the same scenario
    same = {**tiny_doc, "sites": [{**tiny_doc["sites"][0], "lat": 40}, *tiny_doc["sites"][1:]]}
    b, created = storage.add_scenario(parse_scenario(same))
    assert not created and b.id == a.id
    c, created = storage.add_scenario(parse_scenario({**tiny_doc, "name": "other"}))
    assert created and c.id != a.id
    rows, total = storage.list_scenarios(10, 0)
    assert total == 2 and {r.id for r in rows} == {a.id, c.id}
    # a list is of summaries: the documents are not read (30 lists of 50 documents of 1 MB
    # held the server ~30 s; a QA pass)
    assert {r.num_sites for r in rows} == {len(tiny_doc["sites"])}
    with pytest.raises(sa.exc.SQLAlchemyError):  # not loaded, and not loadable later
        _ = rows[0].document
    assert storage.get_scenario(a.id).document  # type: ignore[union-attr]


def test_job_life_cycle_is_guarded(storage: Storage, tiny_doc: dict[str, Any]) -> None:
    sc, _ = storage.add_scenario(parse_scenario(tiny_doc))
    job = storage.create_job(
        sc.id, {"backend": "cpsat", "time_limit": 1.0, "threads": 1, "seed": 0}
    )
    claim = storage.claim(job.id, runner="local", worker="host/1")
    assert claim is not None and claim.document["name"] == "tiny"
    assert storage.claim(job.id, runner="local", worker="host/2") is None  # claimed once only
    assert storage.heartbeat(job.id, "host/2", []) is None  # not that worker's job
    assert storage.heartbeat(job.id, "host/1", [ProgressPoint(1, 0.1, 10, 20, 0.5)]) is False
    assert storage.request_cancel(job.id) is not None
    assert storage.heartbeat(job.id, "host/1", [ProgressPoint(2, 0.2, 15, 15, 0.0)]) is True
    assert [p.seq for p in storage.progress(job.id)] == [1, 2]
    assert [p.seq for p in storage.progress(job.id, after=1)] == [2]
    assert not storage.finish(job.id, "host/2", "done", None, {"status": "optimal"}, True, 1.0)
    assert storage.finish(
        job.id, "host/1", "cancelled", "stop", {"status": "feasible", "objective": 15}, True, 1.0
    )
    row = storage.get_job(job.id)
    assert row is not None and row.status == "cancelled" and row.objective == 15
    assert not storage.finish(job.id, "host/1", "done", None, None, None, 2.0)  # already ended


def test_queued_cancel_and_recovery(storage: Storage, tiny_doc: dict[str, Any]) -> None:
    sc, _ = storage.add_scenario(parse_scenario(tiny_doc))
    opts = {"backend": "cpsat", "time_limit": 1.0, "threads": 1, "seed": 0}
    queued, running, stale = (storage.create_job(sc.id, opts) for _ in range(3))
    cancelled = storage.request_cancel(queued.id)
    assert cancelled is not None and cancelled.status == "cancelled"
    assert storage.claim(queued.id, "local", "h/1") is None
    assert storage.claim(running.id, "local", "h/1") is not None
    assert storage.claim(stale.id, "celery", "node@h/7") is not None
    assert storage.fail_running("gone", runner="celery", worker_prefix="node@h/") == [stale.id]
    future = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    assert storage.fail_running("silent", heartbeat_before=future) == [running.id]
    assert storage.counts_by_status() == {
        "queued": 0,
        "running": 0,
        "done": 0,
        "failed": 2,
        "cancelled": 1,
    }
    rows, total = storage.list_jobs("failed", sc.id, 1, 0)
    assert total == 2 and len(rows) == 1


def test_the_app_migrates_as_it_starts_unless_its_caller_has(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``rdplan serve`` migrates before it starts the server, to name a database it cannot
    use; the app it then serves (``migrate_database=False``) did it once more as it started."""
    import anyio

    import api.main

    calls: list[str] = []

    def counted(url: str) -> None:
        calls.append(url)
        migrate(url)

    monkeypatch.setattr(api.main, "migrate", counted)
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    for migrate_database, expected in ((True, 1), (False, 0)):
        calls.clear()
        app = api.main.create_app(Settings(database_url=url), migrate_database=migrate_database)

        async def start_and_stop(app: Any = app) -> None:
            async with api.main.lifespan(app):
                assert (
                    sum(app.state.storage.counts_by_status().values()) == 0
                )  # the schema is there

        anyio.run(start_and_stop)
        assert len(calls) == expected


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RDPLAN_API_KEYS", " a, b ,,")
    monkeypatch.setenv("RDPLAN_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("RDPLAN_WORKERS", "3")
    s = Settings()
    assert s.api_key_set == {"a", "b"} and s.runner == "celery" and s.workers == 3
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


@pytest.fixture(params=["sqlite", "postgresql"])
def any_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    """The job store on SQLite and on PostgreSQL (a fresh database of this module)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    migrate(url)
    s = Storage(url)
    yield s
    s.dispose()


def test_a_job_is_claimed_once_under_a_race(any_storage: Storage, tiny_doc: dict[str, Any]) -> None:
    """Duplicate messages of one job (a re-sent Celery message, say) race to claim it: the
    guarded ``UPDATE ... WHERE status = 'queued'`` lets exactly one of them run it."""
    sc, _ = any_storage.add_scenario(parse_scenario(tiny_doc))
    opts = {"backend": "cpsat", "time_limit": 1.0, "threads": 1, "seed": 0}
    for _ in range(3):
        job = any_storage.create_job(sc.id, opts)
        start = threading.Barrier(8)

        def claim(i: int, job_id: str = job.id, start: threading.Barrier = start) -> bool:
            start.wait()
            return any_storage.claim(job_id, runner="celery", worker=f"node@h/{i}") is not None

        with ThreadPoolExecutor(8) as pool:
            won = list(pool.map(claim, range(8)))
        assert won.count(True) == 1, won
        row = any_storage.get_job(job.id)
        assert row is not None and row.status == "running"
        assert row.worker == f"node@h/{won.index(True)}"


def test_requeue_is_due_after_the_delay_then_at_doubling_intervals(
    any_storage: Storage, tiny_doc: dict[str, Any]
) -> None:
    sc, _ = any_storage.add_scenario(parse_scenario(tiny_doc))
    opts = {"backend": "cpsat", "time_limit": 1.0, "threads": 1, "seed": 0}
    job = any_storage.create_job(sc.id, opts)
    other = any_storage.create_job(sc.id, opts)
    assert any_storage.claim(other.id, "celery", "node@h/1") is not None  # running: never due
    t0 = job.created_at

    def due(seconds: float) -> list[str]:
        now = t0 + dt.timedelta(seconds=seconds)
        taken = any_storage.take_for_requeue(now, after=10, max_interval=40)
        return [j for j, _ in taken if j in (job.id, other.id)]  # PostgreSQL: other tests' jobs

    assert due(9) == []
    assert due(11) == [job.id]  # re-sent at 11 s
    assert due(12) == [] and due(20) == []  # then 11 s (as long as it had waited) later
    assert due(23) == [job.id]  # re-sent at 23 s: next after 23 s more
    assert due(45) == []
    assert due(47) == [job.id]  # at 47 s: the interval is capped at 40 s from now on
    assert due(86) == [] and due(88) == [job.id]
    # a concurrent server that read the row before this re-send does not send it again
    assert due(88) == []
    assert any_storage.request_cancel(job.id) is not None  # cancelled: never due again
    assert due(1000) == []


def test_a_late_heartbeat_keeps_the_job(any_storage: Storage, tiny_doc: dict[str, Any]) -> None:
    """The heartbeat sweep re-checks the heartbeat in its ``UPDATE``: a beat that lands
    between its read and its write keeps the job running."""
    sc, _ = any_storage.add_scenario(parse_scenario(tiny_doc))
    job = any_storage.create_job(sc.id, {"backend": "cpsat", "time_limit": 1.0, "threads": 1})
    assert any_storage.claim(job.id, "celery", "node@h/1") is not None
    cutoff = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert job.id in [j for j, *_ in any_storage.stale_running(cutoff)]
    time.sleep(1.1)
    assert any_storage.heartbeat(job.id, "node@h/1", []) is False  # the beat lands
    assert any_storage.fail_running("silent", job_ids=[job.id], heartbeat_before=cutoff) == []
    assert any_storage.job_state(job.id) == ("running", "node@h/1")


def test_a_job_waits_for_its_start_job(storage: Storage, tiny_doc: dict[str, Any]) -> None:
    """``start_plan``: the plan of a start job that ends while waited for; from scratch (and
    why) when it ends without one, stays queued past its patience, or the waiter is cancelled."""
    from api.execution import start_plan

    settings = Settings(heartbeat_timeout=0.5, progress_interval=0.1, cancel_grace=0.5)
    sc, _ = storage.add_scenario(parse_scenario(tiny_doc))
    options = {"backend": "highs", "time_limit": 0.5, "threads": 1, "seed": 0}
    plan = {"status": "optimal", "builds": [{"site": "n1", "year": 2030, "option": "basic"}]}

    def started_then(status: str, plan: dict[str, Any] | None) -> str:
        job = storage.create_job(sc.id, options)
        assert storage.claim(job.id, runner="local", worker="host/1") is not None
        threading.Timer(
            0.3, storage.finish, (job.id, "host/1", status, None, plan, True, 0.3)
        ).start()
        return job.id

    job_id = started_then("done", plan)
    got, note = start_plan(storage, job_id, threading.Event(), settings)
    assert got == plan and note["used"] is True and note["waited_seconds"] >= 0.2, note
    assert "why_not" not in note

    job_id = started_then("done", plan)  # not waited for: from scratch
    got, note = start_plan(storage, job_id, threading.Event(), settings, wait=False)
    assert got is None and note["why_not"] == "still running when this job started", note
    assert note["waited_seconds"] < 0.2, note

    job_id = started_then("failed", None)
    got, note = start_plan(storage, job_id, threading.Event(), settings)
    assert got is None and note["why_not"] == "it ended failed without a plan", note

    queued = storage.create_job(sc.id, options).id  # nobody claims it
    got, note = start_plan(storage, queued, threading.Event(), settings)
    assert got is None and note["why_not"].startswith("still queued after"), note
    assert 1.5 <= note["waited_seconds"] < 10, note  # its time limit + heartbeat + grace

    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    got, note = start_plan(storage, queued, cancel, Settings(heartbeat_timeout=60))
    assert got is None and note["why_not"] == "cancelled while waiting", note
    assert note["waited_seconds"] < 30, note

    got, note = start_plan(storage, "no-such-job", threading.Event(), settings)
    assert got is None and note == {
        "id": "no-such-job",
        "waited_seconds": note["waited_seconds"],
        "used": False,
        "why_not": "no such job",
    }


def test_batch_jobs_are_queued_base_first(storage: Storage, tiny_doc: dict[str, Any]) -> None:
    sc, _ = storage.add_scenario(parse_scenario(tiny_doc))
    opts = {"backend": "highs", "time_limit": 1.0, "threads": 1, "seed": 0}
    names = ["base", *(f"v{i}" for i in range(12))]
    batch = storage.create_batch({n: (sc.id, opts) for n in names}, {}, start_from_base=True)
    order = storage.queued(100)
    assert order == [batch.base_job_id, *(batch.variants[f"v{i}"] for i in range(12))]
    base = storage.get_job(batch.base_job_id)
    assert base is not None and "start_solve_id" not in base.options
    for job_id in batch.variants.values():
        job = storage.get_job(str(job_id))
        assert job is not None and job.options["start_solve_id"] == batch.base_job_id
        assert job.options["start_wait"] is False


def test_a_job_runs_under_the_services_memory_limit(storage: Storage, tmp_path: Path) -> None:
    """``RDPLAN_MEMORY_LIMIT_MB`` reaches the job's solve (``execute_job``, a real HiGHS run on
    national-20x10): a limit the solve passes at once stops it, the job ends done and says why."""
    import json

    from api.execution import execute_job

    doc = json.loads(
        (Path(__file__).resolve().parents[2] / "instances" / "national-20x10.json").read_text()
    )
    sc, _ = storage.add_scenario(parse_scenario(doc))
    options = {"backend": "highs", "time_limit": 120.0, "threads": 1, "seed": 0}
    job = storage.create_job(sc.id, options)
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    settings = Settings(database_url=url, memory_limit_mb=1)
    assert execute_job(job.id, settings, runner="local", worker="host/1") == "done"
    row = storage.get_job(job.id)
    assert row is not None and row.plan is not None
    assert row.plan_status in ("feasible", "unknown")
    assert "stopped at the memory limit" in row.plan["solver"]["detail"]


def test_migrating_an_older_database_names_its_re_plans_base_scenario(
    tmp_path: Path,
) -> None:
    """A database of schema 0003 (re-plans' base only in their options) migrated to the newest:
    its jobs keep their options, and a scenario's jobs list the re-plans made from it."""
    from alembic import command
    from alembic.config import Config

    import api.storage

    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config(str(Path(api.storage.__file__).with_name("alembic.ini")))
    config.attributes["url"] = url
    command.upgrade(config, "0003")
    base, derived = "a" * 64, "b" * 64
    engine = sa.create_engine(url)
    tables = sa.MetaData()
    tables.reflect(engine)
    now = dt.datetime(2026, 1, 1)
    with engine.begin() as c:
        for sid in (base, derived):
            c.execute(
                tables.tables["scenarios"]
                .insert()
                .values(
                    id=sid,
                    document={},
                    num_sites=1,
                    num_regions=1,
                    num_years=1,
                    num_crew_pools=0,
                    created_at=now,
                )
            )
        for job_id, sid, options in (
            ("job-base", base, {"backend": "highs"}),
            ("job-replan", derived, {"backend": "highs", "base_scenario_id": base}),
        ):
            c.execute(
                tables.tables["jobs"]
                .insert()
                .values(id=job_id, scenario_id=sid, options=options, status="done", created_at=now)
            )
    engine.dispose()
    migrate(url)
    storage = Storage(url)
    try:
        rows, total = storage.list_jobs(None, base, 10, 0)
        assert total == 2 and {r.id for r in rows} == {"job-base", "job-replan"}
        rows, total = storage.list_jobs(None, derived, 10, 0)
        assert total == 1 and rows[0].id == "job-replan"
        assert rows[0].options == {"backend": "highs", "base_scenario_id": base}
        assert rows[0].base_scenario_id == base
    finally:
        storage.dispose()


def test_a_restarted_worker_fails_only_the_jobs_of_its_dead_processes(
    storage: Storage, tmp_path: Path, tiny_doc: dict[str, Any]
) -> None:
    """A worker that starts again under its node name fails its running jobs; not one whose
    process is alive (another worker given the same name: failing it dropped its plan, a QA
    pass), until that process is gone."""
    from api.tasks import _fail_jobs_of_restarted_worker

    sc, _ = storage.add_scenario(parse_scenario(tiny_doc))
    # A live process that is not this one's child: another worker's pool process.
    shell = subprocess.Popen(
        ["sh", "-c", "sleep 60 & echo $!; wait"], stdout=subprocess.PIPE, text=True
    )
    assert shell.stdout is not None
    live = int(shell.stdout.readline())
    done = subprocess.Popen(["true"])
    done.wait()
    try:
        jobs = {}
        for name, pid in (("live", live), ("dead", done.pid)):
            jobs[name] = storage.create_job(sc.id, {}).id
            assert storage.claim(jobs[name], runner="celery", worker=f"node@h/{pid}")
        settings = Settings(database_url=storage.url)
        _fail_jobs_of_restarted_worker(settings, "node@h", again=False)
        states = storage.job_statuses(list(jobs.values()))
        assert states == {jobs["live"]: "running", jobs["dead"]: "failed"}
        os.kill(live, signal.SIGKILL)
        for _ in range(100):  # reaped by its shell
            if shell.poll() is not None:
                break
            time.sleep(0.05)
        _fail_jobs_of_restarted_worker(settings, "node@h", again=False)
        assert storage.job_statuses([jobs["live"]]) == {jobs["live"]: "failed"}
    finally:
        shell.kill()
        shell.wait()


def test_servers_started_at_once_migrate_a_new_sqlite_file_in_turn(tmp_path: Path) -> None:
    """Three servers at once on a new SQLite file: two of them exited with "table scenarios
    already exists" (a QA pass, 3 runs in 5). The migrations now take a lock file in turn."""
    url = f"sqlite:///{tmp_path / 'new.db'}"
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: migrate(url), range(4)))
    assert outcomes == [None] * 4
    s = Storage(url)
    try:
        assert s.counts_by_status()["queued"] == 0
    finally:
        s.dispose()


def test_databases_that_cannot_serve_are_one_line(tmp_path: Path) -> None:
    for url in ("sqlite://", "sqlite:///:memory:"):
        with pytest.raises(DatabaseUnavailable, match="in memory, which each connection sees"):
            migrate(url)
    url = f"sqlite:///{tmp_path / 'rolled-back.db'}"
    migrate(url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # as a newer rdplan would leave it
        conn.execute(sa.text("update alembic_version set version_num = '0099'"))
    engine.dispose()
    with pytest.raises(DatabaseUnavailable, match="Can't locate revision .*'0099'.*newer rdplan"):
        migrate(url)


def test_a_job_stopped_with_its_cancel_asked_for_ends_cancelled(
    storage: Storage, tiny_doc: dict[str, Any]
) -> None:
    """A server stopped (SIGTERM) after a cancel was asked for and before the solver saw it
    put the job back in the queue; it ran again from the start after a restart, then "did not
    stop within" its grace (a QA pass). It ends cancelled; one not cancelled is queued again."""
    sc, _ = storage.add_scenario(parse_scenario(tiny_doc))
    opts = {"backend": "cpsat", "time_limit": 1.0, "threads": 1, "seed": 0}
    asked, other = storage.create_job(sc.id, opts), storage.create_job(sc.id, opts)
    for job in (asked, other):
        assert storage.claim(job.id, runner="local", worker="host/1") is not None
    assert storage.request_cancel(asked.id) is not None
    assert not storage.requeue_running(asked.id, "host/1", "queued again")
    row = storage.get_job(asked.id)
    assert row is not None and row.status == "cancelled" and row.finished_at is not None
    assert row.reason is not None and row.reason.startswith("cancelled on request")
    assert storage.requeue_running(other.id, "host/1", "queued again")
    assert storage.get_job(other.id).status == "queued"  # type: ignore[union-attr]


def test_a_lost_pool_process_touches_only_its_own_nodes_job(
    storage: Storage, tiny_doc: dict[str, Any]
) -> None:
    """A pool process holding a duplicate message of a job another worker runs, stopped or
    killed before its claim, re-queued (SIGTERM) or failed (SIGKILL) that worker's job (a
    review): only a job of this node's processes, gone from this machine, is touched now."""
    from billiard.exceptions import WorkerLostError

    from api import tasks

    settings = Settings(database_url=storage.url, broker_url="redis://127.0.0.1:1/0")
    app = tasks.make_celery(settings)
    sc, _ = storage.add_scenario(parse_scenario(tiny_doc))
    opts = {"backend": "cpsat", "time_limit": 1.0, "threads": 1, "seed": 0}
    other, ours = storage.create_job(sc.id, opts), storage.create_job(sc.id, opts)
    assert storage.claim(other.id, "celery", "rdplan@machine-b/4242") is not None
    assert storage.claim(ours.id, "celery", "rdplan@here/999999") is not None  # gone here
    lost = WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL) Job: 0.")
    assert not tasks._requeue_job_of_stopped_process(settings, app, other.id, "rdplan@here")
    tasks._fail_job_of_lost_process(settings, other.id, lost, "rdplan@here")
    assert storage.get_job(other.id).status == "running"  # type: ignore[union-attr]
    tasks._fail_job_of_lost_process(settings, ours.id, lost, "rdplan@here")
    assert storage.get_job(ours.id).status == "failed"  # type: ignore[union-attr]


def test_a_url_sqlalchemy_cannot_read_keeps_its_password_hidden() -> None:
    """A port not a number, a slash missing or a slash in the password showed the password in
    the start-up line (a QA pass, then a review)."""
    from api.storage import shown_url

    for url in (
        "postgresql://rdplan:s3cret@127.0.0.1:notaport/x",
        "postgresql:/rdplan:s3cret@host/db",
        "postgresql://rdplan:s3/cret@host:notaport/db",
    ):
        assert "s3" not in shown_url(url) and "***@" in shown_url(url), url
    assert (
        shown_url("postgresql://rdplan@host:notaport/db") == "postgresql://rdplan@host:notaport/db"
    )


def test_a_refused_submission_is_undone_only_while_no_worker_took_it(
    storage: Storage, tiny_doc: dict[str, Any]
) -> None:
    """The broker may have taken a message whose answer was lost: a job a worker claimed is
    not deleted, nor its batch (a review); one all queued is undone whole."""
    sc, _ = storage.add_scenario(parse_scenario(tiny_doc))
    opts = {"backend": "cpsat", "time_limit": 1.0, "threads": 1, "seed": 0}
    batch = storage.create_batch({"base": (sc.id, opts), "v": (sc.id, opts)}, {})
    ids = [batch.base_job_id, *(j for j in batch.variants.values() if j)]
    assert storage.claim(ids[0], "celery", "rdplan@h/1") is not None
    assert not storage.discard_unsent(ids, batch.id)
    assert storage.get_job(ids[1]) is not None and storage.get_batch(batch.id) is not None
    other = storage.create_batch({"base": (sc.id, opts)}, {})
    assert storage.discard_unsent([other.base_job_id], other.id)
    assert storage.get_job(other.base_job_id) is None and storage.get_batch(other.id) is None


@pytest.mark.filterwarnings("ignore:Selection of the SingletonThreadPool")  # SQLAlchemy's own
def test_a_file_uri_in_memory_is_no_file_gone() -> None:
    """The guard against an SQLite file deleted under the service took a ``file:`` URI's name
    for a file and refused the database (a review): it guards plain file paths only."""
    from sqlalchemy import text

    s = Storage("sqlite:///file:rdplan-memdb?mode=memory&cache=shared&uri=true")
    try:
        with s.reading() as session:
            assert session.execute(text("SELECT 1")).scalar() == 1
    finally:
        s.dispose()


def test_the_file_of_an_sqlite_url() -> None:
    """The file the migration lock, /healthz and the deleted-file guard look at: a ``file:``
    URI's path (``file://localhost/x`` was read as ``//localhost/x``, a file never there, so
    /healthz said degraded), none for a database in memory."""
    from api.storage import _sqlite_file

    assert _sqlite_file("sqlite:///rdplan.db") == Path("rdplan.db")
    assert _sqlite_file("sqlite:///file:/tmp/x.db?uri=true") == Path("/tmp/x.db")
    assert _sqlite_file("sqlite:///file://localhost/tmp/x.db?uri=true") == Path("/tmp/x.db")
    assert _sqlite_file("sqlite:///file:/tmp/a%20b.db?uri=true") == Path("/tmp/a b.db")
    for url in ("sqlite://", "sqlite:///:memory:", "sqlite:///file:m?mode=memory&uri=true"):
        assert _sqlite_file(url) is None, url
    assert _sqlite_file("postgresql+psycopg://u@h/db") is None
