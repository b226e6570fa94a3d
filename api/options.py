"""A job's solve options: one pydantic model for the HTTP API (``POST /v1/solves``) and the
client's local planner (``Planner.local()``), so that both refuse the same values with the
same paths, and the re-plan they both derive from them (:func:`replanned`,
:func:`replan_options`, :func:`replan_arguments`). Only pydantic and the solver here: the
client imports it without the service layers."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from solver.flows import Crews
from solver.replan import (
    apply_baseline,
    crew_map,
    crew_rows,
    freeze_year_error,
    frozen_of,
    solve_arguments,
    training_map,
    training_rows,
)
from solver.scenario import FieldError, Scenario, ScenarioError

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

    @field_validator("time_limit", "threads", "seed", "gap", "freeze_through", mode="before")
    @classmethod
    def _not_a_bool(cls, value: Any) -> Any:
        # pydantic takes true as 1: a JSON boolean here is a mistake, not a number. Numbers as
        # decimal text ("10", read from an environment variable) are taken, by the service and
        # the local planner alike (tests/client/test_service.py); QA passes asked for them to
        # be refused as the scenario's are, and that decision was kept.
        if isinstance(value, bool):
            raise ValueError("a number, not true or false")
        return value


class ReplanError(Exception):
    """A re-plan the options ask for is impossible: a sentence, and every error with the path
    of the option (or of the scenario) at fault (the service answers 422 with them)."""

    def __init__(self, detail: str, errors: list[dict[str, str]]):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


def _refuse(detail: str, path: str, message: str) -> ReplanError:
    return ReplanError(detail, [{"path": path, "message": message}])


#: The title of a 422 for options over the service's limits (the errors: :func:`over_limits`).
OVER_LIMITS = "solve options over the service's limits"


def over_limits(
    threads: int,
    max_threads: int,
    time_limit: float | None = None,
    max_time_limit: float | None = None,
) -> list[dict[str, str]]:
    """The errors of solve options over a service's limits (``RDPLAN_MAX_*``), with their
    paths; the local planner checks ``threads`` against the cores with the same words."""
    errors = []
    if time_limit is not None and max_time_limit is not None and time_limit > max_time_limit:
        errors.append(
            {
                "path": "options.time_limit",
                "message": f"{time_limit:g} s is over this service's limit of {max_time_limit:g} s (RDPLAN_MAX_TIME_LIMIT)",
            }
        )
    if threads > max_threads:
        errors.append(
            {
                "path": "options.threads",
                "message": f"{threads} threads is over this service's limit of {max_threads}",
            }
        )
    return errors


def _baseline_error(error: FieldError, source: str | None) -> dict[str, str]:
    """An error of the re-planned scenario; those of its ``baseline`` name the option it came from."""
    path, message = error.path, error.message
    if source is None or not path.startswith("baseline"):
        return {"path": path, "message": message}
    if path.startswith("baseline.training"):  # the baseline plan's training (frozen years)
        if source == "options.baseline":
            return {"path": f"options.{path}", "message": message}
        return {"path": source, "message": f"{path.removeprefix('baseline.')}: {message}"}
    if path == "baseline.status":  # a verdict given as the baseline plan
        if source == "options.baseline":
            return {"path": "options.baseline.status", "message": message}
        return {"path": source, "message": message}
    rest = path.removeprefix("baseline.builds").removeprefix("baseline")
    if source == "options.baseline":
        # the scenario's baseline[i] is the plan's builds[i]
        message = message.replace("(also baseline[", "(also builds[")
        return {"path": f"options.baseline.builds{rest}", "message": message}
    return {"path": source, "message": f"builds{rest}: {message}" if rest else message}


def replanned(scenario: Scenario, plan: dict[str, Any] | None, opts: SolveOptions) -> Scenario:
    """``scenario`` re-planned against ``plan`` (the baseline the options name, or None: the
    scenario's own), frozen through ``opts.freeze_through``; :class:`ReplanError` with the
    options' paths when that is impossible."""
    freeze = opts.freeze_through
    if freeze is not None:
        wrong = freeze_year_error(scenario, freeze)
        if wrong is not None:
            raise _refuse("freeze_through is outside the horizon", "options.freeze_through", wrong)
        if plan is None and not scenario.baseline:
            raise _refuse(
                "nothing to freeze",
                "options.freeze_through",
                "freezing needs a baseline: options.baseline_solve_id, options.baseline or the "
                "scenario's own baseline",
            )
    source = None
    if plan is not None:
        source = "options.baseline" if opts.baseline is not None else "options.baseline_solve_id"
    try:
        return apply_baseline(scenario, plan, freeze)
    except ScenarioError as exc:
        errors = [_baseline_error(e, source) for e in exc.errors]
        raise ReplanError(
            f"the re-planned scenario is invalid: {len(errors)} error(s)", errors
        ) from None


def replan_options(
    derived: Scenario, plan: dict[str, Any] | None, freeze_through: int | None
) -> dict[str, Any]:
    """What a re-plan job keeps among its options besides the request's: the baseline plan's
    frozen trainees (``frozen_training``) and its crews (``baseline_crews``), each None when
    not known; ``derived`` is :func:`replanned`'s scenario."""
    args = solve_arguments(derived, plan, freeze_through)
    fixed, crews = args["fixed_training"], args["prefer_crews"]
    return {
        "frozen_training": None if fixed is None else training_rows(fixed),
        "baseline_crews": None if crews is None else crew_rows(crews),
        "freeze_through": freeze_through,
    }


def replan_arguments(options: dict[str, Any]) -> dict[str, Any]:
    """``solver.solve.solve``'s re-plan arguments from a job's stored options
    (:func:`replan_options`): the frozen trainees held, the frozen years' crews held, the
    baseline's crews preferred elsewhere."""
    crews: Crews | None = (
        crew_map(options["baseline_crews"]) if options.get("baseline_crews") else None
    )
    freeze = options.get("freeze_through")
    return {
        "fixed_training": training_map(options["frozen_training"])
        if options.get("frozen_training")
        else None,
        "held_crews": frozen_of(crews, int(freeze)) if crews and freeze is not None else None,
        "prefer_crews": crews,
        "freeze_through": None if freeze is None else int(freeze),
    }
