"""``/v1/batches``: what-if batches — a base scenario and its variants solved with the same
options, compared with the base plan once every job has ended."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Response

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
from api.models import BatchRow, JobRow, ScenarioRow
from api.options import SolveOptions
from api.routes.scenarios import Limit, Offset, limit_errors, model_size_errors
from api.routes.solves import (
    baseline_plan,
    cancel_job,
    enqueue,
    job_options,
    planned_job,
    requested_base,
    start_options,
)
from api.schemas import (
    MAX_BATCH_VARIANTS,
    BatchOut,
    BatchPage,
    BatchRequest,
    ComparisonRow,
    ErrorBody,
)
from api.settings import Settings
from api.states import QUEUED
from api.storage import Storage
from solver.plan import Plan, Status
from solver.scenario import FieldError, Scenario, ScenarioError
from solver.variants import (
    compare,
    grid_patches,
    make_variant,
    named_variants,
    overlaps,
    repeated_values,
)

router = APIRouter(
    route_class=JsonRoute,
    prefix="/v1/batches",
    tags=["batches"],
    dependencies=[Depends(require_api_key)],
    responses=V1_RESPONSES,
)

BASE = "base"


def _variants(req: BatchRequest) -> list[tuple[str, dict[str, Any]]]:
    """``(name, patch)`` of every listed variant, then of every grid combination; 422 for
    clashing names, overlapping grid paths or too many variants; with them, a base missing or
    given twice (every error of the request's form in one answer, not one per attempt)."""
    out = named_variants(req.variants)
    errors: list[dict[str, str]] = []
    if (req.scenario is None) == (req.scenario_id is None):
        message = "exactly one of 'scenario' and 'scenario_id' is required"
        errors.append({"path": "scenario", "message": message})
    seen = {BASE}
    for i, (name, _) in enumerate(out):
        if name in seen:
            what = "is the base's name" if name == BASE else "is used by an earlier variant"
            errors.append({"path": f"variants[{i}].name", "message": f"'{name}' {what}"})
        seen.add(name)
    if req.grid:
        for key, inner in overlaps(sorted(req.grid)):
            message = f"'{key}' and '{inner}' overlap: set one or the other"
            errors.append({"path": "grid", "message": message})
        for key, message in repeated_values(req.grid):
            errors.append({"path": f"grid.{key}", "message": message})
        combinations = 1
        for values in req.grid.values():
            combinations *= len(values)
            if combinations > MAX_BATCH_VARIANTS:
                break
        if len(out) + combinations > MAX_BATCH_VARIANTS:
            errors.append(
                {
                    "path": "grid",
                    "message": f"{len(out)} variants and at least {combinations} grid "
                    f"combinations: a batch has at most {MAX_BATCH_VARIANTS} variants",
                }
            )
        elif not errors:
            for name, patch in grid_patches(req.grid):
                if name in seen:
                    errors.append({"path": "grid", "message": f"'{name}' is also a variant's name"})
                seen.add(name)
                out.append((name, patch))
    if not out and not any(e["path"] != "scenario" for e in errors):
        errors.append(
            {"path": "variants", "message": "a batch needs at least one variant (variants or grid)"}
        )
    if errors:
        raise ApiError(422, f"invalid batch: {len(errors)} error(s)", errors)
    return out


def _prepare(
    storage: Storage,
    settings: Settings,
    base: ScenarioRow | Scenario,
    plan: dict[str, Any] | None,
    opts: SolveOptions,
    options: dict[str, Any],
    variants: list[tuple[str, dict[str, Any]]],
) -> tuple[dict[str, tuple[str, dict[str, Any]] | None], dict[str, list[dict[str, str]]]]:
    """Scenario id and options of every job (``None`` for an invalid variant), and the errors
    of the invalid variants. The base's errors are the request's (422)."""
    jobs: dict[str, tuple[str, dict[str, Any]] | None] = {
        BASE: planned_job(storage, base, plan, opts, options)
    }
    errors: dict[str, list[dict[str, str]]] = {}
    for name, patch in variants:
        try:
            variant = make_variant(base if isinstance(base, Scenario) else base.document, patch)
            over = limit_errors(
                settings, len(variant.sites), len(variant.years), len(variant.crews)
            ) or model_size_errors(settings, variant)
            if over:
                raise ScenarioError(over)
            jobs[name] = planned_job(storage, variant, plan, opts, options)
        except ScenarioError as exc:
            jobs[name], errors[name] = None, [e.model_dump() for e in exc.errors]
        except ApiError as exc:  # the re-plan of this variant is impossible
            jobs[name], errors[name] = None, exc.errors
    return jobs, errors


def _job_ids(row: BatchRow) -> list[str]:
    return [row.base_job_id, *(j for j in row.variants.values() if j is not None)]


def comparison(row: BatchRow, jobs: dict[str, JobRow]) -> list[ComparisonRow]:
    """One row per variant (the base first) against the base plan."""
    names: dict[str, str | None] = {BASE: row.base_job_id, **row.variants}
    plans: dict[str, Plan] = {}
    for name, job_id in names.items():
        job = jobs.get(job_id) if job_id is not None else None
        if job_id is None:
            plans[name] = Plan.invalid([FieldError(**e) for e in row.errors.get(name, [])])
        elif job is not None and job.plan is not None:
            plans[name] = Plan.model_validate(job.plan)
        else:  # failed, or cancelled before a first plan
            plans[name] = Plan(status=Status.UNKNOWN)
    base_plan = plans.pop(BASE)
    out = []
    for r in compare(base_plan, plans):
        job_id = names[r["variant"]]
        job = jobs.get(job_id) if job_id is not None else None
        status = None if job is None else job.status
        out.append(ComparisonRow(**r, job_id=job_id, job_status=status))  # type: ignore[arg-type]
    return out


@router.post(
    "",
    status_code=202,
    response_model=BatchOut,
    summary="Submit a what-if batch",
    dependencies=[Depends(require_json_body)],
    responses={
        **NOT_JSON,
        413: {"model": ErrorBody, "description": "body or base scenario over the limits"},
        422: {
            "model": ErrorBody,
            "description": "invalid request or base scenario: every error with its path",
        },
        503: {"model": ErrorBody, "description": "the job queue (broker) is unavailable"},
    },
)
async def submit_batch(
    req: BatchRequest,
    response: Response,
    settings: SettingsDep,
    storage: StorageDep,
    runner: RunnerDep,
) -> BatchOut:
    """Queue a job for the base scenario and one per variant, all with ``options`` (re-plan
    options included). A variant is a JSON merge patch of the base document; ``grid`` adds
    one variant per combination of values. An invalid variant gets no job: its errors are
    in ``errors`` (an invalid base is a 422). Watch the batch with ``GET /v1/batches/{id}``.

    The jobs are queued base first. With ``start_from_base`` (the default) a variant whose
    job starts after the base job has ended starts from the base plan — a what-if the base
    plan survives then starts from a plan that holds, and its proof is most of what is left;
    no job waits for another, so no worker idles (``docs/decisions.md``). A start the caller
    names (``options.start_solve_id``) is every job's start instead, base included."""
    variants = _variants(req)
    options = job_options(req.options, settings)
    plan = await to_thread.run_sync(baseline_plan, req.options, storage)
    options |= await to_thread.run_sync(start_options, req.options, storage)
    base = await requested_base(req.scenario, req.scenario_id, settings, storage)
    jobs, errors = await to_thread.run_sync(
        _prepare, storage, settings, base, plan, req.options, options, variants
    )
    # a start the caller names is every job's start, as in Planner.batch
    from_base = req.start_from_base and req.options.start_solve_id is None
    batch = await to_thread.run_sync(storage.create_batch, jobs, errors, from_base)
    job_ids = _job_ids(batch)
    await enqueue(runner, storage, job_ids, batch.id)
    response.headers["Location"] = f"/v1/batches/{batch.id}"
    return BatchOut.of(batch, dict.fromkeys(job_ids, QUEUED))


#: Comparison tables of ended batches, which never change (their jobs have ended, their plans
#: are stored for good): each was built again from every plan on every poll, 0.55 s for 50
#: variants of 400 sites, and 30 polls at once held the server 20 s (a QA pass).
_TABLES: OrderedDict[tuple[str, str], list[ComparisonRow]] = OrderedDict()
_TABLES_KEPT = 64
_TABLES_LOCK = threading.Lock()


def _batch_out(row: BatchRow, storage: Storage) -> BatchOut:
    """A batch with its jobs' statuses and, once every job has ended, its comparison table."""
    job_ids = _job_ids(row)
    out = BatchOut.of(row, storage.job_statuses(job_ids))
    if out.status == "done":
        key = (storage.url, row.id)
        with _TABLES_LOCK:
            table = _TABLES.get(key)
            if table is not None:
                _TABLES.move_to_end(key)
        if table is None:
            table = comparison(row, storage.jobs(job_ids))
            with _TABLES_LOCK:
                _TABLES[key] = table
                while len(_TABLES) > _TABLES_KEPT:
                    _TABLES.popitem(last=False)
        out.table = [r.model_copy() for r in table]
    return out


@router.get("", response_model=BatchPage, summary="List batches (newest first)")
def list_batches(storage: StorageDep, limit: Limit = 20, offset: Offset = 0) -> BatchPage:
    """Batches with their jobs' statuses (the comparison tables are at ``/v1/batches/{id}``)."""
    rows, total = storage.list_batches(limit, offset)
    statuses = storage.job_statuses([j for r in rows for j in _job_ids(r)])
    return BatchPage(
        items=[BatchOut.of(r, statuses) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get(
    "/{batch_id}",
    response_model=BatchOut,
    summary="A batch's status and, once done, its comparison table",
    responses={404: {"model": ErrorBody, "description": "no such batch"}},
)
def get_batch(batch_id: uuid.UUID, storage: StorageDep) -> BatchOut:
    """``running`` until every job has ended, then ``done`` with ``table``: per variant, its
    job, plan status, objective, gap and terms, and against the base plan the objective
    change and the number of sites moved, redesigned, dropped and added."""
    row = storage.get_batch(str(batch_id))
    if row is None:
        raise ApiError(404, f"no batch {batch_id}")
    return _batch_out(row, storage)


@router.delete(
    "/{batch_id}",
    status_code=202,
    response_model=BatchOut,
    summary="Cancel a batch's queued and running jobs",
    responses={404: {"model": ErrorBody, "description": "no such batch"}},
)
def cancel_batch(batch_id: uuid.UUID, storage: StorageDep, runner: RunnerDep) -> BatchOut:
    """Every job of the batch that has not ended is cancelled as ``DELETE /v1/solves/{id}``
    cancels one: a queued job at once, a running one asked to stop (it ends ``cancelled``
    with its best plan so far). Jobs that have ended keep their plans, and the batch is
    ``done`` once every job has ended, with its table. Cancelling again is harmless (202)."""
    row = storage.get_batch(str(batch_id))
    if row is None:
        raise ApiError(404, f"no batch {batch_id}")
    for job_id in _job_ids(row):
        cancel_job(storage, runner, job_id)
    return _batch_out(row, storage)
