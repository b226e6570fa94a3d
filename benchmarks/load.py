"""Load run of the HTTP service: many small solves from concurrent clients, on loopback only.

    python -m benchmarks.load [--jobs 200] [--clients 20] [--workers 2] [--url http://127.0.0.1:PORT]

Without ``--url`` it starts ``rdplan serve`` on the embedded defaults (SQLite, worker
processes) in a temporary directory on a free loopback port and stops it after. Each client
submits its share of the jobs back to back (distinct small scenarios and seeds), then polls
``GET /v1/solves/{id}`` until each ends and checks the plan with the evaluator. The report —
throughput, p50/p99 latency of submit and status calls, and the end of every job — is
printed and written to ``benchmarks/results/load-<date>.md``.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from api.schemas import TINY_SCENARIO
from solver.argtypes import positive_float, positive_int
from solver.evaluate import evaluate
from solver.plan import PLAN_STATUSES
from solver.scenario import parse_scenario
from solver.solve import BACKENDS, DEFAULT_BACKEND

RESULTS = Path(__file__).resolve().parent / "results"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Record:
    submit_seconds: list[float] = field(default_factory=list)
    status_seconds: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    queue_seconds: list[float] = field(default_factory=list)
    job_seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def scenario(i: int, distinct: int) -> dict[str, Any]:
    """Small scenario number ``i``: the tiny example under one of ``distinct`` names, with the
    benefit of one site nudged so that the scenarios differ in content, not just in name."""
    doc = copy.deepcopy(TINY_SCENARIO)
    k = i % distinct
    doc["name"] = f"load-{k}"
    doc["sites"][1]["benefit"]["basic"] = 250 + k
    return doc


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def client_run(
    url: str, jobs: list[int], args: argparse.Namespace, rec: Record, deadline: float
) -> None:
    with httpx.Client(
        base_url=url, timeout=30, headers={"X-API-Key": args.api_key} if args.api_key else {}
    ) as client:
        submitted: list[tuple[str, dict[str, Any]]] = []
        for i in jobs:
            doc = scenario(i, args.distinct)
            body = {
                "scenario": doc,
                "options": {
                    "backend": args.backend,
                    "time_limit": args.time_limit,
                    "threads": 1,
                    "seed": i,
                },
            }
            t0 = time.perf_counter()
            r = client.post("/v1/solves", json=body)
            elapsed = time.perf_counter() - t0
            with rec.lock:
                rec.submit_seconds.append(elapsed)
            if r.status_code != 202:
                with rec.lock:
                    rec.errors.append(f"submit {i}: {r.status_code} {r.text[:200]}")
                    rec.outcomes["not accepted"] += 1
                continue
            submitted.append((r.json()["id"], doc))
        for job_id, doc in submitted:
            while True:
                if time.monotonic() > deadline:
                    with rec.lock:
                        rec.outcomes["timed out"] += 1
                    break
                t0 = time.perf_counter()
                r = client.get(f"/v1/solves/{job_id}")
                elapsed = time.perf_counter() - t0
                with rec.lock:
                    rec.status_seconds.append(elapsed)
                job = r.json()
                if job["status"] in ("queued", "running"):
                    time.sleep(args.poll)
                    continue
                outcome = job["status"]
                if outcome == "done":
                    plan = client.get(f"/v1/solves/{job_id}/plan").json()
                    ev = evaluate(parse_scenario(doc), plan)
                    ok = plan["status"] in PLAN_STATUSES and ev.holds and job["result"]["checked"]
                    outcome = (
                        f"done, plan {plan['status']}, checked"
                        if ok
                        else f"done, plan {plan['status']}, NOT checked"
                    )
                    if not ok:
                        with rec.lock:
                            rec.errors.append(f"job {job_id}: {ev.violations[:3]}")
                with rec.lock:
                    rec.outcomes[outcome] += 1
                    if job["started_at"]:
                        rec.queue_seconds.append(
                            (
                                parse_time(job["started_at"]) - parse_time(job["created_at"])
                            ).total_seconds()
                        )
                    if job["seconds"] is not None:
                        rec.job_seconds.append(job["seconds"])
                break


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(workdir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RDPLAN_")}
    env.update(RDPLAN_WORKERS=str(workers), RDPLAN_DEFAULT_THREADS="1", PYTHONUNBUFFERED="1")
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    log = (workdir / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "solver.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: see {workdir / 'server.log'}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start within 60 s")


def report(
    args: argparse.Namespace, rec: Record, wall: float, url: str, load: tuple[float, float]
) -> str:
    finished = sum(n for k, n in rec.outcomes.items() if k.startswith("done"))
    server = (
        f"the server at {args.url} (its own settings)"
        if args.url
        else f"`rdplan serve` on the embedded defaults (SQLite, {args.workers} worker processes)"
    )
    checked = sum(n for k, n in rec.outcomes.items() if k.endswith(", checked"))
    ms = 1000.0
    lines = [
        f"# Load run {dt.date.today().isoformat()}",
        "",
        f"{args.jobs} small solves (the SPEC tiny example in {args.distinct} content variants, seeds 0..{args.jobs - 1}, "
        f"time limit {args.time_limit:g} s, 1 thread, backend {args.backend}) submitted by {args.clients} concurrent clients "
        f"over loopback to {server}. Each client submits its "
        f"{args.jobs // args.clients} jobs back to back, then polls each job every {args.poll:g} s until it ends and checks "
        "its plan with the evaluator.",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}. Server: {url}. 1-minute load average "
        f"{load[0]:.1f} before the run, {load[1]:.1f} after (other work shares the machine).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| jobs finished | {finished} / {args.jobs} |",
        f"| plans checked by the evaluator | {checked} / {args.jobs} |",
        f"| wall time, first submit to last job seen ended | {wall:.1f} s |",
        f"| throughput (jobs finished) | {finished / wall:.2f} jobs/s |",
        f"| submit (POST /v1/solves) p50 / p99 | {percentile(rec.submit_seconds, 50) * ms:.1f} / "
        f"{percentile(rec.submit_seconds, 99) * ms:.1f} ms (n={len(rec.submit_seconds)}) |",
        f"| status (GET /v1/solves/{{id}}) p50 / p99 | {percentile(rec.status_seconds, 50) * ms:.1f} / "
        f"{percentile(rec.status_seconds, 99) * ms:.1f} ms (n={len(rec.status_seconds)}) |",
        f"| queue wait (created -> started) p50 / max | {percentile(rec.queue_seconds, 50):.2f} / "
        f"{max(rec.queue_seconds, default=float('nan')):.2f} s |",
        f"| job wall seconds (started -> finished) p50 / max | {percentile(rec.job_seconds, 50):.3f} / "
        f"{max(rec.job_seconds, default=float('nan')):.3f} s |",
        "",
        "Outcomes: " + ", ".join(f"{k}: {n}" for k, n in sorted(rec.outcomes.items())),
    ]
    if rec.errors:
        lines += ["", "Errors (first 10):", *[f"- {e}" for e in rec.errors[:10]]]
    lines += [
        "",
        f"Mean submit latency {statistics.fmean(rec.submit_seconds) * ms:.1f} ms."
        if rec.submit_seconds
        else "",
    ]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--jobs", type=positive_int, default=200)
    parser.add_argument("--clients", type=positive_int, default=20)
    parser.add_argument(
        "--workers", type=positive_int, default=2, help="RDPLAN_WORKERS of the started server"
    )
    parser.add_argument(
        "--distinct", type=positive_int, default=50, help="distinct scenarios among the jobs"
    )
    parser.add_argument(
        "--backend", choices=BACKENDS, default=DEFAULT_BACKEND, help="every job's backend"
    )
    parser.add_argument("--time-limit", type=positive_float, default=5.0)
    parser.add_argument(
        "--poll", type=positive_float, default=0.2, help="seconds between status calls of a client"
    )
    parser.add_argument(
        "--timeout", type=positive_float, default=900.0, help="give up after this many seconds"
    )
    parser.add_argument("--url", help="an already running server (loopback only)")
    parser.add_argument("--api-key", default=None)
    parser.add_argument(
        "--out", type=Path, default=None, help="default: benchmarks/results/load-<date>.md"
    )
    args = parser.parse_args(argv)

    proc = None
    tmp = tempfile.TemporaryDirectory(prefix="rdplan-load-")
    try:
        if args.url:
            host = urlparse(args.url).hostname or ""
            if host not in LOOPBACK:
                parser.error(
                    f"--url must be a loopback address (got {host!r}): this load run stays on this machine"
                )
            url = args.url.rstrip("/")
        else:
            proc, url = start_server(Path(tmp.name), args.workers)
        load_before = os.getloadavg()[0]
        rec = Record()
        shares = [list(range(c, args.jobs, args.clients)) for c in range(args.clients)]
        deadline = time.monotonic() + args.timeout
        started = time.perf_counter()
        threads = [
            threading.Thread(target=client_run, args=(url, share, args, rec, deadline))
            for share in shares
            if share
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        text = report(args, rec, wall, url, (load_before, os.getloadavg()[0]))
        print(text)
        out = args.out or RESULTS / f"load-{dt.date.today().isoformat()}.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        print(f"written to {out}", file=sys.stderr)
        checked = sum(n for k, n in rec.outcomes.items() if k.endswith(", checked"))
        return 0 if checked == args.jobs else 1
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
