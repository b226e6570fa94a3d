"""The service on its embedded defaults — SQLite file, worker processes — as a real
uvicorn process (``rdplan serve``), driven over HTTP."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from solver.model import column_bound
from solver.problem import build_problem
from solver.scenario import parse_scenario
from tests.api import flows
from tests.api.conftest import API_KEY, service_env
from tests.api.service import Server, pid_alive, sse_events, wait_for

pytestmark = [pytest.mark.service, pytest.mark.timeout(300)]


@pytest.fixture
def client(sqlite_server: Server) -> httpx.Client:
    return sqlite_server.client()


def test_submit_watch_events_and_check_the_plan(
    client: httpx.Client, tiny_doc: dict[str, Any]
) -> None:
    flows.submit_watch_and_check(client, tiny_doc, optimum=1855)


def test_scenarios_are_stored_once_and_listed(client: httpx.Client, tiny_variant: Any) -> None:
    sid = flows.scenarios_are_stored_once(client, tiny_variant("stored-once"))
    flows.listing_filters_and_pages(client, sid)


def test_cancel_a_long_solve_and_the_solver_stops(
    client: httpx.Client, long_doc: dict[str, Any]
) -> None:
    final = flows.cancel_long_solve(client, long_doc)
    pid = int(final["worker"].rsplit("/", 1)[1])
    wait_for(lambda: not pid_alive(pid), 10, f"worker process {pid} to exit")


def test_cancel_a_queued_job(
    client: httpx.Client, long_doc: dict[str, Any], tiny_variant: Any
) -> None:
    # two long solves occupy both worker processes, so the third job waits in the queue
    blockers = [flows.submit(client, long_doc, time_limit=30, seed=s)["id"] for s in (1, 2)]
    flows.cancel_queued(client, tiny_variant("queued-then-cancelled"), blockers)


def test_invalid_requests_get_422_with_the_spec_errors(
    client: httpx.Client, tiny_doc: dict[str, Any]
) -> None:
    flows.invalid_requests(client, tiny_doc)


def test_too_large_gets_413(
    client: httpx.Client, sqlite_server: Server, tiny_doc: dict[str, Any]
) -> None:
    # a body over RDPLAN_MAX_BODY_BYTES (400 kB here), refused before it is read
    huge = {**tiny_doc, "name": "x" * 100, "padding": "y" * 500_000}
    r = client.post("/v1/solves", json={"scenario": huge})
    assert r.status_code == 413, r.text
    assert "RDPLAN_MAX_BODY_BYTES" in r.json()["detail"]

    # a streamed (chunked) body has no Content-Length: counted while it arrives
    def chunks() -> Any:
        for _ in range(100):
            yield b" " * 10_000

    r = client.post("/v1/scenarios", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text

    # more sites than RDPLAN_MAX_SITES (200 here)
    many = copy.deepcopy(tiny_doc)
    many["sites"] = [{**tiny_doc["sites"][1], "id": f"site{i}"} for i in range(201)]
    r = client.post("/v1/scenarios", json=many)
    assert r.status_code == 413, r.text
    assert r.json()["errors"] == [
        {
            "path": "sites",
            "message": "201 sites; this service accepts at most 200 (RDPLAN_MAX_SITES)",
        }
    ]

    # within every count, a model larger than RDPLAN_MAX_COLUMNS (20,000 here): 5,000 sites x
    # 50 years x 1,000 pools built 12.7 M columns, 15 s and 4 GB before any limit applied
    wide = copy.deepcopy(tiny_doc)
    wide["horizon"] = {"start": 2030, "end": 2079}
    wide["sites"] = [{**tiny_doc["sites"][0], "id": f"site{i}"} for i in range(200)]
    data = build_problem(parse_scenario(wide))
    columns = max(column_bound(data), column_bound(data, relaxed=True))
    assert columns > 20_000
    for path, body in (
        ("/v1/scenarios", wide),
        ("/v1/solves", {"scenario": wide}),
        ("/v1/validate", wide),
    ):
        r = client.post(path, json=body)
        assert r.status_code == 413, r.text
        assert r.json()["errors"] == [
            {
                "path": "",
                "message": f"its model would have {columns:,} columns; this service builds at most"
                " 20,000 (RDPLAN_MAX_COLUMNS): fewer sites, years or pools, narrower windows or"
                " a shorter reach",
            }
        ]


def test_api_keys(sqlite_server: Server, tiny_doc: dict[str, Any]) -> None:
    for key in (None, "wrong-key"):
        with sqlite_server.client(api_key=key) as anonymous:
            for method, path in (
                ("GET", "/v1/solves"),
                ("GET", "/v1/scenarios"),
                ("POST", "/v1/solves"),
            ):
                r = anonymous.request(
                    method, path, json={"scenario": tiny_doc} if method == "POST" else None
                )
                assert r.status_code == 401, (key, method, path, r.text)
                assert r.headers["www-authenticate"].startswith("Bearer")
            # FastAPI reads a body before it asks for the key: one it cannot read, or a bad
            # query, is still a 401 to a caller without a key, not a word about the request
            for method, path, body in (
                ("POST", "/v1/solves", b"{"),
                ("POST", "/v1/validate", b'{"scenario": "\xff"}'),
                ("GET", "/v1/solves?limit=many", None),
            ):
                r = anonymous.request(
                    method, path, content=body, headers={"content-type": "application/json"}
                )
                assert r.status_code == 401, (key, method, path, r.text)
            assert anonymous.get("/healthz").status_code == 200
            head = anonymous.head("/healthz")  # an uptime probe's HEAD (it was 405)
            assert head.status_code == 200 and head.content == b"", head
    with httpx.Client(
        base_url=sqlite_server.url, headers={"Authorization": "Bearer second-key"}
    ) as bearer:
        assert bearer.get("/v1/solves").status_code == 200
    with sqlite_server.client(api_key=API_KEY) as keyed:
        assert keyed.get("/v1/scenarios").status_code == 200
        # HEAD wherever GET is, without a body (it was 405 but on /healthz; RFC 9110)
        for path in ("/v1/scenarios", "/v1/solves", "/metrics", "/openapi.json"):
            head = keyed.head(path)
            assert head.status_code == 200 and head.content == b"", (path, head)


def test_openapi_documents_every_endpoint(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, methods in {
        "/v1/scenarios": {"get", "post"},
        "/v1/scenarios/{scenario_id}": {"get"},
        "/v1/solves": {"get", "post"},
        "/v1/solves/{job_id}": {"get", "delete"},
        "/v1/solves/{job_id}/events": {"get"},
        "/v1/solves/{job_id}/plan": {"get"},
        "/healthz": {"get"},
        "/metrics": {"get"},
    }.items():
        assert methods <= set(paths[path]), path
    post = paths["/v1/solves"]["post"]
    assert {"202", "413", "422"} <= set(post["responses"])
    # every operation's id its own: /healthz's GET and HEAD shared one (generated clients)
    ids = [op["operationId"] for methods in paths.values() for op in methods.values()]
    assert len(ids) == len(set(ids)), ids
    assert json.dumps(spec["components"]["schemas"]["SolveRequest"]).count("examples") >= 1


def test_a_method_a_path_does_not_take_gets_405_with_all_it_takes(client: httpx.Client) -> None:
    """Allow named the first route's methods alone (``POST`` for /v1/scenarios, which lists
    too; ``GET`` for a job, which is also cancelled by DELETE), and OPTIONS was a 405 (a QA
    pass); OPTIONS says what a path takes now."""
    for method, path, takes in (
        ("PUT", "/v1/scenarios", "GET, HEAD, OPTIONS, POST"),
        ("PATCH", "/v1/solves/j-0123456789abcdef", "DELETE, GET, HEAD, OPTIONS"),
        ("POST", "/v1/solves/j-0123456789abcdef/events", "GET, OPTIONS"),
        ("GET", "/v1/validate", "OPTIONS, POST"),
        ("DELETE", "/healthz", "GET, HEAD, OPTIONS"),
    ):
        r = client.request(method, path)
        assert r.status_code == 405 and r.headers["allow"] == takes, (method, path, r.text)
        assert r.json()["detail"] == f"{method} is not a method of {path}: it takes {takes}"
        options = client.options(path)
        assert options.status_code == 204 and options.headers["allow"] == takes, path
        assert options.content == b""
    assert client.options("/v1/nothing-here").status_code == 404


def test_openapi_documents_the_422_body_the_service_sends(client: httpx.Client) -> None:
    """Every 422 the OpenAPI document announces is the one error shape the service sends
    (``{"detail": str, "errors": [{"path", "message"}]}``), not FastAPI's default
    ``{"detail": [{"loc", "msg", "type"}]}``: a client generated from the schema reads it."""
    spec = client.get("/openapi.json").json()
    wrong = [
        f"{method.upper()} {path}"
        for path, methods in spec["paths"].items()
        for method, op in methods.items()
        if "422" in op["responses"]
        and op["responses"]["422"]["content"]["application/json"]["schema"]
        != {"$ref": "#/components/schemas/ErrorBody"}
    ]
    assert wrong == []
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    r = client.get("/v1/solves", params={"limit": 0})
    assert r.status_code == 422
    assert r.json() == {
        "detail": "invalid request: 1 error(s)",
        "errors": [
            {"path": "query.limit", "message": "Input should be greater than or equal to 1"}
        ],
    }


def test_a_body_not_sent_as_json_gets_415(client: httpx.Client, tiny_variant: Any) -> None:
    """``curl -d @tiny.json`` sends a form content type: the JSON body is then not read as JSON.
    The answer says so (415, the Content-Type to send) instead of a verdict on the bytes —
    ``/v1/validate`` called a valid scenario "not a JSON object", the others "not a valid
    dictionary" — and nothing is stored."""
    doc = tiny_variant("sent-as-form")
    body = json.dumps(doc).encode()
    before = client.get("/v1/scenarios").json()["total"]
    for path, content in (
        ("/v1/validate", body),
        ("/v1/scenarios", body),
        ("/v1/solves", json.dumps({"scenario": doc}).encode()),
        ("/v1/batches", json.dumps({"scenario": doc, "variants": [{"patch": {}}]}).encode()),
    ):
        for content_type in ("application/x-www-form-urlencoded", "text/plain", None):
            headers = {"content-type": content_type} if content_type else {}
            r = client.post(path, content=content, headers=headers)
            assert r.status_code == 415, (path, content_type, r.text)
            assert r.json()["errors"] == [
                {"path": "", "message": "send the body as JSON: Content-Type: application/json"}
            ], r.text
    assert client.get("/v1/scenarios").json()["total"] == before
    # JSON under another JSON media type is JSON; an empty body is no body
    r = client.post(
        "/v1/validate", content=body, headers={"content-type": "application/vnd.x+json"}
    )
    assert r.status_code == 200 and r.json()["valid"] is True, r.text
    r = client.post("/v1/validate", headers={"content-type": "text/plain"})
    assert r.status_code == 422, r.text  # not 415: no body, whatever its type
    assert r.json()["errors"] == [
        {"path": "", "message": "the body is empty: send a JSON document"}
    ]
    # A compressed body: "the body is not UTF-8 text" before (a QA pass); now 415, and why.
    r = client.post(
        "/v1/scenarios",
        content=gzip.compress(body),
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert r.status_code == 415, r.text
    assert "content encoding 'gzip'" in r.json()["detail"], r.text
    # also when the bytes happen to read as JSON (they were taken: a 60-s job was queued)
    for path, encoding in (
        ("/v1/scenarios", "gzip"),
        ("/v1/solves", "gzip"),
        ("/v1/validate", "br"),
    ):
        payload = (
            body if path != "/v1/solves" else json.dumps({"scenario": json.loads(body)}).encode()
        )
        r = client.post(
            path,
            content=payload,
            headers={"content-type": "application/json", "content-encoding": encoding},
        )
        assert r.status_code == 415, (path, r.text)
    r = client.post(
        "/v1/validate",
        content=body,
        headers={"content-type": "application/json", "content-encoding": "identity"},
    )
    assert r.status_code == 200 and r.json()["valid"] is True, r.text
    assert client.get("/v1/scenarios").json()["total"] == before
    spec = client.get("/openapi.json").json()
    assert "415" in spec["paths"]["/v1/solves"]["post"]["responses"]


def test_a_json_body_that_cannot_be_read_gets_422_at_the_document(client: httpx.Client) -> None:
    """Bytes that are not UTF-8, or JSON nested deeper than the parser goes, are no JSON
    document, like a syntax error: 422 at path "", not FastAPI's bare 400 "There was an error
    parsing the body" (with no errors, and a status the OpenAPI document does not list)."""
    for path in ("/v1/solves", "/v1/scenarios", "/v1/validate", "/v1/batches"):
        for body, message in (
            (b'{"scenario": "\xff\xfe"}', "not a JSON document: the body is not UTF-8 text"),
            (b"[" * 100_000 + b"]" * 100_000, "not a JSON document: it is nested too deeply"),
            # "Field required" at path "", and /v1/validate's 200 "must be a JSON object"
            (b"", "the body is empty: send a JSON document"),
        ):
            r = client.post(path, content=body, headers={"content-type": "application/json"})
            assert r.status_code == 422, (path, r.text)
            assert r.json()["errors"] == [{"path": "", "message": message}], r.text


def test_odd_json_is_named_at_its_field(client: httpx.Client, tiny_doc: dict[str, Any]) -> None:
    """JSON that Python reads oddly gets a 422 at the field: an integer longer than Python
    converts (4,300 digits: FastAPI's bare 400 before), NaN (not JSON; "greater than or
    equal to -90" before); and a horizon year out of range is the validation's 422, not a 413
    for a horizon "232 years" long."""
    huge = "1" + "0" * 4400
    for path, body, where in (
        ("/v1/scenarios", f'{{"schema_version": {huge}}}', "schema_version"),
        ("/v1/solves", f'{{"scenario_id": "x", "options": {{"seed": {huge}}}}}', "options.seed"),
    ):
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, (path, r.text)
        [error] = r.json()["errors"]
        assert error["path"] == where and "4,300 digits" in error["message"], r.text

    doc = copy.deepcopy(tiny_doc)
    # a literal past a double's range reads as Infinity: it was told it was not JSON
    for literal in ("NaN", "1" + "0" * 400 + ".5"):
        lat = f'"lat": {json.dumps(doc["sites"][0]["lat"])}'
        body = json.dumps(doc).replace(lat, f'"lat": {literal}', 1)
        r = client.post("/v1/validate", content=body, headers={"content-type": "application/json"})
        assert r.status_code == 200 and not r.json()["valid"], r.text
        assert {
            "path": "sites[0].lat",
            "message": "must be a finite JSON number: NaN and Infinity are not JSON, and a number"
            " past 1.8e308 is out of range",
        } in r.json()["errors"]

    # a key given twice: FastAPI kept the last value without a word (SPEC §2: nothing is
    # silently ignored); /v1/validate answers it as any JSON body, valid or not
    text = json.dumps(tiny_doc)
    twice = text.replace('"sites": [', '"sites": [], "sites": [', 1)
    said = "this key is given more than once in its object"
    r = client.post("/v1/scenarios", content=twice, headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "sites", r.text
    assert r.json()["errors"][0]["message"].startswith(said), r.text
    body = '{"scenario": ' + twice + ', "options": {"seed": 1, "seed": 2}}'
    r = client.post("/v1/solves", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert [e["path"] for e in r.json()["errors"]] == ["options.seed", "scenario.sites"], r.text
    r = client.post("/v1/validate", content=twice, headers={"content-type": "application/json"})
    assert r.status_code == 200 and not r.json()["valid"], r.text
    assert r.json()["errors"][0]["path"] == "sites", r.text

    r = client.post("/v1/scenarios", json={**tiny_doc, "horizon": {"start": 1800, "end": 2031}})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0] == {
        "path": "horizon.start",
        "message": "Input should be greater than or equal to 1900",
    }, r.text


def test_metrics_and_health(client: httpx.Client) -> None:
    flows.metrics_and_health(client, runner="local")


def test_server_killed_mid_solve(
    tmp_path: Path, tiny_doc: dict[str, Any], long_doc: dict[str, Any]
) -> None:
    """SIGKILL the server while it solves: its worker process exits too; after a restart the
    running job is failed with a reason, the queued job runs, and earlier plans are intact."""
    server = Server(tmp_path, service_env(workers=1, progress_interval=0.25))
    server.start()
    try:
        with server.client() as client:
            earlier = flows.submit(client, tiny_doc, time_limit=5)
            flows.wait_status(client, earlier["id"], {"done"})
            earlier_plan = flows.checked_plan(client, earlier["id"], tiny_doc)

            running = flows.submit(client, long_doc, time_limit=60)
            queued = flows.submit(client, {**tiny_doc, "name": "queued-at-the-crash"}, time_limit=5)
            worker = flows.wait_running_with_progress(client, running["id"])["worker"]
            assert flows.job(client, queued["id"])["status"] == "queued"

        server.kill()
        pid = int(worker.rsplit("/", 1)[1])
        wait_for(lambda: not pid_alive(pid), 15, f"the orphaned worker process {pid} to exit")

        server.start()
        with server.client() as client:
            failed = flows.job(client, running["id"])
            assert failed["status"] == "failed"
            assert failed["reason"] == "server restarted while the job was running"
            assert failed["finished_at"] is not None
            r = client.get(f"/v1/solves/{running['id']}/plan")
            assert r.status_code == 409 and "server restarted" in r.json()["detail"]

            assert flows.wait_status(client, queued["id"], {"done", "failed"})["status"] == "done"
            assert flows.checked_plan(client, earlier["id"], tiny_doc) == earlier_plan
            stored = client.get("/v1/scenarios").json()
            assert stored["total"] == 3
    finally:
        server.stop()


def test_a_server_shut_down_mid_solve_runs_the_job_again_after_its_restart(
    tmp_path: Path, tiny_doc: dict[str, Any], long_doc: dict[str, Any]
) -> None:
    """A redeploy (SIGTERM to the server and its worker processes, as systemd stops a unit)
    failed every running job (a QA pass: "every redeploy loses in-flight solves"). The job is
    queued again instead, and runs from the start once the server is back.

    A client following its events resumes with the last id it saw: the new run's points come
    from its first (they were numbered from 1 again, and a bare number skipped them)."""
    server = Server(tmp_path, service_env(workers=1, progress_interval=0.25))
    server.start()
    try:
        with server.client() as client:
            running = flows.submit(client, long_doc, time_limit=60)
            first = flows.wait_running_with_progress(client, running["id"])
            path = f"/v1/solves/{running['id']}/events"
            seen = []
            for event, event_id, _ in sse_events(client, path, timeout=30):
                if event == "progress":
                    seen.append(event_id)
                if len(seen) >= 2:
                    break
        server.stop()  # SIGTERM to the process group, then a wait
        server.start()
        with server.client() as client:
            again = flows.wait_running_with_progress(client, running["id"])
            assert again["worker"] != first["worker"], again
            assert again["started_at"] > first["started_at"], again
            resumed = []
            for event, event_id, data in sse_events(
                client, path, timeout=30, headers={"Last-Event-ID": seen[-1]}
            ):
                if event == "progress":
                    resumed.append((event_id, data))
                    break
            new_run, seq = resumed[0][0].rsplit("-", 1)
            assert new_run != seen[-1].rsplit("-", 1)[0] and seq == "1", (seen, resumed)
            assert resumed[0][1] == again["progress"][0], (resumed, again["progress"][:2])
            r = client.delete(f"/v1/solves/{running['id']}")
            assert r.status_code == 202, r.text
            ended = flows.wait_status(client, running["id"], flows.TERMINAL, timeout=60)
            assert ended["status"] == "cancelled", ended
    finally:
        server.stop()


def test_two_servers_on_one_database_leave_each_others_jobs_alone(
    tmp_path: Path, tiny_variant: Any, long_doc: dict[str, Any]
) -> None:
    """A second ``rdplan serve`` on the same database neither fails the first one's running
    job when it starts (it is not a restart of that server) nor fails a job the first one
    claimed before its own worker could: every job ends done, with its plan."""
    env = service_env(
        workers=1, progress_interval=0.25, database_url=f"sqlite:///{tmp_path / 'shared.db'}"
    )
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first, second = Server(tmp_path / "a", env), Server(tmp_path / "b", env)
    first.start()
    try:
        with first.client() as a:
            long = flows.submit(a, long_doc, time_limit=6)
            flows.wait_running_with_progress(a, long["id"])
            second.start()
            with second.client() as b:
                assert flows.job(b, long["id"])["status"] == "running"
                # both dispatchers see each of these queued: one claims it, the other must not
                # count its idle worker's exit against the job
                docs = [tiny_variant(f"shared-{i}") for i in range(8)]
                jobs = [flows.submit((a, b)[i % 2], d, time_limit=5) for i, d in enumerate(docs)]
                for submitted, doc in zip(jobs, docs, strict=True):
                    final = flows.wait_status(b, submitted["id"], {"done", "failed"}, timeout=120)
                    assert final["status"] == "done", final
                    flows.checked_plan(a, submitted["id"], doc)
            final = flows.wait_status(a, long["id"], {"done", "failed"}, timeout=120)
            assert final["status"] == "done", final  # with whatever plan 6 s gave
    finally:
        second.stop()
        first.stop()


def test_health_says_when_the_broker_does_not_answer(tmp_path: Path) -> None:
    """A server whose broker is down answered every solve 503 while /healthz said only "ok"
    (a QA pass). It says so now, and stays 200: the server and its database are up."""
    env = service_env(
        database_url=f"sqlite:///{tmp_path / 'b.db'}", broker_url="redis://127.0.0.1:1/0"
    )
    with Server(tmp_path, env).running() as server, server.client() as client:
        r = client.get("/healthz")
        assert r.status_code == 200, r.text
        h = r.json()
        assert (h["status"], h["runner"]) == ("ok", "celery"), h
        assert h["broker"].startswith("unavailable: "), h
        assert h["workers"] is None, h  # no ping answered, not "no worker"


def test_a_submission_the_queue_refuses_stores_nothing(
    tmp_path: Path, tiny_doc: dict[str, Any]
) -> None:
    """A solve or a batch that the broker refused answered 503 without an id, and yet its
    jobs (and the batch, ``done``) were stored as failed, listed to every client (a QA pass):
    nothing is stored now, and the 503 says so."""
    env = service_env(
        database_url=f"sqlite:///{tmp_path / 'q.db'}", broker_url="redis://127.0.0.1:1/0"
    )
    with Server(tmp_path, env).running() as server, server.client() as client:
        for path, body in (
            ("/v1/solves", {"scenario": tiny_doc}),
            ("/v1/batches", {"scenario": tiny_doc, "grid": {"objective.training": [0, 2]}}),
        ):
            r = client.post(path, json=body)
            assert r.status_code == 503, r.text
            assert r.json()["detail"].startswith("the job queue is unavailable: "), r.text
            assert "nothing was submitted" in r.json()["detail"]
        assert client.get("/v1/solves").json()["items"] == []
        assert client.get("/v1/batches").json()["items"] == []


def test_a_stored_scenario_over_a_lower_column_limit_is_refused_by_id(
    tmp_path: Path, tiny_doc: dict[str, Any]
) -> None:
    """A scenario stored under a larger RDPLAN_MAX_COLUMNS (or before there was one) was
    solved by id past the limit, while the same document inline got 413 (a review)."""
    gen200 = json.loads(
        (Path(__file__).parents[2] / "instances/generated/gen-200.json").read_text()
    )
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    lax = Server(tmp_path, service_env(database_url=url, workers=1))
    with lax.running() as server, server.client() as client:
        sid = client.post("/v1/scenarios", json=gen200).json()["id"]
    strict = service_env(database_url=url, workers=1, max_columns=2_000)
    with Server(tmp_path, strict).running() as server, server.client() as client:
        for body in ({"scenario_id": sid}, {"scenario": gen200}):
            r = client.post("/v1/solves", json=body)
            assert r.status_code == 413, r.text
            assert "RDPLAN_MAX_COLUMNS" in r.json()["errors"][0]["message"], r.text
        assert client.get("/v1/solves").json()["total"] == 0
