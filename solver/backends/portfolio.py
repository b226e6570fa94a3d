"""Portfolio backend: CP-SAT finds a first plan fast, HiGHS proves from it.

On the national instances (measured in ``benchmarks/RESULTS.md``) CP-SAT has a
plan within seconds but a weak bound, while HiGHS has the stronger LP bound but
can spend a minute in its root cut loop before its first plan. On 2 cores a
race would halve each solver's threads, so the portfolio runs them in turn:
CP-SAT for a short head start, then HiGHS warm-started from CP-SAT's complete
solution (builds, crews and trainees) for the rest of the time limit. The
returned bound is the better of the two solvers' bounds.
"""

from __future__ import annotations

import time

from solver.backends import cpsat, highs
from solver.backends.base import RawResult, SolveOptions
from solver.model import MatrixModel, build_model
from solver.plan import Status

HEAD_START_SHARE = 0.1
HEAD_START_MIN = 2.0
HEAD_START_MAX = 10.0
#: Above this many columns CP-SAT's model alone outgrows the memory HiGHS needs for the whole
#: solve (gen-3000: 9 GB against 4.7 GB) and finds no plan in minutes: HiGHS goes alone.
CPSAT_MAX_COLUMNS = 300_000


def solve(model: MatrixModel, options: SolveOptions) -> RawResult:
    if model.num_cols > CPSAT_MAX_COLUMNS:
        result = highs.solve(model, options)
        result.detail = f"highs alone ({model.num_cols:,} columns): {result.detail}"
        return result
    started = time.perf_counter()
    head = min(
        HEAD_START_MAX,
        max(HEAD_START_MIN, HEAD_START_SHARE * options.time_limit),
        options.time_limit,
    )
    # CP-SAT's own form of the model: balance over auxiliaries. Columns x, a, t come first in
    # the same order in both forms, so a solution carries over by truncation.
    cp_model = model
    if model.num_aux == 0 and model.data.balance_pct is not None:
        cp_model = build_model(model.data, dense_balance=False)
    first = cpsat.solve(cp_model, _with(options, time_limit=head, continuous_flows=False))
    if first.values is not None:
        first.values = first.values[: model.num_cols]
    if first.status in (Status.OPTIMAL, Status.INFEASIBLE) or (
        options.cancel is not None and options.cancel.is_set()
    ):
        first.detail = f"cpsat: {first.detail}"
        return first
    remaining = options.time_limit - (time.perf_counter() - started)
    if remaining <= 0.5:
        first.detail = f"cpsat: {first.detail}"
        return first
    hint = options.hint
    if first.values is not None:
        hint = {j: int(round(v)) for j, v in enumerate(first.values.tolist())}
    offset = time.perf_counter() - started
    report = options.on_progress

    def on_progress(elapsed: float, incumbent: float | None, bound: float | None) -> None:
        if report is not None:
            better = bound if first.bound is None or bound is None else min(bound, first.bound)
            report(offset + elapsed, incumbent, better)

    second = highs.solve(
        model,
        _with(
            options, time_limit=remaining, hint=hint, on_progress=on_progress if report else None
        ),
    )
    seconds = time.perf_counter() - started
    bounds = [b for b in (first.bound, second.bound) if b is not None]
    bound = min(bounds) if bounds else None
    if second.values is not None:
        return RawResult(
            second.status,
            second.values,
            bound,
            seconds,
            second.threads,
            f"cpsat {head:.0f}s, then highs: {second.detail}",
            continuous_flows=second.continuous_flows,
        )
    if first.values is not None:
        return RawResult(
            Status.FEASIBLE,
            first.values,
            bound,
            seconds,
            first.threads,
            f"cpsat {head:.0f}s: {first.detail}; highs: {second.detail}",
        )
    return RawResult(
        second.status,
        None,
        None,
        seconds,
        second.threads,
        f"cpsat: {first.detail}; highs: {second.detail}",
    )


def _with(options: SolveOptions, **changes: object) -> SolveOptions:
    from dataclasses import replace

    return replace(options, **changes)  # type: ignore[arg-type]
