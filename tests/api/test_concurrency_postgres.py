"""Many clients at once on the distributed setup: a real ``rdplan serve`` on PostgreSQL,
sending its jobs to Redis (no worker: the jobs stay queued, which is all these checks need).

A listing's ``total`` and its page are read from one snapshot: while other clients submit,
a page that asks for everything holds exactly ``total`` items."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.conftest import API_KEY, service_env
from tests.api.service import Server

pytestmark = [pytest.mark.service, pytest.mark.timeout(300)]

#: Jobs (and scenarios) submitted while others list them (a page holds at most 100).
SUBMISSIONS = 90
CLIENTS = 4


@pytest.fixture(scope="module")
def server(
    pg_url: str, broker_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    workdir: Path = tmp_path_factory.mktemp("pg-concurrency")
    env = service_env(database_url=pg_url, broker_url=broker_url, api_keys=API_KEY, requeue_after=0)
    with Server(workdir, env, api_key=API_KEY).running() as s:
        yield s


def _run_concurrently(
    server: Server, submit: Any, listing: str, params: dict[str, Any]
) -> list[tuple[int, int]]:
    """``CLIENTS`` clients submit ``SUBMISSIONS`` times in all while as many list ``listing``
    with ``params``; every listing's (items, total)."""
    left = iter(range(SUBMISSIONS))
    lock, done = threading.Lock(), threading.Event()
    seen: list[tuple[int, int]] = []
    failures: list[str] = []

    def submitter() -> None:
        with server.client() as client:
            while True:
                with lock:
                    i = next(left, None)
                if i is None:
                    return
                r = submit(client, i)
                if r.status_code not in (200, 201, 202):
                    failures.append(r.text)

    def lister() -> None:
        with server.client() as client:
            while not done.is_set():
                r = client.get(listing, params=params)
                if r.status_code != 200:
                    failures.append(r.text)
                    continue
                page = r.json()
                with lock:
                    seen.append((len(page["items"]), page["total"]))

    submitters = [threading.Thread(target=submitter) for _ in range(CLIENTS)]
    listers = [threading.Thread(target=lister) for _ in range(CLIENTS)]
    for t in [*submitters, *listers]:
        t.start()
    for t in submitters:
        t.join(timeout=240)
    done.set()
    for t in listers:
        t.join(timeout=60)
    assert not failures, failures[:5]
    return seen


def test_job_list_totals_match_their_pages_under_concurrent_submissions(
    server: Server, tiny_doc: dict[str, Any]
) -> None:
    with server.client() as client:
        r = client.post("/v1/scenarios", json={**tiny_doc, "name": "listed-while-submitted"})
        assert r.status_code in (200, 201), r.text
        sid = r.json()["id"]

    def submit(client: httpx.Client, i: int) -> httpx.Response:
        return client.post(
            "/v1/solves", json={"scenario_id": sid, "options": {"time_limit": 1, "seed": i}}
        )

    seen = _run_concurrently(
        server, submit, "/v1/solves", {"scenario": sid, "status": "queued", "limit": 100}
    )
    wrong = [(items, total) for items, total in seen if items != total]
    assert not wrong, f"{len(wrong)} of {len(seen)} listings disagree (items, total): {wrong[:5]}"
    with server.client() as client:
        final = client.get("/v1/solves", params={"scenario": sid, "limit": 100}).json()
    assert final["total"] == len(final["items"]) == SUBMISSIONS


def test_scenario_list_totals_match_their_pages_under_concurrent_submissions(
    server: Server, tiny_variant: Any
) -> None:
    with server.client() as client:
        before = client.get("/v1/scenarios", params={"limit": 1}).json()["total"]

    def submit(client: httpx.Client, i: int) -> httpx.Response:
        return client.post("/v1/scenarios", json=tiny_variant(f"listed-scenario-{i}"))

    seen = _run_concurrently(server, submit, "/v1/scenarios", {"limit": 100})
    wrong = [(items, total) for items, total in seen if items != total]
    assert not wrong, f"{len(wrong)} of {len(seen)} listings disagree (items, total): {wrong[:5]}"
    with server.client() as client:
        final = client.get("/v1/scenarios", params={"limit": 100}).json()
    assert final["total"] == len(final["items"]) == before + SUBMISSIONS
