"""Celery side of rdplan: the app (``RDPLAN_BROKER_URL``) and its one task, ``rdplan.solve``.

The task runs :func:`api.execution.execute_job`, the very code of the
in-process workers, and reads and writes the same database
(``RDPLAN_DATABASE_URL``): messages carry only the job id. Each pool process
runs one job and is then replaced (``worker_max_tasks_per_child=1``), so every
solve starts with a fresh solver state; the pool (:mod:`api.pool`) replaces it at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from typing import TYPE_CHECKING

from billiard.exceptions import WorkerLostError
from celery import Celery, Task
from celery.signals import task_failure, worker_ready, worker_shutting_down

from api.settings import Settings
from api.states import RUNNING, parent_pid, pid_alive, worker_id, worker_of, worker_prefix

if TYPE_CHECKING:
    from api.storage import Storage

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


def _another_live_process(worker: str) -> bool:
    """Whether ``worker``'s process is alive on this machine and not this worker's own: then
    another live worker has this node name (a name given twice, api.worker checks at start)."""
    _, pid = worker_of(worker)
    if pid is None or pid == os.getpid() or not pid_alive(pid):
        return False
    parent = parent_pid(pid)
    return parent is None or parent != os.getpid()  # else a pid reused by this worker's pool


def _fail_jobs_of_restarted_worker(settings: Settings, nodename: str, again: bool = True) -> None:
    """A worker that starts again under its node name finds the jobs it was running failed.

    Not those of a process still alive here: another worker's with the same name, or the
    killed worker's orphaned pool child, which leaves within a progress interval
    (``api.execution.Monitor``); so those are looked at once more after that (``again``)."""
    from api.storage import Storage

    storage = Storage(settings.database_url)
    try:
        prefix = worker_prefix(nodename)
        owners = {worker for _, worker in storage.running("celery") if worker}
        ours = [w for w in owners if w.startswith(prefix)]
        dead = [w for w in ours if not _another_live_process(w)]
        if again and len(dead) < len(ours):
            later = threading.Timer(
                2 * settings.progress_interval + 1.0,
                _fail_jobs_of_restarted_worker,
                args=(settings, nodename, False),
            )
            later.daemon = True
            later.start()
        ids = storage.fail_running(
            f"worker {nodename} restarted while the job was running",
            runner="celery",
            workers=dead,
        )
        for job_id in ids:
            log.warning("job %s: worker %s restarted while it was running", job_id, nodename)
    finally:
        storage.dispose()


def _our_running_job(storage: Storage, job_id: str, nodename: str) -> str | None:
    """The worker (``node/pid``) running ``job_id`` when it is a process of this node gone
    from this machine, else None: a duplicate message of a job another worker runs (a
    re-sent one) must not fail or re-queue that worker's job (a review)."""
    job = storage.get_job(job_id)
    worker = None if job is None or job.status != RUNNING else job.worker
    if worker is None or not worker.startswith(worker_prefix(nodename)):
        return None
    if worker_of(worker)[1] is None or _another_live_process(worker):
        return None
    return worker


def _fail_job_of_lost_process(
    settings: Settings, job_id: str, exc: BaseException, nodename: str
) -> None:
    """A pool process that died mid-job (SIGKILL, the kernel's OOM killer): Celery's main
    process says so at once (WorkerLostError); the job is failed with that reason then, not a
    heartbeat timeout later (a QA pass: 31 s with a 30-s timeout)."""
    from api.storage import Storage

    storage = Storage(settings.database_url)
    try:
        worker = _our_running_job(storage, job_id, nodename)
        if worker is None:
            return
        for failed in storage.fail_running(
            f"the worker's process running the job died: {exc}".rstrip(),
            runner="celery",
            job_ids=[job_id],
            workers=[worker],
        ):
            log.warning("job %s: its process died (%s)", failed, exc)
    finally:
        storage.dispose()


#: The reason a job carries once a SIGTERM to its worker put it back in the queue.
WORKER_STOPPED = (
    "the worker process was stopped (SIGTERM, a redeploy): queued again, to run from the start"
)


def _stopped_by_sigterm(exc: BaseException) -> bool:
    """Whether billiard's WorkerLostError says its process ended by SIGTERM ("Worker exited
    prematurely: signal 15 (SIGTERM) Job: 0."): a worker stopped on purpose, not a crash."""
    return f"signal {int(signal.SIGTERM)} (SIGTERM)" in str(exc)


def _requeue_job_of_stopped_process(
    settings: Settings, app: Celery, job_id: str, nodename: str
) -> bool:
    """A pool process stopped by SIGTERM mid-job (a redeploy: systemd signals the worker's
    whole group, or :func:`_stop_pool_on_sigterm` did): its job goes back in the queue and to
    the broker, to run from the start on a worker (this one restarted, or another), as the
    server's own worker processes do (README, *Nothing is lost*). False when the job is not a
    running job of a process gone from this machine (another claimed it since)."""
    from api.storage import Storage

    storage = Storage(settings.database_url)
    try:
        worker = _our_running_job(storage, job_id, nodename)
        if worker is None or not storage.requeue_running(job_id, worker, WORKER_STOPPED):
            return False
    finally:
        storage.dispose()
    try:
        # once, without kombu's retries (seconds each while the broker is down, and the
        # worker is shutting down): the server sends a queued job again (RDPLAN_REQUEUE_AFTER)
        app.send_task(SOLVE_TASK, args=[job_id], task_id=job_id, retry=False)
    except Exception as exc:
        log.warning(
            "job %s: queued again, its message not sent (%s): the server resends", job_id, exc
        )
    else:
        log.warning("job %s: its worker process was stopped (SIGTERM); queued again", job_id)
    return True


def _stop_pool_on_sigterm(sig: str) -> None:
    """The worker's main process alone got SIGTERM: Celery's warm shutdown would wait for the
    running solves (up to their time limits, an hour by default) before it exits. Its pool
    processes get the SIGTERM too, as when systemd signals the whole group, so that their jobs
    are queued again at once (:func:`_requeue_job_of_stopped_process`)."""
    if sig != "SIGTERM":
        return
    import psutil

    # and theirs (CBC's process, which would run on to its time limit with its job re-queued)
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child.terminate()


def connect_recovery(settings: Settings, app: Celery, nodename: str) -> None:
    """The worker's signal handlers; ``nodename`` is its ``--hostname``."""

    @worker_ready.connect(weak=False)  # type: ignore[untyped-decorator]
    def _on_ready(sender: object = None, **kwargs: object) -> None:
        _fail_jobs_of_restarted_worker(settings, nodename)

    @task_failure.connect(weak=False)  # type: ignore[untyped-decorator]
    def _on_failure(
        sender: object = None,
        task_id: str | None = None,
        exception: BaseException | None = None,
        args: tuple[object, ...] | None = None,
        **kwargs: object,
    ) -> None:
        if isinstance(exception, WorkerLostError) and args and isinstance(args[0], str):
            if _stopped_by_sigterm(exception) and _requeue_job_of_stopped_process(
                settings, app, args[0], nodename
            ):
                return
            _fail_job_of_lost_process(settings, args[0], exception, nodename)

    @worker_shutting_down.connect(weak=False)  # type: ignore[untyped-decorator]
    def _on_shutdown(sig: str = "", **kwargs: object) -> None:
        _stop_pool_on_sigterm(sig)
