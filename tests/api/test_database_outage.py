"""The database going away under a running service, for real: ``rdplan serve`` on a
PostgreSQL database of its own, whose connections are cut and refused for a while (no mocks).

Every data endpoint answered 500, with a traceback in the log per request (a QA pass). It is
a 503 that says the database is unavailable now, /healthz says ``degraded``, and once the
database answers again the service goes on with everything it had stored.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api import flows
from tests.api.conftest import API_KEY, PG_ADMIN_URL, service_env
from tests.api.service import Server, wait_for

pytestmark = [pytest.mark.service, pytest.mark.timeout(180)]


def _connections(database: str, allowed: bool) -> None:
    """Refuse (or allow again) new connections to ``database``, and cut those it has."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )


@pytest.fixture
def server(pg_url: str, tmp_path: Path) -> Iterator[Server]:
    env = service_env(database_url=pg_url, api_keys=API_KEY, workers=1)
    with Server(tmp_path, env, api_key=API_KEY).running() as s:
        yield s


def test_a_database_that_stops_answering_gets_503_and_nothing_is_lost(
    server: Server, pg_url: str, tiny_doc: dict[str, Any]
) -> None:
    database = pg_url.rsplit("/", 1)[1]
    client = server.client()
    done = flows.submit(client, tiny_doc, time_limit=10)
    assert flows.wait_status(client, done["id"], flows.TERMINAL)["status"] == "done"
    _connections(database, allowed=False)
    try:
        for method, path, body in (
            ("GET", "/v1/solves", None),
            ("GET", "/v1/scenarios", None),
            ("GET", f"/v1/solves/{done['id']}", None),
            ("GET", f"/v1/solves/{done['id']}/plan", None),
            ("POST", "/v1/solves", {"scenario": tiny_doc}),
            ("DELETE", f"/v1/solves/{done['id']}", None),
        ):
            r = client.request(method, path, json=body)
            assert r.status_code == 503, (method, path, r.text)
            assert r.json()["detail"].startswith("the database is unavailable"), r.text
            assert r.headers["retry-after"] == "5"
        assert client.get("/healthz").status_code == 503
        time.sleep(2)  # the dispatcher's steps meet the outage too: a line each, no traceback
    finally:
        _connections(database, allowed=True)
    # back: what was stored before is all there, and the service takes new jobs again
    wait_for(lambda: client.get("/healthz").status_code == 200, 30, "/healthz ok")
    assert flows.job(client, done["id"])["status"] == "done"
    assert client.get(f"/v1/solves/{done['id']}/plan").json()["objective"] == 1855
    again = flows.submit(client, tiny_doc, time_limit=10)
    assert flows.wait_status(client, again["id"], flows.TERMINAL)["status"] == "done"
    assert "Traceback" not in server.log_tail(400)


def test_a_solve_that_ends_while_the_database_is_down_keeps_its_plan(
    server: Server, pg_url: str, long_doc: dict[str, Any]
) -> None:
    """The result's write failed once, the worker process died with a traceback and the plan
    was lost; the job read ``running`` until the heartbeat rule failed it (a QA pass). The
    write is tried again until the database answers."""
    database = pg_url.rsplit("/", 1)[1]
    client = server.client()
    job = flows.submit(client, long_doc, time_limit=4, backend="cpsat")
    flows.wait_running_with_progress(client, job["id"])
    _connections(database, allowed=False)
    try:
        time.sleep(8)  # the solve's 4 s end in it
    finally:
        _connections(database, allowed=True)
    ended = flows.wait_status(client, job["id"], flows.TERMINAL, timeout=60)
    assert ended["status"] == "done", ended
    # the solve's own document, written after the outage (CP-SAT on one thread has no plan
    # of national-20x10 in 4 s: its status is unknown, and the document says how it ran)
    plan = client.get(f"/v1/solves/{job['id']}/plan").json()
    assert plan["solver"]["backend"] == "cpsat" and plan["solver"]["seconds"] >= 3.5, plan
    assert "Traceback" not in server.log_tail(400)


def test_an_sqlite_file_deleted_under_the_server_is_a_degraded_health(tmp_path: Path) -> None:
    """/healthz ran ``SELECT 1``, which a pooled connection to the deleted file answered: 200
    ok while every new connection found no tables and new jobs stayed queued (a QA pass).
    Submissions were taken too (202), written to the deleted file by a pooled connection and
    lost, and a worker's new connection made an empty file (a second QA pass): every request
    is a 503 now, and no file is made."""
    db = tmp_path / "gone.db"
    env = service_env(database_url=f"sqlite:///{db}", workers=1)
    with Server(tmp_path, env).running() as server, server.client() as client:
        assert client.get("/healthz").status_code == 200
        done = flows.submit(client, _tiny(), time_limit=10)
        assert flows.wait_status(client, done["id"], flows.TERMINAL)["status"] == "done"
        db.unlink()  # the file alone, as `rm rdplan.db` does (its -wal and -shm stay)
        r = client.get("/healthz")
        assert r.status_code == 503 and r.json()["status"] == "degraded", r.text
        for method, path, body in (
            ("POST", "/v1/solves", {"scenario": _tiny(), "options": {"time_limit": 5}}),
            ("GET", "/v1/solves", None),
            ("GET", f"/v1/solves/{done['id']}", None),
        ):
            r = client.request(method, path, json=body)
            assert r.status_code == 503, (method, path, r.text)
            assert r.json()["detail"].startswith("the database is unavailable"), r.text
        time.sleep(1.5)  # the dispatcher and the worker meet it too: no file made
        assert not db.exists()
        assert "Traceback" not in server.log_tail(400)


def _tiny() -> dict[str, Any]:
    from tests.conftest import load

    return load("conformance/tiny")


def test_a_statement_that_is_wrong_is_no_outage(tmp_path: Path) -> None:
    """SQLite says "no such column" with the OperationalError it uses for a locked file: a
    column dropped from under the service read as "the database is unavailable", a 503 to
    retry for ever and no traceback (a review). Only what passes is an outage."""
    import sqlalchemy as sa

    from api.storage import is_outage

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn, pytest.raises(sa.exc.OperationalError) as wrong:
        conn.execute(sa.text("SELECT nothing FROM nowhere"))
    assert not is_outage(wrong.value)
    locked = sa.exc.OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))
    assert is_outage(locked)
    engine.dispose()
