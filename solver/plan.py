"""The plan document of SPEC §4 as typed objects, and the one status vocabulary."""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from solver.scenario import FieldError, ScenarioError, format_path, load_document


class Status(StrEnum):
    """Plan statuses of SPEC §4; every backend maps its native status onto these."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNKNOWN = "unknown"
    INVALID = "invalid"

    @property
    def has_plan(self) -> bool:
        return self.value in PLAN_STATUSES

    @property
    def exit_code(self) -> int:
        """CLI exit status of SPEC §5."""
        if self.has_plan:
            return 0
        return 2 if self is Status.INVALID else 1


PLAN_STATUSES: frozenset[str] = frozenset({Status.OPTIMAL.value, Status.FEASIBLE.value})
"""The statuses of a plan document that has a plan (builds and training to use): the one
rule for the solver, the service, the client and the benchmarks."""


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Terms(_Doc):
    """Unweighted objective terms of SPEC §3.8."""

    benefit: int = 0
    mobilization: int = 0
    training: int = 0
    stability: int = 0

    def objective(self, weights: dict[str, int]) -> int:
        return (
            weights["benefit"] * self.benefit
            - weights["mobilization"] * self.mobilization
            - weights["training"] * self.training
            - weights["stability"] * self.stability
        )


class CrewAssignment(_Doc):
    pool: str
    count: int
    distance_km: int


class Build(_Doc):
    site: str
    region: str
    year: int
    option: str
    crews: list[CrewAssignment] = Field(default_factory=list)


class TrainingRow(_Doc):
    region: str
    year: int
    trainees: int


class SolverInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    backend: str
    seconds: float
    threads: int
    time_limit: float
    seed: int = 0
    build_seconds: float = 0.0
    variables: int = 0
    constraints: int = 0
    nonzeros: int = 0


class Plan(BaseModel):
    """A plan document (SPEC §4). ``objective`` and ``terms`` are always recomputed."""

    model_config = ConfigDict(extra="allow")

    scenario: str | None = None
    status: Status
    objective: int | None = None
    bound: int | None = None
    gap: float | None = None
    terms: Terms | None = None
    builds: list[Build] = Field(default_factory=list)
    unbuilt: list[str] = Field(default_factory=list)
    training: list[TrainingRow] = Field(default_factory=list)
    conflicts: list[dict[str, Any]] = Field(default_factory=list)
    solver: SolverInfo | None = None
    breakdown: dict[str, list[dict[str, Any]]] | None = None
    errors: list[FieldError] | None = None

    def to_document(self) -> dict[str, Any]:
        doc = self.model_dump(mode="json")
        for optional in ("errors", "breakdown"):
            if doc.get(optional) is None:
                doc.pop(optional, None)
        return doc

    @classmethod
    def invalid(cls, errors: list[FieldError], scenario: str | None = None) -> Plan:
        return cls(scenario=scenario, status=Status.INVALID, errors=errors)


def plan_rows(doc: dict[str, Any]) -> tuple[list[Build], list[TrainingRow], list[FieldError]]:
    """The builds and training rows of a plan document (SPEC §4), each read strictly (a year is
    an integer, not "2024"); a row that is not one is left out and its problems are returned
    with their paths instead. A missing list is an empty one."""
    builds: list[Build] = []
    training: list[TrainingRow] = []
    errors: list[FieldError] = []
    rows: tuple[tuple[str, type[Build] | type[TrainingRow], list[Any]], ...] = (
        ("builds", Build, builds),
        ("training", TrainingRow, training),
    )
    for key, model, out in rows:
        items = doc.get(key, [])
        if not isinstance(items, list):
            errors.append(FieldError(path=key, message="must be a list"))
            continue
        for i, item in enumerate(items):
            try:
                out.append(model.model_validate(item, strict=True))
            except ValidationError as exc:
                errors.extend(
                    FieldError(path=format_path((key, i, *e["loc"])), message=e["msg"])
                    for e in exc.errors(include_url=False)
                )
    return builds, training, errors


def read_plan_document(
    source: str | bytes | dict[str, Any],
) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """Parse and check a plan document (SPEC §4), as ``validate_document`` does a scenario:
    ``(doc, [])``, or ``(None, errors)`` with every field at fault. It must be an object with a
    known ``status``, the other fields of §4 of their types, and builds and training rows of
    their shape (:func:`plan_rows`). Whether the plan *holds* is the evaluator's question
    (``solver.evaluate``), not this one's: ``rdplan diff`` and the client's ``Plan.load`` read
    user files through this, so that a scenario given for a plan, or a hand-edited plan with a
    typo, is named field by field instead of failing later."""
    try:
        doc = load_document(source)
    except ScenarioError as exc:
        return None, exc.errors
    errors: list[FieldError] = []
    head = {k: v for k, v in doc.items() if k not in ("builds", "training")}
    try:
        Plan.model_validate(head)
    except ValidationError as exc:
        for e in exc.errors(include_url=False):
            message = e["msg"]
            if e["type"] == "missing" and e["loc"] == ("status",):
                message = "required field is missing: not a plan document (SPEC §4)"
            errors.append(FieldError(path=format_path(e["loc"]), message=message))
    errors += plan_rows(doc)[2]
    return (None, errors) if errors else (doc, [])


def sort_builds(builds: list[Build]) -> list[Build]:
    """SPEC §4 order: builds by year, region, site; a build's crews by pool."""
    for b in builds:
        b.crews.sort(key=lambda c: c.pool)
    return sorted(builds, key=lambda b: (b.year, b.region, b.site))


#: Relative slack on a solver's float bound before it is floored: LP round-off, not more.
#: (It was 1e-6: at national scale 1.9 units, so no proof could ever be recognised; 1e-8,
#: 0.02 units there, still refused a bound HiGHS had closed to 1861928.99 over 1,861,928.)
BOUND_TOLERANCE = 1e-9
#: The most that slack may be, in units of Z, whatever the bound's size. Without a cap it
#: reached 1 at |bound| = 10^9 (SPEC §1 allows objectives up to 2^53), and no proof above it
#: could be recognised: a plan CP-SAT, HiGHS and CBC all proved optimal at 5,614,197,390 came
#: out ``feasible`` with a bound of 5,614,197,395. Below 0.01 so that CBC's stop (its
#: absolute gap 0.99, ``solver.backends.cbc``) is still a proof; HiGHS stops within 1e-6 and
#: CP-SAT's bounds are exact integers.
BOUND_SLACK_CAP = 0.005


def floor_bound(bound: float) -> int:
    """An integer upper bound on Z from a solver's float bound.

    Z is an integer, so ``floor(bound)`` is a bound too; the small slack keeps a bound that
    round-off put just below an integer (1862717.9999999) from cutting off that integer.
    """
    slack = min(BOUND_TOLERANCE * max(1.0, abs(bound)), BOUND_SLACK_CAP)
    return math.floor(bound + slack + 1e-6)


def proves(bound: float, incumbent: float) -> bool:
    """Whether a solver's float ``bound`` proves its ``incumbent`` optimal. The incumbent may
    be fractional (continuous crews); the integral plan made from it is worth at least
    ``ceil(incumbent)``."""
    return floor_bound(bound) <= math.ceil(incumbent - 1e-6)


def close_enough(bound: float, incumbent: float, gap: float) -> bool:
    """Whether ``incumbent`` is proved optimal by ``bound`` or, with a gap tolerance ``gap``
    above 0, within ``gap`` of it as SPEC §4 measures the gap of the plan that will be
    reported (its integral bound over the integral plan the incumbent becomes)."""
    if not (math.isfinite(bound) and math.isfinite(incumbent)):
        return False
    if proves(bound, incumbent):
        return True
    return gap > 0 and gap_of(math.ceil(incumbent - 1e-6), floor_bound(bound)) <= gap


def gap_of(objective: int, bound: int) -> float:
    """SPEC §4 ``gap = (bound - objective) / max(1, |bound|)``."""
    return (bound - objective) / max(1, abs(bound))
