"""Counting checks before solving: cheap necessary conditions, answered in milliseconds.

Each check compares what the scenario demands with what it supplies, summed
over sets where the SPEC makes the comparison exact as a *necessary* condition
(a failed check proves the scenario infeasible; a passed one proves nothing).
They are returned as warnings by ``rdplan validate`` and ``POST /v1/validate``.
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel

from solver.problem import UNBOUNDED, ProblemData, build_problem
from solver.scenario import Scenario


class Warning_(BaseModel):
    """A diagnostic: the check that failed, where, and what to change."""

    check: str
    path: str
    message: str


def diagnose(scenario: Scenario | ProblemData) -> list[Warning_]:
    """All counting checks of a validated scenario."""
    d = scenario if isinstance(scenario, ProblemData) else build_problem(scenario)
    out: list[Warning_] = []
    num_y = d.num_years
    years = list(d.years)

    # Windows and quotas: each region-year minimum needs that many sites buildable that year,
    # and the sum of minimums over the horizon needs as many sites in the region.
    buildable = np.zeros((d.num_sites, num_y), dtype=bool)
    for s, yrs in enumerate(d.build_years):
        buildable[s, yrs.start - d.start : yrs.stop - d.start] = True
    for s in range(d.num_sites):
        if d.required[s] and not buildable[s].any():
            out.append(
                Warning_(
                    check="window",
                    path=f"sites[{s}]",
                    message=f"site '{d.site_ids[s]}' is required but its window {int(d.window[s, 0])}..{int(d.window[s, 1])} has no year of the horizon",
                )
            )
    for r in range(d.num_regions):
        sites = d.region2sites[r]
        mins = d.quota_region_year[r, :, 0]
        maxs = d.quota_region_year[r, :, 1]
        need = int(np.where(mins == UNBOUNDED, 0, mins).sum())
        if need > len(sites):
            out.append(
                Warning_(
                    check="quota.region_year",
                    path=f"regions[{r}]",
                    message=f"region '{d.region_ids[r]}' must build at least {need} sites over the horizon but has only {len(sites)}: lower its quotas or add sites",
                )
            )
        required = int(d.required[sites].sum())
        cap = 0 if (maxs == UNBOUNDED).any() else int(maxs.sum())
        if cap and required > cap:
            out.append(
                Warning_(
                    check="quota.region_year",
                    path=f"regions[{r}]",
                    message=f"region '{d.region_ids[r]}' has {required} required sites but its quotas allow at most {cap} builds: raise its quotas or make sites optional",
                )
            )
        for y in range(num_y):
            avail = int(buildable[sites, y].sum())
            if mins[y] != UNBOUNDED and mins[y] > avail:
                out.append(
                    Warning_(
                        check="quota.region_year",
                        path=f"regions[{r}]",
                        message=f"region '{d.region_ids[r]}' must build {int(mins[y])} sites in {years[y]} but only {avail} can be built that year (windows): lower the quota or widen windows",
                    )
                )
    total_min = int(np.where(d.quota_year[:, 0] == UNBOUNDED, 0, d.quota_year[:, 0]).sum())
    if total_min > d.num_sites:
        out.append(
            Warning_(
                check="quota.year",
                path="quotas.year",
                message=f"the yearly minimums add up to {total_min} builds but there are {d.num_sites} sites",
            )
        )
    # The required sites that can be built against the national maximums (as per region).
    national_max = d.quota_year[:, 1]
    if not (national_max == UNBOUNDED).any():
        required = int((d.required & buildable.any(axis=1)).sum())
        cap = int(national_max.sum())
        if required > cap:
            out.append(
                Warning_(
                    check="quota.year",
                    path="quotas.year",
                    message=f"{required} required sites must be built but the yearly maximums allow at most {cap} builds: raise the yearly quota or make sites optional",
                )
            )
    for y in range(num_y):
        lo = d.quota_year[y, 0]
        avail = int(buildable[:, y].sum())
        if lo != UNBOUNDED and lo > avail:
            out.append(
                Warning_(
                    check="quota.year",
                    path="quotas.year",
                    message=f"{int(lo)} sites must be built in {years[y]} but only {avail} can be built that year",
                )
            )

    # Crews: the cheapest option of each site times the yearly minimum of builds.
    if d.num_sites:
        cheapest = np.array(
            [min(int(d.option_crews[o]) for o in d.site_options[s]) for s in range(d.num_sites)]
        )
        for y in range(num_y):
            lo = d.quota_year[y, 0]
            region_min = d.quota_region_year[:, y, 0]
            builds = max(
                int(lo) if lo != UNBOUNDED else 0,
                int(np.where(region_min == UNBOUNDED, 0, region_min).sum()),
            )
            if builds == 0:
                continue
            need = int(np.sort(cheapest[buildable[:, y]])[:builds].sum())
            have = int(d.available[:, y].sum()) if d.has_crews else 0
            if need > have:
                out.append(
                    Warning_(
                        check="crews",
                        path="crews",
                        message=f"in {years[y]} at least {builds} sites must be built, needing at least {need} crews; {have} are available",
                    )
                )

    # Technicians: required sites' cheapest need vs stock + everything trainable in time.
    for r in range(d.num_regions):
        required_sites = [s for s in d.region2sites[r] if d.required[s]]
        need = sum(
            min(int(d.option_technicians[o]) for o in d.site_options[s]) for s in required_sites
        )
        usable = max(0, num_y - d.lead_time)
        supply = int(d.trained_stock[r]) + (
            int(d.training_capacity[r, :usable].sum()) if d.training_limited[r] else need
        )
        if need > supply:
            out.append(
                Warning_(
                    check="technicians",
                    path=f"regions[{r}]",
                    message=f"region '{d.region_ids[r]}' needs at least {need} technicians for its required sites; stock plus training in time gives {supply}",
                )
            )
    return out
