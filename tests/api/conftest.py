"""Fixtures of the service tests: scenarios, a real server on SQLite, PostgreSQL and Redis.

Every service here is a real process on a free loopback port in a temporary
working directory, with only the ``RDPLAN_*`` variables the test sets.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.service import CLEAN_ENV, Server

DATA = Path(__file__).resolve().parents[1] / "data"
API_KEY = "test-key-" + secrets.token_hex(4)
PG_ADMIN_URL = os.environ.get("RDPLAN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("RDPLAN_TEST_REDIS", "redis://127.0.0.1:6379")
#: In CI a missing PostgreSQL or Redis is a failure, not a skip.
REQUIRE_SERVICES = (
    bool(os.environ.get("CI")) or os.environ.get("RDPLAN_TEST_REQUIRE_SERVICES") == "1"
)


def service_env(**settings: Any) -> dict[str, str]:
    """The environment of a service process: the test's settings on a clean environment."""
    env = dict(CLEAN_ENV)
    env.update({f"RDPLAN_{k.upper()}": str(v) for k, v in settings.items()})
    env["PYTHONUNBUFFERED"] = "1"
    # the service must import this checkout even when run from a temporary directory
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(DATA.parents[1]), env.get("PYTHONPATH", "")) if p
    )
    return env


@pytest.fixture(scope="session")
def tiny_doc() -> dict[str, Any]:
    """The SPEC's tiny scenario (optimum 1855, proved in milliseconds)."""
    doc: dict[str, Any] = json.loads((DATA / "tiny.json").read_text())
    return doc


@pytest.fixture(scope="session")
def long_doc() -> dict[str, Any]:
    """The national 177-site scenario: CP-SAT on one thread does not prove it for minutes,
    so a solve of it runs until cancelled or until its time limit."""
    doc: dict[str, Any] = json.loads((DATA / "national-20x10.json").read_text())
    return doc


@pytest.fixture
def tiny_variant(tiny_doc: dict[str, Any]) -> Any:
    """A factory of distinct tiny scenarios (another name, another content hash)."""

    def make(name: str) -> dict[str, Any]:
        doc = copy.deepcopy(tiny_doc)
        doc["name"] = name
        return doc

    return make


SQLITE_SETTINGS: dict[str, Any] = {
    "workers": 2,
    "api_keys": f"{API_KEY},second-key",
    "max_body_bytes": 400_000,
    "max_sites": 200,
    "max_columns": 20_000,  # national-20x10: 9,756 at most
    "max_time_limit": 60,
    "default_time_limit": 5,
    "progress_interval": 0.25,
    "cancel_grace": 10,
}


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``rdplan serve`` on the embedded defaults (SQLite in its working directory, worker
    processes), with API keys on and small limits so that 413 is cheap to provoke."""
    workdir = tmp_path_factory.mktemp("sqlite-server")
    with Server(workdir, service_env(**SQLITE_SETTINGS), api_key=API_KEY).running() as server:
        yield server


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this module, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    name = "rdplan_test_" + secrets.token_hex(6)
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if REQUIRE_SERVICES:
            raise
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def broker_url() -> Iterator[str]:
    """A Redis database of its own for this module's Celery messages: one of 1..15 that holds
    no key (another user's data is never flushed), flushed after the module."""
    redis = pytest.importorskip("redis")
    admin = redis.Redis.from_url(f"{REDIS_URL}/0", socket_connect_timeout=5)
    try:
        used = {int(k.removeprefix("db")) for k in admin.info("keyspace")}
    except redis.exceptions.ConnectionError as exc:
        if REQUIRE_SERVICES:
            raise
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    finally:
        admin.close()
    free = [db for db in range(1, 16) if db not in used]
    if not free:
        pytest.fail(f"every Redis database 1..15 at {REDIS_URL} holds keys: none free for the test")
    url = f"{REDIS_URL}/{free[secrets.randbelow(len(free))]}"
    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
