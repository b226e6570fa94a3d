"""HiGHS backend: the matrix model is passed to ``highspy`` as CSR arrays.

HiGHS's ``threads`` option is process-global: an instance asking for another
value than the process's scheduler has fails. Each solve resets the scheduler
first, so solves in one process must not overlap; the service runs every solve
in a worker process of its own. Within one solve, where the LP violates crews' hull
rows and the solve has two threads or more, two single-thread HiGHS runs with
different seeds race in two threads (:data:`RACERS`, :class:`_Race`).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import highspy
import numpy as np

from solver.backends.base import ProgressThrottle, RawResult, SolveOptions, resident_mb
from solver.cuts import add_violated, adds_crews_hull
from solver.flows import integral_flows
from solver.model import MatrixModel
from solver.plan import BOUND_TOLERANCE, Status, close_enough

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
#: proved 1.6x slower (``benchmarks/HISTORY.md``, run 10).
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
#: 11.4 against 12.7, the crew loss from scratch 21.4 against 23.0 (mixed by seed). And a
#: cut pool a tenth of HiGHS's default (``mip_pool_soft_limit``; the root alone generates
#: ~1,400 cuts on national-20x10, and past the limit the pool ages its cuts out faster): one
#: run 15.2 against 18.0 s over seeds 0-11 (10 of 12 faster); through ``rdplan bench``, two
#: pairs in turn in both orders, seeds 0-5 (run 17): national-20x10 0.95x, the frozen re-plan
#: 0.97x cold and 0.90x warm, whatif-fuel-cold 0.91x, the crew loss from scratch 0.98x,
#: national-replan-2026 1.01x (one pair).
CREWS_HULL_ROOT: dict[str, bool | float | str] = {
    # "ipm" was measured: it is IPX in highspy's wheels (no HiPO there); named, so that a wheel
    # with HiPO does not change the root unmeasured.
    "mip_lp_solver": "ipx",
    "mip_heuristic_run_rens": False,
    "mip_heuristic_run_feasibility_jump": False,
    "mip_allow_restart": False,
    # One run, seeds 0-5: 300 and 500 as fast (15.0, 16.6 s), 2,000 and 4,000 no faster than
    # the default (17.7, 20.0 s against 18.0).
    "mip_pool_soft_limit": 1000,
}
#: HiGHS runs side by side on models whose LP violates crews' hull rows, when the solve has as
#: many threads: each run single-threaded, with its own seed (the solve's, then
#: :data:`RACE_SEED_STRIDE` apart); the first run to prove the optimum — or the best plan of any
#: under the tightest bound of any — ends the solve. On these models HiGHS's own threads leave
#: the second core idle (its root and its tree are serial there: one thread proves
#: national-20x10 as fast as two, and two single-thread runs side by side each take about as
#: long as one alone), and the time is the search for the plan, whose sub-MIPs find different
#: plans by seed. Measured through ``rdplan bench`` (2 cores, seeds 0-5, in turn with one run;
#: ``benchmarks/HISTORY.md``, run 15): national-20x10 0.90x the time on the mean (over twelve
#: seeds the slowest 23.1 -> 14.5 s), whatif-fuel-cold 0.77x, the re-plans with frozen years
#: level, the crew loss re-planned from scratch 1.10x (there the time is the tree, which both
#: runs search).
#: Handing each run's plans to the other (HiGHS's user-solution callback) was measured too, and
#: was slower on the mean than keeping the runs apart: a plan handed over sends the other run's
#: sub-MIPs to the same neighbourhood (seeds 0-9: 11.99 s on the mean, where the two seeds'
#: single runs predict 11.13 s for the runs apart; one run 12.70 s). Handing plans over only into
#: a run past its root (so that they prune its tree) was level through ``rdplan bench``
#: (national-20x10 1.06x, the crew loss from scratch 0.93x; run 15), so the runs stay apart.
RACERS = 2
RACE_SEED_STRIDE = 50
#: A warm start that holds but is not near the bound (:func:`near_start`), on models whose LP
#: violates crews' hull rows, is not handed to HiGHS: HiGHS's root and sub-MIPs, given an
#: incumbent from the start, search around it, and a start that holds is usually an old plan
#: far from the new optimum. The race keeps it as its first plan instead (reported at once,
#: returned if nothing beats it, and proving the solve if a bound reaches it); its index in
#: :attr:`_Race.best`. Measured through ``rdplan solve`` (2 cores, seeds 0-5, run 19):
#: national-20x10 with mobilisation weight 3 from the old optimum (2,567 below the new one)
#: 18.6 s on the mean against 35.9 s with the start handed over (every seed faster,
#: 1.5-2.5x; through ``rdplan bench`` 19.3 s against 37.2 and 35.8 s in two runs), single-thread
#: HiGHS 20.6 s cold against 36.7 s from the start; with every pool one crew
#: larger (the start 7,515 below) level, 12.3 against 11.9 s. From the old plan injected after
#: the root's cut loop instead (HiGHS's user-solution callback): 21.0 s, between the two.
#: Nor does its value go to HiGHS as a cutoff (``objective_bound``). Single-thread, on the means
#: of four seeds (run 20), the start's value made the what-if above slower (60.8 s against 40.2 s
#: kept back alone), and so did even the optimum's own value (the frozen re-plan 21.1 s against
#: 11.9 s cold, national-20x10 35.7 s against 29.3 s): HiGHS ends its root cut loop at a weaker
#: bound, and its sub-MIPs, allowed no plan below the cutoff, find none.
STARTED = -1
#: Seconds a race waits for its other runs to stop once it is decided, before leaving them to
#: stop at their next check (:data:`_lingering`).
RACE_JOIN = 0.2
#: Seconds between two looks at the process's memory (``SolveOptions.memory_limit_mb``) from
#: HiGHS's MIP callback.
MEMORY_CHECK_INTERVAL = 0.5
#: HiGHS's statuses that decide a race: those :data:`STATUS` maps to optimal or infeasible.
CONCLUSIVE = frozenset(s for s, v in STATUS.items() if v in (Status.OPTIMAL, Status.INFEASIBLE))
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
    runs: list[threading.Thread],
    deadline: float,
    cancel: threading.Event | None,
    stop: threading.Event,
    ended: threading.Event,
) -> str | None:
    """Wait for HiGHS's ``runs`` (a race's: until ``ended`` is set or every one has ended)
    until they end or :data:`OVERRUN_GRACE` seconds past the deadline or a cancel; ``None``
    when they ended, else what they overran — ``"the time limit"`` or ``"a cancel"`` — and
    what still runs is left running (interrupted: ``stop``)."""

    def running() -> bool:
        return not ended.is_set() and any(r.is_alive() for r in runs)

    def leave() -> None:
        stop.set()
        _lingering.extend(r for r in runs if r.is_alive())

    cancelled_at = None
    try:
        while running():
            ended.wait(0.1)
            now = time.perf_counter()
            if cancel is not None and cancel.is_set() and cancelled_at is None:
                cancelled_at = now
            late = now > deadline + OVERRUN_GRACE
            if running() and (late or (cancelled_at and now > cancelled_at + OVERRUN_GRACE)):
                leave()
                return "the time limit" if late else "a cancel"
    except BaseException:  # Ctrl-C, say: HiGHS stops at its next check
        leave()
        raise
    return None


class _GiveUp(threading.Event):
    """A race's cancel flag: set with the caller's (``user``), or — :attr:`fired` — when ``at``
    (``time.perf_counter``) has passed, a run of the race has left its root, and the race has
    no plan within ``gap`` (relative) of its bound."""

    def __init__(self, race: _Race, user: threading.Event | None, at: float, gap: float) -> None:
        super().__init__()
        self.race = race
        self.user = user
        self.at = at
        self.gap = gap
        self.fired = False
        #: When it fired (``time.perf_counter``).
        self.fired_at = math.nan

    def is_set(self) -> bool:
        if self.fired or super().is_set() or (self.user is not None and self.user.is_set()):
            return True
        if time.perf_counter() < self.at:
            return False
        race = self.race
        with race.lock:
            best, bound, in_tree = race.best, race.bound(), race.in_tree
        # Not before a run's root has ended: its sub-MIPs find HiGHS's first plans there.
        self.fired = in_tree and (
            best is None or bound is None or not close_enough(bound, best[0], self.gap)
        )
        if self.fired:
            self.fired_at = time.perf_counter()
        return self.fired


class _Race:
    """HiGHS runs on one model side by side (:data:`RACERS`), each in a thread of its own, and
    what they have found together: the best plan, the tightest bound (the plan is proved when
    that bound proves it, whichever run found either), and ``ended``, set when one run ends
    conclusively (optimal or infeasible) or every run has ended. With one run it is a plain
    HiGHS solve. ``give_up=(at, gap)``: its cancel flag is also :class:`_GiveUp`'s
    (:attr:`quit`)."""

    def __init__(
        self,
        count: int,
        options: SolveOptions,
        deadline: float,
        progress: ProgressThrottle,
        give_up: tuple[float, float] | None = None,
        value_of: Callable[[np.ndarray], float] | None = None,
    ):
        self.count = count
        #: Z of a plan's columns, to check what HiGHS says a plan is worth (:attr:`misvalued`).
        self.value_of = value_of
        #: HiGHS's value of its best plan and what the plan is worth, where they differ: from a
        #: start, HiGHS 1.16 may value a plan in its presolved space ("MIP start solution is
        #: feasible in the reduced space") and return the start's columns with that value.
        self.misvalued: tuple[float, float] | None = None
        self.quit = None if give_up is None else _GiveUp(self, options.cancel, *give_up)
        self.options = options if self.quit is None else replace(options, cancel=self.quit)
        self.deadline = deadline
        self.progress = progress
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ended = threading.Event()
        self.runs: list[threading.Thread] = []
        self.solvers: list[highspy.Highs] = []
        #: The best plan seen (original columns), its Z, and which run found it.
        self.best: tuple[float, np.ndarray, int] | None = None
        #: Each run's last dual bound, and its model status once it has ended.
        self.bounds = [math.inf] * count
        self.statuses: dict[int, Any] = {}
        #: The resident MB seen above ``options.memory_limit_mb``, once seen: every run stops.
        self.memory_stop: float | None = None
        self._memory_checked = -math.inf
        #: Whether a run has searched past its root node.
        self.in_tree = False

    def watch_memory(self) -> None:
        """Stop the race once the process is above its memory limit (with the lock held).
        Looked at every :data:`MEMORY_CHECK_INTERVAL` seconds until then."""
        limit = self.options.memory_limit_mb
        if limit is None or self.memory_stop is not None:
            return
        now = time.perf_counter()
        if now - self._memory_checked < MEMORY_CHECK_INTERVAL:
            return
        self._memory_checked = now
        resident = resident_mb()
        if resident is not None and resident > limit:
            self.memory_stop = resident
            self.stop.set()

    def bound(self) -> float | None:
        bound = min(self.bounds)
        return bound if math.isfinite(bound) else None

    def see_bound(self, i: int, dual: float) -> None:
        """Run ``i``'s dual bound now (with the lock held); HiGHS's is -inf/inf until known."""
        if math.isfinite(dual):
            self.bounds[i] = min(self.bounds[i], float(dual))

    def add(self, h: highspy.Highs, setup: Callable[[highspy.Highs], None]) -> None:
        """A run of ``h``, given its options and model by ``setup`` in the run's own thread:
        a model passed in this thread made both runs of a race 1.2-1.3x slower (national-20x10,
        seeds 0 and 50; allocations in one malloc arena, presumably)."""
        i = len(self.solvers)
        self.solvers.append(h)
        cancel = self.options.cancel

        def report() -> None:  # with the lock held
            if not self.stop.is_set():
                self.progress(
                    incumbent=self.best[0] if self.best is not None else None, bound=self.bound()
                )

        def on_log(event: Any) -> None:
            with self.lock:
                self.see_bound(i, event.data_out.mip_dual_bound)
                report()

        def on_solution(event: Any) -> None:
            value = float(event.data_out.objective_function_value)
            with self.lock:
                if self.best is None or value > self.best[0]:
                    self.best = (value, np.array(event.data_out.mip_solution, np.float64), i)
                report()

        def on_interrupt(event: Any) -> None:
            # HiGHS checks its own time limit only between phases; the root's cut loop can run
            # well past it, so the wall clock is enforced here too.
            # The run's own incumbent too: a warm start is one, and no callback reports it.
            out = event.data_out
            with self.lock:
                self.see_bound(i, out.mip_dual_bound)
                self.in_tree = self.in_tree or out.mip_node_count > 0
                bound = min(self.bounds)
                if math.isfinite(bound):
                    # HiGHS calls its logging callback only with its log on: the bound is
                    # reported from here too (throttled), so that a root without a plan (seconds
                    # on national-20x10, ~28 s at a tight balance) shows its bound.
                    report()
                primal = max(out.mip_primal_bound, self.best[0] if self.best else -math.inf)
                self.watch_memory()  # sets ``stop`` above the limit
            if (
                self.stop.is_set()
                or (cancel is not None and cancel.is_set())
                or time.perf_counter() > self.deadline
                or (
                    math.isfinite(bound)
                    and math.isfinite(primal)
                    and close_enough(bound, primal, self.options.gap)
                )
            ):
                event.data_in.user_interrupt = True

        def run() -> None:
            setup(h)
            h.run()
            status = h.getModelStatus()
            with self.lock:
                self.statuses[i] = status
                if status in CONCLUSIVE or len(self.statuses) == self.count:
                    self.ended.set()

        h.cbMipImprovingSolution.subscribe(on_solution)
        if self.options.on_progress is not None:
            h.cbMipLogging.subscribe(on_log)
        h.cbMipInterrupt.subscribe(on_interrupt)
        h.cbSimplexInterrupt.subscribe(on_interrupt)
        # Not a daemon: a process that ends with an interrupted run behind it (the CLI after its
        # plan is written) waits for HiGHS's next check; a daemon run still inside HiGHS when
        # the interpreter exits aborts the process ("terminate called without an active
        # exception").
        self.runs.append(threading.Thread(target=run, name=f"rdplan-highs-{i}"))

    def wait(self) -> str | None:
        """Run every solver until the race is decided (:func:`_wait`); the runs still going
        then are told to stop and are not waited for (the next HiGHS run in the process, or
        the process's exit, waits for them)."""
        for run in self.runs:
            run.start()
        overrun = _wait(self.runs, self.deadline, self.options.cancel, self.stop, self.ended)
        if overrun is None:
            self.stop.set()
            for run in self.runs:
                run.join(RACE_JOIN)
            _lingering.extend(run for run in self.runs if run.is_alive())
        return overrun

    def result(self) -> tuple[Status, np.ndarray | None, float | None, float | None, int | None]:
        """The race's status (optimal when a run proved it, else feasible with a plan), its
        best plan, that plan's Z, the tightest bound, and which run found the plan."""
        with self.lock:
            statuses = dict(self.statuses)
            best, bounds = self.best, list(self.bounds)
        plans: list[tuple[float, np.ndarray, int]] = [best] if best is not None else []
        proved = False
        for i, model_status in statuses.items():
            if STATUS.get(model_status) is Status.INFEASIBLE:
                return Status.INFEASIBLE, None, None, None, i
            h = self.solvers[i]
            info = h.getInfo()
            if info.primal_solution_status != highspy.SolutionStatus.kSolutionStatusFeasible:
                continue
            proved = proved or model_status == MS.kOptimal
            # After the callbacks' copy: of two plans of one value, the run's own solution.
            values = np.asarray(h.getSolution().col_value, dtype=np.float64)
            plans.append((float(info.objective_function_value), values, i))
            if math.isfinite(info.mip_dual_bound):
                bounds[i] = min(bounds[i], float(info.mip_dual_bound))
            if model_status == MS.kOptimal:
                # Optimal at mip_abs_gap 1e-6 (``solve``): its bound is within that of its value.
                # HiGHS 1.16 gave a mip_dual_bound of 0 without the objective's offset (-100)
                # where presolve left nothing to solve (a fuzz test).
                bounds[i] = min(bounds[i], float(info.objective_function_value) + 1e-6)
        bound = min(bounds)
        if not plans:  # a bound without a plan: a caller may have one (``give_up``)
            return Status.UNKNOWN, None, None, bound if math.isfinite(bound) else None, None
        if self.value_of is not None:
            worth = [(self.value_of(v), v, i) for _, v, i in plans]
            claimed = max(value for value, _, _ in plans)
            best_worth = max(value for value, _, _ in worth)
            if claimed > best_worth + 0.5 + BOUND_TOLERANCE * abs(best_worth):  # not round-off
                self.misvalued = (claimed, best_worth)
                proved = False  # its proof was of the plan it valued, not of this one
            plans = worth
        value, values, found = max(reversed(plans), key=lambda plan: plan[0])
        return (
            Status.OPTIMAL if proved else Status.FEASIBLE,
            values,
            value,
            bound if math.isfinite(bound) else None,
            found,
        )


def _said(h: highspy.Highs, status: highspy.HighsModelStatus) -> str:
    """A run's model status in a plan's detail: HiGHS's words, but its "Interrupted by user" is
    rdplan's own stop (the bound proves the plan or meets the gap, a cancel, the clock, the
    memory limit), which no user asked for."""
    return "stopped by rdplan" if status == MS.kInterrupt else h.modelStatusToString(status)


def every_x(model: MatrixModel, hint: dict[int, int]) -> dict[int, int]:
    """``hint`` with every ``x`` column it leaves out at 0: a start is its builds and nothing
    else (what the evaluator checked of it). Given a start that leaves discrete columns out,
    HiGHS completes it first by a MIP of its own over the columns left out, run with this
    solve's callbacks: that MIP's dual bound, a bound on the start's completions only, was
    taken for the model's and "proved" a plan below the optimum optimal (a re-plan from a
    baseline without some sites, the LP-guided neighbourhood with ``--log``)."""
    known = np.zeros(model.num_x, dtype=bool)
    cols = np.fromiter(hint.keys(), dtype=np.int64, count=len(hint))
    known[cols[cols < model.num_x]] = True
    return {**dict.fromkeys(np.flatnonzero(~known).tolist(), 0), **hint}


def solve(
    model: MatrixModel,
    options: SolveOptions,
    crews_hull: bool | None = None,
    give_up: tuple[float, float] | None = None,
) -> RawResult:
    """Solve the matrix model with HiGHS (first with the implied rows its LP violates,
    :func:`solver.cuts.add_violated`).

    ``crews_hull`` says whether the model's LP violates crews' hull rows, for
    :data:`CREWS_HULL_ROOT`; None: whether this solve's own separation adds any (a caller
    that separated the rows itself says so). There, with two threads or more, the solve is a
    race of :data:`RACERS` single-thread runs with different seeds, which share their best plan
    and bound only to decide when the race is over; and a start that holds far from the bound
    is the race's plan to beat, not HiGHS's start (:data:`STARTED`).

    ``give_up=(seconds, gap)``: stop once ``seconds`` have passed and a run is past its root
    without a plan within ``gap`` of the bound (``RawResult.gave_up``; the bound is returned
    without a plan too), for a caller with another way to a plan (``portfolio.RESCUE_AFTER``)."""
    started = time.perf_counter()
    deadline = started + options.time_limit
    given = model
    strengthened, implied = add_violated(model, options.threads, deadline)
    if crews_hull is None:
        crews_hull = adds_crews_hull(model, strengthened)
    model = strengthened
    near = near_start(model, options)
    racers = RACERS if crews_hull and not near and options.threads >= RACERS else 1
    threads = _threads(options.threads)
    each = max(1, threads // racers)
    root: dict[str, bool | float | str] = (
        HEURISTICS_OFF if near else CREWS_HULL_ROOT if crews_hull else {}
    )
    lp = to_highs(model, options.continuous_flows)
    hint = None
    if options.hint:
        completed = model.complete_hint(every_x(model, options.hint))
        hint = (
            np.fromiter(completed.keys(), dtype=np.int32),
            np.fromiter(completed.values(), dtype=np.float64),
        )
    progress = ProgressThrottle(options.on_progress)
    race = _Race(
        racers,
        options,
        deadline,
        progress,
        None if give_up is None else (started + give_up[0], give_up[1]),
        model.objective_of,
    )
    seeds = [int(options.seed) + i * RACE_SEED_STRIDE for i in range(racers)]
    kept_back = False
    if hint is not None and options.start_value is not None and crews_hull and not near:
        # A start that holds, far from the bound, on this route: the race's first plan (it
        # proves the solve when a bound reaches it), not HiGHS's start (:data:`STARTED`).
        start = np.zeros(model.num_cols)
        start[hint[0]] = hint[1]
        race.best = (float(options.start_value), integral_flows(model, start), STARTED)
        progress(incumbent=float(options.start_value), force=True)
        hint, kept_back = None, True

    def setup(h: highspy.Highs, seed: int) -> None:
        h.setOptionValue("output_flag", bool(options.log) and seed == seeds[0])
        h.setOptionValue("threads", each)
        h.setOptionValue("time_limit", max(0.01, float(options.time_limit)))
        h.setOptionValue("random_seed", seed)
        # Z is an integer: a bound below Z + 1 proves optimality to the unit. HiGHS's own
        # absolute gap (0.999) would stop at bounds that the dispatcher's rule (``proves``, with
        # its round-off slack) cannot accept; so HiGHS is stopped here, by that same rule.
        h.setOptionValue("mip_rel_gap", 0.0)
        h.setOptionValue("mip_abs_gap", 1e-6)
        for name, setting in root.items():
            h.setOptionValue(name, setting)
        h.passModel(lp)
        if hint is not None:
            h.setSolution(len(hint[0]), hint[0], hint[1])

    for seed in seeds:
        race.add(new_highs(), functools.partial(setup, seed=seed))
    overrun = race.wait()
    seconds = time.perf_counter() - started
    status, values, value, bound, found = race.result()
    detail = (f" (+{implied} implied rows)" if implied else "") + (
        f" (heuristics off: a start within {100 * NEAR_GAP:g} % of the LP bound)"
        if near
        else " (root LP by interior point, RENS, feasibility jump and restarts off, a cut pool of"
        f" {CREWS_HULL_ROOT['mip_pool_soft_limit']:,}: crews' hull rows)"
        if crews_hull
        else ""
    )
    memory_stopped = race.memory_stop is not None
    if memory_stopped:
        detail += (
            f" (stopped at the memory limit: {race.memory_stop:,.0f} MB resident, the limit"
            f" {options.memory_limit_mb:,.0f} MB)"
        )
    if kept_back:
        detail += " (the warm start, far from the bound, the plan to beat, not HiGHS's start" + (
            "; nothing beat it)" if found == STARTED else ")"
        )
    quit = race.quit
    gave_up = quit is not None and quit.fired
    if quit is not None and gave_up:
        detail += (
            f" (given up at {quit.fired_at - started:.1f} s, past its root: no plan within"
            f" {100 * quit.gap:g} % of its bound)"
        )
    if racers > 1:
        detail += f" (a race of {racers} single-thread runs, seeds {', '.join(map(str, seeds))}" + (
            f"; the plan from seed {seeds[found]})" if found not in (None, STARTED) else ")"
        )
    if overrun:
        return RawResult(
            status if status is Status.INFEASIBLE or values is not None else Status.UNKNOWN,
            values,
            bound,
            seconds,
            threads,
            f"HiGHS still in a round of its root cut loop {OVERRUN_GRACE:g} s after {overrun}: "
            f"its best plan and bound so far (it stops at its next check){detail}",
            continuous_flows=options.continuous_flows,
            memory_stopped=memory_stopped,
            gave_up=gave_up,
        )
    left = deadline - time.perf_counter()
    if race.misvalued is not None and hint is not None and left > 0 and not memory_stopped:
        # HiGHS's plan from the start is not worth what it said: solved again without it
        # (the start stays the plan to beat), the better plan and the tighter bound kept.
        said, worth = race.misvalued
        again = solve(
            given,
            replace(options, hint=None, start_value=None, time_limit=left),
            crews_hull=crews_hull,
            give_up=give_up,
        )
        detail += (
            f" (HiGHS valued its plan from the warm start at {said:,.0f}, worth {worth:,.0f}:"
            f" solved again without the start: {again.detail})"
        )
        if again.values is not None:
            worth_again = given.objective_of(again.values)
            if value is None or worth_again > value:
                values, value = again.values, worth_again
        if again.bound is not None:
            bound = again.bound if bound is None else min(bound, again.bound)
        if value is not None:
            proved = bound is not None and close_enough(bound, value, 0.0)
            status = Status.OPTIMAL if proved else Status.FEASIBLE
        seconds = time.perf_counter() - started
    if value is not None:
        progress(incumbent=value, bound=bound, force=True)
    ended = sorted({_said(race.solvers[i], s) for i, s in race.statuses.items()})
    return RawResult(
        status,
        values,
        bound,
        seconds,
        threads,
        " / ".join(ended) + detail,
        continuous_flows=options.continuous_flows,
        memory_stopped=memory_stopped,
        gave_up=gave_up,
    )
