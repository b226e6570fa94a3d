"""HiGHS backend: the matrix model is passed to ``highspy`` as CSR arrays.

HiGHS's ``threads`` option is process-global: an instance asking for another
value than the process's scheduler has fails. Each solve resets the scheduler
first, so solves in one process must not overlap; the service runs every solve
in a worker process of its own.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import highspy
import numpy as np

from solver.backends.base import ProgressThrottle, RawResult, SolveOptions
from solver.cuts import add_violated, adds_crews_hull
from solver.model import MatrixModel
from solver.plan import Status, proves

MS = highspy.HighsModelStatus
STATUS = {
    MS.kOptimal: Status.OPTIMAL,
    MS.kInfeasible: Status.INFEASIBLE,
    MS.kUnboundedOrInfeasible: Status.INFEASIBLE,  # every column is bounded: never unbounded
    MS.kTimeLimit: Status.UNKNOWN,
    MS.kInterrupt: Status.UNKNOWN,
    MS.kIterationLimit: Status.UNKNOWN,
    MS.kSolutionLimit: Status.UNKNOWN,
    MS.kObjectiveBound: Status.UNKNOWN,
    MS.kObjectiveTarget: Status.UNKNOWN,
}

_lock = threading.Lock()
#: HiGHS runs that :func:`solve` stopped waiting for (:data:`OVERRUN_GRACE`); interrupted, they
#: end at HiGHS's next check, and the next run in the process waits for them (:func:`_threads`).
_lingering: list[threading.Thread] = []
#: Seconds HiGHS may run past its time limit (or a cancel) before :func:`solve` returns without
#: it. HiGHS looks at the clock and at its interrupt callback between the rounds of its root cut
#: loop, not inside one, and a round on a 200,000-column model took 34 s on a slow 2-core machine
#: (gen-1000, run 11): the portfolio's 60-s solve ended at 94.6 s. Its best plan and bound so far
#: (from its callbacks) are the result then.
#: The run goes on to its next check: the next HiGHS run in the process, or the process's exit,
#: waits for it.
OVERRUN_GRACE = 2.0

#: HiGHS's primal heuristics, off when the solve starts from a plan close to the bound
#: (:func:`near_start`). Restarts stay on: without them a start a few hundred below the optimum
#: proved 1.6x slower (``benchmarks/RESULTS.md``, run 10).
HEURISTICS_OFF: dict[str, bool | float | str] = {
    "mip_heuristic_effort": 0.0,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_root_reduced_cost": False,
    "mip_heuristic_run_feasibility_jump": False,
}
#: The root on models whose LP violates crews' hull rows (national-20x10, its re-plans and
#: what-ifs), unless the heuristics are off: the root LP by interior point (IPX, then crossover;
#: HiGHS solves every later LP by dual simplex), RENS and feasibility jump off. The
#: sub-MIP that follows the first cut round then starts from another vertex and, on
#: national-20x10, found a plan 275 better two seconds sooner (1,861,688 at 5.5 s against
#: 1,861,413 at 7.5 s, seed 0). Proofs (run 14, 2 threads, seeds 0-9 / 0-5 / 0-2): national-20x10
#: 13.5 s against 15.8 s on the means; the crew loss from scratch 21.4 against 23.1; the frozen
#: re-plan 8.7 against 10.1; national-replan-2026 12.6 against 14.0. Not on gen-200 (its LP
#: violates only technicians' rows), where RENS finds the plans: 0.30 / 0.32 % at 60 s
#: against 0.20 / 0.30 %. On top of that root, restarts off (before, measured only with every
#: heuristic off from a start, where they paid: run 10): national-20x10 12.3 against 14.1 s
#: over seeds 0-9 (9 of 10 faster), the frozen re-plan 6.8 against 8.7, national-replan-2026
#: 11.4 against 12.7, the crew loss from scratch 21.4 against 23.0 (mixed by seed).
CREWS_HULL_ROOT: dict[str, bool | float | str] = {
    # "ipm" was measured: it is IPX in highspy's wheels (no HiPO there); named, so that a wheel
    # with HiPO does not change the root unmeasured.
    "mip_lp_solver": "ipx",
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_feasibility_jump": False,
    "mip_allow_restart": False,
}
#: A start is close when it is within this share of the LP bound: between the widest measured
#: win and the narrowest tie (run 10: national-size starts 0.26-0.34 % below it proved faster
#: with the heuristics off in 14 of 15 runs, one at 0.38 % as fast; gen-200 from a plan 0.89 %
#: below found nothing better in 60 s without them; run 11: the what-if "mobilisation x3" from
#: the old plan, 0.456 % below, 1.3x slower without them — 53.5 / 66.2 s against 39.3 / 50.8 s).
NEAR_GAP = 0.0036
#: Above this many columns HiGHS's plans come from its heuristics (gen-1000, run 9): never off.
NEAR_MAX_COLUMNS = 100_000


def near_start(model: MatrixModel, options: SolveOptions) -> bool:
    """Does the solve start from a plan that holds and lies within :data:`NEAR_GAP` of the LP
    bound, on a model of at most :data:`NEAR_MAX_COLUMNS` columns?

    Then what is left is mostly the proof: HiGHS's sub-MIPs and other primal heuristics cost
    seconds at every root and find nothing the start does not have. national-20x10 from its
    optimum and from a plan 515 below it, and four what-ifs from its optimum (seeds 0-2): 14
    of 15 proofs faster with them off, 1.5x on the mean (0.8-2.0x); from the LP-guided plan
    (0.38 % below the bound) the same time. The LP bound is the one
    :func:`solver.cuts.add_violated` solved, or one LP solve here."""
    if options.start_value is None or model.num_cols > NEAR_MAX_COLUMNS:
        return False
    bound = model.lp_bound
    if bound is None:
        h = new_relaxation(model, options.threads)
        h.run()
        if h.getModelStatus() != MS.kOptimal:
            return False
        bound = float(h.getInfo().objective_function_value)
    return bound - options.start_value <= NEAR_GAP * max(1.0, abs(bound))


def _threads(requested: int) -> int:
    """Set HiGHS's process-global thread count for the next run.

    HiGHS keeps one task scheduler per process, and an instance asking for a
    different ``threads`` than the scheduler has fails ("Not Set") — also when
    the other value came from another library in the process (PuLP's HiGHS
    interface in the benchmark baseline, say). Resetting the scheduler first lets
    every solve choose; solves in one process run one at a time, so a run :func:`solve`
    stopped waiting for is waited for here first.
    """
    with _lock:
        while _lingering:
            _lingering.pop().join()
        highspy.Highs.resetGlobalScheduler(True)
    return max(1, requested)


def to_highs(model: MatrixModel, continuous_flows: bool = False) -> highspy.HighsLp:
    lp = highspy.HighsLp()
    lp.num_col_ = model.num_cols
    lp.num_row_ = model.num_rows
    lp.col_cost_ = model.obj
    lp.col_lower_ = model.col_lb
    lp.col_upper_ = model.col_ub
    lp.row_lower_ = np.where(np.isinf(model.row_lb), -highspy.kHighsInf, model.row_lb)
    lp.row_upper_ = np.where(np.isinf(model.row_ub), highspy.kHighsInf, model.row_ub)
    lp.offset_ = float(model.obj_const)
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_ = model.num_cols
    lp.a_matrix_.num_row_ = model.num_rows
    lp.a_matrix_.start_ = model.row_start.astype(np.int32)
    lp.a_matrix_.index_ = model.row_index.astype(np.int32)
    lp.a_matrix_.value_ = model.row_value
    kinds = (highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger)
    lp.integrality_ = [kinds[i] for i in model.integer_columns(continuous_flows).tolist()]
    return lp


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """HiGHS prints its banner on stdout when an instance is made; keep stdout for plans."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def new_highs() -> highspy.Highs:
    with _quiet_stdout():
        return highspy.Highs()  # type: ignore[no-untyped-call]


def new_relaxation(model: MatrixModel, threads: int, log: bool = False) -> highspy.Highs:
    """A HiGHS instance holding the LP relaxation of ``model`` (every column continuous)."""
    h = new_highs()
    h.setOptionValue("output_flag", log)
    h.setOptionValue("threads", _threads(threads))
    lp = to_highs(model, continuous_flows=True)
    lp.integrality_ = []
    h.passModel(lp)
    return h


def _wait(
    run: threading.Thread, deadline: float, cancel: threading.Event | None, stop: threading.Event
) -> str | None:
    """Wait for HiGHS's ``run`` until it ends or :data:`OVERRUN_GRACE` seconds past the
    deadline or a cancel; ``None`` when it ended, else what it overran — ``"the time limit"``
    or ``"a cancel"`` — and it is left running (interrupted: ``stop``)."""
    cancelled_at = None
    try:
        while run.is_alive():
            run.join(0.1)
            now = time.perf_counter()
            if cancel is not None and cancel.is_set() and cancelled_at is None:
                cancelled_at = now
            late = now > deadline + OVERRUN_GRACE
            if run.is_alive() and (late or (cancelled_at and now > cancelled_at + OVERRUN_GRACE)):
                stop.set()
                _lingering.append(run)
                return "the time limit" if late else "a cancel"
    except BaseException:  # Ctrl-C, say: HiGHS stops at its next check
        stop.set()
        _lingering.append(run)
        raise
    return None


def solve(model: MatrixModel, options: SolveOptions, crews_hull: bool | None = None) -> RawResult:
    """Solve the matrix model with HiGHS (first with the implied rows its LP violates,
    :func:`solver.cuts.add_violated`).

    ``crews_hull`` says whether the model's LP violates crews' hull rows, for
    :data:`CREWS_HULL_ROOT`; None: whether this solve's own separation adds any (a caller
    that separated the rows itself says so)."""
    started = time.perf_counter()
    deadline = started + options.time_limit
    strengthened, implied = add_violated(model, options.threads, deadline)
    if crews_hull is None:
        crews_hull = adds_crews_hull(model, strengthened)
    model = strengthened
    near = near_start(model, options)
    h = new_highs()
    threads = _threads(options.threads)
    h.setOptionValue("output_flag", bool(options.log))
    h.setOptionValue("threads", threads)
    h.setOptionValue("time_limit", max(0.01, float(options.time_limit)))
    h.setOptionValue("random_seed", int(options.seed))
    # Z is an integer: a bound below Z + 1 proves optimality to the unit. HiGHS's own absolute
    # gap (0.999) would stop at bounds that the dispatcher's rule (``proves``, with its
    # round-off slack) cannot accept; so HiGHS is stopped here, by that same rule.
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 1e-6)
    root: dict[str, bool | float | str] = (
        HEURISTICS_OFF if near else CREWS_HULL_ROOT if crews_hull else {}
    )
    for name, value in root.items():
        h.setOptionValue(name, value)
    h.passModel(to_highs(model, options.continuous_flows))
    if options.hint:
        hint = model.complete_hint(options.hint)
        cols = np.fromiter(hint.keys(), dtype=np.int32)
        vals = np.fromiter(hint.values(), dtype=np.float64)
        h.setSolution(len(cols), cols, vals)
    progress = ProgressThrottle(options.on_progress)
    cancel = options.cancel
    stop = threading.Event()
    # What the callbacks saw last: the best plan (original columns) and the dual bound.
    seen: dict[str, Any] = {"values": None, "bound": None}

    def on_log(event: Any) -> None:
        out = event.data_out
        primal = out.mip_primal_bound
        dual = out.mip_dual_bound
        progress(
            incumbent=primal if math.isfinite(primal) else None,
            bound=dual if math.isfinite(dual) else None,
        )

    def on_solution(event: Any) -> None:
        seen["values"] = np.array(event.data_out.mip_solution, dtype=np.float64)
        if options.on_progress is not None:
            on_log(event)

    def on_interrupt(event: Any) -> None:
        # HiGHS checks its own time limit only between phases; the root's cut loop can run
        # well past it, so the wall clock is enforced here too.
        out = event.data_out
        if math.isfinite(out.mip_dual_bound):
            seen["bound"] = float(out.mip_dual_bound)
        if (
            stop.is_set()
            or (cancel is not None and cancel.is_set())
            or time.perf_counter() > deadline
        ):
            event.data_in.user_interrupt = True
            return
        primal, dual = out.mip_primal_bound, out.mip_dual_bound
        if math.isfinite(primal) and math.isfinite(dual) and proves(dual, primal):
            event.data_in.user_interrupt = True

    h.cbMipImprovingSolution.subscribe(on_solution)
    if options.on_progress is not None:
        h.cbMipLogging.subscribe(on_log)
    h.cbMipInterrupt.subscribe(on_interrupt)
    h.cbSimplexInterrupt.subscribe(on_interrupt)
    # Not a daemon: a process that ends with an interrupted run behind it (the CLI after its
    # plan is written) waits for HiGHS's next check; a daemon run still inside HiGHS when the
    # interpreter exits aborts the process ("terminate called without an active exception").
    run = threading.Thread(target=h.run, name="rdplan-highs")
    run.start()
    overrun = _wait(run, deadline, cancel, stop)
    seconds = time.perf_counter() - started
    if overrun:
        values = seen["values"]
        return RawResult(
            Status.FEASIBLE if values is not None else Status.UNKNOWN,
            values,
            seen["bound"] if values is not None else None,
            seconds,
            threads,
            f"HiGHS still in a round of its root cut loop {OVERRUN_GRACE:g} s after {overrun}: "
            "its best plan and bound so far (it stops at its next check)",
            continuous_flows=options.continuous_flows,
        )
    model_status = h.getModelStatus()
    info = h.getInfo()
    status = STATUS.get(model_status, Status.UNKNOWN)
    has_solution = info.primal_solution_status == highspy.SolutionStatus.kSolutionStatusFeasible
    values = None
    bound = None
    if has_solution and status is not Status.INFEASIBLE:
        values = np.asarray(h.getSolution().col_value, dtype=np.float64)
        bound = float(info.mip_dual_bound)
        status = Status.OPTIMAL if status is Status.OPTIMAL else Status.FEASIBLE
        progress(incumbent=float(info.objective_function_value), bound=bound, force=True)
    elif status is Status.OPTIMAL:
        status = Status.UNKNOWN
    return RawResult(
        status,
        values,
        bound,
        seconds,
        threads,
        h.modelStatusToString(model_status)
        + (f" (+{implied} implied rows)" if implied else "")
        + (
            f" (heuristics off: a start within {100 * NEAR_GAP:g} % of the LP bound)"
            if near
            else " (root LP by interior point, RENS, feasibility jump and restarts off: crews'"
            " hull rows)"
            if crews_hull
            else ""
        ),
        continuous_flows=options.continuous_flows,
    )
