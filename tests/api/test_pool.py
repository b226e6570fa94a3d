"""``rdplan worker`` runs Celery's prefork pool with the maintenance timer that replaces a
finished job's process (one job per process) every :data:`api.pool.MAINTAIN_INTERVAL` s,
not Celery's 5 s: a job submitted while its process was being replaced waited up to 5 s
(measured in ``benchmarks/RESULTS.md``, *Run 30*; the end-to-end Celery flows run through
this pool in ``test_service_postgres_celery.py``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from celery.concurrency import asynpool, get_implementation, prefork

from api import pool
from api.settings import Settings
from api.tasks import make_celery
from benchmarks.job_waits import run_jobs, wait_of


def test_the_worker_uses_the_pool_that_replaces_processes_at_once() -> None:
    app = make_celery(Settings(broker_url="redis://127.0.0.1:6379/0"))
    assert app.conf.worker_max_tasks_per_child == 1
    task_pool = get_implementation(app.conf.worker_pool)
    assert task_pool is pool.TaskPool
    assert issubclass(task_pool, prefork.TaskPool)
    assert issubclass(task_pool.Pool, asynpool.AsynPool)


def test_its_maintenance_timer_runs_well_inside_celerys() -> None:
    def maintain_pool() -> None: ...

    fake = SimpleNamespace(maintain_pool=maintain_pool)
    assert pool.AsynPool.timers.fget(fake) == {maintain_pool: pool.MAINTAIN_INTERVAL}
    assert asynpool.AsynPool.timers.fget(fake) == {maintain_pool: 5.0}  # Celery's, replaced
    assert pool.MAINTAIN_INTERVAL <= 0.25


@pytest.mark.service
@pytest.mark.timeout(300)
def test_jobs_one_after_another_each_run_in_a_fresh_pool_process(
    broker_url: str, tmp_path: Path
) -> None:
    """The benchmark of this pool (``python -m benchmarks.job_waits``) against a real server
    and worker: every job ends done, each in a pool process of its own (the pid in its
    worker id), and its wait is measured (never asserted: a benchmark's number)."""
    jobs = run_jobs(tmp_path, broker_url, jobs=3, gap=0.0)
    assert [j["status"] for j in jobs] == ["done"] * 3
    assert len({j["worker"] for j in jobs}) == 3
    assert all(wait_of(j) >= 0 for j in jobs)
