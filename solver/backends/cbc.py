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

import os
import re
import signal
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pulp

from solver.backends.base import ProgressThrottle, RawResult, SolveOptions
from solver.model import MatrixModel
from solver.plan import Status

SOL_STATUS = {
    pulp.LpSolutionOptimal: Status.OPTIMAL,
    pulp.LpSolutionIntegerFeasible: Status.FEASIBLE,
    pulp.LpSolutionInfeasible: Status.INFEASIBLE,
    pulp.LpSolutionUnbounded: Status.UNKNOWN,
    pulp.LpSolutionNoSolutionFound: Status.UNKNOWN,
}

# CBC minimises -Z: its values are negated in the log and in its summary.
_INCUMBENT = re.compile(r"Integer solution of (-?[\d.eE+]+)")
_PROGRESS = re.compile(r"(-?[\d.eE+]+) best solution, best possible (-?[\d.eE+]+)")
_FINAL_BOUND = re.compile(r"(?:Lower bound|best possible):?\s*(-?[\d.eE+]+)")


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


def _cbc_command(**kwargs: object) -> pulp.LpSolver_CMD:
    """PuLP's bundled CBC, or a CBC on the PATH where a PuLP release ships none."""
    cmd = pulp.PULP_CBC_CMD(**kwargs)
    if not cmd.available():
        cmd = pulp.COIN_CMD(**kwargs)
    return cmd


def _cbc_children(path: str) -> list[int]:
    me = str(os.getpid())
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = stat.rsplit(")", 1)[1].split()[1]
            if (
                ppid == me
                and Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0].decode() == path
            ):
                pids.append(int(entry))
        except (OSError, IndexError):
            continue
    return pids


def solve(model: MatrixModel, options: SolveOptions) -> RawResult:
    """Solve the matrix model with CBC (via PuLP)."""
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
                threads=max(1, options.threads),
                warmStart=bool(options.hint),
                logPath=str(log_path),
                # CBC's relative gap is over the best plan's value: for a positive Z at least
                # SPEC §4's (docs/decisions.md, "A gap tolerance").
                gapRel=float(options.gap),
                # Below 1 (Z is an integer), with room for the slack of solver.plan.floor_bound.
                gapAbs=0.99,
                options=[f"randomCbcSeed {options.seed + 1}", f"randomSeed {options.seed + 1}"],
                keepFiles=False,
            )
        outcome: dict[str, object] = {}

        def run() -> None:
            try:
                outcome["status"] = prob.solve(cmd)
            except pulp.PulpSolverError as exc:
                outcome["error"] = exc

        progress = ProgressThrottle(options.on_progress)
        started = time.perf_counter()
        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        cancelled = False
        offset = 0
        bound: float | None = None
        while worker.is_alive():
            worker.join(0.2)
            offset, bound = _tail(log_path, offset, progress, bound)
            if options.cancel is not None and options.cancel.is_set() and not cancelled:
                cancelled = True
                for pid in _cbc_children(cmd.path):
                    os.kill(pid, signal.SIGTERM)
        _, bound = _tail(log_path, offset, progress, bound)
        seconds = time.perf_counter() - started
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
    if cancelled or "error" in outcome:
        return RawResult(
            Status.UNKNOWN,
            None,
            None,
            seconds,
            options.threads,
            "cancelled" if cancelled else str(outcome.get("error")),
        )
    status = SOL_STATUS.get(prob.sol_status, Status.UNKNOWN)
    if status is Status.UNKNOWN and prob.status == pulp.LpStatusInfeasible:
        # After a proof of infeasibility PuLP leaves sol_status at "no solution found".
        # CBC 2.10 also says "infeasible" when its time limit cuts preprocessing short
        # (seen on a feasible national scenario): only a run that ended early is a proof.
        status = Status.INFEASIBLE if seconds < 0.9 * options.time_limit else Status.UNKNOWN
    values = None
    if status.has_plan:
        values = np.array(
            [v.varValue if v.varValue is not None else 0.0 for v in cols], dtype=np.float64
        )
        objective = model.objective_of(values)
        if status is Status.OPTIMAL and "within gap tolerance" in text:
            # PuLP says "Optimal" when CBC stops at its gapRel too: only its bound tells.
            status = Status.FEASIBLE
            bound = _final_bound(text, bound)
        else:
            bound = objective if status is Status.OPTIMAL else _final_bound(text, bound)
        progress(incumbent=objective, bound=bound, force=True)
    return RawResult(
        status,
        values,
        bound,
        seconds,
        options.threads,
        pulp.LpStatus[prob.status],
        continuous_flows=options.continuous_flows,
    )


def _tail(
    path: Path, offset: int, progress: ProgressThrottle, bound: float | None
) -> tuple[int, float | None]:
    if not path.exists():
        return offset, bound
    with path.open(errors="replace") as fh:
        fh.seek(offset)
        chunk = fh.read()
        offset = fh.tell()
    for line in chunk.splitlines():
        if m := _PROGRESS.search(line):
            bound = -float(m.group(2))
            progress(incumbent=-float(m.group(1)), bound=bound)
        elif m := _INCUMBENT.search(line):
            progress(incumbent=-float(m.group(1)))
    return offset, bound


def _final_bound(text: str, bound: float | None) -> float | None:
    found = _FINAL_BOUND.findall(text)
    if found:
        return -float(found[-1])
    return bound
