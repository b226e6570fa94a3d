"""Tiny scenario documents for tests, built from readable defaults."""

from __future__ import annotations

import copy
from typing import Any


def site(
    id: str,
    benefit: int | dict[str, int] = 10,
    region: str = "r",
    lat: float = 40.0,
    lon: float = 127.0,
    population: int = 10_000,
    **extra: Any,
) -> dict[str, Any]:
    """A site; an integer benefit means option ``o`` only."""
    b = {"o": benefit} if isinstance(benefit, int) else benefit
    return {
        "id": id,
        "region": region,
        "population": population,
        "lat": lat,
        "lon": lon,
        "benefit": b,
        **extra,
    }


def scenario(
    sites: list[dict[str, Any]],
    start: int = 2030,
    end: int = 2031,
    regions: list[Any] | None = None,
    options: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A scenario with one region ``r`` and one free option ``o`` unless told otherwise."""
    doc: dict[str, Any] = {
        "schema_version": 1,
        "name": "test",
        "horizon": {"start": start, "end": end},
        "regions": [r if isinstance(r, dict) else {"id": r} for r in (regions or ["r"])],
        "options": options or [{"id": "o", "crews": 0}],
        "sites": sites,
    }
    doc.update(copy.deepcopy(extra))
    return doc


def highs_optimum(model: Any) -> int | None:
    """HiGHS's proven optimum of a matrix model (None: infeasible), continuous flows."""
    from solver.backends import highs
    from solver.backends.base import SolveOptions
    from solver.plan import Status, proves

    raw = highs.solve(model, SolveOptions(time_limit=20, threads=1, continuous_flows=True))
    if raw.values is None:
        assert raw.status is Status.INFEASIBLE
        return None
    value = round(model.objective_of(raw.values))
    # HiGHS stops by rdplan's proof rule, so a proven plan may come back as "interrupted".
    assert raw.bound is not None and proves(raw.bound, value)
    return value


#: A generated scenario whose HiGHS race leaves its root unproved (the provinces' balance at 5
#: points), small enough for a test: ``instances.generate.generate(**TIGHT_BALANCE)``, optimum
#: :data:`TIGHT_BALANCE_OPTIMUM` (HiGHS, CP-SAT and the LP-guided search each prove it).
TIGHT_BALANCE = dict(regions=6, sites_per_region=8, years=6, crew_pools=4, seed=2, balance_pct=5)
TIGHT_BALANCE_OPTIMUM = 160459
