"""``rdplan worker`` runs Celery's prefork pool with the maintenance timer that replaces a
finished job's process (one job per process) every :data:`api.pool.MAINTAIN_INTERVAL` s,
not Celery's 5 s: a job submitted while its process was being replaced waited up to 5 s
(measured in ``benchmarks/RESULTS.md``, *Run 30*; the end-to-end Celery flows run through
this pool in ``test_service_postgres_celery.py``)."""

from __future__ import annotations

from types import SimpleNamespace

from celery.concurrency import asynpool, get_implementation, prefork

from api import pool
from api.settings import Settings
from api.tasks import make_celery


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
