"""Celery side of rdplan: the app (``RDPLAN_BROKER_URL``) and its one task, ``rdplan.solve``.

The task runs :func:`api.execution.execute_job`, the very code of the
in-process workers, and reads and writes the same database
(``RDPLAN_DATABASE_URL``): messages carry only the job id. Each pool process
runs one job and is then replaced (``worker_max_tasks_per_child=1``), so every
solve starts with a fresh solver state; the pool (:mod:`api.pool`) replaces it at once.
"""

from __future__ import annotations

import logging
import os

from celery import Celery, Task
from celery.signals import worker_ready

from api.settings import Settings
from api.states import worker_id, worker_prefix

SOLVE_TASK = "rdplan.solve"
log = logging.getLogger("rdplan.worker")


def make_celery(settings: Settings) -> Celery:
    """The Celery app of these settings; the server only sends, the worker also runs."""
    app = Celery("rdplan", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_acks_late=False,  # a worker killed mid-solve fails the job (with a reason) instead of re-running it
        worker_prefetch_multiplier=1,
        worker_max_tasks_per_child=1,
        worker_pool="api.pool:TaskPool",
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": 365 * 24 * 3600},
    )

    @app.task(name=SOLVE_TASK, bind=True)  # type: ignore[untyped-decorator]
    def solve_job(self: Task, job_id: str) -> str | None:
        from api.execution import execute_job

        worker = worker_id(self.request.hostname, os.getpid())
        return execute_job(job_id, settings, runner="celery", worker=worker, watch_parent=True)

    return app


def _fail_jobs_of_restarted_worker(settings: Settings, nodename: str) -> None:
    """A worker that starts again under its node name finds the jobs it was running failed."""
    from api.storage import Storage

    storage = Storage(settings.database_url)
    try:
        ids = storage.fail_running(
            f"worker {nodename} restarted while the job was running",
            runner="celery",
            worker_prefix=worker_prefix(nodename),
        )
        for job_id in ids:
            log.warning("job %s: worker %s restarted while it was running", job_id, nodename)
    finally:
        storage.dispose()


def connect_recovery(settings: Settings) -> None:
    @worker_ready.connect(weak=False)  # type: ignore[untyped-decorator]
    def _on_ready(sender: object = None, **kwargs: object) -> None:
        nodename = str(getattr(sender, "hostname", "") or "")
        if nodename:
            _fail_jobs_of_restarted_worker(settings, nodename)
