"""The benchmark baseline: SPEC §3 written row by row in PuLP, solved by HiGHS.

This is the model a competent analyst writes first, and the yardstick every
backend is measured against. It reads the same derived data as rdplan
(:func:`solver.problem.build_problem`: defaults, distances, reach, ``w(s)``) and
then transcribes SPEC §3 literally:

* ``x[s,o,y]`` for every allowed option and every year of the window (∩ horizon);
* ``a[k,s,y]`` for every pool that reaches the site, in *every* year of the
  horizon (``0..available(k,y)``);
* ``t[r,y]`` for every region and year (``0..capacity``, or the region's
  largest possible need where unlimited);
* every constraint as written, including the cumulative sums of §3.4, §3.6 and
  §3.7 directly over ``x`` (no auxiliary stock or served-share variables), one
  §3.3 site row for every site and year.

It is solved through ``pulp.HiGHS`` (the highspy interface, which PuLP fills
column by column and row by row) with the same stopping rule as rdplan's HiGHS
backend: ``mip_rel_gap = 0``, ``mip_abs_gap = 0.999`` (``Z`` is an integer, so
an absolute gap below 1 proves optimality to the unit).

:func:`solve_baseline` returns a plan document (SPEC §4) built from the
variable values; its terms and objective are recomputed by the evaluator, as
rdplan's are, so the benchmark checks it the same way. The only additions to
PuLP's own solver class are timers and an improving-solution callback for the
time to the first plan; they do not touch the model.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import pulp

from solver.evaluate import evaluate
from solver.plan import (
    Build,
    CrewAssignment,
    Plan,
    SolverInfo,
    Status,
    TrainingRow,
    floor_bound,
    gap_of,
    sort_builds,
)
from solver.problem import UNBOUNDED, ProblemData, build_problem
from solver.scenario import Scenario, parse_scenario

NAME = "baseline"


@dataclass
class BaselineModel:
    """The PuLP problem and its variables, keyed as in SPEC §3."""

    data: ProblemData
    prob: pulp.LpProblem
    x: dict[tuple[int, int, int], pulp.LpVariable]  # (site, option, year)
    a: dict[tuple[int, int, int], pulp.LpVariable]  # (pool, site, year)
    t: dict[tuple[int, int], pulp.LpVariable]  # (region, year)
    obj_const: int  # constant of Z (stability), not passed to HiGHS by PuLP

    def size(self) -> dict[str, int]:
        constraints = self.prob.constraints()
        return {
            "variables": len(self.x) + len(self.a) + len(self.t),
            "constraints": len(constraints),
            "nonzeros": sum(len(c) for c in constraints),
        }


@dataclass
class BaselineResult:
    """A checked plan document and where the time went."""

    plan: dict[str, Any]
    build_seconds: float  # scenario parse, derived data and the PuLP model
    transfer_seconds: float  # PuLP filling HiGHS column by column, row by row
    solve_seconds: float  # HiGHS run
    first_plan_seconds: float | None  # from the start of the HiGHS run
    size: dict[str, int] = field(default_factory=dict)


def build_baseline(data: ProblemData) -> BaselineModel:
    """SPEC §3 in PuLP, one constraint per row of the SPEC."""
    years = list(data.years)
    start, end = data.start, data.end
    prob = pulp.LpProblem("rdplan_baseline", pulp.LpMaximize)
    sites = range(data.num_sites)
    regions = range(data.num_regions)
    pools = range(data.num_pools)

    # Decisions.
    x: dict[tuple[int, int, int], pulp.LpVariable] = {}
    for s in sites:
        for o in data.site_options[s]:
            for y in data.build_years[s]:
                x[s, o, y] = prob.add_variable(f"x_{s}_{o}_{y}", cat=pulp.LpBinary)
    a: dict[tuple[int, int, int], pulp.LpVariable] = {}
    for k in pools:
        for s in sites:
            if data.reach[k, s]:
                for y in years:
                    a[k, s, y] = prob.add_variable(
                        f"a_{k}_{s}_{y}", 0, int(data.available[k, y - start]), cat=pulp.LpInteger
                    )
    t: dict[tuple[int, int], pulp.LpVariable] = {}
    for r in regions:
        for y in years:
            t[r, y] = prob.add_variable(
                f"t_{r}_{y}", 0, int(data.training_capacity[r, y - start]), cat=pulp.LpInteger
            )

    x_of_site: dict[int, list[tuple[int, int]]] = {s: [] for s in sites}
    for s, o, y in x:
        x_of_site[s].append((o, y))

    def b(s: int, y: int) -> pulp.LpAffineExpression:
        """``b[s,y] = Σ_o x[s,o,y]``."""
        return pulp.lpSum(x[s, o, yy] for o, yy in x_of_site[s] if yy == y)

    def built_by(s: int, y: int) -> pulp.LpAffineExpression:
        """``B[s,y] = Σ_{y' <= y} b[s,y']`` (0 before the start)."""
        return pulp.lpSum(x[s, o, yy] for o, yy in x_of_site[s] if yy <= y)

    # §3.1 build once.
    for s in sites:
        total = pulp.lpSum(x[s, o, y] for o, y in x_of_site[s])
        if data.required[s]:
            prob += total == 1, f"build_once_{s}"
        else:
            prob += total <= 1, f"build_once_{s}"

    # §3.2 quotas.
    for r in regions:
        for y in years:
            lo, hi = (int(v) for v in data.quota_region_year[r, y - start])
            built = pulp.lpSum(b(s, y) for s in data.region2sites[r].tolist())
            if lo != UNBOUNDED:
                prob += built >= lo, f"quota_ry_min_{r}_{y}"
            if hi != UNBOUNDED:
                prob += built <= hi, f"quota_ry_max_{r}_{y}"
    for y in years:
        lo, hi = (int(v) for v in data.quota_year[y - start])
        built = pulp.lpSum(b(s, y) for s in sites)
        if lo != UNBOUNDED:
            prob += built >= lo, f"quota_y_min_{y}"
        if hi != UNBOUNDED:
            prob += built <= hi, f"quota_y_max_{y}"

    # §3.3 crews.
    if data.has_crews:
        for k in pools:
            for y in years:
                terms = [a[k, s, y] for s in sites if (k, s, y) in a]
                if terms:
                    prob += (
                        pulp.lpSum(terms) <= int(data.available[k, y - start]),
                        f"crews_pool_{k}_{y}",
                    )
        for s in sites:
            for y in years:
                supply = [a[k, s, y] for k in pools if (k, s, y) in a]
                need = [
                    (x[s, o, yy], int(data.option_crews[o]))
                    for o, yy in x_of_site[s]
                    if yy == y and data.option_crews[o]
                ]
                if supply or need:  # a row with no terms on either side is 0 = 0
                    prob += (
                        pulp.lpSum(supply) == pulp.lpSum(c * v for v, c in need),
                        f"crews_site_{s}_{y}",
                    )

    # §3.4 technicians, cumulative sums written out.
    lead = data.lead_time
    for r in regions:
        members = data.region2sites[r].tolist()
        for y in years:
            supply = int(data.trained_stock[r]) + pulp.lpSum(
                t[r, yy] for yy in years if yy <= y - lead
            )
            demand = pulp.lpSum(
                int(data.option_technicians[o]) * x[s, o, yy]
                for s in members
                for o, yy in x_of_site[s]
                if yy <= y and data.option_technicians[o]
            )
            prob += supply >= demand, f"technicians_{r}_{y}"

    # §3.5 resources.
    for q in range(len(data.resource_ids)):
        for y in years:
            use = pulp.lpSum(
                int(data.option_resources[o, q]) * x[s, o, yy]
                for s in sites
                for o, yy in x_of_site[s]
                if yy == y and data.option_resources[o, q]
            )
            prob += use <= int(data.resource_limit[q, y - start]), f"resources_{q}_{y}"

    # §3.6 precedence: B[q,y] <= B[p, y-g].
    for i, (p, q, gap) in enumerate(data.precedences):
        for y in years:
            prob += built_by(q, y) <= built_by(p, y - gap), f"precedence_{i}_{y}"

    # §3.7 balance: 100·W·S_r(y) >= 100·W_r·S(y) - δ·W_r·W, S over B directly.
    if data.balance_pct is not None:
        w = [int(v) for v in data.weight]
        w_r = [int(v) for v in data.region_weight]
        w_all = sum(w_r)
        delta = data.balance_pct
        for y in years:
            served = {
                r: pulp.lpSum(w[s] * built_by(s, y) for s in data.region2sites[r].tolist())
                for r in regions
            }
            national = pulp.lpSum(served.values())
            for r in regions:
                prob += (
                    100 * w_all * served[r] >= 100 * w_r[r] * national - delta * w_r[r] * w_all,
                    f"balance_{r}_{y}",
                )

    # §3.8 objective.
    wts = data.weights
    benefit = pulp.lpSum(int(data.benefit[s, o]) * (end - y + 1) * v for (s, o, y), v in x.items())
    mobilization = pulp.lpSum(int(data.distance[k, s]) * v for (k, s, _), v in a.items())
    training = pulp.lpSum(t.values())
    stability_const = 0
    stability_terms = []
    for s, o, y in data.baseline:
        stability_const += 1
        if (s, o, y) in x:
            stability_terms.append(x[s, o, y])
    stability = stability_const - pulp.lpSum(stability_terms)
    prob += (
        wts["benefit"] * benefit
        - wts["mobilization"] * mobilization
        - wts["training"] * training
        - wts["stability"] * stability
    )
    return BaselineModel(
        data=data, prob=prob, x=x, a=a, t=t, obj_const=-wts["stability"] * stability_const
    )


class _TimedHiGHS(pulp.HiGHS):  # type: ignore[misc]
    """``pulp.HiGHS`` with timers and an improving-solution callback (no model changes)."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.transfer_seconds = 0.0
        self.run_seconds = 0.0
        self.first_plan_seconds: float | None = None
        self._run_started = 0.0

    def buildSolverModel(self, lp: pulp.LpProblem) -> None:  # noqa: N802 - PuLP's name
        started = time.perf_counter()
        super().buildSolverModel(lp)
        self.transfer_seconds = time.perf_counter() - started

    def callSolver(self, lp: pulp.LpProblem) -> None:  # noqa: N802 - PuLP's name
        import highspy

        def on_solution(event: Any) -> None:
            if self.first_plan_seconds is None:
                self.first_plan_seconds = time.perf_counter() - self._run_started

        lp.solverModel.cbMipImprovingSolution.subscribe(on_solution)
        self._run_started = time.perf_counter()
        super().callSolver(lp)
        self.run_seconds = time.perf_counter() - self._run_started
        del highspy


def solve_baseline(
    scenario: Scenario | dict[str, Any] | str,
    time_limit: float = 60.0,
    threads: int = 1,
    seed: int = 0,
) -> BaselineResult:
    """Build and solve the baseline; return its plan document and timings."""
    started = time.perf_counter()
    sc = parse_scenario(scenario)
    data = build_problem(sc)
    model = build_baseline(data)
    build_seconds = time.perf_counter() - started
    size = model.size()
    solver = _TimedHiGHS(
        msg=False,
        timeLimit=float(time_limit),
        threads=int(threads),
        gapRel=0.0,
        gapAbs=0.999,
        random_seed=int(seed),
    )
    import highspy

    # HiGHS's thread count is process-global: reset it, as rdplan's backend does.
    highspy.Highs.resetGlobalScheduler(True)
    model.prob.solve(solver)
    h = model.prob.solverModel
    info = h.getInfo()
    import highspy

    model_status = h.getModelStatus()
    has_solution = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    solver_info = SolverInfo(
        backend=NAME,
        seconds=round(solver.run_seconds, 3),
        threads=int(threads),
        time_limit=float(time_limit),
        seed=seed,
        build_seconds=round(build_seconds + solver.transfer_seconds, 3),
        **size,
    )
    solver_info.detail = h.modelStatusToString(model_status)  # type: ignore[attr-defined]
    if model_status in (
        highspy.HighsModelStatus.kInfeasible,
        highspy.HighsModelStatus.kUnboundedOrInfeasible,
    ):
        plan = Plan(scenario=sc.name, status=Status.INFEASIBLE, solver=solver_info)
    elif not has_solution:
        plan = Plan(scenario=sc.name, status=Status.UNKNOWN, solver=solver_info)
    else:
        plan = _plan(model, solver_info)
        # PuLP hands HiGHS min -(Z - const): its dual bound is a lower bound on that.
        dual = float(info.mip_dual_bound)
        bound = floor_bound(-dual + model.obj_const) if math.isfinite(dual) else None
        assert plan.objective is not None
        if model_status == highspy.HighsModelStatus.kOptimal or (
            bound is not None and bound < plan.objective + 1
        ):
            plan.status, plan.bound = Status.OPTIMAL, plan.objective
        else:
            plan.status, plan.bound = Status.FEASIBLE, bound
        plan.gap = None if plan.bound is None else gap_of(plan.objective, plan.bound)
    return BaselineResult(
        plan=plan.to_document(),
        build_seconds=build_seconds + solver.transfer_seconds,
        transfer_seconds=solver.transfer_seconds,
        solve_seconds=solver.run_seconds,
        first_plan_seconds=solver.first_plan_seconds,
        size=size,
    )


def _plan(model: BaselineModel, info: SolverInfo) -> Plan:
    """The plan document of the variable values, terms and objective recomputed."""
    data = model.data
    crews: dict[tuple[int, int], list[CrewAssignment]] = {}
    for (k, s, y), v in model.a.items():
        n = round(v.varValue or 0)
        if n > 0:
            crews.setdefault((s, y), []).append(
                CrewAssignment(pool=data.pool_ids[k], count=n, distance_km=int(data.distance[k, s]))
            )
    builds = [
        Build(
            site=data.site_ids[s],
            region=data.region_ids[data.site2region[s]],
            year=y,
            option=data.option_ids[o],
            crews=crews.get((s, y), []),
        )
        for (s, o, y), v in model.x.items()
        if (v.varValue or 0) > 0.5
    ]
    training = sorted(
        (
            TrainingRow(region=data.region_ids[r], year=y, trainees=round(v.varValue or 0))
            for (r, y), v in model.t.items()
            if round(v.varValue or 0) > 0
        ),
        key=lambda row: (row.region, row.year),
    )
    plan = Plan(
        scenario=data.scenario.name,
        status=Status.FEASIBLE,
        builds=sort_builds(builds),
        training=training,
        solver=info,
    )
    ev = evaluate(data, plan, check_reported=False)
    plan.terms, plan.objective, plan.unbuilt = ev.terms, ev.objective, ev.unbuilt
    return plan
