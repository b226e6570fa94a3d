"""``/v1/solves``: solve jobs — submit, watch (status, server-sent events), fetch the plan, cancel."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from anyio import sleep, to_thread
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sse_starlette.sse import EventSourceResponse

from api.deps import RunnerDep, SettingsDep, StorageDep, require_api_key
from api.errors import ApiError
from api.models import JobRow
from api.routes.scenarios import Limit, Offset, check_limits, validated
from api.schemas import (
    SCENARIO_ID_PATTERN,
    ErrorBody,
    JobOut,
    JobPage,
    JobStatus,
    ProgressOut,
    SolveRequest,
)
from api.settings import Settings
from api.storage import QUEUED, RUNNING, TERMINAL, Storage
from solver.cli import builds_csv

router = APIRouter(
    prefix="/v1/solves",
    tags=["solves"],
    dependencies=[Depends(require_api_key)],
    responses={
        401: {
            "model": ErrorBody,
            "description": "API keys are on and none (or a wrong one) was sent",
        }
    },
)

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such job"}
}


def _options(req: SolveRequest, settings: Settings) -> dict[str, Any]:
    opts = req.options
    time_limit = (
        opts.time_limit
        if opts.time_limit is not None
        else min(settings.default_time_limit, settings.max_time_limit)
    )
    threads = (
        opts.threads
        if opts.threads is not None
        else min(settings.default_threads, settings.max_threads)
    )
    errors = []
    if time_limit > settings.max_time_limit:
        errors.append(
            {
                "path": "options.time_limit",
                "message": f"{time_limit:g} s is over this service's limit of {settings.max_time_limit:g} s (RDPLAN_MAX_TIME_LIMIT)",
            }
        )
    if threads > settings.max_threads:
        errors.append(
            {
                "path": "options.threads",
                "message": f"{threads} threads is over this service's limit of {settings.max_threads}",
            }
        )
    if errors:
        raise ApiError(422, "solve options over the service's limits", errors)
    return {
        "backend": opts.backend,
        "time_limit": time_limit,
        "threads": threads,
        "seed": opts.seed,
    }


def _job(storage: Storage, job_id: uuid.UUID) -> JobRow:
    job = storage.get_job(str(job_id))
    if job is None:
        raise ApiError(404, f"no solve job {job_id}")
    return job


@router.post(
    "",
    status_code=202,
    response_model=JobOut,
    response_model_exclude_none=False,
    summary="Submit a solve job",
    responses={
        413: {"model": ErrorBody, "description": "body or scenario over the service's limits"},
        422: {
            "model": ErrorBody,
            "description": "invalid request or scenario: every error with its path",
        },
        503: {"model": ErrorBody, "description": "the job queue (broker) is unavailable"},
    },
)
async def submit(
    req: SolveRequest,
    response: Response,
    settings: SettingsDep,
    storage: StorageDep,
    runner: RunnerDep,
) -> JobOut:
    """Accept a solve at once (202, status ``queued``); a worker runs it. Send a scenario
    document (stored once, by content hash) or the id of a stored scenario. Scenario errors
    keep the SPEC paths of the document (``sites[0].region``)."""
    if (req.scenario is None) == (req.scenario_id is None):
        raise ApiError(
            422,
            "give exactly one of 'scenario' and 'scenario_id'",
            [
                {
                    "path": "scenario",
                    "message": "exactly one of 'scenario' and 'scenario_id' is required",
                }
            ],
        )
    options = _options(req, settings)
    if req.scenario is not None:
        scenario = await validated(req.scenario, settings)
        row, _ = await to_thread.run_sync(storage.add_scenario, scenario)
    else:
        assert req.scenario_id is not None
        found = await to_thread.run_sync(storage.get_scenario, req.scenario_id)
        if found is None:
            raise ApiError(
                422,
                "unknown scenario_id",
                [{"path": "scenario_id", "message": f"no stored scenario {req.scenario_id}"}],
            )
        row = found
        check_limits(settings, row.num_sites, row.num_years, row.num_crew_pools)
    job = await to_thread.run_sync(storage.create_job, row.id, options)
    try:
        await to_thread.run_sync(runner.submit, job.id)
    except Exception as exc:
        await to_thread.run_sync(storage.set_failed, job.id, f"could not queue the job: {exc}")
        raise ApiError(503, f"the job queue is unavailable: {exc}") from None
    response.headers["Location"] = f"/v1/solves/{job.id}"
    return JobOut.of(job)


@router.get("", response_model=JobPage, summary="List solve jobs (newest first)")
def list_solves(
    storage: StorageDep,
    status: Annotated[JobStatus | None, Query(description="only jobs with this status")] = None,
    scenario: Annotated[
        str | None, Query(pattern=SCENARIO_ID_PATTERN, description="only jobs of this scenario id")
    ] = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> JobPage:
    rows, total = storage.list_jobs(status, scenario, limit, offset)
    return JobPage(items=[JobOut.of(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get(
    "/{job_id}",
    response_model=JobOut,
    summary="A job's status and progress history",
    responses=NOT_FOUND,
)
def get_solve(job_id: uuid.UUID, storage: StorageDep) -> JobOut:
    """Status (``queued|running|done|failed|cancelled``), the reason of a failure or
    cancellation, the plan's headline once done, and every incumbent/bound/gap so far."""
    job = _job(storage, job_id)
    return JobOut.of(job, storage.progress(job.id))


@router.get(
    "/{job_id}/events",
    summary="Progress as server-sent events",
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "`status` events on every change of status, `progress` events "
            "(id = sequence number) with incumbent/bound/gap; ends after the final status",
        },
        **NOT_FOUND,
    },
)
async def solve_events(
    job_id: uuid.UUID,
    request: Request,
    settings: SettingsDep,
    storage: StorageDep,
    last_event_id: Annotated[
        str | None, Header(description="resume after this progress event")
    ] = None,
) -> EventSourceResponse:
    """Streams ``status`` and ``progress`` events until the job ends; the last event is the
    final ``status``. Reconnecting with ``Last-Event-ID`` skips progress already seen."""
    await to_thread.run_sync(_job, storage, job_id)
    after = (
        int(last_event_id)
        if last_event_id and last_event_id.isdigit() and len(last_event_id) < 10
        else 0
    )

    async def events() -> AsyncIterator[dict[str, str]]:
        seq, last_status = after, None
        while True:
            job = await to_thread.run_sync(storage.get_job, str(job_id))
            if job is None:
                return
            # status first, then progress: a job's last progress rows are written before its end
            for p in await to_thread.run_sync(storage.progress, job.id, seq):
                seq = p.seq
                yield {
                    "event": "progress",
                    "id": str(p.seq),
                    "data": ProgressOut.of(p).model_dump_json(),
                }
            if job.status != last_status:
                last_status = job.status
                yield {"event": "status", "data": JobOut.of(job).model_dump_json()}
            if job.status in TERMINAL:
                return
            if await request.is_disconnected():
                return
            await sleep(settings.sse_poll_interval)

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store"})


@router.get(
    "/{job_id}/plan",
    summary="The plan document (SPEC §4), or its builds as CSV",
    responses={
        200: {
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/csv": {"schema": {"type": "string"}},
            },
            "description": "the plan document; `?format=csv`: one row per build",
        },
        409: {
            "model": ErrorBody,
            "description": "the job has no plan (yet): still running, failed or cancelled early",
        },
        **NOT_FOUND,
    },
    response_model=None,
)
def get_plan(
    job_id: uuid.UUID,
    storage: StorageDep,
    format: Annotated[
        Literal["json", "csv"], Query(description="json: plan document; csv: builds")
    ] = "json",
) -> Response:
    """The checked plan of a finished job (also of a cancelled job that had found one)."""
    job = _job(storage, job_id)
    if job.plan is None:
        if job.status in (QUEUED, RUNNING):
            raise ApiError(409, f"the job is {job.status}: its plan is not ready yet")
        raise ApiError(
            409,
            f"the job is {job.status} without a plan" + (f": {job.reason}" if job.reason else ""),
        )
    if format == "csv":
        return PlainTextResponse(
            builds_csv(job.plan),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{job.id}-builds.csv"'},
        )
    return JSONResponse(job.plan)


@router.delete(
    "/{job_id}",
    status_code=202,
    response_model=JobOut,
    summary="Cancel a queued or running job",
    responses={409: {"model": ErrorBody, "description": "the job has already ended"}, **NOT_FOUND},
)
def cancel_solve(job_id: uuid.UUID, storage: StorageDep, runner: RunnerDep) -> JobOut:
    """A queued job is cancelled at once; a running one is asked to stop — its solver stops
    within about a second (killed after RDPLAN_CANCEL_GRACE seconds) and the job ends
    ``cancelled``, keeping the best plan found so far. Watch it with GET or the events."""
    job = storage.request_cancel(str(job_id))
    if job is None:
        raise ApiError(404, f"no solve job {job_id}")
    if job.status in ("done", "failed"):
        raise ApiError(409, f"the job has already ended ({job.status})")
    runner.cancelled(job.id)
    return JobOut.of(job)
