"""Request and response bodies of the HTTP API (the OpenAPI document is built from these)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.models import BatchRow, JobRow, ScenarioRow
from api.options import SolveOptions
from api.states import TERMINAL
from api.storage import ProgressPoint
from solver.variants import GRID_PATH_PATTERN, BatchVariant

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]
SCENARIO_ID_PATTERN = r"^[0-9a-f]{64}$"
#: Most variants (listed plus grid combinations) of one batch.
MAX_BATCH_VARIANTS = 50

#: The SPEC's tiny example (optimum 1855): the example body of the OpenAPI document.
TINY_SCENARIO: dict[str, Any] = {
    "schema_version": 1,
    "name": "tiny",
    "horizon": {"start": 2030, "end": 2031},
    "regions": [{"id": "north", "training_capacity": 30, "trained_stock": 20}, {"id": "south"}],
    "options": [
        {"id": "basic", "crews": 1, "technicians": 10},
        {"id": "large", "crews": 2, "technicians": 25},
    ],
    "sites": [
        {
            "id": "n1",
            "region": "north",
            "population": 40000,
            "lat": 40.0,
            "lon": 127.0,
            "benefit": {"basic": 400, "large": 700},
        },
        {
            "id": "n2",
            "region": "north",
            "population": 25000,
            "lat": 40.3,
            "lon": 127.4,
            "benefit": {"basic": 250},
        },
        {
            "id": "s1",
            "region": "south",
            "population": 60000,
            "lat": 38.5,
            "lon": 126.5,
            "benefit": {"basic": 600, "large": 900},
            "earliest": 2031,
        },
        {
            "id": "s2",
            "region": "south",
            "population": 10000,
            "lat": 38.9,
            "lon": 126.9,
            "benefit": {"basic": 100},
            "required": False,
        },
    ],
    "crews": [
        {"id": "k1", "count": 2, "lat": 39.5, "lon": 126.8},
        {"id": "k2", "count": 1, "lat": 40.1, "lon": 127.1, "regions": ["north"]},
    ],
    "quotas": {"year": {"max": 2}},
    "training": {"lead_time": 1},
    "objective": {"benefit": 1, "mobilization": 1, "training": 1, "stability": 0},
}


class ErrorItem(BaseModel):
    """One problem, with the SPEC's field path (``sites[3].region``; ``""`` = the whole document)."""

    path: str
    message: str


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer of the API."""

    detail: str
    errors: list[ErrorItem] = Field(default_factory=list)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "detail": "invalid scenario: 1 error",
                    "errors": [{"path": "sites[0].region", "message": "unknown region 'nort'"}],
                }
            ]
        }
    )


# -- scenarios ---------------------------------------------------------------


class ScenarioSummary(BaseModel):
    id: str = Field(description="sha256 of the scenario's canonical JSON")
    name: str | None
    sites: int
    regions: int
    years: int
    crew_pools: int
    created_at: dt.datetime

    @classmethod
    def of(cls, row: ScenarioRow) -> ScenarioSummary:
        return cls(
            id=row.id,
            name=row.name,
            sites=row.num_sites,
            regions=row.num_regions,
            years=row.num_years,
            crew_pools=row.num_crew_pools,
            created_at=row.created_at,
        )


class ScenarioDetail(ScenarioSummary):
    document: dict[str, Any] = Field(description="the scenario document (SPEC §2)")

    @classmethod
    def of(cls, row: ScenarioRow) -> ScenarioDetail:
        return cls(**ScenarioSummary.of(row).model_dump(), document=row.document)


class ScenarioPage(BaseModel):
    items: list[ScenarioSummary]
    total: int
    limit: int
    offset: int


class DiagnosticItem(BaseModel):
    """A counting check that fails: the scenario is infeasible as it stands (SPEC paths)."""

    check: str
    path: str
    message: str


class ValidationOut(BaseModel):
    """The verdict on a scenario document; ``warnings`` (counting checks) only when valid."""

    valid: bool
    errors: list[ErrorItem]
    warnings: list[DiagnosticItem]


class VariantRequest(BaseModel):
    """A variant of a stored scenario: a JSON merge patch (RFC 7386) of its document."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [{"name": "no-mobilization", "patch": {"objective": {"mobilization": 0}}}]
        },
    )

    name: str | None = Field(
        default=None, min_length=1, max_length=200, description="the variant scenario's name"
    )
    patch: dict[str, Any] = Field(
        description="merge patch: objects merge, null deletes a field, anything else replaces"
    )


class VariantOut(ScenarioDetail):
    base: str = Field(description="id of the scenario the variant was derived from")

    @classmethod
    def derived(cls, row: ScenarioRow, base: str) -> VariantOut:
        return cls(**ScenarioDetail.of(row).model_dump(), base=base)


# -- solves ------------------------------------------------------------------


class SolveRequest(BaseModel):
    """A solve: a scenario document, or the id of a stored one, and options."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "scenario": TINY_SCENARIO,
                    "options": {"backend": "cpsat", "time_limit": 10, "threads": 1, "seed": 0},
                },
                {"scenario_id": "0" * 64, "options": {"backend": "highs", "time_limit": 60}},
            ]
        },
    )

    scenario: dict[str, Any] | None = Field(
        default=None, description="a scenario document (SPEC §2)"
    )
    scenario_id: str | None = Field(
        default=None, pattern=SCENARIO_ID_PATTERN, description="a stored scenario"
    )
    options: SolveOptions = SolveOptions()


class ProgressOut(BaseModel):
    """Incumbent and bound of ``Z`` after ``elapsed`` seconds (SPEC §4 rules)."""

    elapsed: float
    incumbent: int | None
    bound: int | None
    gap: float | None

    @classmethod
    def of(cls, p: ProgressPoint) -> ProgressOut:
        return cls(elapsed=p.elapsed, incumbent=p.incumbent, bound=p.bound, gap=p.gap)


class ResultOut(BaseModel):
    """The plan's headline; the document itself is at ``/v1/solves/{id}/plan``."""

    status: str = Field(description="plan status: optimal, feasible, infeasible, unknown")
    objective: int | None
    bound: int | None
    gap: float | None
    checked: bool | None = Field(description="the evaluator found that the plan holds")


class JobOptionsOut(BaseModel):
    backend: str
    time_limit: float
    threads: int
    seed: int
    gap: float | None = Field(
        default=None,
        description="the relative gap the solve stops at; absent: it proves optimality",
    )
    baseline_solve_id: str | None = Field(default=None, description="re-plan: the baseline job")
    freeze_through: int | None = Field(default=None, description="re-plan: the last frozen year")
    frozen_training: list[dict[str, Any]] | None = Field(
        default=None,
        description="re-plan: the baseline plan's trainees in the frozen years "
        "(``[{region, year, trainees}]``), which the plan keeps — fewer only where the "
        "what-if's own bound on them is lower, none where no factory in the horizon could take "
        "them, as its ``solver.detail`` says; absent when the baseline's training is not known",
    )
    baseline_crews: list[dict[str, Any]] | None = Field(
        default=None,
        description="re-plan: the baseline plan's crews (``[{site, year, pool, count}]``): the "
        "plan keeps them in the frozen years wherever they still hold (its ``solver.detail`` "
        "says where not), and in the other years wherever they are among the cheapest for its "
        "builds; absent when the baseline's crews are not known",
    )
    base_scenario_id: str | None = Field(
        default=None,
        description="re-plan: the scenario before the baseline was applied (``scenario_id`` is "
        "the re-planned one)",
    )
    start_solve_id: str | None = Field(
        default=None, description="warm start: the job whose plan the solver starts from"
    )
    start_wait: bool | None = Field(
        default=None, description="warm start: whether the job waits for that job to end"
    )


class JobOut(BaseModel):
    """A solve job. ``progress`` (the history so far) is given by ``GET /v1/solves/{id}`` only."""

    id: str
    status: JobStatus
    scenario_id: str
    options: JobOptionsOut
    reason: str | None = Field(description="why it failed or was cancelled")
    cancel_requested: bool
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    seconds: float | None
    worker: str | None
    result: ResultOut | None
    progress: list[ProgressOut] | None = None
    links: dict[str, str]

    @classmethod
    def of(cls, row: JobRow, progress: list[ProgressPoint] | None = None) -> JobOut:
        result = None
        if row.plan_status is not None:
            result = ResultOut(
                status=row.plan_status,
                objective=row.objective,
                bound=row.bound,
                gap=row.gap,
                checked=row.checked,
            )
        base = f"/v1/solves/{row.id}"
        links = {
            "self": base,
            "events": f"{base}/events",
            "scenario": f"/v1/scenarios/{row.scenario_id}",
        }
        if row.plan is not None:
            links["plan"] = f"{base}/plan"
        return cls(
            id=row.id,
            status=row.status,  # type: ignore[arg-type]
            scenario_id=row.scenario_id,
            options=JobOptionsOut.model_validate(row.options),
            reason=row.reason,
            cancel_requested=row.cancel_requested_at is not None,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            seconds=row.seconds,
            worker=row.worker,
            result=result,
            progress=None if progress is None else [ProgressOut.of(p) for p in progress],
            links=links,
        )


class JobPage(BaseModel):
    items: list[JobOut]
    total: int
    limit: int
    offset: int


class PlanHeadline(BaseModel):
    scenario: str | None
    status: str | None
    objective: int | None


class TermChange(BaseModel):
    a: int | None
    b: int | None


class ServedPopulation(BaseModel):
    years: list[int]
    a: dict[str, list[int]] = Field(description="per region, population served by each year")
    b: dict[str, list[int]]


class PlanDiff(BaseModel):
    """What changed from plan ``a`` to plan ``b``: sites moved (``from``/``to`` years),
    redesigned (``from``/``to`` options), dropped, added, crews reassigned."""

    model_config = ConfigDict(extra="allow")

    a: PlanHeadline
    b: PlanHeadline
    objective_change: int | None = Field(description="objective of b minus objective of a")
    terms: dict[str, TermChange]
    moved: list[dict[str, Any]]
    redesigned: list[dict[str, Any]]
    dropped: list[dict[str, Any]]
    added: list[dict[str, Any]]
    crews_reassigned: list[dict[str, Any]]
    builds_per_year: dict[str, dict[str, int]]
    unchanged: int = Field(description="builds with the same year and option in both plans")
    served_population: ServedPopulation | None = Field(
        default=None, description="population served over time, on b's scenario"
    )


# -- batches -----------------------------------------------------------------


class BatchRequest(BaseModel):
    """A base scenario (document or stored id) and its variants, solved with the same options."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "scenario": TINY_SCENARIO,
                    "variants": [
                        {"name": "no-mobilization", "patch": {"objective": {"mobilization": 0}}}
                    ],
                    "grid": {"objective.training": [0, 2]},
                    "options": {"time_limit": 10, "threads": 1},
                }
            ]
        },
    )

    scenario: dict[str, Any] | None = Field(
        default=None, description="the base scenario document (SPEC §2)"
    )
    scenario_id: str | None = Field(
        default=None, pattern=SCENARIO_ID_PATTERN, description="a stored base scenario"
    )
    variants: list[BatchVariant] = Field(default_factory=list, max_length=MAX_BATCH_VARIANTS)
    start_from_base: bool = Field(
        default=True,
        description="a variant whose job starts after the base job has ended starts from the "
        "base plan (a what-if the base plan survives is proved sooner); no job waits for "
        "another. false: every variant from scratch. With options.start_solve_id every job, "
        "the base included, starts from that job's plan instead",
    )
    grid: (
        dict[
            Annotated[str, Field(pattern=GRID_PATH_PATTERN)],
            Annotated[list[Any], Field(min_length=1, max_length=MAX_BATCH_VARIANTS)],
        ]
        | None
    ) = Field(
        default=None,
        description="one variant per combination of values, e.g. "
        '`{"objective.mobilization": [0, 1]}` (named `objective.mobilization=0`, ...)',
    )
    options: SolveOptions = SolveOptions()


class ComparisonRow(BaseModel):
    """One variant against the base plan (the base itself is the first row)."""

    variant: str
    job_id: str | None
    job_status: JobStatus | None = Field(description="null for an invalid variant (no job)")
    status: str = Field(
        description="plan status; invalid for an invalid variant, unknown for a job that ended"
        " without a plan (failed, or cancelled before its first: job_status says which)"
    )
    objective: int | None
    gap: float | None
    benefit: int | None
    mobilization: int | None
    training: int | None
    stability: int | None
    objective_change: int | None = Field(description="objective minus the base objective")
    moved: int | None
    redesigned: int | None
    dropped: int | None
    added: int | None
    conflicts: list[str] | None = None


class BatchOut(BaseModel):
    """A batch: ``running`` until every job has ended, then ``done`` with its ``table``."""

    id: str
    status: Literal["running", "done"]
    created_at: dt.datetime
    jobs: dict[str, str | None] = Field(
        description="``base`` and every variant: its job id, null for an invalid variant"
    )
    job_statuses: dict[str, JobStatus | None]
    errors: dict[str, list[ErrorItem]] = Field(description="the errors of each invalid variant")
    table: list[ComparisonRow] | None = Field(
        default=None, description="the comparison, once done (by ``GET /v1/batches/{id}``)"
    )
    links: dict[str, str]

    @classmethod
    def of(
        cls,
        row: BatchRow,
        statuses: dict[str, str],
    ) -> BatchOut:
        jobs: dict[str, str | None] = {"base": row.base_job_id, **row.variants}
        job_statuses = {
            name: (statuses.get(job_id) if job_id is not None else None)
            for name, job_id in jobs.items()
        }
        done = all(
            s in TERMINAL for n, s in job_statuses.items() if jobs[n] is not None and s is not None
        )
        return cls(
            id=row.id,
            status="done" if done else "running",
            created_at=row.created_at,
            jobs=jobs,
            job_statuses=job_statuses,  # type: ignore[arg-type]
            errors={k: [ErrorItem(**e) for e in v] for k, v in row.errors.items()},
            links={"self": f"/v1/batches/{row.id}"},
        )


class BatchPage(BaseModel):
    items: list[BatchOut]
    total: int
    limit: int
    offset: int


class Workers(BaseModel):
    """The Celery workers that answered the server's last ping."""

    #: Their node names (``RDPLAN_WORKER_NAME``); empty: no worker runs, queued jobs wait.
    names: list[str]
    checked_at: dt.datetime


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: str
    runner: str
    #: Celery: ``ok`` or why the broker does not answer (submissions are then 503; the status
    #: stays the server's and its database's, so a container is not restarted for a broker).
    broker: str | None = None
    #: Celery: the workers that answered the server's last ping (every
    #: ``api.runners.WORKER_PING_EVERY`` s; null before the first, or while the broker does not
    #: answer). Like ``broker``, it does not change the status.
    workers: Workers | None = None
    version: str
