"""``/healthz`` (liveness and database) and ``/metrics`` (Prometheus); both without API keys."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import RunnerDep, StorageDep
from api.metrics import render
from api.schemas import Health, Workers

router = APIRouter(tags=["service"])

try:
    VERSION = version("rdplan")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    VERSION = "0+unknown"


@router.get(
    "/healthz",  # HEAD too (api.middleware.HeadAsGet): probes that ask for no body
    response_model=Health,
    responses={503: {"model": Health, "description": "the database does not answer"}},
)
def healthz(storage: StorageDep, runner: RunnerDep) -> Response:
    try:
        storage.ping()
        database, status, code = "ok", "ok", 200
    except Exception as exc:
        database, status, code = f"unavailable: {type(exc).__name__}", "degraded", 503
    body = Health(
        status=status,  # type: ignore[arg-type]
        database=database,
        runner=runner.name,
        broker=runner.broker_state(),
        workers=None
        if (seen := runner.workers_seen()) is None
        else Workers(names=seen[0], checked_at=seen[1]),
        version=VERSION,
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=code)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
            "description": "Prometheus text format",
        }
    },
)
def metrics(request: Request) -> Response:
    """Jobs by status (``rdplan_jobs``) and the solve-time histogram (``rdplan_solve_seconds``)."""
    return Response(render(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)
