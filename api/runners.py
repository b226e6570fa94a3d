"""Who runs the jobs: an in-process pool of worker processes, or Celery workers.

Both runners keep the same promises: a job never stays ``running`` after the
process that ran it is gone (exit detected, heartbeat timeout, or restart
recovery), and a cancelled solver that does not stop within ``cancel_grace``
seconds is killed.

In-process workers are forked from a ``forkserver`` that has imported the solver
once: a job starts in milliseconds, in a fresh single-threaded process (HiGHS'
``threads`` is process-global), and a kill takes only that job's process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from multiprocessing.process import BaseProcess
from typing import Any, Protocol

from api.settings import Settings
from api.states import CANCELLED, pid_alive, worker_id, worker_of
from api.storage import Storage, log_failure, shown_url

log = logging.getLogger("rdplan.runner")

#: How long ``/healthz`` waits for the broker.
BROKER_CHECK_SECONDS = 1.0
#: How often a server with Celery pings its workers (``/healthz``'s ``workers``), and how long
#: it waits for their answers (a worker's main process answers while its pool solves).
WORKER_PING_EVERY = 10.0
WORKER_PING_SECONDS = 1.0
SERVER_RESTARTED = "server restarted while the job was running"
#: Exit codes of a worker process stopped from outside, whose job runs again: SIGTERM, and
#: 255, multiprocessing's code for a process whose forkserver was stopped (SIGTERM to the
#: group). A crash (SIGSEGV) or the OOM killer (SIGKILL) fails the job.
STOPPED_CODES = frozenset({-signal.SIGTERM, 255})
SERVER_STOPPED = "server shut down while the job was running: queued again, to run from the start"


def orphaned_here(worker: str | None, host: str) -> bool:
    """Whether the worker ``host/pid`` of a running in-process job is gone from this machine.

    A job of another machine, or of a process that still runs here (another ``rdplan serve``
    on the same database), is not this server's to fail: the heartbeat reaper fails it if its
    worker goes silent."""
    if worker is None:
        return True
    on, pid = worker_of(worker)
    return on == host and pid is not None and not pid_alive(pid)


class Runner(Protocol):
    name: str

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def submit(self, job_id: str) -> None: ...
    def cancelled(self, job_id: str) -> None: ...
    def broker_state(self) -> str | None: ...
    def workers_seen(self) -> tuple[list[str], dt.datetime] | None: ...


class _Maintenance:
    """Periodic checks every runner needs: stale heartbeats and overdue cancellations."""

    def __init__(self, settings: Settings, storage: Storage):
        self.settings, self.storage = settings, storage

    def reap_stale(self) -> list[str]:
        """Fail the running jobs whose worker has been silent for ``heartbeat_timeout`` s."""
        timeout = self.settings.heartbeat_timeout
        now = dt.datetime.now(dt.UTC)
        cutoff = now - dt.timedelta(seconds=timeout)
        failed = []
        for job_id, worker, beat in self.storage.stale_running(cutoff):
            silent = f"{(now - beat).total_seconds():.0f} s" if beat else "ever"
            reason = (
                f"no heartbeat from worker {worker or '?'} for {silent} "
                f"(RDPLAN_HEARTBEAT_TIMEOUT is {timeout:g} s): "
                "the worker was killed, crashed or lost the database"
            )
            # heartbeat_before again: a beat that arrives in between keeps the job running
            if self.storage.fail_running(reason, job_ids=[job_id], heartbeat_before=cutoff):
                log.warning("job %s: marked failed: %s", job_id, reason)
                failed.append(job_id)
        return failed

    def overdue_cancels(self) -> list[tuple[str, str | None, str | None]]:
        cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.settings.cancel_grace)
        return self.storage.cancel_overdue(cutoff)


class LocalRunner(_Maintenance):
    """Runs up to ``settings.workers`` jobs at a time, one worker process per job."""

    name = "local"

    def __init__(self, settings: Settings, storage: Storage):
        super().__init__(settings, storage)
        self.ctx = multiprocessing.get_context("forkserver")
        self.ctx.set_forkserver_preload(
            [
                "api.execution",
                "solver.backends.cpsat",
                "solver.backends.highs",
                "solver.backends.portfolio",
            ]
        )
        self.procs: dict[str, BaseProcess] = {}
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rdplan-dispatcher", daemon=True)
        self._settings_data: dict[str, Any] = settings.model_dump()
        self._host = socket.gethostname()

    def start(self) -> None:
        # The in-process jobs whose worker died with an earlier server on this machine; those
        # of another live server on the same database run on (its workers keep beating).
        gone = [j for j, w in self.storage.running("local") if orphaned_here(w, self._host)]
        ids = (
            self.storage.fail_running(SERVER_RESTARTED, runner="local", job_ids=gone)
            if gone
            else []
        )
        for job_id in ids:
            log.warning("job %s: %s", job_id, SERVER_RESTARTED)
        # Start the forkserver (it imports the solver once) before the first job needs it.
        threading.Thread(
            target=multiprocessing.forkserver.ensure_running, name="rdplan-forkserver", daemon=True
        ).start()
        self._thread.start()

    def submit(self, job_id: str) -> None:
        self._wake()

    def cancelled(self, job_id: str) -> None:
        self._wake()

    def broker_state(self) -> str | None:
        return None  # no broker: the server's own worker processes

    def workers_seen(self) -> tuple[list[str], dt.datetime] | None:
        return None  # they start with each job

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # a full pipe wakes the loop anyway
            os.write(self._wake_w, b"x")

    def stop(self) -> None:
        self._stopping.set()
        self._wake()
        self._thread.join(timeout=10)
        for job_id, proc in list(self.procs.items()):
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
            # A redeploy (SIGTERM) must not cost the job: it runs again from the start once a
            # server runs (this one restarted, or another on the database). A crash (SIGKILL)
            # fails it instead, when a server restarts here (SERVER_RESTARTED).
            if self.storage.requeue_running(job_id, self._worker(proc), SERVER_STOPPED):
                log.warning("job %s: queued again, the server shut down while it ran", job_id)
        self.procs.clear()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _worker(self, proc: BaseProcess) -> str:
        """The ``worker`` a job of ``proc`` is stored with."""
        assert proc.pid is not None  # started
        return worker_id(self._host, proc.pid)

    def _loop(self) -> None:
        ticks = 0
        while not self._stopping.is_set():
            try:
                self._step(housekeeping=ticks % 10 == 0)
            except Exception:  # the dispatcher must survive a database outage
                log_failure(log, "dispatcher step failed")
            ticks += 1
            sentinels: list[Any] = [p.sentinel for p in self.procs.values()]
            ready = multiprocessing.connection.wait([self._wake_r, *sentinels], timeout=0.5)
            if self._wake_r in ready:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_r, 4096)

    def _step(self, housekeeping: bool) -> None:
        for job_id, proc in list(self.procs.items()):
            if proc.is_alive():
                continue
            proc.join()
            del self.procs[job_id]
            code = proc.exitcode
            if code in STOPPED_CODES and self.storage.requeue_running(
                job_id,
                self._worker(proc),
                f"the worker process was stopped (exit code {code}): queued again, to run from"
                " the start",
            ):
                # SIGTERM, to the process or to its forkserver (255): a service being stopped
                # (systemd signals the whole group), not a job that crashed.
                log.warning("job %s: worker process stopped (%s); queued again", job_id, code)
                continue
            # Only when the job is this process's: a job another server claimed first is not.
            failed = self.storage.fail_running(
                f"the worker process exited unexpectedly (exit code {code})",
                job_ids=[job_id],
                workers=[self._worker(proc)],
            )
            if failed:
                log.warning("job %s: worker process died with exit code %s", job_id, code)
        for job_id, _runner, _worker in self.overdue_cancels():
            proc_ = self.procs.get(job_id)
            if proc_ is not None and proc_.is_alive():
                proc_.kill()
                proc_.join(timeout=5)
                self.procs.pop(job_id, None)
            if proc_ is not None or _runner == "local":
                self.storage.fail_running(
                    f"cancelled on request; the solver did not stop within {self.settings.cancel_grace:g} s and was killed",
                    job_ids=[job_id],
                    status=CANCELLED,
                )
        if housekeeping:
            self.reap_stale()
        free = self.settings.workers - len(self.procs)
        if free > 0 and not self._stopping.is_set():
            for job_id in self.storage.queued(free, exclude=list(self.procs)):
                proc = self.ctx.Process(
                    target=_child_main,
                    args=(job_id, self._settings_data, self._host),
                    name=f"rdplan-job-{job_id[:8]}",
                )
                proc.start()
                self.procs[job_id] = proc


def _child_main(job_id: str, settings_data: dict[str, Any], host: str) -> None:
    from api.execution import run_in_process

    run_in_process(job_id, settings_data, host)


class CeleryRunner(_Maintenance):
    """Sends jobs to Celery workers (``rdplan worker``); watches heartbeats and cancellations."""

    name = "celery"

    def __init__(self, settings: Settings, storage: Storage):
        super().__init__(settings, storage)
        from api.tasks import make_celery

        self.app = make_celery(settings)
        self._stopping = threading.Event()
        self._workers: tuple[list[str], dt.datetime] | None = None
        self._thread = threading.Thread(target=self._loop, name="rdplan-celery-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def submit(self, job_id: str) -> None:
        from api.tasks import SOLVE_TASK

        self.app.send_task(SOLVE_TASK, args=[job_id], task_id=job_id)

    def cancelled(self, job_id: str) -> None:
        pass  # the task polls the cancel flag

    @contextlib.contextmanager
    def _broker(self) -> Iterator[Any]:
        """A connection to the broker, tried once (:data:`BROKER_CHECK_SECONDS`): a broker
        that is down must hold up neither ``/healthz`` nor the watch loop."""
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=BROKER_CHECK_SECONDS)
            yield conn

    def broker_state(self) -> str | None:
        """``ok``, or why the broker does not answer (every submission is then a 503)."""
        try:
            with self._broker():
                pass
        except Exception as exc:
            return f"unavailable: {type(exc).__name__}"
        return "ok"

    def workers_seen(self) -> tuple[list[str], dt.datetime] | None:
        """The node names that answered the last ping and when, or None: no ping yet, or the
        broker did not answer it."""
        return self._workers

    def ping_workers(self) -> None:
        """Ping the workers (:data:`WORKER_PING_SECONDS`), for :meth:`workers_seen`; say in the
        log when none answers any more, and when one does again."""
        try:
            with self._broker() as conn:
                answers = self.app.control.ping(timeout=WORKER_PING_SECONDS, connection=conn)
        except Exception as exc:  # the broker is down: broker_state says so
            log.debug("worker ping failed: %s", exc)
            self._workers = None
            return
        names = sorted({name for answer in answers for name in answer})
        before = self._workers
        self._workers = (names, dt.datetime.now(dt.UTC))
        if not names and (before is None or before[0]):
            log.warning(
                "no Celery worker answers on %s: jobs stay queued until one runs"
                " (rdplan worker, with this server's RDPLAN_DATABASE_URL and RDPLAN_BROKER_URL)",
                shown_url(self.settings.broker_url or ""),
            )
        elif names and before is not None and not before[0]:
            log.warning("Celery workers answer again: %s", ", ".join(names))

    def requeue_lost(self) -> list[str]:
        """Send again the jobs queued for ``requeue_after`` s: their message may be lost (a
        flushed broker, a worker killed with the job prefetched, a server killed between
        storing and sending). A duplicate is harmless: a worker claims a job only while it
        is queued (one guarded ``UPDATE``), so a second message finds it taken and is skipped."""
        after = self.settings.requeue_after
        if after <= 0:
            return []
        sent = []
        for job_id, waited in self.storage.take_for_requeue(dt.datetime.now(dt.UTC), after):
            try:
                self.submit(job_id)
            except Exception as exc:  # the broker is down: tried again at the next interval
                log.warning("job %s: could not send it to the broker again: %s", job_id, exc)
                continue
            log.warning(
                "job %s: still queued after %.0f s; sent to the broker again", job_id, waited
            )
            sent.append(job_id)
        return sent

    @property
    def sweep_interval(self) -> float:
        """Seconds between checks of heartbeats and of jobs left queued (1 to 5)."""
        spans = [self.settings.heartbeat_timeout]
        if self.settings.requeue_after > 0:
            spans.append(self.settings.requeue_after)
        return max(1.0, min(5.0, min(spans) / 4))

    def _loop(self) -> None:
        next_sweep = next_ping = 0.0
        while not self._stopping.wait(1.0):
            try:
                for job_id, _runner, _worker in self.overdue_cancels():
                    self.app.control.revoke(job_id, terminate=True, signal="SIGKILL")
                    self.storage.fail_running(
                        f"cancelled on request; the solver did not stop within {self.settings.cancel_grace:g} s and was killed",
                        job_ids=[job_id],
                        status=CANCELLED,
                    )
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.sweep_interval
                    self.reap_stale()
                    self.requeue_lost()
                if time.monotonic() >= next_ping:
                    next_ping = time.monotonic() + WORKER_PING_EVERY
                    self.ping_workers()
            except Exception:
                log_failure(log, "celery watch step failed")


def make_runner(settings: Settings, storage: Storage) -> Runner:
    return (
        CeleryRunner(settings, storage) if settings.broker_url else LocalRunner(settings, storage)
    )
