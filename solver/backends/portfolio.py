"""Portfolio backend: HiGHS's branch-and-cut, after an LP-guided plan where that helps.

Measured in ``benchmarks/RESULTS.md``: HiGHS's branch-and-cut has the strongest bounds on
the national scenarios, and the LP-guided search (``lpguided``: LP relaxation, then a MILP
over the builds the LP uses) finds a good plan within seconds. Which runs depends on the
model:

* **Where the LP relaxation violates crews' hull rows** (:func:`solver.cuts.add_violated`,
  run first; national-20x10 and its crew-loss re-plan), with a time limit of a minute or more
  (``ALONE_MIN_LIMIT``): HiGHS alone. With those rows its
  root is tight enough that it finds the national plans itself, sooner than the LP-guided
  start hands them over: in run 8 national-20x10 proved in 32.0-37.4 s alone against
  41.2-43.3 s after a start cut short at its first plan and 42.4-46.6 s after the full
  start (seeds 0-2); until then the start won there (32.5 vs 43.4 s, run 6). The price is
  the first plan: 13-19 s instead of 6-7 s (run 8), hence the start is kept under a minute,
  and for a caller who accepts a gap of ``START_WITHIN_GAP`` or more (run 24: national-20x10
  within 0.5 % in 6.0 s on the mean of six seeds, against 10.9 s alone).
  Where the race, past its root and ``RESCUE_AFTER`` seconds in, has no plan within
  ``RESCUE_GAP`` of its bound (national-20x10 with its balance tightened to 5 points: no plan
  in 120 s), the LP-guided search runs for the rest of the time (:func:`_rescue`).
* **A warm start given** (a re-plan's baseline or a caller's hint): HiGHS runs alone from
  it: the planner's start is kept rather than replaced by the LP-guided plan, and frozen
  re-plans, where that plan slows HiGHS, are warm re-plans. (Where the LP violates crews'
  hull rows, a start that holds far from the bound is the plan HiGHS must beat rather than
  its start: ``highs.STARTED``.) A re-plan without its baseline
  (at least ``REPLAN_FIXED_SHARE`` of the sites fixed) also goes to HiGHS alone, for the same
  reason.
* **Above** ``HUGE_COLUMNS`` columns (gen-3000: 1.57 M) HiGHS's branch-and-cut finds nothing
  useful in minutes and needs more memory than the target allows (4.7 GB at 120 s):
  ``lpguided`` runs alone, neighbourhood phase included; so it does above ``LARGE_COLUMNS``
  with a time limit under ``LARGE_MIN_LIMIT``.
* **Otherwise** (gen-200, where the LP violates only technicians' rows; gen-1000; small
  models): ``lpguided`` without its neighbourhood phase, for a share of the time limit
  (``PRIMAL_SHARE``, 2-15 s; without a plan within ``FIRST_PLAN_GAP`` of its bound by then,
  on until it has one, up to ``FIRST_PLAN_SHARE`` of the limit and ``FIRST_PLAN_MAX``) and, up to ``LARGE_COLUMNS`` columns, no longer than
  ``PATIENCE`` seconds after its last better plan; then HiGHS on the whole model (with the
  implied rows) warm-started from that plan (builds, crews, trainees) for the rest of the
  time; the bound returned is the better of the two. On gen-200 at 60 s the start is worth
  it: gaps of 0.31-0.35 % against 0.33-0.47 % for HiGHS alone (run 8). On gen-1000 (217 k
  columns) the start's support MILP improves its plan every 6-10 s, so it keeps its whole
  share and goes on until its plan is within ``START_GAP`` of its bound; HiGHS then brings
  the bound its root cuts reach (the LP's is 0.3 % looser): at 60 s gaps of 0.13-0.27 %
  against 0.40-0.54 % for ``lpguided`` alone and 0.18-0.31 % for HiGHS alone (run 9).

HiGHS's tree search is serial, but running the two at once (the LP-guided search in a child
process, its plan handed to HiGHS by the user-solution callback) reached HiGHS only after its
root and was no faster (run 6 evidence), so they run in turn.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace

import numpy as np

from solver.backends import highs, lpguided
from solver.backends.base import RawResult, SolveOptions
from solver.cuts import add_violated, adds_crews_hull
from solver.flows import FlowRepairError, integral_flows
from solver.model import MatrixModel
from solver.plan import Status, close_enough, proves

PRIMAL_SHARE = 0.25
PRIMAL_MIN = 2.0
PRIMAL_MAX = 15.0
#: The LP-guided phase stops this many seconds after its last better plan: since balance is
#: written over B[s,y] HiGHS finds national plans within a second itself, and the phase's
#: remaining seconds went to proving the support MILP, which the proof does not need.
PATIENCE = 2.0
#: ... and while it has no plan at the end of its share, it goes on until its first one, up
#: to this share of the time limit: national-20x10 at 15 s on one thread (a QA pass) gave its
#: start 3.8 s, stopped it ~1.5 s before its first plan, and HiGHS found none in the 11 s left
#: (``unknown``; ``lpguided`` alone: a plan within 0.7 % at 5.2 s). A plan at the limit is
#: what a short solve is for; HiGHS keeps the rest, warm-started from it.
FIRST_PLAN_SHARE = 0.75
#: ... and the same while its plan is not within this of its bound (relative): a first plan
#: far off (a generated scenario of 200 sites at 10 s: 914,451 against an LP bound of
#: 1,534,022, 40 % off) stopped the start at its share, or by ``PATIENCE``, and HiGHS found
#: nothing better in the rest (a QA pass; ``lpguided`` alone: 1,509,483, 1.6 %). National's
#: start has a plan within ~0.7 % at ~4-5 s and stops as before; gen-200's LP bound is looser,
#: and at 2 % its start ran 46 s of 60 (a gap of 0.49 % at 60 s, against ~0.3 % before).
FIRST_PLAN_GAP = 0.10
#: ... for no longer than this many seconds in all, whatever the time limit: HiGHS keeps the
#: rest of a long solve.
FIRST_PLAN_MAX = 60.0
#: Above this many columns the LP-guided phase keeps its whole share: HiGHS's own plans on
#: gen-1000 (217 k) come from a sub-MIP after its root, ~50 s in, and are no better than the
#: start's (run 9: with ``PATIENCE`` the start stopped at ~5 s and the gaps were 0.18-0.31 %,
#: with its whole 15 s 0.13-0.23 %, with ``START_GAP`` too 0.13-0.27 %).
LARGE_COLUMNS = 100_000
#: ... and past its share, until its plan is within this of its LP bound: on gen-1000 the
#: start's first plan is 42 % below it (2.9 s), the next 0.44 % (12.3 s); HiGHS warm-started
#: from the first at 7.6 s found nothing better in the 22 s it had (41.3 % at 30 s; with this
#: rule 0.233 %). At 60 s (a 15-s share) it changes nothing on this machine; on a slower one
#: it keeps that first plan from being the one handed over.
START_GAP = 0.01
#: Above this many columns ``lpguided`` runs alone: measured at 217 k columns (gen-1000, where
#: HiGHS after the start wins) and 1.57 M (gen-3000, where HiGHS cannot); between, untested.
HUGE_COLUMNS = 1_000_000
#: Above ``LARGE_COLUMNS``, HiGHS after the start only with at least this time limit, else
#: ``lpguided`` alone: a round of HiGHS's root cuts on gen-1000 takes ~15 s without looking at
#: the clock, so with 30 s the start then HiGHS ended at 35.8 s (0.233 %; ``lpguided`` alone
#: 0.415 % at 30.2 s). At 60 s its runs ended within 1 s of the limit.
LARGE_MIN_LIMIT = 60.0
#: From this share of fixed sites on, a scenario is a re-plan and HiGHS runs alone: on
#: national-replan-2026 (51 of 177 sites fixed) and the frozen re-plan (57 of 177) HiGHS alone
#: proved in 15.5-22.3 s and 11.8-17.0 s, after the LP-guided start in 27.4-35.1 s and
#: 34.0-42.2 s (run 6, seeds 0-2). national-20x10 (none fixed) is the other way round: 30.2-37.1 s
#: with the start, 39.5-47.7 s without. Between the two, untested: the start stays.
REPLAN_FIXED_SHARE = 0.2
#: HiGHS alone (where the LP violates crews' hull rows) only with at least this time limit:
#: its first national plan comes at 13-19 s, the LP-guided start's at ~5 s, so under a minute
#: (a quick what-if, the service's short solves) the start's plan is worth more than the proof.
ALONE_MIN_LIMIT = 60.0
#: ... nor when the caller settles for a plan within this relative gap or more (``gap``): the
#: LP-guided start has a plan within ~0.7 % of the LP bound at ~4-5 s, and HiGHS's root LP, a
#: second after it, bounds that plan within ~0.2 %; HiGHS alone has no plan before the end of
#: its root. national-20x10, 2 threads, seeds 0-5, the two routes in turn (run 24): within
#: 0.5 % in 5.97 s on the mean against 10.94 s (every seed faster), within 0.1 % in 9.66
#: against 11.51 s (five seeds faster, seed 0 17.8 against 10.9 s); within 1 %, seeds 0-2,
#: 4.0-4.7 s against 12.0-15.6 s. Within 0.05 % the start lost: 8.3-29.6 s, 16.8 on the mean.
START_WITHIN_GAP = 0.001


#: Where HiGHS's race on crews' hull rows has no plan within ``RESCUE_GAP`` of its bound this
#: many seconds in, once past its root, the LP-guided search runs for the rest of the time
#: (:func:`_rescue`). National-20x10 with its balance tightened from 15 to 5 points
#: (``balance.tolerance_pct``) had no plan in 120 s on this route; the LP-guided search has one
#: at ~5 s (docs/decisions.md, RESULTS.md *Run 33*). On the suite's national cases the race has
#: a plan within 1 % of its bound at ~6 s (run 33's machine) and none gives up.
RESCUE_AFTER = 20.0
RESCUE_GAP = 0.005


def _rescue(
    model: MatrixModel, options: SolveOptions, started: float, raced: RawResult
) -> RawResult:
    """The LP-guided search (neighbourhood included) for the time left after HiGHS's race gave
    up; the race's plan stays the one to beat and its bound (root cuts: tighter than the LP's)
    the bound where it is the lower."""
    offset = time.perf_counter() - started
    raced_value = None if raced.values is None else model.objective_of(raced.values)
    report = options.on_progress

    def on_progress(elapsed: float, incumbent: float | None, bound: float | None) -> None:
        if report is not None:
            report(offset + elapsed, _best(incumbent, raced_value), _least(bound, raced.bound))

    found = lpguided.solve(
        model, replace(options, time_limit=_left(options, started), on_progress=on_progress)
    )
    bound = _least(found.bound, raced.bound)
    # The better plan of the two, the LP-guided one on a tie.
    plans = [
        (model.objective_of(r.values), r.values) for r in (found, raced) if r.values is not None
    ]
    value, values = max(plans, key=lambda plan: plan[0]) if plans else (None, None)
    if found.status is Status.INFEASIBLE:
        status = Status.INFEASIBLE
    elif value is None:
        status = Status.UNKNOWN
    elif bound is not None and proves(bound, value):
        status = Status.OPTIMAL
    else:
        status = Status.FEASIBLE
    return RawResult(
        status,
        values,
        bound,
        time.perf_counter() - started,
        max(raced.threads, found.threads),
        f"{raced.detail}; then lpguided for the rest ({offset:.1f}s on): {found.detail}",
        continuous_flows=True,  # HiGHS's and the LP-guided search's crews both
        memory_stopped=found.memory_stopped,
    )


def _best(a: float | None, b: float | None) -> float | None:
    """The better of two plans' values, either of which may be missing."""
    return b if a is None else a if b is None else max(a, b)


def _least(a: float | None, b: float | None) -> float | None:
    """The tighter of two bounds, either of which may be missing."""
    return b if a is None else a if b is None else min(a, b)


class _Patience(threading.Event):
    """The LP-guided start's cancel flag: set with the caller's, or ``patience`` seconds after
    the start's last better plan, or — given ``gap`` — once ``after`` seconds have passed and
    its plan is within ``gap`` (relative) of its bound; given ``share``, once those seconds
    have passed with a plan. Given ``good``, the last two and ``patience`` wait for a plan
    within ``good`` of the bound (``FIRST_PLAN_GAP``)."""

    def __init__(
        self,
        user: threading.Event | None,
        patience: float,
        after: float = 0.0,
        gap: float | None = None,
        share: float | None = None,
        good: float | None = None,
    ) -> None:
        super().__init__()
        self.user = user
        self.patience = patience
        self.after = time.perf_counter() + after
        self.gap = gap
        self.share_ends = None if share is None else time.perf_counter() + share
        self.good = good
        self.best: float | None = None
        self.bound: float | None = None
        self.since: float | None = None

    def plan(self, value: float | None, bound: float | None = None) -> None:
        if bound is not None:
            self.bound = bound
        if value is not None and (self.best is None or value > self.best + 0.5):
            self.best, self.since = value, time.perf_counter()

    def is_set(self) -> bool:
        if super().is_set() or (self.user is not None and self.user.is_set()):
            return True
        now = time.perf_counter()
        if self._within(self.gap) and now >= self.after:
            return True
        if self.good is not None and not self._within(self.good):
            return False  # no plan yet, or one far off: on (FIRST_PLAN_SHARE, FIRST_PLAN_GAP)
        if self.share_ends is not None and self.best is not None and now >= self.share_ends:
            return True  # past its share with a plan
        return self.since is not None and now - self.since > self.patience

    def _within(self, gap: float | None) -> bool:
        """Whether the start's plan is within ``gap`` (relative) of its bound."""
        return (
            gap is not None
            and self.best is not None
            and self.bound is not None
            and self.bound - self.best <= gap * abs(self.bound)
        )


def _left(options: SolveOptions, started: float) -> float:
    return options.time_limit - (time.perf_counter() - started)


def solve(model: MatrixModel, options: SolveOptions) -> RawResult:
    large = model.num_cols > LARGE_COLUMNS
    if model.num_cols > HUGE_COLUMNS or (large and options.time_limit < LARGE_MIN_LIMIT):
        result = lpguided.solve(model, options)
        result.detail = f"lpguided alone ({model.num_cols:,} columns): {result.detail}"
        return result
    fixed = int((model.data.fixed_year >= 0).sum())
    if options.hint or fixed >= REPLAN_FIXED_SHARE * max(1, model.data.num_sites):
        # A planner's warm start (a re-plan's baseline, a hint): HiGHS starts from it at once;
        # the LP-guided plan would replace it. And on re-plans (years frozen, builds fixed) that
        # start slowed HiGHS: it proved both benchmark re-plans alone in half the time (run 6).
        result = highs.solve(model, options)
        how = (
            "from the given warm start"
            if options.hint
            else f"alone (a re-plan: {fixed} of {model.data.num_sites} sites fixed)"
        )
        result.detail = f"highs {how}: {result.detail}"
        return result
    started = time.perf_counter()
    rows, added = model, ""  # HiGHS's model below: ``highs.solve`` separates the rows itself
    if options.time_limit >= ALONE_MIN_LIMIT and model.candidates is not None:
        # The hull rows the LP violates, separated once here for both paths below.
        strengthened, implied = add_violated(model, options.threads, started + options.time_limit)
        rows = replace(strengthened, candidates=None)
        added = f" (+{implied} implied rows)" if implied else ""
        if adds_crews_hull(model, strengthened) and options.gap < START_WITHIN_GAP:
            # HiGHS finds such plans itself, sooner than the LP-guided start (module docstring),
            # except where a tight balance leaves it none (RESCUE_AFTER).
            result = highs.solve(
                rows,
                replace(options, time_limit=_left(options, started)),
                crews_hull=True,
                give_up=(RESCUE_AFTER, RESCUE_GAP),
            )
            result.seconds = time.perf_counter() - started
            result.detail = (
                f"highs alone (the LP violates crews' hull rows): {result.detail}{added}"
            )
            if (
                not result.gave_up
                or result.status is Status.INFEASIBLE
                or result.memory_stopped
                or _left(options, started) <= 0.5
            ):
                return result
            return _rescue(model, options, started, result)
    share = min(PRIMAL_MAX, max(PRIMAL_MIN, PRIMAL_SHARE * options.time_limit), options.time_limit)
    if not large:
        # its share, or on to its first plan (FIRST_PLAN_SHARE)
        head = max(
            share,
            min(FIRST_PLAN_SHARE * options.time_limit, FIRST_PLAN_MAX, _left(options, started)),
        )
        patience = _Patience(options.cancel, PATIENCE, share=share, good=FIRST_PLAN_GAP)
    else:
        # The whole share, and on until the plan is within START_GAP of the LP bound (module
        # docstring): from a poor plan HiGHS found no better one in the time left.
        head = _left(options, started)
        patience = _Patience(options.cancel, math.inf, after=share, gap=START_GAP)

    def head_progress(elapsed: float, incumbent: float | None, bound: float | None) -> None:
        patience.plan(incumbent, bound)
        if options.on_progress is not None:
            options.on_progress(elapsed, incumbent, bound)

    first = lpguided.solve(
        model,
        replace(options, time_limit=head, cancel=patience, on_progress=head_progress),
        neighbourhood=False,
        fallback=False,
    )
    value = None
    if first.values is not None:
        try:
            first.values = integral_flows(model, first.values)
            first.continuous_flows = False
        except FlowRepairError:
            first.values = None  # never seen; HiGHS alone then
        else:
            value = model.objective_of(first.values)
    proved = (
        value is not None
        and first.bound is not None
        and close_enough(first.bound, value, options.gap)
    )
    if (
        proved
        or first.status is Status.INFEASIBLE
        or first.memory_stopped  # HiGHS on the whole model would need more
        or (options.cancel is not None and options.cancel.is_set())
    ):
        first.detail = f"lpguided: {first.detail}"
        return first
    remaining = _left(options, started)
    if remaining <= 0.5:
        first.detail = f"lpguided: {first.detail}"
        return first
    hint = options.hint
    if first.values is not None:
        hint = {j: int(v) for j, v in enumerate(np.rint(first.values).astype(int).tolist())}
    offset = time.perf_counter() - started
    report = options.on_progress

    def on_progress(elapsed: float, incumbent: float | None, bound: float | None) -> None:
        if report is not None:
            # the start's bound until HiGHS has one (before its root LP it reports none)
            best = incumbent if value is None or incumbent is None else max(incumbent, value)
            report(offset + elapsed, best, _least(bound, first.bound))

    second = highs.solve(
        rows,
        replace(
            options,
            time_limit=remaining,
            hint=hint,
            start_value=None,  # the LP-guided plan: HiGHS's heuristics stay on (run 10)
            on_progress=on_progress if report else None,
        ),
        crews_hull=False,  # after the start: measured with HiGHS's default root only
    )
    seconds = time.perf_counter() - started
    bound = _least(first.bound, second.bound)
    detail = f"lpguided {offset:.1f}s ({first.detail}), then highs: {second.detail}{added}"
    if second.values is not None:
        second_value = model.objective_of(second.values)
        if value is None or second_value >= value - 1e-6:
            return RawResult(
                second.status, second.values, bound, seconds, second.threads, detail,
                continuous_flows=second.continuous_flows, memory_stopped=second.memory_stopped,
            )  # fmt: skip
    stopped = second.memory_stopped
    if first.values is not None:
        return RawResult(
            Status.FEASIBLE, first.values, bound, seconds, first.threads, detail,
            memory_stopped=stopped,
        )  # fmt: skip
    return RawResult(
        second.status, None, None, seconds, second.threads, detail, memory_stopped=stopped
    )
