"""LP-guided search for large models: the LP bound, then MILPs over the builds it points at.

On the continental scenarios (gen-1000, gen-3000 in ``benchmarks/RESULTS.md``) HiGHS's
branch-and-cut spends minutes in presolve and its root cut loop and finds only poor plans
(feasibility jump, 45 % of the bound), while the LP relaxation alone solves in ~25 s and is
within a fraction of a per cent of the optimum. So, in turn:

1. **LP relaxation** of the whole model (dual simplex): its value ``B`` bounds ``Z`` — the
   bound this backend reports.
2. **Support MILP**: the model restricted to the ``x`` columns the LP uses (``x > 0``): a few
   thousand binaries instead of 150,000; every plan of it is a plan of the whole model
   (``MatrixModel.restrict_x``). When it has none, every option within one, then two years
   of each site's LP years is added. Its best plan has value ``Z0``.
3. **Reduced-cost neighbourhood**: an ``x`` column at 0 in the LP with reduced cost ``d``
   cannot be 1 in any plan worth more than ``B - |d|`` (LP duality), so a plan better than
   ``Z0`` uses only columns with ``B - |d| >= Z0 + 1``. The MILP over those columns is exact
   for "is there a better plan": when it finishes, the best of the two is optimal and its
   bound is a bound on ``Z``. When time runs out first, its best plan is kept.

Crews and trainees are continuous throughout (exact, ``solver.flows``). If the LP is
infeasible the scenario is; if the support MILP has no plan, plain HiGHS runs on the whole
model for the rest of the time.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Any

import highspy
import numpy as np

from solver.backends import highs
from solver.backends.base import ProgressThrottle, RawResult, SolveOptions
from solver.interrupts import held_sigint
from solver.model import MatrixModel
from solver.plan import Status, close_enough

#: Slack on reduced costs (relative to ``|B|``): LP round-off must never drop a column that
#: could improve the plan, since the neighbourhood's bound is reported as a bound on ``Z``.
REDUCED_COST_SLACK = 1e-7
#: The first MILP's columns: the LP support, then (when that has no plan) every option within
#: 1, then 2 years of a site's LP years.
WIDENINGS = (0, 1, 2)


def solve(
    model: MatrixModel,
    options: SolveOptions,
    neighbourhood: bool = True,
    fallback: bool = True,
) -> RawResult:
    """Steps 1-3 of the module docstring within ``options.time_limit``.

    ``neighbourhood=False`` stops after the support MILP (the portfolio's primal phase);
    ``fallback=False`` returns without a plan, instead of running plain HiGHS, when the
    support MILPs have none.
    """
    started = time.perf_counter()
    deadline = started + options.time_limit
    progress = ProgressThrottle(options.on_progress)
    cancel = options.cancel

    def remaining() -> float:
        return deadline - time.perf_counter()

    def stopped() -> bool:
        return (cancel is not None and cancel.is_set()) or remaining() <= 0.5

    lp = _relaxation(model, options, deadline)
    if lp is None or stopped():
        if not fallback:
            return RawResult(
                Status.UNKNOWN, None, None, time.perf_counter() - started, options.threads,
                "LP relaxation unfinished",
            )  # fmt: skip
        return _plain(model, options, remaining(), started, "LP relaxation unfinished")
    status, bound, x_lp, reduced = lp
    if status == "infeasible":
        return RawResult(
            Status.INFEASIBLE, None, None, time.perf_counter() - started, options.threads,
            "LP relaxation infeasible",
        )  # fmt: skip
    progress(bound=bound, force=True)

    offset = time.perf_counter() - started
    best: list[float] = []  # the best plan's value so far, for progress

    def report(elapsed: float, incumbent: float | None, sub_bound: float | None) -> None:
        if options.on_progress is not None:
            if incumbent is not None and (not best or incumbent > best[0]):
                best[:] = [incumbent]
            options.on_progress(time.perf_counter() - started, best[0] if best else None, bound)

    def run(sub: MatrixModel, hint: dict[int, int] | None) -> RawResult:
        return highs.solve(
            sub,
            replace(
                options,
                time_limit=max(0.1, remaining()),
                hint=hint,
                start_value=None,  # its own plans on a smaller model, not the caller's start
                on_progress=report if options.on_progress else None,
                continuous_flows=True,
            ),
            crews_hull=False,  # a sub-MILP: HiGHS's default root, as measured
        )

    support = x_lp > 1e-6
    first = RawResult(Status.UNKNOWN, None, None, 0.0, options.threads)
    for widen in WIDENINGS:
        if stopped():
            break
        if widen:
            # The LP's support admits no integral plan: around each site's LP years, every
            # option in the years next to them too.
            support = _around(model, x_lp > 1e-6, widen)
        sub, cols = model.restrict_x(support)
        if len(sub.violated_empty_rows()):
            continue
        first = run(sub, None)
        if first.values is not None or first.status is not Status.INFEASIBLE:
            break
    if first.values is None:
        if stopped() or not fallback or first.memory_stopped:
            return RawResult(
                Status.UNKNOWN, None, bound, time.perf_counter() - started, first.threads,
                f"LP bound, support MILP without a plan yet: {first.detail}",
                memory_stopped=first.memory_stopped,
            )  # fmt: skip
        return _plain(model, options, remaining(), started, f"support MILP: {first.detail}")
    values = np.zeros(model.num_cols)
    values[cols] = first.values
    best_value = model.objective_of(values)
    detail = f"LP bound in {offset:.1f}s; support MILP ({int(support.sum()):,} x): {first.detail}"
    # Columns that could still be in a better plan (module docstring): a plan using any other
    # column is worth at most floor(best_value), so the neighbourhood's bound, or that, bounds Z.
    slack = REDUCED_COST_SLACK * max(1.0, abs(bound))
    wider = support | (bound - np.abs(reduced) >= math.floor(best_value) + 1 - slack)
    neighbourhood_bound = first.bound if first.bound is not None else math.inf
    second: RawResult | None = None
    # Not after the memory limit stopped the support MILP: the neighbourhood is a larger one.
    if (
        wider.sum() > support.sum()
        and neighbourhood
        and not stopped()
        and not first.memory_stopped
        and not close_enough(bound, best_value, options.gap)  # within the caller's gap already
    ):
        sub2, cols2 = model.restrict_x(wider)
        pos = np.searchsorted(cols2, cols[: sub.num_x])
        hint = {int(pos[j]): int(round(v)) for j, v in enumerate(first.values[: sub.num_x])}
        second = run(sub2, hint)
        detail += f"; reduced-cost neighbourhood ({int(wider.sum()):,} x): {second.detail}"
        neighbourhood_bound = second.bound if second.bound is not None else math.inf
        if second.values is not None:
            candidate = np.zeros(model.num_cols)
            candidate[cols2] = second.values
            value = model.objective_of(candidate)
            if value > best_value:
                values, best_value = candidate, value
    elif wider.sum() > support.sum():
        neighbourhood_bound = math.inf  # the neighbourhood was never searched
    final_bound = min(bound, max(neighbourhood_bound, math.floor(best_value)))
    progress(incumbent=best_value, bound=final_bound, force=True)
    return RawResult(
        Status.FEASIBLE,
        values,
        final_bound,
        time.perf_counter() - started,
        first.threads,
        detail,
        continuous_flows=True,
        memory_stopped=first.memory_stopped or (second is not None and second.memory_stopped),
    )


def _around(model: MatrixModel, support: np.ndarray, years: int) -> np.ndarray:
    """``x`` columns of a site within ``years`` of a year its LP support uses (any option)."""
    num_sites = model.data.num_sites
    lo = np.full(num_sites, np.iinfo(np.int64).max)
    hi = np.full(num_sites, -1)
    np.minimum.at(lo, model.x_site[support], model.x_year[support])
    np.maximum.at(hi, model.x_site[support], model.x_year[support])
    near = (model.x_year >= lo[model.x_site] - years) & (model.x_year <= hi[model.x_site] + years)
    return np.asarray(support | near)


def _relaxation(
    model: MatrixModel, options: SolveOptions, deadline: float
) -> tuple[str, float, np.ndarray, np.ndarray] | None:
    """The LP relaxation: status, value, x values and x reduced costs (None: unfinished)."""
    h = highs.new_relaxation(model, options.threads, bool(options.log))
    h.setOptionValue("solver", "simplex")
    h.setOptionValue("time_limit", max(0.01, deadline - time.perf_counter()))
    cancel = options.cancel

    with held_sigint() as ctrl_c:

        def on_interrupt(event: Any) -> None:
            if (
                ctrl_c.is_set()
                or (cancel is not None and cancel.is_set())
                or time.perf_counter() > deadline
            ):
                event.data_in.user_interrupt = True

        h.cbSimplexInterrupt.subscribe(on_interrupt)
        h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return "infeasible", -math.inf, np.zeros(0), np.zeros(0)
    if status != highspy.HighsModelStatus.kOptimal:
        return None
    solution = h.getSolution()
    x = np.asarray(solution.col_value)[: model.num_x]
    reduced = np.asarray(solution.col_dual)[: model.num_x]
    return "optimal", float(h.getInfo().objective_function_value), x, reduced


def _plain(
    model: MatrixModel, options: SolveOptions, time_left: float, started: float, why: str
) -> RawResult:
    """Plain HiGHS on the whole model for the time left."""
    if time_left <= 0.5 or (options.cancel is not None and options.cancel.is_set()):
        return RawResult(
            Status.UNKNOWN, None, None, time.perf_counter() - started, options.threads, why
        )
    result = highs.solve(model, replace(options, time_limit=time_left))
    result.seconds = time.perf_counter() - started
    result.detail = f"{why}; highs on the whole model: {result.detail}"
    return result
