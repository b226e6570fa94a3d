"""OR-Tools CP-SAT backend: translates the matrix model into a CP-SAT proto."""

from __future__ import annotations

import threading
import time

import numpy as np
from ortools.sat.python import cp_model

from solver.backends.base import ProgressThrottle, RawResult, SolveOptions
from solver.model import MatrixModel
from solver.plan import Status, close_enough

STATUS = {
    cp_model.OPTIMAL: Status.OPTIMAL,
    cp_model.FEASIBLE: Status.FEASIBLE,
    cp_model.INFEASIBLE: Status.INFEASIBLE,
    cp_model.UNKNOWN: Status.UNKNOWN,
}

_INT_MAX = 2**62


def _int(value: float) -> int:
    if value == float("inf"):
        return _INT_MAX
    if value == -float("inf"):
        return -_INT_MAX
    return int(round(value))


def to_cpsat(
    model: MatrixModel, group_literals: bool = False
) -> tuple[cp_model.CpModel, list[int]]:
    """The native CP-SAT model of ``model``.

    With ``group_literals`` every constraint-group instance gets a Boolean that
    enforces its rows (and, for ``window``, its fixings): the conflict finder's
    assumptions. Returns the model and the literal index of each group.
    """
    cp = cp_model.CpModel()
    proto = cp.proto
    lb = model.col_lb.astype(np.int64)
    ub = model.col_ub.astype(np.int64)
    for lo, hi in zip(lb.tolist(), ub.tolist(), strict=True):
        proto.variables.add().domain.extend([lo, hi])
    literals: list[int] = []
    if group_literals:
        first = model.num_cols
        for _ in model.groups:
            proto.variables.add().domain.extend([0, 1])
        literals = list(range(first, first + len(model.groups)))
    coeffs = np.rint(model.row_value).astype(np.int64)
    starts = model.row_start.tolist()
    index = model.row_index.tolist()
    values = coeffs.tolist()
    for r, (lo, hi, group) in enumerate(
        zip(model.row_lb.tolist(), model.row_ub.tolist(), model.row_group.tolist(), strict=True)
    ):
        c = proto.constraints.add()
        if group_literals and group >= 0:
            c.enforcement_literal.append(literals[group])
        lin = c.linear
        lin.vars.extend(index[starts[r] : starts[r + 1]])
        lin.coeffs.extend(values[starts[r] : starts[r + 1]])
        lin.domain.extend([_int(lo), _int(hi)])
    if group_literals:
        for gid, cols in model.window_fixings.items():
            if len(cols):
                c = proto.constraints.add()
                c.enforcement_literal.append(literals[gid])
                c.bool_and.literals.extend([-int(j) - 1 for j in cols])  # NOT x_j
    else:
        obj = np.rint(model.obj).astype(np.int64)
        nz = np.flatnonzero(obj)
        # CP-SAT minimises: store -Z and flip the sign back with the scaling factor.
        proto.objective.vars.extend(nz.tolist())
        proto.objective.coeffs.extend((-obj[nz]).tolist())
        proto.objective.offset = float(-model.obj_const)
        proto.objective.scaling_factor = -1.0
    return cp, literals


class _Callback(cp_model.CpSolverSolutionCallback):
    """Progress on every plan, and the stop at ``gap`` (``solver.plan.close_enough``: SPEC §4's
    gap, which CP-SAT's own ``relative_gap_limit`` measures over the plan instead of the
    bound)."""

    def __init__(self, progress: ProgressThrottle, gap: float = 0.0):
        super().__init__()
        self.progress = progress
        self.gap = gap
        self.incumbent: float | None = None

    def on_solution_callback(self) -> None:
        self.incumbent = self.objective_value
        self.progress(incumbent=self.objective_value, bound=self.best_objective_bound)
        if self.close(self.best_objective_bound):
            self.stop_search()

    def close(self, bound: float) -> bool:
        """Whether the best plan so far is within ``gap`` of ``bound``."""
        return (
            self.gap > 0
            and self.incumbent is not None
            and close_enough(bound, self.incumbent, self.gap)
        )


def _parameters(solver: cp_model.CpSolver, options: SolveOptions) -> None:
    p = solver.parameters
    p.max_time_in_seconds = max(0.01, float(options.time_limit))
    p.num_workers = max(1, options.threads)
    p.random_seed = options.seed
    p.log_search_progress = options.log
    no_sigint(solver)


def no_sigint(solver: cp_model.CpSolver) -> None:
    """CP-SAT leaves SIGINT to its caller, who stops it through ``cancel``: by default it
    catches SIGINT itself, and stopped a solve whose caller had SIGINT ignored (a background
    job of a shell; a QA pass)."""
    solver.parameters.catch_sigint_signal = False


def solve(model: MatrixModel, options: SolveOptions) -> RawResult:
    """Solve the matrix model with CP-SAT."""
    cp, _ = to_cpsat(model)
    if options.hint:
        for col, value in options.hint.items():
            cp.proto.solution_hint.vars.append(col)
            cp.proto.solution_hint.values.append(int(value))
    solver = cp_model.CpSolver()
    _parameters(solver, options)
    progress = ProgressThrottle(options.on_progress)
    callback = _Callback(progress, options.gap) if options.on_progress or options.gap > 0 else None

    def on_bound(bound: float) -> None:
        progress(bound=bound)
        if callback is not None and callback.close(bound):
            solver.stop_search()

    solver.best_bound_callback = on_bound
    stop = watch_cancel(solver, options.cancel)
    started = time.perf_counter()
    try:
        code = solver.solve(cp, callback)
    finally:
        stop.set()
    seconds = time.perf_counter() - started
    status = STATUS.get(code, Status.UNKNOWN)
    if code == cp_model.MODEL_INVALID:
        raise RuntimeError(f"CP-SAT rejected the model: {cp.validate()}")
    values = None
    bound = None
    if status.has_plan:
        values = np.array(list(solver.response_proto.solution), dtype=np.float64)[: model.num_cols]
        bound = solver.best_objective_bound
        progress(incumbent=solver.objective_value, bound=bound, force=True)
    return RawResult(status, values, bound, seconds, options.threads, solver.status_name(code))


def watch_cancel(solver: cp_model.CpSolver, cancel: threading.Event | None) -> threading.Event:
    """Stop ``solver`` within ~0.1 s once ``cancel`` is set; set the returned event once its
    solve has ended."""
    done = threading.Event()
    if cancel is None:
        return done

    def watch() -> None:
        while not done.wait(0.1):
            if cancel.is_set():
                solver.stop_search()
                return

    threading.Thread(target=watch, daemon=True).start()
    return done
