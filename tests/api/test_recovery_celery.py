"""Recovery on the distributed setup, for real: PostgreSQL, Redis, ``rdplan serve`` and
``rdplan worker`` processes (no mocks).

- A worker SIGKILLed mid-solve and never restarted: the server's heartbeat sweep marks the
  job ``failed`` with the reason within a bounded time, and the event stream ends with it.
- Lost Celery messages (the Redis database flushed while no worker runs): the server sends
  jobs left ``queued`` to the broker again after ``RDPLAN_REQUEUE_AFTER`` seconds; a job
  whose first message was not lost then has two, and runs once all the same.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.runners import WORKER_PING_EVERY
from tests.api import flows
from tests.api.conftest import API_KEY, service_env
from tests.api.service import Server, Worker, pid_alive, sse_events, wait_for

pytestmark = [pytest.mark.service, pytest.mark.timeout(300)]


def workers_seen(client: Any) -> list[str] | None:
    """The node names of the workers that answered the server's last ping (``/healthz``)."""
    seen = client.get("/healthz").json()["workers"]
    return None if seen is None else seen["names"]


HEARTBEAT_TIMEOUT = 5
REQUEUE_AFTER = 3
#: The server checks heartbeats every min(5, max(1, min(timeouts) / 4)) s: 1 s here.
SWEEP = 1.0
#: Celery's default queue: a Redis list of JSON messages (kombu's Redis transport).
CELERY_QUEUE = "celery"


@pytest.fixture(scope="module")
def env(pg_url: str, broker_url: str) -> dict[str, str]:
    return service_env(
        database_url=pg_url,
        broker_url=broker_url,
        worker_name=f"rdplan-recovery-{secrets.token_hex(3)}@%h",
        api_keys=API_KEY,
        max_time_limit=600,
        progress_interval=0.25,
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
        requeue_after=REQUEUE_AFTER,
        cancel_grace=10,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("celery-recovery")


@pytest.fixture(scope="module")
def server(env: dict[str, str], workdir: Path) -> Iterator[Server]:
    with Server(workdir, env, api_key=API_KEY).running() as s:
        yield s


@pytest.fixture
def worker(server: Server, env: dict[str, str], workdir: Path) -> Iterator[Worker]:
    """A worker of this test only (not started: each test decides when)."""
    w = Worker(workdir, env)
    try:
        yield w
    finally:
        w.stop()


@pytest.fixture
def broker(broker_url: str) -> Iterator[Any]:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(broker_url, socket_connect_timeout=5)
    try:
        yield client
    finally:
        client.close()


def queued_task_ids(broker: Any) -> Counter[str]:
    """How many messages of each task (job) id wait in the broker's queue."""
    return Counter(json.loads(raw)["headers"]["id"] for raw in broker.lrange(CELERY_QUEUE, 0, -1))


def test_worker_killed_for_good_fails_the_job_on_heartbeat_timeout(
    server: Server, worker: Worker, long_doc: dict[str, Any]
) -> None:
    """SIGKILL the worker (main and pool processes) mid-solve and do not start it again:
    nothing else would notice, so the server's heartbeat sweep must fail the job, within
    HEARTBEAT_TIMEOUT plus a sweep, and the event stream must end with that status."""
    worker.start()
    client = server.client()
    running = flows.submit(client, long_doc, time_limit=300, seed=13)
    flows.wait_running_with_progress(client, running["id"])

    events: list[tuple[str, str, dict[str, Any]]] = []

    def follow() -> None:  # a client watching the job live, across the crash
        with server.client() as watcher:
            events.extend(sse_events(watcher, f"/v1/solves/{running['id']}/events", timeout=90))

    watcher = threading.Thread(target=follow, daemon=True)
    watcher.start()
    wait_for(lambda: events, 15, "the first server-sent event")

    node_pid = flows.job(client, running["id"])["worker"]
    pool_pid = int(node_pid.rsplit("/", 1)[1])
    assert pid_alive(pool_pid)
    node = node_pid.rsplit("/", 1)[0]
    # /healthz names the worker: it answers the server's pings while its pool solves
    wait_for(lambda: node in workers_seen(client), WORKER_PING_EVERY + 15, f"{node} on /healthz")
    worker.kill_group()  # SIGKILL, main process and pool process at once; never restarted
    killed = time.monotonic()
    wait_for(lambda: not pid_alive(pool_pid), 10, f"pool process {pool_pid} to die")
    assert flows.job(client, running["id"])["status"] == "running"  # not noticed yet

    failed = flows.wait_status(client, running["id"], flows.TERMINAL, timeout=60)
    after = time.monotonic() - killed
    assert failed["status"] == "failed", failed
    # the last heartbeat came at most a progress interval before the kill
    assert after >= HEARTBEAT_TIMEOUT - 0.5, f"failed {after:.1f} s after the kill"
    # a sweep every SWEEP s; the rest is slack for a loaded machine
    assert after <= HEARTBEAT_TIMEOUT + SWEEP + 10, f"failed only {after:.1f} s after the kill"
    reason = failed["reason"]
    assert re.fullmatch(
        rf"no heartbeat from worker {re.escape(node_pid)} for \d+ s "
        rf"\(RDPLAN_HEARTBEAT_TIMEOUT is {HEARTBEAT_TIMEOUT} s\): "
        r"the worker was killed, crashed or lost the database",
        reason,
    ), reason
    assert failed["finished_at"] and failed["result"] is None
    r = client.get(f"/v1/solves/{running['id']}/plan")
    assert r.status_code == 409 and reason in r.json()["detail"]
    assert worker.proc is not None and worker.proc.poll() is not None  # still dead

    # the live stream saw the job running and ended with the final status
    watcher.join(timeout=30)
    assert not watcher.is_alive(), "the event stream did not end after the job failed"
    kinds = [e for e, _, _ in events]
    statuses = [d["status"] for e, _, d in events if e == "status"]
    assert statuses[0] == "running" and statuses[-1] == "failed", statuses
    assert "progress" in kinds
    assert kinds[-1] == "status" and events[-1][2]["reason"] == reason
    # and so does a stream opened afterwards
    again = list(sse_events(client, f"/v1/solves/{running['id']}/events", timeout=30))
    assert again[-1][0] == "status" and again[-1][2]["status"] == "failed"
    assert again[-1][2]["reason"] == reason
    # /healthz and /metrics say that no worker answers any more, and so does the server's log
    wait_for(lambda: workers_seen(client) == [], WORKER_PING_EVERY + 15, "no worker on /healthz")
    assert "rdplan_workers 0.0" in client.get("/metrics").text
    assert "no Celery worker answers on" in server.log_tail(200)


def test_a_pool_process_killed_fails_its_job_at_once(
    server: Server, worker: Worker, long_doc: dict[str, Any], tiny_doc: dict[str, Any]
) -> None:
    """SIGKILL the pool process only (as the kernel's OOM killer would): Celery's main process
    sees it at once, and the job is failed then with that reason, not a heartbeat timeout later
    (a QA pass); the worker goes on and runs the next job."""
    worker.start()
    client = server.client()
    running = flows.submit(client, long_doc, time_limit=300, seed=17)
    flows.wait_running_with_progress(client, running["id"])
    pool_pid = int(flows.job(client, running["id"])["worker"].rsplit("/", 1)[1])
    os.kill(pool_pid, signal.SIGKILL)
    killed = time.monotonic()
    failed = flows.wait_status(client, running["id"], flows.TERMINAL, timeout=60)
    after = time.monotonic() - killed
    assert failed["status"] == "failed", failed
    assert failed["reason"].startswith("the worker's process running the job died"), failed
    assert "SIGKILL" in failed["reason"], failed
    assert after < HEARTBEAT_TIMEOUT, f"failed {after:.1f} s after the kill"
    nxt = flows.submit(client, tiny_doc, time_limit=10)
    assert flows.wait_status(client, nxt["id"], flows.TERMINAL, timeout=60)["status"] == "done"


@pytest.mark.parametrize("whole_group", [True, False])
def test_a_worker_stopped_by_sigterm_queues_its_job_again(
    server: Server, worker: Worker, long_doc: dict[str, Any], whole_group: bool
) -> None:
    """A redeploy stops ``rdplan worker`` with SIGTERM: to its whole group (systemd), or to
    its main process alone. The job was failed ("Worker exited prematurely: signal 15"), or
    Celery's warm shutdown waited for the solve to end, up to its time limit (a QA pass). It
    goes back in the queue now, as with the server's own worker processes, and runs again
    from the start on the next worker."""
    worker.start()
    client = server.client()
    running = flows.submit(client, long_doc, time_limit=300, seed=19)
    flows.wait_running_with_progress(client, running["id"])
    first = flows.job(client, running["id"])["worker"]
    assert worker.proc is not None
    stopped = time.monotonic()
    if whole_group:
        os.killpg(worker.proc.pid, signal.SIGTERM)
    else:
        os.kill(worker.proc.pid, signal.SIGTERM)
    worker.proc.wait(timeout=30)  # not the solve's 300 s
    assert time.monotonic() - stopped < 30
    queued = flows.wait_status(client, running["id"], {"queued"}, timeout=30)
    assert queued["reason"].startswith("the worker process was stopped (SIGTERM"), queued
    worker.start()
    again = flows.wait_running_with_progress(client, running["id"])
    assert again["worker"] != first  # run from the start, by the new worker's process
    r = client.delete(f"/v1/solves/{running['id']}")
    assert r.status_code in (200, 202), r.text
    assert flows.wait_status(client, running["id"], flows.TERMINAL, timeout=60)["status"] in (
        "cancelled",
        "done",
    )


def test_lost_messages_are_sent_again_and_a_duplicate_runs_once(
    server: Server, worker: Worker, broker: Any, tiny_variant: Any
) -> None:
    """No worker runs. Job A's message is lost (FLUSHDB of the test's Redis database); job
    B's is not. The server sends both again after REQUEUE_AFTER s (B now has two messages);
    a worker started then runs both to ``done`` with checked plans, and B only once."""
    client = server.client()
    broker.delete(CELERY_QUEUE)  # nothing left over from the previous test
    doc_a, doc_b = tiny_variant("lost-message"), tiny_variant("duplicate-message")

    a = flows.submit(client, doc_a, time_limit=10)["id"]
    assert queued_task_ids(broker)[a] == 1
    broker.flushdb()  # the message is lost: Redis restarted empty, say
    assert queued_task_ids(broker)[a] == 0
    b = flows.submit(client, doc_b, time_limit=10)["id"]
    assert queued_task_ids(broker)[b] == 1

    # the server notices: A gets a message again, B a second one
    wait_for(
        lambda: (lambda q: q if q[a] >= 1 and q[b] >= 2 else None)(queued_task_ids(broker)),
        REQUEUE_AFTER + 20,
        "the server to send the queued jobs to the broker again",
        interval=0.2,
    )
    assert flows.job(client, a)["status"] == flows.job(client, b)["status"] == "queued"
    log = server.log_path.read_text(errors="replace")
    assert f"job {a}: still queued after" in log and "sent to the broker again" in log

    worker.start()
    for job_id, doc in ((a, doc_a), (b, doc_b)):
        final = flows.wait_status(client, job_id, flows.TERMINAL, timeout=120)
        assert final["status"] == "done", final
        assert final["result"]["checked"] is True
        assert flows.checked_plan(client, job_id, doc)["objective"] == 1855

    # every message of B was taken by the worker; exactly one of them ran the solve
    def b_messages_done() -> list[str] | None:
        text = worker.log_path.read_text(errors="replace")
        ended = re.findall(rf"Task rdplan\.solve\[{b}\] succeeded in [0-9.e-]+s: (\S+)", text)
        return ended if len(ended) >= 2 and queued_task_ids(broker)[b] == 0 else None

    ended = wait_for(b_messages_done, 60, f"the worker to take every message of job {b}")
    assert ended.count("'done'") == 1, ended
    assert set(ended) == {"'done'", "None"}, ended
    assert f"job {b}: not queued any more (" in worker.log_path.read_text(errors="replace")
    final_b = flows.job(client, b)
    assert final_b["status"] == "done" and final_b["worker"]  # not taken over by the duplicate
