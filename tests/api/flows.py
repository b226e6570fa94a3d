"""The end-to-end flows every deployment must pass (SQLite + worker processes,
PostgreSQL + Celery): each takes a client of a running server."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from api.runners import WORKER_PING_EVERY
from solver.evaluate import evaluate
from solver.scenario import parse_scenario
from tests.api.service import sse_events, wait_for

TERMINAL = {"done", "failed", "cancelled"}


def submit(client: httpx.Client, doc: dict[str, Any], **options: Any) -> dict[str, Any]:
    r = client.post("/v1/solves", json={"scenario": doc, "options": {"threads": 1, **options}})
    assert r.status_code == 202, r.text
    job: dict[str, Any] = r.json()
    assert job["status"] == "queued"
    assert r.headers["location"] == f"/v1/solves/{job['id']}"
    return job


def get_json(client: httpx.Client, path: str) -> dict[str, Any]:
    """``GET path``, asserted 200."""
    r = client.get(path)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def job(client: httpx.Client, job_id: str) -> dict[str, Any]:
    return get_json(client, f"/v1/solves/{job_id}")


def plan(client: httpx.Client, job_id: str) -> dict[str, Any]:
    return get_json(client, f"/v1/solves/{job_id}/plan")


def wait_status(
    client: httpx.Client, job_id: str, statuses: set[str], timeout: float = 60
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        j = job(client, job_id)
        return j if j["status"] in statuses else None

    return wait_for(
        check, timeout, f"job {job_id} to be {'/'.join(sorted(statuses))}", interval=0.2
    )


def wait_running_with_progress(
    client: httpx.Client, job_id: str, timeout: float = 60
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        j = job(client, job_id)
        assert j["status"] in ("queued", "running"), j
        return j if j["status"] == "running" and j["progress"] else None

    return wait_for(check, timeout, f"job {job_id} to run and report progress", interval=0.2)


def checked_plan(client: httpx.Client, job_id: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The job's plan, checked again here with the evaluator."""
    out = plan(client, job_id)
    ev = evaluate(parse_scenario(doc), out)
    assert ev.holds, ev.violations
    assert ev.objective == out["objective"]
    return out


def submit_watch_and_check(client: httpx.Client, doc: dict[str, Any], optimum: int) -> str:
    """Submit, follow the events to the end, fetch the plan (JSON and CSV) and check it."""
    submitted = submit(client, doc, time_limit=5)
    events = list(sse_events(client, f"/v1/solves/{submitted['id']}/events"))
    kinds = [e for e, _, _ in events]
    assert kinds[-1] == "status" and events[-1][2]["status"] == "done", events
    assert "progress" in kinds, "the solver reported no incumbent or bound"
    ids = [i for e, i, _ in events if e == "progress"]
    assert len({i.rsplit("-", 1)[0] for i in ids}) == 1, ids  # one run: "<run>-<seq>"
    seqs = [int(i.rsplit("-", 1)[1]) for i in ids]
    assert seqs == list(range(1, len(seqs) + 1)), ids
    last_progress = [d for e, _, d in events if e == "progress"][-1]
    assert last_progress["incumbent"] == optimum and last_progress["bound"] == optimum

    final = job(client, submitted["id"])
    assert final["status"] == "done"
    assert final["result"] == {
        "status": "optimal",
        "objective": optimum,
        "bound": optimum,
        "gap": 0.0,
        "checked": True,
    }
    assert final["progress"] and final["progress"][-1]["incumbent"] == optimum
    assert final["started_at"] and final["finished_at"] and final["worker"]

    plan = checked_plan(client, submitted["id"], doc)
    assert plan["status"] == "optimal" and plan["objective"] == optimum

    r = client.get(f"/v1/solves/{submitted['id']}/plan", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert sorted(row["site"] for row in rows) == sorted(b["site"] for b in plan["builds"])

    # a resumed stream skips the progress already seen and still ends with the status
    again = list(
        sse_events(
            client, f"/v1/solves/{submitted['id']}/events", headers={"Last-Event-ID": ids[-1]}
        )
    )
    assert [e for e, _, _ in again] == ["status"]
    # so does one resumed with a bare number (the ids before runs were named)
    again = list(
        sse_events(
            client, f"/v1/solves/{submitted['id']}/events", headers={"Last-Event-ID": str(seqs[-1])}
        )
    )
    assert [e for e, _, _ in again] == ["status"]
    # and one resumed with an id of another run (a job queued again) sends this run's points
    again = list(
        sse_events(
            client,
            f"/v1/solves/{submitted['id']}/events",
            headers={"Last-Event-ID": f"00000000-{seqs[-1]}"},
        )
    )
    assert [i for e, i, _ in again if e == "progress"] == ids
    # and one of digits that are not ASCII ones ('²': a 500 before) from the first event too
    for odd in ("\u00b2", f"{ids[0].rsplit('-', 1)[0]}-\u00b9\u00b2"):
        again = list(
            sse_events(
                client,
                f"/v1/solves/{submitted['id']}/events",
                headers={b"Last-Event-ID": odd.encode("latin-1")},
            )
        )
        assert [i for e, i, _ in again if e == "progress"] == ids, odd
    # the final status has the id that ends a browser's reconnects: after it, 204 (EventSource
    # reconnects after every stream that ends, and read the final status again for ever)
    assert again[-1][1] == "final"
    r = client.get(f"/v1/solves/{submitted['id']}/events", headers={"Last-Event-ID": "final"})
    assert r.status_code == 204 and r.content == b"", r.text
    return str(submitted["id"])


def cancel_long_solve(client: httpx.Client, long_doc: dict[str, Any]) -> dict[str, Any]:
    """A solve that would run 60 s is cancelled while running; its solver stops."""
    submitted = submit(client, long_doc, time_limit=60)
    wait_running_with_progress(client, submitted["id"])
    r = client.delete(f"/v1/solves/{submitted['id']}")
    assert r.status_code == 202, r.text
    assert r.json()["cancel_requested"] is True
    # well before the 60 s time limit: the solver stopped on the cancel flag
    final = wait_status(client, submitted["id"], TERMINAL, timeout=30)
    assert final["status"] == "cancelled", final
    assert final["reason"].startswith("cancelled on request"), final
    assert final["seconds"] < 60
    r = client.delete(f"/v1/solves/{submitted['id']}")
    assert r.status_code == 202 and r.json()["status"] == "cancelled"  # idempotent
    return final


def cancel_queued(client: httpx.Client, doc: dict[str, Any], blockers: list[str]) -> None:
    """With every worker busy, a queued job is cancelled at once and never runs."""
    submitted = submit(client, doc, time_limit=5)
    r = client.delete(f"/v1/solves/{submitted['id']}")
    assert r.status_code == 202, r.text
    body = r.json()
    if body["status"] == "cancelled":  # still queued when the cancel arrived
        assert body["reason"] == "cancelled before it started" and body["started_at"] is None
    final = wait_status(client, submitted["id"], TERMINAL, timeout=30)
    assert final["status"] == "cancelled"
    for b in blockers:
        client.delete(f"/v1/solves/{b}")


def invalid_requests(client: httpx.Client, tiny_doc: dict[str, Any]) -> None:
    """422 with the SPEC error list; 404 for unknown ids."""
    bad = {
        **tiny_doc,
        "sites": [{**tiny_doc["sites"][0], "region": "nowhere"}, *tiny_doc["sites"][1:]],
    }
    bad["horizon"] = {"start": 2030, "end": 2031.0}
    r = client.post("/v1/solves", json={"scenario": bad})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["detail"].startswith("invalid scenario")
    paths = {e["path"]: e["message"] for e in body["errors"]}
    assert "sites[0].region" in paths and "nowhere" in paths["sites[0].region"]
    assert "horizon.end" in paths

    r = client.post(
        "/v1/scenarios", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == ""

    for body, path in (
        ({"scenario": tiny_doc, "options": {"time_limit": 10_000}}, "options.time_limit"),
        ({"scenario": tiny_doc, "options": {"backend": "gurobi"}}, "options.backend"),
        ({"scenario": tiny_doc, "options": {"time_limit": -1}}, "options.time_limit"),
        ({"scenario": tiny_doc, "options": {"gap": 1.5}}, "options.gap"),
        ({"scenario": tiny_doc, "options": {"threads": True}}, "options.threads"),
        ({"scenario": tiny_doc, "options": {"freeze_through": True}}, "options.freeze_through"),
        ({"scenario": tiny_doc, "scenario_id": "0" * 64}, "scenario"),
        ({}, "scenario"),
        ({"scenario_id": "0" * 64}, "scenario_id"),
        ({"scenario": tiny_doc, "surprise": 1}, "surprise"),
    ):
        r = client.post("/v1/solves", json=body)
        assert r.status_code == 422, (body, r.text)
        assert path in [e["path"] for e in r.json()["errors"]], r.json()

    for path in (
        "/v1/solves/00000000-0000-4000-8000-000000000000",
        "/v1/solves/00000000-0000-4000-8000-000000000000/plan",
        "/v1/solves/00000000-0000-4000-8000-000000000000/events",
        f"/v1/scenarios/{'a' * 64}",
    ):
        r = client.get(path)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["detail"]
    assert client.delete("/v1/solves/00000000-0000-4000-8000-000000000000").status_code == 404


def scenarios_are_stored_once(client: httpx.Client, doc: dict[str, Any]) -> str:
    r1 = client.post("/v1/scenarios", json=doc)
    assert r1.status_code == 201, r1.text
    r2 = client.post("/v1/scenarios", json=doc)
    assert r2.status_code == 200 and r2.json()["id"] == r1.json()["id"]
    sid = str(r1.json()["id"])
    detail = client.get(f"/v1/scenarios/{sid}").json()
    assert parse_scenario(detail["document"]) == parse_scenario(doc)
    assert detail["sites"] == len(doc["sites"])
    listed = client.get("/v1/scenarios", params={"limit": 100}).json()
    assert sid in [s["id"] for s in listed["items"]]
    # a solve by id, and a solve of the same document, both use the stored scenario
    r = client.post(
        "/v1/solves", json={"scenario_id": sid, "options": {"time_limit": 5, "threads": 1}}
    )
    assert r.status_code == 202 and r.json()["scenario_id"] == sid
    by_doc = submit(client, doc, time_limit=5)
    assert by_doc["scenario_id"] == sid
    for j in (r.json()["id"], by_doc["id"]):
        assert wait_status(client, j, TERMINAL)["status"] == "done"
    return sid


def listing_filters_and_pages(client: httpx.Client, sid: str) -> None:
    page = client.get("/v1/solves", params={"scenario": sid, "status": "done", "limit": 1}).json()
    assert page["total"] >= 2 and len(page["items"]) == 1 and page["limit"] == 1
    assert all(j["scenario_id"] == sid and j["status"] == "done" for j in page["items"])
    second = client.get(
        "/v1/solves", params={"scenario": sid, "status": "done", "limit": 1, "offset": 1}
    ).json()
    assert second["items"][0]["id"] != page["items"][0]["id"]
    assert client.get("/v1/solves", params={"status": "sleeping"}).status_code == 422
    assert client.get("/v1/solves", params={"limit": 0}).status_code == 422


def metrics_and_health(client: httpx.Client, runner: str) -> None:
    h = client.get("/healthz").json()
    assert h["status"] == "ok" and h["runner"] == runner
    assert h["broker"] == ("ok" if runner == "celery" else None), h
    if runner == "local":
        assert h["workers"] is None, h  # they start with each job
    else:  # the worker answers the server's pings (every WORKER_PING_EVERY s)

        def answered() -> list[str] | None:
            seen = client.get("/healthz").json()["workers"]
            return None if not seen else list(seen["names"]) or None

        names = wait_for(answered, WORKER_PING_EVERY + 15, "a worker's name on /healthz")
        assert all("@" in name for name in names), names
        assert f"rdplan_workers {float(len(names))}" in client.get("/metrics").text
    text = client.get("/metrics").text
    assert 'rdplan_jobs{status="done"}' in text
    assert "rdplan_solve_seconds_count" in text
