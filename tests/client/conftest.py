"""Fixtures of the client tests: scenarios, and a real ``rdplan serve`` on SQLite.

The server is a real process on a free loopback port in a temporary working
directory (its SQLite database lives there), with API keys on, so the client's
``X-API-Key`` header is exercised by every call.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib
import pytest

from api.client import Planner, Scenario
from tests.api.service import CLEAN_ENV, Server

matplotlib.use("Agg")  # headless: every plot renders to PNG

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
INSTANCES = ROOT / "instances"
API_KEY = "client-key-" + secrets.token_hex(4)

SERVER_SETTINGS: dict[str, Any] = {
    "workers": 2,  # the notebook's batch runs two solves at a time, as on the shared 2-core machine
    "api_keys": API_KEY,
    "max_time_limit": 120,  # the notebook retries a base solve that found nothing with 2 × 30 s
    "default_time_limit": 10,
    "default_threads": 1,
    "progress_interval": 0.25,
    "cancel_grace": 10,
}


def service_env(**settings: Any) -> dict[str, str]:
    """A clean environment with the service's settings, importing this checkout."""
    env = dict(CLEAN_ENV)
    env.update({f"RDPLAN_{k.upper()}": str(v) for k, v in settings.items()})
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


@pytest.fixture(scope="session")
def tiny() -> Scenario:
    """The SPEC's tiny scenario (optimum 1855, proved in milliseconds)."""
    return Scenario.load(DATA / "tiny.json")


@pytest.fixture(scope="session")
def pilot() -> Scenario:
    """``kimhwa-pilot``: 16 Kangwon sites over 4 years with crews, cement and training; optimal in
    well under a second, big enough that every DataFrame has several rows."""
    return Scenario.load(INSTANCES / "kimhwa-pilot.json")


@pytest.fixture(scope="session")
def national() -> Scenario:
    """The national 177-site scenario: one thread does not prove it for minutes, so a solve
    of it runs until its time limit or until cancelled."""
    return Scenario.load(INSTANCES / "national-20x10.json")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``rdplan serve`` with SQLite in a temporary directory, two worker processes, API keys on."""
    workdir = tmp_path_factory.mktemp("client-server")
    srv = Server(workdir, service_env(**SERVER_SETTINGS), api_key=API_KEY)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def planner(server: Server) -> Iterator[Planner]:
    """A client of the test server (with its API key)."""
    with Planner(server.url, api_key=API_KEY, poll_interval=0.2) as p:
        yield p
