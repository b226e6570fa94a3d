"""The evaluator: checks a plan against SPEC §3 and recomputes §3.8 from the plan alone.

It never looks at a solver. Every plan rdplan returns goes through
:func:`evaluate`; ``rdplan check`` and the API expose it. All arithmetic is on
Python integers, so it is exact at any scale.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from solver.plan import PLAN_STATUSES, Build, Plan, Terms, TrainingRow, plan_rows
from solver.problem import UNBOUNDED, ProblemData, build_problem
from solver.scenario import Scenario


@dataclass
class Evaluation:
    """What the evaluator found: the violated rules and the recomputed values."""

    violations: list[str] = field(default_factory=list)
    breakdown: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    terms: Terms = field(default_factory=Terms)
    objective: int = 0
    unbuilt: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.violations


def _parse_plan(
    plan: Plan | dict[str, Any],
) -> tuple[list[Build], list[TrainingRow], dict[str, Any], list[str]]:
    """Builds and training of a plan document, with format problems as violations."""
    if isinstance(plan, Plan):
        return plan.builds, plan.training, plan.to_document(), []
    if not isinstance(plan, dict):
        return [], [], {}, ["the plan must be a JSON object"]
    builds, training, errors = plan_rows(plan)
    return builds, training, plan, [f"{e.path}: {e.message}" for e in errors]


def evaluate(
    scenario: Scenario | ProblemData, plan: Plan | dict[str, Any], check_reported: bool = True
) -> Evaluation:
    """Check every rule of SPEC §3 for ``plan`` and recompute its terms and objective.

    The plan *holds* (SPEC §4) when the returned evaluation has no violations:
    the rules hold, each site appears at most once, and the regions, distances,
    ``unbuilt``, terms and objective it reports equal the recomputed ones
    (``check_reported=False`` skips that last comparison, for a plan being built).
    """
    data = scenario if isinstance(scenario, ProblemData) else build_problem(scenario)
    builds, training, doc, violations = _parse_plan(plan)
    ev = Evaluation(violations=violations)
    bad = ev.violations.append
    start, end = data.start, data.end
    num_y = data.num_years

    built: dict[int, tuple[int, int]] = {}  # site -> (option, year)
    refused: set[int] = set()  # sites whose build names an option or year they cannot take
    crew_use: dict[tuple[int, int], int] = defaultdict(int)  # (pool, year) -> crews
    mobilization = 0
    for i, b in enumerate(builds):
        where = f"builds[{i}] ({b.site})"
        s = data.site_index.get(b.site)
        if s is None:
            bad(f"{where}: unknown site '{b.site}'")
            continue
        if s in built:
            bad(f"{where}: the site is built more than once")
            continue
        region = data.region_ids[data.site2region[s]]
        if b.region != region:
            bad(f"{where}: region is '{b.region}', the site is in '{region}'")
        o = data.option_index.get(b.option)
        if o is None or o not in data.site_options[s]:
            bad(f"{where}: option '{b.option}' is not allowed at this site")
            refused.add(s)
            continue
        if b.year not in data.build_years[s]:
            years = data.build_years[s]
            span = f"{years.start}..{years.stop - 1}" if len(years) else "no year of the horizon"
            bad(f"{where}: year {b.year} is outside the site's buildable years ({span})")
            refused.add(s)
            continue
        built[s] = (o, b.year)
        need = int(data.option_crews[o])
        got = 0
        seen_pools: set[str] = set()
        for c in b.crews:
            k = data.pool_index.get(c.pool)
            if k is None:
                bad(f"{where}: unknown crew pool '{c.pool}'")
                continue
            if c.pool in seen_pools:
                bad(f"{where}: crew pool '{c.pool}' listed twice")
            seen_pools.add(c.pool)
            if c.count < 0:
                bad(f"{where}: crew pool '{c.pool}' has count {c.count}; a count is 0 or more")
                continue
            if c.count == 0:  # a[k,s,y] = 0 (§3.3): no crew, nothing to check, as 0 trainees
                continue
            if not data.reach[k, s]:
                bad(
                    f"{where}: crew pool '{c.pool}' cannot reach the site (regions or max_distance_km)"
                )
            if c.distance_km != int(data.distance[k, s]):
                bad(
                    f"{where}: distance to '{c.pool}' is {int(data.distance[k, s])} km, not {c.distance_km}"
                )
            got += c.count
            crew_use[(k, b.year)] += c.count
            mobilization += int(data.distance[k, s]) * c.count
        if got != need:
            bad(f"{where}: option '{b.option}' needs {need} crews, the plan assigns {got} (§3.3)")

    # §3.1 build once (each site at most once is checked above).
    for s in range(data.num_sites):
        # a build refused above is said there: not "not built" as well (a QA pass)
        if data.required[s] and s not in built and s not in refused:
            why = "fixed" if data.fixed_year[s] >= 0 else "required"
            bad(f"site '{data.site_ids[s]}' is {why} but not built (§3.1)")

    # §3.2 quotas.
    region_year: dict[tuple[int, int], int] = defaultdict(int)
    per_year: dict[int, int] = defaultdict(int)
    for s, (_, year) in built.items():
        region_year[(int(data.site2region[s]), year)] += 1
        per_year[year] += 1
    for r in range(data.num_regions):
        for y in range(num_y):
            lo, hi = (int(v) for v in data.quota_region_year[r, y])
            n = region_year[(r, start + y)]
            if (lo != UNBOUNDED and n < lo) or (hi != UNBOUNDED and n > hi):
                bad(
                    f"region '{data.region_ids[r]}' builds {n} sites in {start + y}, quota {_span(lo, hi)} (§3.2)"
                )
    for y in range(num_y):
        lo, hi = (int(v) for v in data.quota_year[y])
        n = per_year[start + y]
        if (lo != UNBOUNDED and n < lo) or (hi != UNBOUNDED and n > hi):
            bad(f"{n} sites built in {start + y}, yearly quota {_span(lo, hi)} (§3.2)")

    # §3.3 crews per pool and year.
    for (k, year), n in sorted(crew_use.items()):
        avail = int(data.available[k, year - start])
        if n > avail:
            bad(
                f"crew pool '{data.pool_ids[k]}' works on {n} crews in {year}, {avail} available (§3.3)"
            )

    # §3.4 technicians; the trainee rows themselves must lie in t's domain.
    trained: dict[tuple[int, int], int] = defaultdict(int)
    seen_rows: set[tuple[str, int]] = set()
    trainees_total = 0
    for i, t in enumerate(training):
        region_of_row = data.region_index.get(t.region)
        where = f"training[{i}]"
        if region_of_row is None:
            bad(f"{where}: unknown region '{t.region}'")
            continue
        if not start <= t.year <= end:
            bad(f"{where}: year {t.year} is outside the horizon")
            continue
        if (t.region, t.year) in seen_rows:
            bad(f"{where}: a second row for region '{t.region}' and year {t.year}")
        seen_rows.add((t.region, t.year))
        cap = int(data.training_capacity[region_of_row, t.year - start])
        if t.trainees < 0 or t.trainees > cap:
            bad(f"{where}: {t.trainees} trainees in '{t.region}' {t.year}; the bound is 0..{cap}")
        trained[(region_of_row, t.year)] += t.trainees
        trainees_total += t.trainees
    staff: dict[tuple[int, int], int] = defaultdict(int)
    for s, (o, year) in built.items():
        staff[(int(data.site2region[s]), year)] += int(data.option_technicians[o])
    for r in range(data.num_regions):
        supply = int(data.trained_stock[r])
        demand = 0
        for y in range(start, end + 1):
            supply += trained.get((r, y - data.lead_time), 0) if y - data.lead_time >= start else 0
            demand += staff[(r, y)]
            if supply < demand:
                bad(
                    f"region '{data.region_ids[r]}' needs {demand} technicians by {y}, has {supply} (§3.4)"
                )
                break

    # §3.5 resources.
    for q, name in enumerate(data.resource_ids):
        use: dict[int, int] = defaultdict(int)
        for o, year in built.values():
            use[year] += int(data.option_resources[o, q])
        for y in range(num_y):
            limit = int(data.resource_limit[q, y])
            if use[start + y] > limit:
                bad(f"resource '{name}' uses {use[start + y]} in {start + y}, limit {limit} (§3.5)")

    # §3.6 precedence.
    for p, q, gap in data.precedences:
        if q in built:
            before, after = data.site_ids[p], data.site_ids[q]
            if p not in built:
                bad(f"'{after}' is built but '{before}', which must come first, is not (§3.6)")
            elif built[p][1] + gap > built[q][1]:
                bad(
                    f"'{before}' ({built[p][1]}) must come {f'at least {gap} year(s) before' if gap else 'no later than'} '{after}' ({built[q][1]}) (§3.6)"
                )

    # §3.7 balance, in exact integers.
    if data.balance_pct is not None:
        w_r = [int(v) for v in data.region_weight]
        w_all = sum(w_r)
        served = [0] * data.num_regions
        by_year = defaultdict(list)
        for s, (_, year) in built.items():
            by_year[year].append(s)
        for y in range(start, end + 1):
            for s in by_year[y]:
                served[int(data.site2region[s])] += int(data.weight[s])
            total = sum(served)
            for r in range(data.num_regions):
                if (
                    100 * w_all * served[r]
                    < 100 * w_r[r] * total - data.balance_pct * w_r[r] * w_all
                ):
                    bad(
                        f"region '{data.region_ids[r]}' trails the national served share by more than {data.balance_pct} points in {y} (§3.7)"
                    )

    # §3.8 terms and objective.
    benefit = sum(int(data.benefit[s, o]) * (end - year + 1) for s, (o, year) in built.items())
    stability = sum(1 for s, o, year in data.baseline if built.get(s) != (o, year))
    ev.terms = Terms(
        benefit=benefit, mobilization=mobilization, training=trainees_total, stability=stability
    )
    ev.objective = ev.terms.objective(data.weights)
    ev.unbuilt = sorted(data.site_ids[s] for s in range(data.num_sites) if s not in built)
    ev.breakdown = _breakdown(data, builds, built, trained)

    if doc and check_reported:
        if doc.get("status") in PLAN_STATUSES:
            # A plan document with a plan reports what it is worth (SPEC §4); builds alone
            # (no status) are checked against the rules only.
            missing = [k for k in ("objective", "terms", "unbuilt") if doc.get(k) is None]
            if missing:
                bad(
                    f"a plan with status '{doc['status']}' reports no {', no '.join(missing)}"
                    " (SPEC §4): its worth cannot be checked"
                )
        reported_terms = doc.get("terms")
        if isinstance(reported_terms, dict) and reported_terms != ev.terms.model_dump():
            bad(
                f"reported terms {reported_terms} differ from the recomputed {ev.terms.model_dump()}"
            )
        if "objective" in doc and doc["objective"] is not None and doc["objective"] != ev.objective:
            bad(f"reported objective {doc['objective']} differs from the recomputed {ev.objective}")
        if "unbuilt" in doc and sorted(doc["unbuilt"] or []) != ev.unbuilt:
            bad("reported unbuilt sites differ from the recomputed ones")
    return ev


def _breakdown(
    data: ProblemData,
    builds: list[Build],
    built: dict[int, tuple[int, int]],
    trained: dict[tuple[int, int], int],
) -> dict[str, list[dict[str, Any]]]:
    """The objective terms by region and year and per site, from the plan alone."""
    km_of: dict[str, int] = {}
    for b in builds:
        km_of[b.site] = sum(c.count * c.distance_km for c in b.crews)
    cells: dict[tuple[str, int], dict[str, int]] = {}
    sites = []
    for s, (o, year) in sorted(built.items(), key=lambda item: data.site_ids[item[0]]):
        region = data.region_ids[data.site2region[s]]
        benefit = int(data.benefit[s, o]) * (data.end - year + 1)
        km = km_of.get(data.site_ids[s], 0)
        sites.append(
            {
                "site": data.site_ids[s],
                "region": region,
                "year": year,
                "option": data.option_ids[o],
                "benefit": benefit,
                "crew_km": km,
                "technicians": int(data.option_technicians[o]),
            }
        )
        cell = cells.setdefault(
            (region, year),
            {"builds": 0, "benefit": 0, "crew_km": 0, "trainees": 0, "population_served": 0},
        )
        cell["builds"] += 1
        cell["benefit"] += benefit
        cell["crew_km"] += km
        cell["population_served"] += int(data.population[s])
    for (r, year), n in trained.items():
        cell = cells.setdefault(
            (data.region_ids[r], year),
            {"builds": 0, "benefit": 0, "crew_km": 0, "trainees": 0, "population_served": 0},
        )
        cell["trainees"] += n
    by_region_year = [{"region": r, "year": y, **v} for (r, y), v in sorted(cells.items())]
    return {"by_region_year": by_region_year, "by_site": sites}


def _span(lo: int, hi: int) -> str:
    lo_s = "-" if lo == UNBOUNDED else str(lo)
    hi_s = "-" if hi == UNBOUNDED else str(hi)
    return f"{lo_s}..{hi_s}"
