"""CBC backend through PuLP: PuLP builds the model, writes it and reads CBC's answer.

PuLP waits for the CBC process and gives no progress, bound or cancellation, so
the solve runs in a thread while this module tails CBC's log (incumbent and
"best possible" lines) and, on cancellation, ends the CBC child process.
PuLP's ``LpStatus`` can read "Optimal" after a time limit: ``sol_status`` is
what counts. CBC is given the minimisation of ``-Z``, never a maximisation: with ``-max``
CBC 2.10 takes a MIP start's value with the wrong sign as its cutoff (coin-or/Cbc#296)
and, where ``Z`` is negative, prunes the optimum and calls what is left "Optimal".
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import psutil
import pulp

from solver.backends.base import ProgressThrottle, RawResult, SolveOptions
from solver.model import MatrixModel
from solver.plan import Status, close_enough

SOL_STATUS = {
    pulp.LpSolutionOptimal: Status.OPTIMAL,
    pulp.LpSolutionIntegerFeasible: Status.FEASIBLE,
    pulp.LpSolutionInfeasible: Status.INFEASIBLE,
    pulp.LpSolutionUnbounded: Status.UNKNOWN,
    pulp.LpSolutionNoSolutionFound: Status.UNKNOWN,
}

# CBC minimises -Z: its values are negated in the log and in its summary.
#: A number as CBC prints it: 1855, -1855.5, 2.9802322e-08 (the sign of an exponent too).
_NUMBER = r"(-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_INCUMBENT = re.compile(rf"Integer solution of {_NUMBER}")
_PROGRESS = re.compile(rf"{_NUMBER} best solution, best possible {_NUMBER}")
_FINAL_BOUND = re.compile(rf"(?:Lower bound|best possible):?\s*{_NUMBER}")


def to_pulp(
    model: MatrixModel, continuous_flows: bool = False
) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """The PuLP problem of ``model``: minimise ``-Z`` (module docstring), and its columns."""
    prob = pulp.LpProblem("rdplan", pulp.LpMinimize)
    lb = model.col_lb.tolist()
    ub = model.col_ub.tolist()
    cat = [
        pulp.LpInteger if integer else pulp.LpContinuous
        for integer in model.integer_columns(continuous_flows).tolist()
    ]
    cols = [
        prob.add_variable(f"c{j}", lowBound=lb[j], upBound=ub[j], cat=cat[j])
        for j in range(model.num_cols)
    ]
    nz = np.flatnonzero(model.obj)
    prob.setObjective(
        pulp.LpAffineExpression(
            [(cols[j], -float(model.obj[j])) for j in nz.tolist()],
            constant=-float(model.obj_const),
        )
    )
    starts = model.row_start.tolist()
    index = model.row_index.tolist()
    values = model.row_value.tolist()
    for r, (lo, hi) in enumerate(zip(model.row_lb.tolist(), model.row_ub.tolist(), strict=True)):
        a, b = starts[r], starts[r + 1]
        if a == b:
            continue  # empty rows are checked before any backend runs
        expr = pulp.LpAffineExpression([(cols[index[i]], values[i]) for i in range(a, b)])
        if lo == hi:
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintEQ, f"r{r}", lo))
            continue
        if lo > -float("inf"):
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintGE, f"r{r}l", lo))
        if hi < float("inf"):
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintLE, f"r{r}u", hi))
    return prob, cols


#: PuLP writes every number of the MPS file CBC reads as ``% .12e``: 13 significant digits.
MPS_FORMAT = "% .12e"


def _as_written(values: np.ndarray) -> np.ndarray:
    """``values`` as CBC reads them back from PuLP's MPS file (:data:`MPS_FORMAT`)."""
    written = values.astype(np.float64, copy=True)
    # Integers below 10^12 survive 13 significant digits; only the others need formatting.
    odd = np.flatnonzero(
        np.isfinite(written) & ((written != np.round(written)) | (np.abs(written) >= 1e12))
    )
    written[odd] = [float(MPS_FORMAT % v) for v in written[odd].tolist()]
    return written


def mps_rounding(model: MatrixModel) -> tuple[float, bool]:
    """What PuLP's MPS file changes in ``model``: the most the objective of any plan can move
    (``Σ |c - c'| · max |v|``, 0 when every cost survives), and whether the rows and column
    bounds survive exactly (when not, CBC solved another feasible region)."""
    obj = model.obj.astype(np.float64)
    reach = np.maximum(np.abs(model.col_lb), np.abs(model.col_ub))
    error = float(np.sum(np.abs(obj - _as_written(obj)) * reach))
    error += abs(float(model.obj_const) - float(MPS_FORMAT % float(model.obj_const)))
    exact_rows = all(
        np.array_equal(a, _as_written(a), equal_nan=True)
        for a in (model.row_value, model.row_lb, model.row_ub, model.col_lb, model.col_ub)
    )
    return error, exact_rows


def _cbc_command(**kwargs: object) -> pulp.LpSolver_CMD:
    """PuLP's bundled CBC, or a CBC on the PATH where a PuLP release ships none."""
    cmd = pulp.PULP_CBC_CMD(**kwargs)
    if not cmd.available():
        cmd = pulp.COIN_CMD(**kwargs)
    return cmd


def _cbc_children(path: str) -> list[int]:
    """This process's children running the CBC binary at ``path`` (psutil: also off Linux)."""
    pids = []
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error, IndexError):  # ended, or not readable
            if child.cmdline()[0] == path:
                pids.append(child.pid)
    return pids


#: How PuLP reports a CBC process that ended without a solution file (a crash).
CRASHED = "Pulp: Error while trying to execute"

#: Objective coefficients from this magnitude on: CBC 2.10 has called such feasible models
#: infeasible (9e15, with its random seed set); its infeasibility is then checked without them.
LARGE_COST = 1e12
#: Seconds CBC may take to stop after a cancel's SIGINT (it stops at its next check, as at its
#: time limit, and writes its best plan) before it is killed, without a plan then.
CANCEL_GRACE = 3.0


@dataclasses.dataclass
class _Run:
    """One CBC run through PuLP: its problem, columns, log and how it ended."""

    prob: pulp.LpProblem
    cols: list[pulp.LpVariable]
    text: str
    seconds: float
    bound: float | None
    status: Status
    failure: str | None  # "cancelled" (without a plan) or PuLP's error
    cancelled: bool = False  # stopped by the caller's cancel (its plan, if any, kept)

    def values(self) -> np.ndarray:
        """The columns' values CBC returned (0 where PuLP read none)."""
        return np.array(
            [v.varValue if v.varValue is not None else 0.0 for v in self.cols], dtype=np.float64
        )


def _run(
    model: MatrixModel, options: SolveOptions, progress: ProgressThrottle, preprocess: bool = False
) -> _Run:
    """One CBC run; without its preprocessing unless ``preprocess`` (:data:`CRASHED`)."""
    prob, cols = to_pulp(model, options.continuous_flows)
    if options.hint:
        for col, value in options.hint.items():
            cols[col].setInitialValue(value)
    with tempfile.TemporaryDirectory(prefix="rdplan-cbc-") as tmp:
        log_path = Path(tmp) / "cbc.log"
        with warnings.catch_warnings():
            # PuLP 3.3 announces the move of its bundled CBC; it is still the one PuLP ships.
            warnings.simplefilter("ignore", DeprecationWarning)
            cmd = _cbc_command(
                msg=False,
                timeLimit=max(1, round(options.time_limit)),
                # One thread: no threads option. With "threads 1" CBC 2.10 runs its parallel
                # search on one thread, which deadlocked in 1-3 % of tiny solves until the time
                # limit ("Thread 0 used 0 times, waiting to start 10.0"; a fuzz test).
                threads=options.threads if options.threads > 1 else None,
                warmStart=bool(options.hint),
                logPath=str(log_path),
                # CBC's relative gap is over the best plan's value: for a positive Z at least
                # SPEC §4's (docs/decisions.md, "A gap tolerance").
                gapRel=float(options.gap),
                # Below 1 (Z is an integer), with room for the slack of solver.plan.floor_bound.
                gapAbs=0.99,
                options=[
                    f"randomCbcSeed {options.seed + 1}",
                    f"randomSeed {options.seed + 1}",
                    # CBC 2.10's preprocessing called a plan 68 below the optimum optimal on a
                    # two-site scenario (a fuzz test; tests/solver/test_cbc.py).
                    *([] if preprocess else ["preprocess off"]),
                ],
                keepFiles=False,
            )
            # PuLP's MPS and solution files in this run's directory, which goes with it:
            # PuLP deletes them itself only when CBC writes a solution (not once it is killed).
            cmd.tmpDir = tmp
        outcome: dict[str, object] = {}

        def run() -> None:
            try:
                outcome["status"] = prob.solve(cmd)
            except pulp.PulpSolverError as exc:
                outcome["error"] = exc

        started = time.perf_counter()
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        cancelled: float | None = None  # when
        offset = 0
        bound: float | None = None
        while worker.is_alive():
            worker.join(0.2)
            offset, bound = _tail(log_path, offset, progress, bound, model.obj_const)
            if options.cancel is not None and options.cancel.is_set() and cancelled is None:
                # CBC stops on SIGINT as at its time limit and writes its best plan
                cancelled = time.perf_counter()
                _signal(_cbc_children(cmd.path), signal.SIGINT)
            elif cancelled is not None and time.perf_counter() - cancelled > CANCEL_GRACE:
                _signal(_cbc_children(cmd.path), signal.SIGKILL)  # not stopping: no plan then
        _, bound = _tail(log_path, offset, progress, bound, model.obj_const)
        seconds = time.perf_counter() - started
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
    status = SOL_STATUS.get(prob.sol_status, Status.UNKNOWN)
    if cancelled is not None and status is Status.OPTIMAL:
        status = Status.FEASIBLE  # stopped: PuLP reads CBC's "Stopped on ctrl-c" as solved
    # A run cancelled with a plan keeps it (CBC writes it on SIGINT), as every backend does.
    failure = (
        "cancelled"
        if cancelled is not None and not status.has_plan
        else str(outcome["error"])
        if "error" in outcome
        else None
    )
    if status is Status.UNKNOWN and prob.status == pulp.LpStatusInfeasible:
        # After a proof of infeasibility PuLP leaves sol_status at "no solution found".
        # CBC 2.10 also says "infeasible" when its time limit cuts preprocessing short
        # (seen on a feasible national scenario): only a run that ended early is a proof.
        # A cancelled run is not one either.
        ended_early = seconds < 0.9 * options.time_limit and cancelled is None
        status = Status.INFEASIBLE if ended_early else Status.UNKNOWN
    return _Run(prob, cols, text, seconds, bound, status, failure, cancelled is not None)


def _signal(pids: list[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # ended in between
            os.kill(pid, signum)


def _run_safely(
    model: MatrixModel, options: SolveOptions, progress: ProgressThrottle
) -> tuple[_Run, bool]:
    """A CBC run without its preprocessing, and whether its bound may be trusted: where CBC
    2.10 crashes so (SIGSEGV, seen on a one-site model whose cement cannot suffice), a run with
    it, whose plan is kept and its infeasibility too (checked by the conflict finder,
    solver.solve), not its bound (its preprocessing proved worse plans optimal)."""
    started = time.perf_counter()
    run = _run(model, options, progress)
    if run.failure is None or not run.failure.startswith(CRASHED):
        return run, True
    left = options.time_limit - (time.perf_counter() - started)
    if left < 1:
        return run, True
    return _run(model, dataclasses.replace(options, time_limit=left), progress, True), False


def solve(model: MatrixModel, options: SolveOptions) -> RawResult:
    """Solve the matrix model with CBC (via PuLP)."""
    progress = ProgressThrottle(options.on_progress)
    started = time.perf_counter()
    run, trusted = _run_safely(model, options, progress)
    if options.gap > 0 and run.status is Status.OPTIMAL and "within gap tolerance" in run.text:
        # CBC's relative gap is not SPEC §4's: with a negative Z it stopped at a plan 3.9x its
        # bound's size away (a fuzz test). Then it goes on from that plan, to the time limit.
        first = run.values()
        final = _final_bound(run.text, run.bound, model.obj_const)
        left = options.time_limit - (time.perf_counter() - started)
        if (
            final is not None
            and left >= 1
            and not close_enough(final, model.objective_of(first), options.gap)
        ):
            hint = {int(j): 1 for j in np.flatnonzero(first[: model.num_x] > 0.5)}
            again, sure = _run_safely(
                model, dataclasses.replace(options, time_limit=left, gap=0.0, hint=hint), progress
            )
            if again.failure is None and again.status.has_plan:
                run, trusted = again, trusted and sure
    if run.failure is not None:
        return RawResult(Status.UNKNOWN, None, None, run.seconds, options.threads, run.failure)
    status, bound = run.status, run.bound
    # CBC's own "Result - Stopped on time limit": PuLP's LpStatus read "Optimal" then (a QA pass)
    said = re.search(r"^Result - (.+?)\s*$", run.text, re.MULTILINE)
    detail = (
        "cancelled: its best plan so far"
        if run.cancelled
        else said.group(1)
        if said
        else pulp.LpSolution[run.prob.sol_status]
    )
    # Past 13 significant digits CBC solved a rounded model (MPS_FORMAT): its proofs are of
    # that model. A bound moved by the most the rounding can move a plan's Z still holds
    # when the rows are exact; nothing CBC proves holds when they are not.
    error, exact_rows = mps_rounding(model)
    if error or not exact_rows:
        detail += " (PuLP's MPS file rounds this model to 13 significant digits: " + (
            f"CBC's bound widened by {0.99 + 2 * error:.3g}, the most the rounding moves)"
            if exact_rows
            else "its rows too, so CBC proves nothing of it; use highs or cpsat)"
        )
    bounded = True  # False: the plan is of the run without the objective, its log no bound
    large = bool(len(model.obj)) and float(np.max(np.abs(model.obj))) >= LARGE_COST
    if status is Status.INFEASIBLE and (large or error or not exact_rows):
        # Not a proof at this scale: CBC is asked again for any plan, without the objective.
        left = options.time_limit - (time.perf_counter() - started)
        retry: _Run | None = None
        if left >= 1:
            flat = dataclasses.replace(model, obj=np.zeros_like(model.obj), obj_const=0)
            plain = dataclasses.replace(options, time_limit=left, hint=None, gap=0.0)
            retry, _ = _run_safely(flat, plain, ProgressThrottle(None))
        if retry is not None and retry.failure is None and retry.status.has_plan:
            run, status, bound, bounded = retry, Status.FEASIBLE, None, False
            detail += (
                f" (CBC called the model infeasible, with costs of {LARGE_COST:.0e} or more;"
                " without them it found this plan: a plan, not an optimum)"
            )
        elif retry is None or retry.status is not Status.INFEASIBLE or not exact_rows:
            status = Status.UNKNOWN
            detail += " (CBC's infeasibility at this scale is not a proof)"
    values = None
    if status.has_plan:
        values = run.values()
        objective = model.objective_of(values)
        if status is Status.OPTIMAL and "within gap tolerance" in run.text:
            # PuLP says "Optimal" when CBC stops at its gapRel too: only its bound tells.
            status = Status.FEASIBLE
            bound = _final_bound(run.text, bound, model.obj_const)
        elif status is Status.OPTIMAL:
            bound = objective
        elif bounded:
            bound = _final_bound(run.text, bound, model.obj_const)
        if not trusted:
            status, bound = Status.FEASIBLE, None
            detail += " (CBC crashed without its preprocessing; with it, its bound is not trusted)"
        if bound is not None and (error or not exact_rows):
            # CBC's bound and its stop (gapAbs 0.99) are of the rounded Z', which need not be
            # an integer: max Z <= max Z' + error <= Z'(plan) + 0.99 + error <= Z(plan) + 0.99
            # + 2 error. The dispatcher proves the plan from that bound if it can.
            status = Status.FEASIBLE
            bound = bound + 0.99 + 2 * error if exact_rows else None
        progress(incumbent=objective, bound=bound, force=True)
    return RawResult(
        status,
        values,
        bound,
        time.perf_counter() - started,
        options.threads,
        detail,
        continuous_flows=options.continuous_flows,
    )


def _tail(
    path: Path, offset: int, progress: ProgressThrottle, bound: float | None, constant: float
) -> tuple[int, float | None]:
    """Progress from CBC's log since ``offset``: its values are of ``-Z`` without the model's
    ``constant`` (``obj_const``: a re-fuzz found bounds too high by the stability term)."""
    if not path.exists():
        return offset, bound
    with path.open(errors="replace") as fh:
        fh.seek(offset)
        chunk = fh.read()
        offset = fh.tell()
    for line in chunk.splitlines():
        if m := _PROGRESS.search(line):
            bound = constant - float(m.group(2))
            progress(incumbent=constant - float(m.group(1)), bound=bound)
        elif m := _INCUMBENT.search(line):
            progress(incumbent=constant - float(m.group(1)))
    return offset, bound


def _final_bound(text: str, bound: float | None, constant: float) -> float | None:
    """CBC's last bound in its log, on ``Z`` (``constant`` added, as in :func:`_tail`)."""
    found = _FINAL_BOUND.findall(text)
    if found:
        return constant - float(found[-1])
    return bound
