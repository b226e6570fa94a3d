"""The plan document of SPEC §4 as typed objects, and the one status vocabulary."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from solver.scenario import FieldError


class Status(StrEnum):
    """Plan statuses of SPEC §4; every backend maps its native status onto these."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNKNOWN = "unknown"
    INVALID = "invalid"

    @property
    def has_plan(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)

    @property
    def exit_code(self) -> int:
        """CLI exit status of SPEC §5."""
        if self.has_plan:
            return 0
        return 2 if self is Status.INVALID else 1


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


def sort_builds(builds: list[Build]) -> list[Build]:
    """SPEC §4 order: builds by year, region, site; a build's crews by pool."""
    for b in builds:
        b.crews.sort(key=lambda c: c.pool)
    return sorted(builds, key=lambda b: (b.year, b.region, b.site))


def gap_of(objective: int, bound: int) -> float:
    """SPEC §4 ``gap = (bound - objective) / max(1, |bound|)``."""
    return (bound - objective) / max(1, abs(bound))
