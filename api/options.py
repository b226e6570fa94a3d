"""A job's solve options: one pydantic model for the HTTP API (``POST /v1/solves``) and the
client's local planner (``Planner.local()``), so that both refuse the same values with the
same paths. Only pydantic here: the client imports it without the service layers."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Backend = Literal["cpsat", "highs", "cbc", "portfolio", "lpguided"]


class SolveOptions(BaseModel):
    """Solver options of a job; left out = the service defaults."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    backend: Backend = "portfolio"
    time_limit: float | None = Field(
        default=None, gt=0, description="seconds; default RDPLAN_DEFAULT_TIME_LIMIT"
    )
    threads: int | None = Field(
        default=None, ge=1, le=1024, description="solver threads; default RDPLAN_DEFAULT_THREADS"
    )
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    gap: float = Field(
        default=0.0,
        ge=0,
        lt=1,
        description="stop once a plan is proved within this relative gap of the bound, a "
        "fraction as in the plan's gap field (0.001 = 0.1 %); 0: prove optimality",
    )
    baseline_solve_id: uuid.UUID | None = Field(
        default=None,
        description="re-plan: the finished job whose plan is the baseline (stability reference "
        "and warm start)",
    )
    baseline: dict[str, Any] | None = Field(
        default=None, description="re-plan: a baseline plan document (SPEC §4) instead of a job"
    )
    freeze_through: int | None = Field(
        default=None,
        ge=0,
        le=9999,
        description="re-plan: keep the baseline's builds of every year up to this one and build "
        "nothing else in them; with a baseline plan that has its training, its trainees in "
        "them too (the job's options.frozen_training), and its crews wherever they still hold "
        "(options.baseline_crews)",
    )
    start_solve_id: uuid.UUID | None = Field(
        default=None,
        description="warm start only: the plan of this job is the solver's first plan (the "
        "scenario and its objective are unchanged). A job still queued or running is waited "
        "for (start_wait), at most its time limit plus RDPLAN_HEARTBEAT_TIMEOUT and "
        "RDPLAN_CANCEL_GRACE; the plan's solver.start_solve says what was used",
    )
    start_wait: bool = Field(
        default=True,
        description="with start_solve_id: wait for that job when it has not ended yet; false: "
        "start from its plan only if it has ended when this job starts, else from scratch",
    )
