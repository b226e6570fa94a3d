"""Job states and a warm start's outcome: what the storage, the service, its workers and the
client's local planner share, kept apart from the database layer so that ``api.client``
imports it without SQLAlchemy."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import psutil

from solver.plan import PLAN_STATUSES

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
JOB_STATUSES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
TERMINAL = frozenset({DONE, FAILED, CANCELLED})


def worker_prefix(host: str) -> str:
    """What the ids of every worker process on ``host`` (a machine, a Celery node) begin with."""
    return f"{host}/"


def worker_id(host: str, pid: int) -> str:
    """A job's ``worker``: the process ``pid`` on ``host``, ``host/pid``."""
    return f"{worker_prefix(host)}{pid}"


def worker_of(worker: str) -> tuple[str, int | None]:
    """``(host, pid)`` of a :func:`worker_id` (pid None when it does not end in one)."""
    host, _, pid = worker.rpartition("/")
    return host, int(pid) if pid.isdigit() else None


def pid_alive(pid: int) -> bool:
    """True for a live process on this machine; a zombie (dead, not yet reaped) counts as dead."""
    try:
        return psutil.Process(pid).status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except psutil.NoSuchProcess:
        return False
    except psutil.Error:  # there, but not ours to read
        return True


def parent_pid(pid: int) -> int | None:
    """The parent of process ``pid`` on this machine (None when it cannot be read)."""
    try:
        return int(psutil.Process(pid).ppid())
    except psutil.Error:
        return None


def start_note(start_id: str, waited: float, used: bool, why_not: str | None) -> dict[str, Any]:
    """A plan's ``solver.start_solve``."""
    note: dict[str, Any] = {"id": start_id, "waited_seconds": round(waited, 3), "used": used}
    if why_not is not None:
        note["why_not"] = why_not
    return note


def start_outcome(
    start_id: str,
    waited: float,
    status: str,
    plan: dict[str, Any] | None,
    cancelled: bool,
    wait: bool = True,
    sites: Collection[str] | None = None,
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The warm start (the plan, or ``None``) and its note, once the wait for job
    ``start_id`` (``status``, ``plan``) is over; the service and ``Planner.local`` share it.
    With ``sites`` (the solved scenario's), a plan none of whose builds is one of them is
    another scenario's: nothing of it can start the solve, so it is not used."""
    why_not = None
    if status not in TERMINAL:
        why_not = (
            "cancelled while waiting"
            if cancelled
            else f"still {status} after {waited:.0f} s"
            if wait
            else f"still {status} when this job started"
        )
    elif plan is None or plan.get("status") not in PLAN_STATUSES:
        why_not = f"it ended {status} without a plan"
    elif not plan.get("builds"):
        why_not = "its plan builds nothing"
    elif sites is not None and not any(
        isinstance(b, dict) and b.get("site") in sites for b in plan["builds"]
    ):
        why_not = "none of its plan's builds is a site of this scenario"
    note = start_note(start_id, waited, used=why_not is None, why_not=why_not)
    return (plan if why_not is None else None), note
