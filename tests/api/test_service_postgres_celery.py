"""The same flows on the distributed setup: PostgreSQL on 127.0.0.1:5432 and a real Celery
worker (``rdplan worker``) on Redis at 127.0.0.1:6379, both started here."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api import flows
from tests.api.conftest import API_KEY, service_env
from tests.api.service import Server, Worker, pid_alive, wait_for

pytestmark = [pytest.mark.service, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def env(pg_url: str, broker_url: str) -> dict[str, str]:
    return service_env(
        database_url=pg_url,
        broker_url=broker_url,
        worker_name=f"rdplan-test-{secrets.token_hex(3)}@%h",
        api_keys=API_KEY,
        max_body_bytes=400_000,
        max_sites=200,
        max_time_limit=60,
        progress_interval=0.25,
        heartbeat_timeout=20,
        cancel_grace=10,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("celery")


@pytest.fixture(scope="module")
def server(env: dict[str, str], workdir: Path) -> Iterator[Server]:
    """``rdplan serve`` sending jobs to Celery; it runs the migrations on the fresh database."""
    with Server(workdir, env, api_key=API_KEY).running() as s:
        yield s


@pytest.fixture(scope="module")
def worker(server: Server, env: dict[str, str], workdir: Path) -> Iterator[Worker]:
    """One ``rdplan worker`` process (Celery, prefork pool of one process)."""
    with Worker(workdir, env).running() as w:
        yield w


@pytest.fixture
def client(server: Server, worker: Worker) -> httpx.Client:
    return server.client()


def test_submit_watch_events_and_check_the_plan(
    client: httpx.Client, tiny_doc: dict[str, Any]
) -> None:
    flows.submit_watch_and_check(client, tiny_doc, optimum=1855)


def test_scenarios_are_stored_once_and_listed(client: httpx.Client, tiny_variant: Any) -> None:
    sid = flows.scenarios_are_stored_once(client, tiny_variant("stored-once-pg"))
    flows.listing_filters_and_pages(client, sid)


def test_cancel_a_long_solve_and_the_solver_stops(
    client: httpx.Client, long_doc: dict[str, Any]
) -> None:
    final = flows.cancel_long_solve(client, long_doc)
    assert final["worker"].startswith("rdplan-test-")
    pid = int(final["worker"].rsplit("/", 1)[1])
    wait_for(
        lambda: not pid_alive(pid), 15, f"Celery pool process {pid} to finish"
    )  # one task per child


def test_cancel_a_queued_job(
    client: httpx.Client, long_doc: dict[str, Any], tiny_variant: Any
) -> None:
    blocker = flows.submit(client, long_doc, time_limit=30, seed=7)["id"]
    flows.wait_status(client, blocker, {"running"})
    flows.cancel_queued(client, tiny_variant("queued-then-cancelled-pg"), [blocker])
    flows.wait_status(client, blocker, flows.TERMINAL)


def test_invalid_requests_and_limits(client: httpx.Client, tiny_doc: dict[str, Any]) -> None:
    flows.invalid_requests(client, tiny_doc)
    r = client.post("/v1/scenarios", json={**tiny_doc, "padding": "y" * 500_000})
    assert r.status_code == 413
    assert server_client_unauthorized(client)


def server_client_unauthorized(client: httpx.Client) -> bool:
    with httpx.Client(base_url=client.base_url) as anonymous:
        return anonymous.get("/v1/solves").status_code == 401


def test_a_scenario_name_with_a_nul_character(client: httpx.Client, tiny_variant: Any) -> None:
    """A name is free text (SPEC §1) and U+0000 is JSON text, but PostgreSQL text cannot hold
    it: storing the scenario's name column answered 500 (SQLite took it). The document keeps
    the name as sent; the summary shows U+FFFD in its place."""
    doc = tiny_variant("nul\u0000name")
    r = client.post("/v1/scenarios", json=doc)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "nul\ufffdname"
    assert client.get(f"/v1/scenarios/{r.json()['id']}").json()["document"]["name"] == doc["name"]
    r = client.post("/v1/solves", json={"scenario": tiny_variant("solve\u0000"), "options": {}})
    assert r.status_code == 202, r.text
    assert flows.wait_status(client, r.json()["id"], flows.TERMINAL)["status"] == "done"
    assert flows.plan(client, r.json()["id"])["scenario"] == "solve\u0000"
    r = client.post(
        "/v1/batches",
        json={"scenario": doc, "variants": [{"patch": {"name": "variant\u0000"}}], "options": {}},
    )
    assert r.status_code == 202 and r.json()["errors"] == {}, r.text


def test_metrics_and_health(client: httpx.Client) -> None:
    flows.metrics_and_health(client, runner="celery")


def test_worker_killed_mid_solve(
    client: httpx.Client, worker: Worker, tiny_doc: dict[str, Any], long_doc: dict[str, Any]
) -> None:
    """SIGKILL the whole worker (main and pool processes) mid-solve; when it comes back the
    job is failed with a reason, and earlier plans are intact."""
    earlier = flows.submit(client, {**tiny_doc, "name": "before-the-worker-crash"}, time_limit=5)
    flows.wait_status(client, earlier["id"], {"done"})
    earlier_plan = flows.checked_plan(
        client, earlier["id"], {**tiny_doc, "name": "before-the-worker-crash"}
    )

    running = flows.submit(client, long_doc, time_limit=60, seed=3)
    flows.wait_running_with_progress(client, running["id"])
    pid = int(flows.job(client, running["id"])["worker"].rsplit("/", 1)[1])
    worker.kill_group()  # SIGKILL of the main and the pool processes: no clean ending of the task
    wait_for(lambda: not pid_alive(pid), 10, f"pool process {pid} to die")
    assert flows.job(client, running["id"])["status"] == "running"  # nobody has noticed yet
    worker.start()

    failed = flows.wait_status(client, running["id"], flows.TERMINAL, timeout=30)
    assert failed["status"] == "failed", failed
    assert (
        "restarted while the job was running" in failed["reason"]
        or "no heartbeat" in failed["reason"]
    )
    assert (
        flows.checked_plan(client, earlier["id"], {**tiny_doc, "name": "before-the-worker-crash"})
        == earlier_plan
    )


def test_a_second_worker_with_the_same_name_does_not_start(
    worker: Worker, env: dict[str, str], tmp_path: Path
) -> None:
    """Two workers under one node name: restarting either failed the other's running jobs and
    dropped their plans (a QA pass). The second one now says so and exits 2; the first goes on."""
    second = Worker(tmp_path, env)
    second.start_process()
    assert second.proc is not None
    assert second.proc.wait(timeout=60) == 2, second.log_tail()
    assert "is already running" in second.log_tail()
    assert "RDPLAN_WORKER_NAME" in second.log_tail()
    assert worker.proc is not None and worker.proc.poll() is None


def test_a_malformed_broker_url_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    bad = Worker(tmp_path, {**env, "RDPLAN_BROKER_URL": "notabroker://x"})
    bad.start_process()
    assert bad.proc is not None
    assert bad.proc.wait(timeout=60) == 2
    assert bad.log_tail().strip().splitlines()[-1] == (
        "rdplan worker: RDPLAN_BROKER_URL: No such transport: notabroker"
    )


def test_server_killed_mid_solve(
    server: Server, worker: Worker, tiny_doc: dict[str, Any], long_doc: dict[str, Any]
) -> None:
    """With Celery the server holds no job: kill it mid-solve and the job still finishes on the
    worker; after the restart the plan and the earlier plans are there."""
    with server.client() as client:
        earlier = flows.submit(
            client, {**tiny_doc, "name": "before-the-server-crash"}, time_limit=5
        )
        flows.wait_status(client, earlier["id"], {"done"})
        running = flows.submit(client, long_doc, time_limit=3, seed=5)
        flows.wait_running_with_progress(client, running["id"])
    server.kill()
    server.restart()
    with server.client() as client:
        final = flows.wait_status(client, running["id"], flows.TERMINAL, timeout=60)
        assert final["status"] == "done", final
        # 3 s on one thread may end before CP-SAT's first incumbent: then the plan says so
        if final["result"]["status"] in ("optimal", "feasible"):
            assert final["result"]["checked"] is True
            flows.checked_plan(client, running["id"], long_doc)
        else:
            assert final["result"]["status"] == "unknown"
            assert client.get(f"/v1/solves/{running['id']}/plan").json()["status"] == "unknown"
        flows.checked_plan(client, earlier["id"], {**tiny_doc, "name": "before-the-server-crash"})


def test_batch_variants_start_from_the_base_plan(client: httpx.Client, tiny_variant: Any) -> None:
    """The base job first, then the variant from its plan, through the broker and PostgreSQL."""
    r = client.post(
        "/v1/batches",
        json={
            "scenario": tiny_variant("batch-pg"),
            "variants": [{"name": "free-moves", "patch": {"objective": {"mobilization": 0}}}],
            "options": {"time_limit": 10, "threads": 1},
        },
    )
    assert r.status_code == 202, r.text
    jobs = r.json()["jobs"]
    final = flows.wait_status(client, jobs["free-moves"], flows.TERMINAL, timeout=120)
    assert final["status"] == "done" and final["result"]["objective"] == 2175, final
    assert final["options"]["start_solve_id"] == jobs["base"]
    solver = flows.plan(client, jobs["free-moves"])["solver"]
    assert solver["start_solve"]["id"] == jobs["base"] and solver["start_solve"]["used"], solver
    assert solver["warm_start"]["holds"] is True, solver["warm_start"]
    assert flows.job(client, jobs["base"])["status"] == "done"
