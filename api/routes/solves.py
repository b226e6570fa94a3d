"""``/v1/solves``: solve jobs — submit (re-plans too), watch (status, server-sent events), fetch
the plan, compare two plans, cancel."""

from __future__ import annotations

import uuid
import zlib
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from anyio import sleep, to_thread
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sse_starlette.sse import EventSourceResponse

from api.deps import (
    NOT_JSON,
    V1_RESPONSES,
    JsonRoute,
    RunnerDep,
    SettingsDep,
    StorageDep,
    require_api_key,
    require_json_body,
)
from api.errors import ApiError
from api.models import JobRow, ScenarioRow
from api.options import OVER_LIMITS, ReplanError, SolveOptions, over_limits, replan_options
from api.options import replanned as options_replanned
from api.routes.scenarios import (
    Limit,
    Offset,
    check_limits,
    check_model_size,
    rough_columns,
    validated,
)
from api.runners import Runner
from api.schemas import (
    SCENARIO_ID_PATTERN,
    ErrorBody,
    JobOut,
    JobPage,
    JobStatus,
    PlanDiff,
    ProgressOut,
    SolveRequest,
)
from api.settings import Settings
from api.states import DONE, FAILED, QUEUED, RUNNING, TERMINAL
from api.storage import Storage
from solver.cli import builds_csv
from solver.diff import NoBuildsError, diff_plans
from solver.plan import PLAN_STATUSES
from solver.scenario import Scenario, ScenarioError, parse_scenario

router = APIRouter(
    route_class=JsonRoute,
    prefix="/v1/solves",
    tags=["solves"],
    dependencies=[Depends(require_api_key)],
    responses=V1_RESPONSES,
)

NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "no such job"}
}


#: The id of a job's final ``status`` event (``GET /v1/solves/{id}/events``).
FINAL_EVENT = "final"


def job_options(opts: SolveOptions, settings: Settings) -> dict[str, Any]:
    """The stored options of a job (service defaults filled in); 422 over the limits."""
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
    errors = over_limits(threads, settings.max_threads, time_limit, settings.max_time_limit)
    if errors:
        raise ApiError(422, OVER_LIMITS, errors)
    stored: dict[str, Any] = {
        "backend": opts.backend,
        "time_limit": time_limit,
        "threads": threads,
        "seed": opts.seed,
    }
    if opts.gap > 0:
        stored["gap"] = opts.gap
    return stored


def _job(storage: Storage, job_id: uuid.UUID) -> JobRow:
    job = storage.get_job(str(job_id))
    if job is None:
        raise ApiError(404, f"no solve job {job_id}")
    return job


def _plan(job: JobRow) -> dict[str, Any]:
    """The job's plan document; 409 while it has none."""
    if job.plan is None:
        if job.status in (QUEUED, RUNNING):
            raise ApiError(409, f"job {job.id} is {job.status}: its plan is not ready yet")
        raise ApiError(
            409,
            f"job {job.id} is {job.status} without a plan"
            + (f": {job.reason}" if job.reason else ""),
        )
    return job.plan


def _no_builds(job: JobRow, status: Any, what: str) -> ApiError:
    """409: the job's plan is a verdict (``infeasible``, ``unknown``) with no builds to
    ``what``; answered as a plan that builds nothing it would read as one."""
    return ApiError(
        409, f"job {job.id} is {job.status} and its plan is {status}: it has no builds to {what}"
    )


# -- re-planning -------------------------------------------------------------


def _unprocessable(detail: str, path: str, message: str) -> ApiError:
    return ApiError(422, detail, [{"path": path, "message": message}])


def baseline_plan(opts: SolveOptions, storage: Storage) -> dict[str, Any] | None:
    """The baseline plan document named by the options (``None``: no re-plan against a plan)."""
    if opts.baseline is not None and opts.baseline_solve_id is not None:
        raise _unprocessable(
            "two baselines",
            "options.baseline",
            "give at most one of 'baseline' and 'baseline_solve_id'",
        )
    if opts.baseline is not None:
        builds = opts.baseline.get("builds")
        if not isinstance(builds, list):
            raise _unprocessable(
                "invalid baseline plan",
                "options.baseline.builds",
                "a baseline plan document needs a list of builds",
            )
        errors = [
            {
                "path": f"options.baseline.builds[{i}]",
                "message": "each build needs 'site' and 'option' (strings) and 'year' (an integer)",
            }
            for i, b in enumerate(builds)
            if not (
                isinstance(b, dict)
                and isinstance(b.get("site"), str)
                and isinstance(b.get("option"), str)
                and type(b.get("year")) is int
            )
        ]
        if errors:
            raise ApiError(422, f"invalid baseline plan: {len(errors)} error(s)", errors)
        return opts.baseline
    if opts.baseline_solve_id is None:
        return None
    job = storage.get_job(str(opts.baseline_solve_id))
    path = "options.baseline_solve_id"
    if job is None:
        raise _unprocessable("unknown baseline job", path, f"no solve job {opts.baseline_solve_id}")
    if job.plan is None:
        state = "not finished" if job.status in (QUEUED, RUNNING) else job.status
        raise _unprocessable(
            "the baseline job has no plan", path, f"job {job.id} is {state} and has no plan"
        )
    if job.plan.get("status") not in PLAN_STATUSES:
        raise _unprocessable(
            "the baseline job has no plan",
            path,
            f"the plan of job {job.id} is {job.plan.get('status')}: it has no builds to keep",
        )
    return job.plan


def start_options(opts: SolveOptions, storage: Storage) -> dict[str, Any]:
    """The stored option of a warm start from another job (``{}`` without one); 422 when that
    job is unknown, ended without a plan, or comes with a re-plan's baseline (which is the
    re-plan's warm start already)."""
    if opts.start_solve_id is None:
        return {}
    path = "options.start_solve_id"
    if opts.baseline is not None or opts.baseline_solve_id is not None:
        raise _unprocessable(
            "two warm starts",
            path,
            "a re-plan starts from its baseline: give start_solve_id or a baseline, not both",
        )
    job = storage.get_job(str(opts.start_solve_id))
    if job is None:
        raise _unprocessable("unknown start job", path, f"no solve job {opts.start_solve_id}")
    if job.status in TERMINAL and (job.plan is None or job.plan.get("status") not in PLAN_STATUSES):
        state = job.status if job.plan is None else f"{job.status} ({job.plan.get('status')})"
        raise _unprocessable(
            "the start job has no plan", path, f"job {job.id} is {state} and has no plan"
        )
    return {"start_solve_id": job.id, "start_wait": opts.start_wait}


def replanned(scenario: Scenario, plan: dict[str, Any] | None, opts: SolveOptions) -> Scenario:
    """``scenario`` re-planned against ``plan`` (or its own baseline), frozen through
    ``opts.freeze_through``; 422 with paths when that is impossible
    (:func:`api.options.replanned`)."""
    try:
        return options_replanned(scenario, plan, opts)
    except ReplanError as exc:
        raise ApiError(422, exc.detail, exc.errors) from None


def stored_row(storage: Storage, scenario: ScenarioRow | Scenario) -> ScenarioRow:
    """The stored row of ``scenario`` (a validated one is stored now)."""
    return scenario if isinstance(scenario, ScenarioRow) else storage.add_scenario(scenario)[0]


def planned_job(
    storage: Storage,
    base: ScenarioRow | Scenario,
    plan: dict[str, Any] | None,
    opts: SolveOptions,
    options: dict[str, Any],
) -> tuple[str, dict[str, Any]]:
    """The scenario id and options of a job on ``base`` (a stored scenario, or a validated one,
    stored here once its re-plan holds: a refused request stores nothing). A re-plan stores the
    re-planned scenario and runs on it: its ``baseline`` is the solver's warm start."""
    if plan is None and opts.freeze_through is None:
        return stored_row(storage, base).id, options
    scenario = base if isinstance(base, Scenario) else parse_scenario(base.document)
    derived = replanned(scenario, plan, opts)
    replan = replan_options(derived, plan, opts.freeze_through)
    base_id = stored_row(storage, base).id
    row, _ = storage.add_scenario(derived)
    return row.id, {
        **options,
        **replan,
        "baseline_solve_id": None
        if opts.baseline_solve_id is None
        else str(opts.baseline_solve_id),
        "freeze_through": opts.freeze_through,
        "base_scenario_id": base_id,
    }


# -- submission --------------------------------------------------------------


async def requested_base(
    document: dict[str, Any] | None, sid: str | None, settings: Settings, storage: Storage
) -> ScenarioRow | Scenario:
    """The scenario of a request: a document, validated (:func:`planned_job` stores it with
    its job), or a stored scenario's id."""
    if (document is None) == (sid is None):
        raise _unprocessable(
            "give exactly one of 'scenario' and 'scenario_id'",
            "scenario",
            "exactly one of 'scenario' and 'scenario_id' is required",
        )
    if document is not None:
        return await validated(document, settings)
    assert sid is not None
    found = await to_thread.run_sync(storage.get_scenario, sid)
    if found is None:
        raise _unprocessable("unknown scenario_id", "scenario_id", f"no stored scenario {sid}")
    check_limits(settings, found.num_sites, found.num_years, found.num_crew_pools)
    doc = found.document
    if (
        rough_columns(
            found.num_sites,
            found.num_years,
            len(doc.get("options", [])),
            found.num_crew_pools,
            found.num_regions,
        )
        > settings.max_columns
    ):  # stored under a larger limit, or before there was one
        await to_thread.run_sync(check_model_size, settings, parse_scenario(doc))
    return found


async def enqueue(
    runner: Runner, storage: Storage, job_ids: list[str], batch_id: str | None = None
) -> None:
    """Hand queued jobs to the runner; 503 when the queue is down. When it took none of them
    the submission is undone (the jobs and their batch deleted: they were stored as failed
    under ids the 503 never gave, a QA pass); when it took some of a batch's, the batch stays,
    the rest failed, and the 503 names it."""
    for i, job_id in enumerate(job_ids):
        try:
            await to_thread.run_sync(runner.submit, job_id)
        except Exception as exc:
            if i == 0 and await to_thread.run_sync(storage.discard_unsent, job_ids, batch_id):
                raise ApiError(
                    503,
                    f"the job queue is unavailable: {exc}; nothing was submitted, try again"
                    " later (GET /healthz says when it answers)",
                ) from None
            for left in job_ids[i:]:  # those still queued (a worker may have taken one)
                await to_thread.run_sync(
                    storage.set_failed, left, f"could not queue the job: {exc}"
                )
            stored = f"batch {batch_id}" if batch_id is not None else f"job {job_ids[0]}"
            raise ApiError(
                503,
                f"the job queue is unavailable: {exc}; {stored} is stored, its jobs failed"
                f" from the {i + 1}th on unless a worker had taken them",
            ) from None


@router.post(
    "",
    status_code=202,
    response_model=JobOut,
    response_model_exclude_none=False,
    summary="Submit a solve job",
    dependencies=[Depends(require_json_body)],
    responses={
        **NOT_JSON,
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
    keep the SPEC paths of the document (``sites[0].region``).

    Re-planning: with ``options.baseline_solve_id`` (a finished job) or ``options.baseline``
    (a plan document) the scenario's baseline becomes that plan — the stability reference
    and the solver's warm start; ``options.freeze_through: Y`` also keeps every baseline build
    up to ``Y`` and builds nothing else in those years. The job runs on the re-planned
    scenario (stored too: its id is the job's ``scenario_id``).

    Warm start without a re-plan: ``options.start_solve_id`` names a job whose plan the solver
    starts from, the scenario unchanged; a job still queued or running is waited for."""
    options = job_options(req.options, settings)
    plan = await to_thread.run_sync(baseline_plan, req.options, storage)
    start = await to_thread.run_sync(start_options, req.options, storage)
    base = await requested_base(req.scenario, req.scenario_id, settings, storage)
    sid, options = await to_thread.run_sync(planned_job, storage, base, plan, req.options, options)
    options = {**options, **start}
    job = await to_thread.run_sync(storage.create_job, sid, options)
    await enqueue(runner, storage, [job.id])
    response.headers["Location"] = f"/v1/solves/{job.id}"
    return JobOut.of(job)


@router.get("", response_model=JobPage, summary="List solve jobs (newest first)")
def list_solves(
    storage: StorageDep,
    status: Annotated[JobStatus | None, Query(description="only jobs with this status")] = None,
    scenario: Annotated[
        str | None,
        Query(
            pattern=SCENARIO_ID_PATTERN,
            description="only jobs of this scenario id, and re-plans made from it (their "
            "``options.base_scenario_id``)",
        ),
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
            "(id = `<run>-<sequence number>`) with incumbent/bound/gap; ends after the final "
            f"status (id `{FINAL_EVENT}`)",
        },
        204: {
            "description": f"`Last-Event-ID: {FINAL_EVENT}` for a job that has ended: the "
            "stream was read to its end (a browser's EventSource stops reconnecting on 204)"
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
) -> Response:
    """Streams ``status`` and ``progress`` events until the job ends; the last event is the
    final ``status``, with id ``final``. Reconnecting with ``Last-Event-ID`` skips progress
    already seen; after the final status, 204 (a browser's EventSource reconnects after every
    stream that ends, and read the final status again for ever).

    A progress event's id names the job's run and the point's number in it: a job queued
    again (a redeploy) runs from the start, numbering from 1, and a stream — or a
    ``Last-Event-ID`` — of the run before then sends the new run's points from its first."""
    job = await to_thread.run_sync(_job, storage, job_id)
    if last_event_id == FINAL_EVENT and job.status in TERMINAL:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    run = _run_of(job)
    after = _resume_point(last_event_id, run)

    async def events() -> AsyncIterator[dict[str, str]]:
        seq, last_status, seen_run = after, None, run
        while True:
            job = await to_thread.run_sync(storage.get_job, str(job_id))
            if job is None:
                return
            current = _run_of(job)
            if current != seen_run and current:  # a new run: its points from the first
                seq, seen_run = 0, current
            # status first, then progress: a job's last progress rows are written before its
            # end; none while queued (a job queued again keeps its last run's until it starts)
            points = await to_thread.run_sync(storage.progress, job.id, seq) if current else []
            for p in points:
                seq = p.seq
                yield {
                    "event": "progress",
                    "id": f"{current}-{p.seq}",
                    "data": ProgressOut.of(p).model_dump_json(),
                }
            if job.status != last_status:
                last_status = job.status
                event = {"event": "status", "data": JobOut.of(job).model_dump_json()}
                yield event | ({"id": FINAL_EVENT} if job.status in TERMINAL else {})
            if job.status in TERMINAL:
                return
            if await request.is_disconnected():
                return
            await sleep(settings.sse_poll_interval)

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store"})


def _run_of(job: JobRow) -> str:
    """A token of the job's current run (its start), or "" while it is queued."""
    if job.started_at is None:
        return ""
    return f"{zlib.crc32(job.started_at.isoformat().encode()):08x}"


def _resume_point(last_event_id: str | None, run: str) -> int:
    """The last point of ``run`` (the job's current run) the client saw, by its last event's
    id; 0 (from the first) for an id of another run or none. A bare number (the ids before
    runs were named) is a point of the current run."""
    if not last_event_id:
        return 0
    seen_run, _, seq = last_event_id.rpartition("-")
    # ASCII digits only: str.isdigit() takes '²', which int() refuses (a 500; a QA pass)
    if not (seq.isascii() and seq.isdigit() and len(seq) < 10) or seen_run and seen_run != run:
        return 0
    return int(seq)


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
            "description": "the job has no plan (yet): still running, failed or cancelled "
            "early; `?format=csv`: its plan is infeasible or unknown (no builds)",
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
    plan = _plan(job)
    if format == "csv":
        if plan.get("status") not in PLAN_STATUSES:  # the JSON document says why
            raise _no_builds(job, plan.get("status"), "list")
        return PlainTextResponse(
            builds_csv(plan),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{job.id}-builds.csv"'},
        )
    return JSONResponse(plan)


@router.get(
    "/{job_id}/diff/{other_id}",
    response_model=PlanDiff,
    summary="What changed from one job's plan to another's",
    responses={
        409: {
            "model": ErrorBody,
            "description": "one of the jobs has no plan (yet), or its plan is infeasible or "
            "unknown (no builds)",
        },
        **NOT_FOUND,
    },
)
def diff_solves(job_id: uuid.UUID, other_id: uuid.UUID, storage: StorageDep) -> PlanDiff:
    """From plan ``a`` (``job_id``) to plan ``b`` (``other_id``): the objective and term
    changes, sites moved to another year, redesigned, dropped and added, crews reassigned,
    builds per year, and the population served over time (each plan on its own scenario)."""
    a, b = _job(storage, job_id), _job(storage, other_id)
    plan_a, plan_b = _plan(a), _plan(b)
    scenario = _stored_scenario(storage, b.scenario_id)
    scenario_a = (
        scenario if a.scenario_id == b.scenario_id else _stored_scenario(storage, a.scenario_id)
    )
    if scenario_a is None:
        scenario = None  # a's scenario unreadable: no curve of a to draw beside b's
    try:
        return PlanDiff.model_validate(diff_plans(plan_a, plan_b, scenario, scenario_a))
    except NoBuildsError as exc:  # infeasible or unknown: no builds
        raise _no_builds(a if exc.side == "a" else b, exc.status, "compare") from None


def _stored_scenario(storage: Storage, scenario_id: str) -> Scenario | None:
    """A stored scenario, parsed; None when it is gone or was stored under an older SPEC."""
    row = storage.get_scenario(scenario_id)
    if row is None:
        return None
    try:
        return parse_scenario(row.document)
    except ScenarioError:
        return None


@router.delete(
    "/{job_id}",
    status_code=202,
    response_model=JobOut,
    summary="Cancel a queued or running job",
    responses={
        409: {
            "model": ErrorBody,
            "description": "the job has already ended done or failed (a cancelled job answers "
            "202 again: cancelling is idempotent)",
        },
        **NOT_FOUND,
    },
)
def cancel_solve(job_id: uuid.UUID, storage: StorageDep, runner: RunnerDep) -> JobOut:
    """A queued job is cancelled at once; a running one is asked to stop — its solver stops
    within about a second (killed after RDPLAN_CANCEL_GRACE seconds) and the job ends
    ``cancelled``, keeping the best plan found so far — or ``done``, when its solver ended on
    its own before it saw the request. Watch it with GET or the events."""
    job = cancel_job(storage, runner, str(job_id))
    if job is None:
        raise ApiError(404, f"no solve job {job_id}")
    if job.status in (DONE, FAILED):  # a cancelled job again: 202, a repeat is idempotent
        raise ApiError(409, f"the job has already ended ({job.status})")
    return JobOut.of(job)


def cancel_job(storage: Storage, runner: Runner, job_id: str) -> JobRow | None:
    """Cancel a queued job at once and ask a running one to stop (its runner told); a job that
    has ended done or failed is returned as it is, None for an unknown id."""
    job = storage.request_cancel(job_id)
    if job is not None and job.status not in (DONE, FAILED):
        runner.cancelled(job.id)
    return job
