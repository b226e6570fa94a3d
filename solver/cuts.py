"""Implied rows added where the LP relaxation needs them.

The model builder keeps some exact implied rows aside (``MatrixModel.candidates``: the
hull rows of ``ModelBuilder.crew_hull`` and ``ModelBuilder.technician_hull``): all of them
would make the model several times as dense and HiGHS slower, while the few dozen the LP
relaxation violates make its root much tighter. :func:`add_violated` solves the LP relaxation
with HiGHS, appends the candidate rows its solution violates, and repeats for a few rounds — a
cut loop over known rows, before the solver's own. national-20x10: 66 rows in four LP solves
(about a second); HiGHS's root LP after presolve falls from 1,868,756 (none) to 1,864,376
(technicians', run 7) and 1,862,953 (both, run 8) (``benchmarks/HISTORY.md``).
"""

from __future__ import annotations

import time
from dataclasses import replace

import highspy
import numpy as np

from solver.model import MatrixModel

#: Separation rounds (LP solves) at most; national-20x10 needs three.
ROUNDS = 4
#: A candidate is added when the LP point exceeds its right side by more than this.
VIOLATION = 1e-6


def add_violated(
    model: MatrixModel, threads: int = 1, deadline: float | None = None
) -> tuple[MatrixModel, int]:
    """The model with the candidate rows its LP relaxation violates, and how many there are.

    Every candidate is valid for every plan, so the model's plans and optimum do not change.
    The LP solves stop at ``deadline`` (``time.perf_counter()``), keeping the rows found so far.
    The last LP value solved is kept as the returned model's ``lp_bound``.
    """
    from solver.backends.highs import new_relaxation

    cand = model.candidates
    if cand is None or cand.count == 0:
        return model, 0
    chosen = np.zeros(cand.count, dtype=bool)
    bound = model.lp_bound
    h = new_relaxation(model, threads)
    scale = np.maximum(1.0, np.abs(cand.rhs))
    for _ in range(ROUNDS):
        if deadline is not None:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            h.setOptionValue("time_limit", left)
        h.run()  # after the first round, dual simplex from the last basis
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            break  # infeasible, out of time or odd: leave it to the solver
        bound = float(h.getInfo().objective_function_value)  # offset included: a bound on Z
        values = np.asarray(h.getSolution().col_value, dtype=np.float64)
        new = ~chosen & (cand.activity(values) > cand.rhs + VIOLATION * scale)
        if not new.any():
            break
        chosen |= new
        picked = np.flatnonzero(new)
        starts, index, value = cand.take(picked)
        h.addRows(
            len(picked),
            np.full(len(picked), -highspy.kHighsInf),
            cand.rhs[picked],
            len(index),
            starts[:-1].astype(np.int32),
            index.astype(np.int32),
            value,
        )
    return replace(model.with_candidates(chosen), lp_bound=bound), int(chosen.sum())


def adds_crews_hull(model: MatrixModel, strengthened: MatrixModel) -> bool:
    """Whether :func:`add_violated` added crews' hull rows to ``model`` (``strengthened``)."""
    added = set(strengthened.row_group[model.num_rows :].tolist())
    return any(model.groups[g].group == "crews" for g in added)
