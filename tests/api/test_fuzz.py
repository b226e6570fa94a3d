"""OpenAPI-driven fuzzing (schemathesis) of a live server: no request may get a 5xx.

Bounded: a fixed number of generated cases per operation, derandomized, on a
server that caps solves at 1 s on one worker process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.api.conftest import service_env
from tests.api.service import Server

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402

pytestmark = [pytest.mark.service, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose solves are tiny: 1 s at most, one at a time, 50 sites at most."""
    env = service_env(
        workers=1,
        max_time_limit=1,
        default_time_limit=1,
        max_body_bytes=200_000,
        max_sites=50,
        max_years=10,
        max_crew_pools=10,
    )
    with Server(tmp_path_factory.mktemp("fuzz"), env).running() as server:
        yield server


@pytest.fixture(scope="module")
def api_schema(fuzz_server: Server) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()  # type: ignore[untyped-decorator]
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: Any) -> None:
    if case.path.endswith("/events"):
        # an event stream of a real job would hold the connection until the job ends
        case.headers = {**(case.headers or {}), "Accept": "text/event-stream"}
    response = case.call(timeout=30)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:500]}"
    )
    case.validate_response(response, checks=[not_a_server_error])
