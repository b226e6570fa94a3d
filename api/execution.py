"""Running one job: the same code in an in-process worker process and in a Celery task.

:func:`execute_job` claims a queued job, solves it with a monitor thread beside
the solver that every ``progress_interval`` seconds writes new progress rows,
stamps the heartbeat and reads the cancel flag (setting the solver's ``cancel``
event), then records the checked plan. The process that runs it is dedicated to
the job: HiGHS' ``threads`` setting is process-global (SOLVER-NOTES.md).
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Collection
from dataclasses import replace
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from api.options import replan_arguments
from api.settings import Settings
from api.states import (
    CANCELLED,
    DONE,
    FAILED,
    TERMINAL,
    start_note,
    start_outcome,
    worker_id,
)
from api.storage import ProgressPoint, Storage, is_outage, log_failure, shown_url, why
from solver.evaluate import evaluate
from solver.plan import Status
from solver.scenario import parse_scenario
from solver.solve import DEFAULT_BACKEND, Progress, SolverBugError, solve

log = logging.getLogger("rdplan.worker")

#: Exit status of a worker process whose parent (the server) died.
ORPHANED = 70


class ProgressRecorder:
    """Collects the solver's progress reports; hands out the new, changed ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[ProgressPoint] = []
        self._seq = 0
        self._last: tuple[int | None, int | None] | None = None
        self.latest: Progress | None = None

    def __call__(self, p: Progress) -> None:
        with self._lock:
            self.latest = p
            key = (p.incumbent, p.bound)
            if key == self._last:
                return  # the history keeps changes only; the heartbeat says the job is alive
            self._last = key
            self._seq += 1
            self._pending.append(
                ProgressPoint(self._seq, round(p.elapsed, 3), p.incumbent, p.bound, p.gap)
            )

    def take(self) -> list[ProgressPoint]:
        with self._lock:
            out, self._pending = self._pending, []
            return out

    def give_back(self, points: list[ProgressPoint]) -> None:
        """Points a heartbeat could not write: first in line for the next one (they were lost
        while the database did not answer, the plan's final point too; a review)."""
        with self._lock:
            self._pending = points + self._pending

    def final(self, plan: dict[str, Any], seconds: float) -> None:
        """The plan's own incumbent and bound as the last point of the history."""
        if plan.get("objective") is not None or plan.get("bound") is not None:
            self(Progress(seconds, plan.get("objective"), plan.get("bound"), plan.get("gap")))


class Monitor(threading.Thread):
    """Writes progress and heartbeats, polls the cancel flag, and watches the parent process."""

    def __init__(
        self,
        storage: Storage,
        job_id: str,
        worker: str,
        recorder: ProgressRecorder,
        cancel: threading.Event,
        interval: float,
        watch_parent: bool,
    ):
        super().__init__(name=f"rdplan-monitor-{job_id[:8]}", daemon=True)
        self.storage, self.job_id, self.worker = storage, job_id, worker
        self.recorder, self.cancel, self.interval = recorder, cancel, interval
        self.stop = threading.Event()
        self.lost = False  # the job was taken from this worker (failed by a reaper)
        self.cancel_requested = False
        # A forkserver child's parent is the forkserver, which outlives the server while
        # any child runs; multiprocessing's parent sentinel follows the server itself.
        self._parent = multiprocessing.parent_process() if watch_parent else None
        self._ppid = os.getppid() if watch_parent else None

    def parent_gone(self) -> bool:
        if self._parent is not None:
            return not self._parent.is_alive()
        return self._ppid is not None and os.getppid() != self._ppid

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            if self.parent_gone():
                # The server (or Celery's main process) died: the restarted one marks the
                # job failed. Leave at once so no orphaned solver keeps the CPU busy.
                log.error("job %s: the parent process is gone; exiting", self.job_id)
                os._exit(ORPHANED)
            self.beat()

    def beat(self) -> None:
        points = self.recorder.take()
        try:
            asked = self.storage.heartbeat(self.job_id, self.worker, points)
        except Exception:  # a database hiccup must not kill the solve; retry next beat
            log_failure(log, f"job {self.job_id}: heartbeat failed")
            self.recorder.give_back(points)
            return
        if asked is None:
            self.lost = True
            self.cancel.set()
        elif asked:
            self.cancel_requested = True
            self.cancel.set()


#: Seconds between looks at a start job the job waits for.
START_POLL = 0.25


def start_plan(
    storage: Storage,
    start_id: str,
    cancel: threading.Event,
    settings: Settings,
    wait: bool = True,
    sites: Collection[str] | None = None,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The plan of job ``start_id`` for a warm start of a scenario with ``sites``, waiting
    (``wait``) while that job is queued or running, and what was done (the plan's
    ``solver.start_solve``).

    Without ``wait`` only a job that has ended already gives its plan (a batch's variants:
    waiting would leave a worker idle while the base runs). The wait ends when the start job
    ends, when this job is cancelled, or after the start job's time limit plus
    ``heartbeat_timeout`` and ``cancel_grace`` — by then a running job has ended, or a reaper
    has failed it; a job still queued (behind others, or held by a busy Celery worker) is not
    waited for longer. Without a plan by then the job solves from scratch, and ``used`` says
    why not."""
    started = time.perf_counter()
    job = storage.get_job(start_id)
    if job is None:
        return None, start_note(start_id, 0.0, used=False, why_not="no such job")
    patience = 0.0
    if wait:
        limit = float(job.options.get("time_limit") or 0)
        patience = limit + settings.heartbeat_timeout + settings.cancel_grace
    while job.status not in TERMINAL and not cancel.is_set():
        if time.perf_counter() - started >= patience:
            break
        cancel.wait(START_POLL)
        job = storage.get_job(start_id) or job
    waited = time.perf_counter() - started
    return start_outcome(start_id, waited, job.status, job.plan, cancel.is_set(), wait, sites)


def execute_job(
    job_id: str, settings: Settings, runner: str, worker: str, watch_parent: bool = False
) -> str | None:
    """Run job ``job_id`` to its end; return its final status (``None`` if not claimed)."""
    storage = Storage(settings.database_url)
    try:
        claim = storage.claim(job_id, runner=runner, worker=worker)
        if claim is None:
            state = storage.job_state(job_id)
            if state is None:  # a worker on another database than the server's
                log.error(
                    "job %s: no such job in the database %s: is this worker's"
                    " RDPLAN_DATABASE_URL the server's? (a relative sqlite:/// path is a"
                    " file of each process's own directory)",
                    job_id,
                    shown_url(settings.database_url),
                )
                return None
            log.info("job %s: not queued any more (%s); skipped", job_id, state[0])
            return None
        return _run_claimed(
            storage, claim.job_id, claim.document, claim.options, settings, worker, watch_parent
        )
    finally:
        storage.dispose()


def _run_claimed(
    storage: Storage,
    job_id: str,
    document: dict[str, Any],
    options: dict[str, Any],
    settings: Settings,
    worker: str,
    watch_parent: bool,
) -> str:
    recorder = ProgressRecorder()
    cancel = threading.Event()
    monitor = Monitor(
        storage, job_id, worker, recorder, cancel, settings.progress_interval, watch_parent
    )
    monitor.start()
    started = time.perf_counter()
    status, reason, plan_doc, checked = FAILED, None, None, None
    try:
        scenario = parse_scenario(document)
        hint, start = None, None
        if options.get("start_solve_id"):
            hint, start = start_plan(
                storage,
                str(options["start_solve_id"]),
                cancel,
                settings,
                wait=options.get("start_wait", True) is not False,
                sites={s.id for s in scenario.sites},
            )
            log.info("job %s: start from job %s: %s", job_id, start["id"], start)
        solving = time.perf_counter()
        plan = solve(
            scenario,
            backend=options.get("backend", DEFAULT_BACKEND),
            time_limit=float(options.get("time_limit", settings.default_time_limit)),
            threads=options.get("threads") or settings.default_threads,
            seed=int(options.get("seed", 0)),
            gap=float(options.get("gap", 0.0)),
            hint=hint,
            on_progress=lambda p: recorder(replace(p, elapsed=p.elapsed + solving - started)),
            cancel=cancel,
            memory_limit_mb=settings.memory_limit_mb,  # 0: none
            **replan_arguments(options),
        )
        plan_doc = plan.to_document()
        if start is not None and isinstance(plan_doc.get("solver"), dict):
            plan_doc["solver"]["start_solve"] = start
        if plan.status.has_plan:
            ev = evaluate(scenario, plan_doc)
            checked = ev.holds
            if not ev.holds:
                raise SolverBugError("the plan breaks the SPEC: " + "; ".join(ev.violations[:10]))
        recorder.final(plan_doc, time.perf_counter() - started)
        if monitor.cancel_requested or (cancel.is_set() and not monitor.lost):
            status = CANCELLED
            kept = (
                "; the best plan found so far is kept"
                if plan.status.has_plan
                else "; its proof of infeasibility is kept"
                if plan.status is Status.INFEASIBLE
                else ""
            )
            reason = f"cancelled on request after {time.perf_counter() - started:.1f} s{kept}"
        else:
            status = DONE
    except SolverBugError as exc:
        status, reason, plan_doc, checked = FAILED, f"solver error: {exc}", None, False
        log.error("job %s: %s", job_id, exc)
    except Exception as exc:
        status, reason, plan_doc = FAILED, f"internal error: {type(exc).__name__}: {exc}", None
        log.error("job %s failed:\n%s", job_id, traceback.format_exc())
    finally:
        monitor.stop.set()
        monitor.join()
    seconds = time.perf_counter() - started  # _finish writes the last progress rows
    if not _finish(storage, recorder, job_id, worker, status, reason, plan_doc, checked, seconds):
        log.warning(
            "job %s: finished as %s but no longer owned by %s; result dropped",
            job_id,
            status,
            worker,
        )
    return status


def run_in_process(job_id: str, settings_data: dict[str, Any], host: str) -> None:
    """Entry point of an in-process worker process (forked from the forkserver)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides what a Ctrl-C means
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = Settings.model_validate(settings_data)
    execute_job(
        job_id, settings, runner="local", worker=worker_id(host, os.getpid()), watch_parent=True
    )


#: How long a finished job's result is written again while the database does not answer
#: (seconds), and how often: a solve that ended during an outage lost its plan, the worker
#: process died with a traceback, and the job read ``running`` until the heartbeat rule
#: failed it (a QA pass).
FINISH_RETRY_SECONDS = 600.0
FINISH_RETRY_EVERY = 0.5


def _finish(
    storage: Storage,
    recorder: ProgressRecorder,
    job_id: str,
    worker: str,
    status: str,
    reason: str | None,
    plan_doc: dict[str, Any] | None,
    checked: bool | None,
    seconds: float,
) -> bool:
    """``storage.finish``, tried again while the database does not answer, each time after a
    heartbeat with the progress points not yet written, so that the server's heartbeat rule
    does not fail the job as the database comes back and its history is whole; False when the
    job is not this worker's any more (or the database never answered)."""
    given_up = time.monotonic() + FINISH_RETRY_SECONDS
    said = -math.inf
    while True:
        try:
            points = recorder.take()
            try:
                storage.heartbeat(job_id, worker, points)
            except BaseException:
                recorder.give_back(points)
                raise
            return storage.finish(job_id, worker, status, reason, plan_doc, checked, seconds)
        except (OperationalError, InterfaceError) as exc:
            if not is_outage(exc):
                raise
            if time.monotonic() >= given_up:
                log.error(
                    "job %s: its result (%s) could not be written in %.0f s: %s",
                    job_id,
                    status,
                    FINISH_RETRY_SECONDS,
                    why(exc),
                )
                return False
            if time.monotonic() - said >= 30:  # a line now and then, not one a try
                said = time.monotonic()
                log.warning(
                    "job %s: the database is unavailable, its result waits: %s", job_id, why(exc)
                )
            time.sleep(FINISH_RETRY_EVERY)
