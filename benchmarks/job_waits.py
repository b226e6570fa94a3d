"""How long a job waits for a Celery worker's pool process: tiny solves submitted one at a
time, ``--gap`` seconds after the last one ended, through a real ``rdplan serve`` and
``rdplan worker`` (SQLite in a temporary directory, the Redis of ``--broker``).

    python -m benchmarks.job_waits [--jobs 10] [--gaps 0,0.1,0.3,1,2] [--broker redis://127.0.0.1:6379/9]

A job's wait is its ``started_at`` minus its ``created_at`` (both stored by the service).
Each pool process runs one job and is then replaced (``worker_max_tasks_per_child=1``);
this measures how soon (``api.pool``; *Run 30* in ``RESULTS.md``). It reuses the test
suite's process helpers and environment (``tests.api.service``,
``tests.api.conftest.service_env``), so it runs from a checkout.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

from api.schemas import TINY_SCENARIO
from solver.argtypes import positive_int
from tests.api.conftest import service_env
from tests.api.flows import submit, wait_status
from tests.api.service import Server, Worker


def run_jobs(workdir: Path, broker: str, jobs: int, gap: float) -> list[dict[str, Any]]:
    """``jobs`` tiny solves, one at a time, ``gap`` seconds apart: their final job documents."""
    # the server and worker run this checkout's code, as in the service tests
    env = service_env(database_url=f"sqlite:///{workdir}/rdplan.sqlite", broker_url=broker)
    out = []
    with Server(workdir, env).running() as server, Worker(workdir, env).running():
        client = server.client()
        for _ in range(jobs):
            job = wait_status(client, submit(client, TINY_SCENARIO)["id"], {"done", "failed"})
            if job["status"] != "done":
                raise SystemExit(f"job {job['id']} {job['status']}: {job.get('reason')}")
            out.append(job)
            time.sleep(gap)
    return out


def wait_of(job: dict[str, Any]) -> float:
    """Seconds from a job's submission to its start."""
    started, created = (dt.datetime.fromisoformat(job[k]) for k in ("started_at", "created_at"))
    return (started - created).total_seconds()


def _gaps(text: str) -> list[float]:
    """argparse type of ``--gaps``: seconds, 0 or more, comma-separated."""
    try:
        gaps = [float(g) for g in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a list of seconds") from None
    if not all(0 <= g < float("inf") for g in gaps):
        raise argparse.ArgumentTypeError(f"seconds must be 0 or more, not {text}")
    return gaps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.job_waits", description=__doc__)
    parser.add_argument("--jobs", type=positive_int, default=10, help="jobs per gap (default 10)")
    parser.add_argument(
        "--gaps", type=_gaps, default="0,0.1,0.3,1,2", help="seconds between jobs, a list"
    )
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/9", help="Celery broker")
    args = parser.parse_args(argv)
    every = []
    for gap in args.gaps:
        with tempfile.TemporaryDirectory() as tmp:
            got = [wait_of(j) for j in run_jobs(Path(tmp), args.broker, args.jobs, gap)]
        every += got
        print(f"gap {gap:g} s: waits " + " ".join(f"{w:.2f}" for w in got), flush=True)
    slow = sum(w > 0.3 for w in every)
    print(f"{len(every)} jobs: longest wait {max(every):.2f} s, {slow} over 0.3 s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
