"""Irreducible infeasible sets of constraint-group instances (SPEC §4 ``conflicts``).

The relaxed matrix model (``x`` over the whole horizon, windows as fixings)
gives every row a group instance. CP-SAT with one enforcement literal per
instance finds an infeasible core by assumptions; a deletion filter then drops
members one at a time, keeping each whose removal makes the rest feasible.
Each shrink re-reads the solver's core, so the filter usually needs far fewer
checks than members. Members confirmed necessary are never lost by a shrink:
a core without one of them would lie inside a set already shown feasible.

Where the LP relaxation is infeasible (most conflicts a planner meets: crews,
quotas, resources or technicians short in some year), HiGHS's Farkas certificate
names the instances it rests on (:class:`_Relaxation`): a member whose removal
leaves the LP infeasible is dropped without CP-SAT. The filter starts from the
LP's refutation of the rules a planner changes first (:data:`PREFERENCE`) when
it names two rules or fewer (:data:`SMALL_SEED`), when CP-SAT's first check of
every instance cannot decide (on national-size models it could not in a minute,
for a frozen re-plan three crews short in a year), or when CP-SAT's core is
larger.

Where neither decides (a conflict resting on integrality alone: the balance at 0 points,
which whole sites cannot meet while the LP builds fractions of them), CP-SAT checks the
yearly rules of the horizon's first years, one year more a check (:func:`_earliest_years`):
fewer rules, sooner refuted. A trial of the filter that asks for no build at all holds with
nothing built, and CP-SAT is not asked (:func:`_nothing_built_holds`).

The result is infeasible on its own and irreducible, whichever backend the
planner asked for (decided by CP-SAT, or by the LP where it refutes a set).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
from ortools.sat.python import cp_model

from solver.backends.cpsat import no_sigint, to_cpsat, watch_cancel
from solver.backends.highs import new_relaxation
from solver.model import GroupKey, MatrixModel, build_model
from solver.problem import UNBOUNDED, ProblemData


@dataclass
class ConflictResult:
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    irreducible: bool = True
    feasible: bool = False
    seconds: float = 0.0
    checks: int = 0
    #: Stopped by the caller's ``cancel``: ``conflicts`` is the set so far (still infeasible,
    #: not shown irreducible), or none when no check had refuted one yet.
    cancelled: bool = False


def _cp_solver(time_limit: float, threads: int, probing: bool = True) -> cp_model.CpSolver:
    """CP-SAT as every check of the conflict search runs it (``probing``: CP-SAT's own)."""
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, time_limit)
    # Cores come from the single-worker core-based search; more workers add nothing here.
    solver.parameters.num_workers = 1 if threads <= 2 else 2
    # The LP with every enforced row: at level 1 CP-SAT leaves rows under an enforcement
    # literal out of it, and then could not refute a year's crews or cement short of its
    # quota on national-20x10 in a minute (level 2: ~1 s).
    solver.parameters.linearization_level = 2
    if not probing:
        solver.parameters.cp_model_probing_level = 0
    no_sigint(solver)
    return solver


def _solve(solver: cp_model.CpSolver, cp: cp_model.CpModel, cancel: threading.Event | None) -> int:
    """``solver.solve(cp)``, stopped (``UNKNOWN``) within ~0.1 s once ``cancel`` is set."""
    if cancel is not None and cancel.is_set():
        return int(cp_model.UNKNOWN)
    done = watch_cancel(solver, cancel)
    try:
        code = int(solver.solve(cp))
    finally:
        done.set()
    if cancel is None:
        return code
    # a search stopped on request decided nothing, whatever it had reached
    return int(cp_model.UNKNOWN) if cancel.is_set() and code != cp_model.INFEASIBLE else code


def _check(
    cp: cp_model.CpModel,
    literals: list[int],
    active: list[int],
    time_limit: float,
    threads: int,
    cancel: threading.Event | None = None,
) -> tuple[int, list[int]]:
    cp.clear_assumptions()
    cp.proto.assumptions.extend([literals[g] for g in active])
    solver = _cp_solver(time_limit, threads)
    code = _solve(solver, cp, cancel)
    core: list[int] = []
    if code == cp_model.INFEASIBLE:
        index_of = {lit: g for g, lit in enumerate(literals)}
        core = [
            index_of[lit]
            for lit in solver.sufficient_assumptions_for_infeasibility()
            if lit in index_of
        ]
    return int(code), core


#: A Farkas certificate's multipliers below this count as zero; its margin must exceed it.
FARKAS_TOL = 1e-7
#: Seconds CP-SAT's first check of every instance may take before the LP's refutation
#: (:meth:`_Relaxation.smallest_prefix`) is the start, where there is one.
FIRST_CHECK_S = 5.0
#: Seconds each check of the rules of the horizon's first years may take
#: (:func:`_earliest_years`), where CP-SAT's check of every rule cannot decide: 2.5× what
#: national-20x10's 2024 at 0 points of balance takes here (6.0 s), for slower machines.
YEAR_CHECK_S = 15.0
#: An LP refutation of this many rules or fewer is the start without CP-SAT's first check:
#: no set is much smaller, and that check can take its whole :data:`FIRST_CHECK_S`.
SMALL_SEED = 2
#: The order in which :meth:`_Relaxation.smallest_prefix` takes group instances in: the
#: yearly and regional rules a planner changes first, each site's own rules last, so that
#: "17 sites must be built in 2027 and 13 crews can work" is found before a list of sites.
PREFERENCE = (
    "quota.year",
    "resources",
    "crews",
    "technicians",
    "quota.region_year",
    "precedence",
    "balance",
    "window",
    "build_once",
)


class _Relaxation:
    """The LP relaxation of the relaxed model in HiGHS, with any set of group instances
    enforced: where it is infeasible, so is the model, and HiGHS's Farkas certificate names
    the instances it rests on (:meth:`infeasible_subset`). A check is an LP from the last
    basis, a few hundredths of a second on national-20x10 where CP-SAT takes about one."""

    def __init__(self, model: MatrixModel, threads: int, deadline: float):
        self.model = model
        self.deadline = deadline  # time.perf_counter() past which no LP is started or waited for
        self.h = new_relaxation(model, threads)
        self.h.setOptionValue("presolve", "off")  # a ray of the model itself
        self.h.setOptionValue("solver", "simplex")
        self.row_lb = np.where(np.isinf(model.row_lb), -highspy.kHighsInf, model.row_lb)
        self.row_ub = np.where(np.isinf(model.row_ub), highspy.kHighsInf, model.row_ub)
        self.grouped = np.flatnonzero(model.row_group >= 0).astype(np.int32)
        self.fixed = {gid: cols for gid, cols in model.window_fixings.items() if len(cols)}
        # the only columns whose bounds a check changes (every other keeps the model's)
        self.fixed_cols = np.unique(
            np.concatenate([np.zeros(0, dtype=np.int64), *self.fixed.values()])
        ).astype(np.int32)
        counts = np.diff(model.row_start)
        self.row_of = np.repeat(np.arange(model.num_rows), counts)

    def smallest_prefix(self, active: list[int]) -> list[int] | None:
        """:meth:`infeasible_subset` of the shortest prefix of ``active`` in
        :data:`PREFERENCE` order whose LP is infeasible (by bisection: more rows, less room),
        or None when the LP of all of them holds."""
        groups = self.model.groups
        rank = {name: i for i, name in enumerate(PREFERENCE)}
        order = sorted(active, key=lambda g: (rank.get(groups[g].group, len(rank)), g))
        found = self.infeasible_subset(order)
        if found is None:
            return None
        lo, hi = 0, len(order)  # the prefix of hi instances is infeasible, of lo feasible
        while hi - lo > 1 and time.perf_counter() < self.deadline:  # found holds meanwhile
            mid = (lo + hi) // 2
            subset = self.infeasible_subset(order[:mid])
            if subset is None:
                lo = mid
            else:
                hi, found = mid, subset
        return found

    def infeasible_subset(self, active: list[int]) -> list[int] | None:
        """Instances among ``active`` whose rows and window fixings alone leave the LP
        infeasible, or None when the LP of ``active`` is feasible or gives no usable
        certificate. The rows with a non-zero multiplier are kept; a window only where the
        certificate needs its columns' upper bound 0, the windows it needs least dropped
        while its margin lasts."""
        m, h = self.model, self.h
        left = self.deadline - time.perf_counter()
        if left <= 0:
            return None
        h.setOptionValue("time_limit", left)  # an LP of gen-3000's size takes seconds
        on = np.zeros(len(m.groups), dtype=bool)
        on[active] = True
        rows = self.grouped
        enforced = on[m.row_group[rows]]
        h.changeRowsBounds(  # type: ignore[attr-defined]  # not in highspy's stubs
            len(rows),
            rows,
            np.where(enforced, self.row_lb[rows], -highspy.kHighsInf),
            np.where(enforced, self.row_ub[rows], highspy.kHighsInf),
        )
        col_ub = m.col_ub.astype(np.float64).copy()
        for gid, cols in self.fixed.items():
            if on[gid]:
                col_ub[cols] = 0.0
        cols = self.fixed_cols
        h.changeColsBounds(len(cols), cols, m.col_lb[cols].astype(np.float64), col_ub[cols])
        h.run()
        if h.getModelStatus() != highspy.HighsModelStatus.kInfeasible:
            return None
        _, has_ray, ray = h.getDualRay()  # type: ignore[attr-defined]  # not in the stubs
        if not has_ray:
            return None
        y = np.asarray(ray, dtype=np.float64)
        y[np.abs(y) <= FARKAS_TOL] = 0.0
        y[m.row_group >= 0] *= on[m.row_group[m.row_group >= 0]]  # relaxed rows bind nothing
        d = np.bincount(m.row_index, weights=m.row_value * y[self.row_of], minlength=m.num_cols)
        for z, dz in ((y, d), (-y, -d)):
            # z'Ax is at least what the row bounds allow, at most what the column bounds allow
            with np.errstate(invalid="ignore"):
                least = np.where(z > 0, z * m.row_lb, np.where(z < 0, z * m.row_ub, 0.0)).sum()
                most = np.where(dz > 0, dz * col_ub, np.where(dz < 0, dz * m.col_lb, 0.0)).sum()
            margin = least - most
            tol = FARKAS_TOL * max(1.0, abs(least))
            if not np.isfinite(margin) or margin <= tol:
                continue
            groups = {int(g) for g in m.row_group[z != 0] if g >= 0}
            # Without a window's fixings the maximum grows by its columns' positive multipliers.
            cost = {
                gid: float(np.clip(dz[cols], 0.0, None) @ m.col_ub[cols])
                for gid, cols in self.fixed.items()
                if on[gid]
            }
            for gid in sorted(cost, key=lambda g: cost[g]):
                if cost[gid] < margin - tol:
                    margin -= cost[gid]
                else:
                    groups.add(gid)
            return sorted(groups)
        return None


def _check_fixed(
    cp: cp_model.CpModel,
    literals: list[int],
    active: list[int],
    time_limit: float,
    threads: int,
    cancel: threading.Event | None = None,
) -> int:
    """:func:`_check` with the literals fixed instead of assumed: no core, but CP-SAT's
    presolve then drops every relaxed row, and a check that finds a plan takes about a
    third of the time (0.26 against 0.70 s on national-20x10's re-plans). Without CP-SAT's
    probing: with the literals fixed it probes the balance rows' large coefficients for ~10 s
    of wall time on national-20x10 at 0 points of balance (dropping a quota: 13 s with it,
    3.6 s without); the re-plans' checks are as fast without it."""
    fixed = cp_model.CpModel()
    fixed.proto.copy_from(cp.proto)
    fixed.clear_assumptions()  # the last check's, copied with the rest
    on = np.zeros(len(literals), dtype=bool)
    on[active] = True
    for lit, value in zip(literals, on.tolist(), strict=True):
        domain = fixed.proto.variables[lit].domain
        domain[0] = domain[1] = int(value)
    return _solve(_cp_solver(time_limit, threads, probing=False), fixed, cancel)


def _nothing_built_holds(model: MatrixModel, active: list[int]) -> bool:
    """Whether the plan that builds nothing (every column 0) meets the rules of ``active``:
    then no rule among them asks for a build, and CP-SAT need not look (13 s on
    national-20x10's balance rows alone, with probing)."""
    if (model.col_lb > 0).any():
        return False
    on = np.zeros(len(model.groups), dtype=bool)
    on[active] = True
    rows = (model.row_group < 0) | on[np.maximum(model.row_group, 0)]
    return bool((model.row_lb[rows] <= 0).all() and (model.row_ub[rows] >= 0).all())


def _year_of(key: GroupKey) -> int | None:
    year = dict(key.key).get("year")
    return year if isinstance(year, int) else None


def _earliest_years(
    cp: cp_model.CpModel,
    literals: list[int],
    model: MatrixModel,
    budget: float,
    threads: int,
    cancel: threading.Event | None = None,
) -> tuple[int, list[int], int]:
    """CP-SAT's core of the yearly rules (quotas, crews, resources, balance) of the horizon's
    first years, one more year a check, until a check refutes them (``INFEASIBLE``, the core)
    or ``budget`` seconds are spent (``UNKNOWN``); also the number of checks. Each check may
    take :data:`YEAR_CHECK_S`: fewer rules than every one, so fewer to refute — on
    national-20x10 at 0 points of balance, 2024's rules in ~6 s where every rule was not
    refuted in a minute."""
    end = time.perf_counter() + budget
    years = [_year_of(g) for g in model.groups]
    checks = 0
    for last in sorted({y for y in years if y is not None}):
        left = end - time.perf_counter()
        if left <= 0 or cancel is not None and cancel.is_set():
            break
        active = [g for g, y in enumerate(years) if y is not None and y <= last]
        code, core = _check(cp, literals, active, min(YEAR_CHECK_S, left), threads, cancel)
        checks += 1
        if code == cp_model.INFEASIBLE:
            return code, core or active, checks
    return int(cp_model.UNKNOWN), [], checks


def find_conflicts(
    data: ProblemData,
    time_limit: float = 60.0,
    threads: int = 1,
    cancel: threading.Event | None = None,
    freeze_through: int | None = None,
) -> ConflictResult:
    """An irreducible infeasible set of group instances of ``data``, with messages.

    ``cancel`` stops the search within ~0.1 s: the set refuted so far is returned
    (``cancelled``, not shown irreducible). ``freeze_through``: ``data`` is a re-plan frozen
    through that year, which the messages say where the freeze made the rule (:func:`describe`)."""
    started = time.perf_counter()
    model = build_model(data, relaxed=True, balance_form="regions")
    cp, literals = to_cpsat(model, group_literals=True)
    result = ConflictResult()
    everything = list(range(len(model.groups)))
    relaxation = _Relaxation(model, threads, started + time_limit)

    def remaining() -> float:
        return time_limit - (time.perf_counter() - started)

    def cancelled() -> bool:
        result.cancelled = cancel is not None and cancel.is_set()
        return result.cancelled

    # The LP's refutation of the rules a planner changes first, where the LP is infeasible:
    # the start when it names two rules or fewer (a year's crews against its quota), when
    # CP-SAT's check of every rule cannot decide, or when CP-SAT's core is larger.
    seed = relaxation.smallest_prefix(everything)
    if seed is not None and len(seed) <= SMALL_SEED:
        code, core = int(cp_model.INFEASIBLE), seed
    else:
        code, core = _check(
            cp, literals, everything, min(FIRST_CHECK_S, remaining()), threads, cancel
        )
        result.checks += 1
        decided = code in (cp_model.INFEASIBLE, cp_model.FEASIBLE, cp_model.OPTIMAL)
        if seed is not None and (
            not decided or code == cp_model.INFEASIBLE and len(seed) < len(core)
        ):
            code, core = int(cp_model.INFEASIBLE), seed
        elif not decided and remaining() > 0 and not cancelled():
            # A conflict that rests on integrality alone (the balance at 0 points): CP-SAT
            # refutes the rules of the first years where it cannot refute every rule.
            code, core, checks = _earliest_years(
                cp, literals, model, remaining() / 2, threads, cancel
            )
            result.checks += checks
            if code != cp_model.INFEASIBLE and remaining() > 0 and not cancelled():
                code, core = _check(cp, literals, everything, remaining(), threads, cancel)
                result.checks += 1
    if code == cp_model.FEASIBLE or code == cp_model.OPTIMAL:
        result.feasible = True
        result.seconds = time.perf_counter() - started
        return result
    if code != cp_model.INFEASIBLE:
        result.irreducible = False
        cancelled()
        result.seconds = time.perf_counter() - started
        return result
    members = sorted(core or everything, key=lambda g: model.groups[g].sort_key())
    i = 0
    while i < len(members):
        if remaining() <= 0 or cancelled():
            result.irreducible = False
            break
        trial = members[:i] + members[i + 1 :]
        lp_core = relaxation.infeasible_subset(trial)
        if lp_core is not None:  # infeasible without members[i]: no CP-SAT check needed
            keep = set(lp_core)
            members = [g for g in trial if g in keep]
            continue
        if _nothing_built_holds(model, trial):
            i += 1
            continue
        # The LP holds without members[i]: a plan is likely, which the fixed check finds
        # sooner; no core to shrink by then, as the LP's refutations shrink the set already.
        code, core = _check_fixed(cp, literals, trial, remaining(), threads, cancel), []
        result.checks += 1
        if code == cp_model.INFEASIBLE:
            keep = set(core) if core else set(trial)
            members = [g for g in trial if g in keep]
        elif code in (cp_model.FEASIBLE, cp_model.OPTIMAL):
            i += 1
        else:
            result.irreducible = False
            i += 1
    view = _SetView(model.data, [model.groups[m] for m in members])  # once for every message
    result.conflicts = sorted(
        (describe(model, model.groups[g], freeze_through, view=view) for g in members),
        key=lambda c: GroupKey(
            c["group"], tuple((k, v) for k, v in c.items() if k not in ("group", "message"))
        ).sort_key(),
    )
    result.seconds = time.perf_counter() - started
    return result


def _quota_text(lo: int, hi: int) -> str:
    if lo != UNBOUNDED and hi != UNBOUNDED:
        return f"exactly {lo}" if lo == hi else f"between {lo} and {hi}"
    if lo != UNBOUNDED:
        return f"at least {lo}"
    return f"at most {hi}"


@dataclass
class _Forced:
    """What a conflict set forces in one year, for a limit's message: ``need`` (at least, a
    lower bound: each site at its cheapest design), the ``pinned`` sites (built then and only
    then), ``more`` builds its minimum quotas ask for besides them, and the ``sites`` that
    could take those (the pinned ones first)."""

    need: int
    pinned: list[int]
    more: int
    sites: list[int]

    def words(self, d: ProblemData, when: str) -> str:
        """'3 site(s) that must be built in 2027 ('a', 'b', 'c') and 2 more build(s) its
        minimum quotas ask for' (``when``: 'in 2027', 'by 2027')."""
        out = []
        if self.pinned:
            out.append(
                f"{len(self.pinned)} site(s) that must be built {when} ({_names(d, self.pinned)})"
            )
        if self.more:
            out.append(f"{self.more} more build(s) its minimum quotas ask for")
        return " and ".join(out)


class _SetView:
    """A conflict set read for its messages: the sites it pins to a year (a required or fixed
    site of its ``build_once`` members whose window is one year), its minimum quotas, the
    sites of its ``window`` members. A limit's message (crews, resources, technicians) then
    measures what these force against what that limit allows, where it named a national total
    or no number at all (a QA pass: "53 crews can work in 2027" of a conflict about 9 sites
    and the 25 crews that reach them)."""

    def __init__(self, d: ProblemData, members: Sequence[GroupKey]):
        self.d = d
        self.pinned: dict[int, list[int]] = {}  # year -> sites
        self.region_min: dict[tuple[int, int], int] = {}  # (region, year) -> its minimum
        self.year_min: dict[int, int] = {}
        self.windows: set[int] = set()
        self.once: list[int] = []  # the required sites of its build_once members
        for m in members:
            k = dict(m.key)
            if m.group == "build_once":
                s = d.site_index[k["site"]]
                years = d.build_years[s]
                if d.required[s]:
                    self.once.append(s)
                if d.required[s] and len(years) == 1:
                    self.pinned.setdefault(years.start, []).append(s)
            elif m.group == "window":
                self.windows.add(d.site_index[k["site"]])
            elif m.group == "quota.region_year":
                r, y = d.region_index[k["region"]], k["year"]
                lo = int(d.quota_region_year[r, y - d.start, 0])
                if lo > 0:
                    self.region_min[(r, y)] = lo
            elif m.group == "quota.year":
                lo = int(d.quota_year[k["year"] - d.start, 0])
                if lo > 0:
                    self.year_min[k["year"]] = lo

    def counts_toward_a_minimum(self, s: int) -> bool:
        """Whether site ``s`` could count toward one of the set's minimum quotas: of its
        region in a year it can be built in, or national in such a year."""
        d, region = self.d, int(self.d.site2region[s])
        return any((region, y) in self.region_min or y in self.year_min for y in d.build_years[s])

    def forced(self, year: int, cost: Callable[[int], int], region: int | None = None) -> _Forced:
        """What the set forces in ``year`` (in ``region`` alone when given), each site at
        ``cost(site)``, its cheapest design's: the pinned sites, then the cheapest of the
        sites that could meet each minimum quota of the set beyond them."""
        d = self.d
        pinned = [
            s for s in self.pinned.get(year, []) if region is None or d.site2region[s] == region
        ]
        taken = set(pinned)  # built: pinned, or chosen for a quota
        need = sum(cost(s) for s in pinned)
        sites, seen, more = list(pinned), set(pinned), 0

        def cheapest(candidates: list[int], count: int) -> None:
            # Each quota's builds beyond those already counted, at the cheapest sites that
            # could take them; a region's maximum is not applied, so ``need`` stays a lower
            # bound (a review: the unchosen sites of a region quota stay candidates of the
            # national one, and a count below zero takes none).
            nonlocal need, more
            free = [s for s in candidates if s not in taken and year in d.build_years[s]]
            chosen = sorted(free, key=cost)[: max(0, count)]
            need += sum(cost(s) for s in chosen)
            more += len(chosen)
            taken.update(chosen)
            sites.extend(s for s in free if s not in seen)
            seen.update(free)

        for (r, y), lo in sorted(self.region_min.items()):
            if y == year and (region is None or r == region):
                inside = sum(1 for s in taken if d.site2region[s] == r)
                cheapest(d.region2sites[r].tolist(), lo - inside)
        if region is None and year in self.year_min:
            cheapest(list(range(d.num_sites)), self.year_min[year] - len(taken))
        return _Forced(need, pinned, more, sites)


def _cheapest(d: ProblemData, per_option: np.ndarray) -> Callable[[int], int]:
    """A site's cost at its cheapest allowed design, ``per_option`` indexed by option."""
    return lambda s: min(int(per_option[o]) for o in d.site_options[s])


def _years_text(years: Sequence[int]) -> str:
    return f"{years[0]}" if len(years) == 1 else f"{years[0]}..{years[-1]}"


def _frozen(d: ProblemData, s: int, freeze_through: int | None) -> bool:
    """Whether site ``s`` is fixed by a re-plan's freeze: built in a frozen year."""
    return freeze_through is not None and 0 <= d.fixed_year[s] <= freeze_through


def describe(
    model: MatrixModel,
    key: GroupKey,
    freeze_through: int | None = None,
    view: _SetView | None = None,
) -> dict[str, Any]:
    """The conflict entry of a group instance, with a message a planner can act on; of a
    re-plan frozen through ``freeze_through``, in the words of the freeze where it made the
    rule (a frozen site's build, a window the freeze closed). ``view``: the whole set, read
    once for its messages (:class:`_SetView`: what a year's limits are measured against)."""
    d = model.data
    k = dict(key.key)
    entry: dict[str, Any] = {"group": key.group, **k}
    g = key.group
    view = view or _SetView(d, [key])
    if g == "build_once":
        s = d.site_index[k["site"]]
        why = (
            f"is built in {int(d.fixed_year[s])} by the baseline, a frozen year,"
            if _frozen(d, s, freeze_through)
            else "is fixed"
            if d.fixed_year[s] >= 0
            else ("is required" if d.required[s] else "is optional")
        )
        msg = (
            f"site '{k['site']}' {why} and must be built exactly once"
            if d.required[s]
            else f"site '{k['site']}' may be built at most once"
        )
        if view.counts_toward_a_minimum(s):
            # a minimum quota it could count toward asks for builds: at most once is what
            # binds, and optional would not help (a QA pass: both sites optional, still
            # infeasible); a quota of another region or year says nothing of it (a review)
            msg += ", so it counts once toward the set's minimum quotas: lower them, or widen other sites' windows"
        elif d.required[s] and d.fixed_year[s] < 0:
            msg += ": make it optional (required: false) to allow leaving it unbuilt"
    elif g == "window":
        s = d.site_index[k["site"]]
        years = d.build_years[s]
        if d.fixed_year[s] >= 0:
            opt = (
                f" with option '{d.option_ids[d.fixed_option[s]]}'"
                if d.fixed_option[s] >= 0
                else ""
            )
            msg = (
                f"site '{k['site']}' is built in {int(d.fixed_year[s])}{opt} (the baseline's build; the years through {freeze_through} are frozen): freeze fewer years or re-plan from another baseline"
                if _frozen(d, s, freeze_through)
                else f"site '{k['site']}' is fixed to {int(d.fixed_year[s])}{opt}: unfix it or move the fixed year"
            )
        elif freeze_through is not None and len(years) and years.start == freeze_through + 1:
            # the freeze moved its earliest year (or its own is that year: the re-planned
            # scenario cannot tell, a review): freezing fewer years opens it, not widening a
            # window that is the horizon's already (a QA pass)
            later = ", or move its latest year later" if years.stop - 1 < d.end else ""
            msg = f"site '{k['site']}' can only be built in {years.start}..{years.stop - 1} (the years through {freeze_through} are frozen, and the baseline does not build it there): freeze fewer years (where its own earliest year is {freeze_through + 1} or later, widen its window instead){later}"
        elif len(years):
            msg = f"site '{k['site']}' can only be built in {years.start}..{years.stop - 1}: widen its earliest/latest window"
        else:
            msg = f"site '{k['site']}' has no buildable year in the horizon: widen its earliest/latest window"
    elif g == "quota.region_year":
        r = d.region_index[k["region"]]
        y = k["year"] - d.start
        lo, hi = (int(v) for v in d.quota_region_year[r, y])
        sites = d.region2sites[r].tolist()
        # the sites that can be built that year, not the region's count (a QA pass: "18
        # site(s) in the region" where none could be built then)
        can = sum(1 for s in sites if k["year"] in d.build_years[s])
        n = f"{can} of its {len(sites)} site(s) can be built then"
        frozen_year = freeze_through is not None and k["year"] <= freeze_through
        if frozen_year:
            n += f"; {k['year']} is frozen: its builds are the baseline's"
        elif freeze_through is not None:
            built = sum(1 for s in sites if _frozen(d, int(s), freeze_through))
            n += f", {len(sites) - built} of them not built in the frozen years"
        fixes = ["change the quota for that year (an override)"]
        if any(d.site2region[s] == r for s in view.windows):
            fixes.append("those sites' windows")
        if frozen_year:
            fixes.append("freeze fewer years")
        msg = (
            f"region '{k['region']}' must build {_quota_text(lo, hi)} site(s) in {k['year']} ({n}): "
            + ", or ".join(fixes)
        )
    elif g == "quota.year":
        lo, hi = (int(v) for v in d.quota_year[k["year"] - d.start])
        msg = f"the national quota of {k['year']} is {_quota_text(lo, hi)} site(s): change the yearly quota"
    elif g == "crews":
        msg = _crews_message(d, k["year"], view, freeze_through)
    elif g == "technicians":
        msg = _technicians_message(d, d.region_index[k["region"]], view, freeze_through)
    elif g == "resources":
        q = d.resource_ids.index(k["resource"])
        limit = int(d.resource_limit[q, k["year"] - d.start])
        cost = _cheapest(d, d.option_resources[:, q])
        forced, when = view.forced(k["year"], cost), f"in {k['year']}"
        if forced.need > limit:
            # not "build less that year" where the set's builds must be there (a QA pass)
            fixes = ["raise the limit", *_move_fixes(d, forced, freeze_through)]
            msg = f"resource '{k['resource']}' is limited to {limit} in {k['year']}, where the set's builds ({forced.words(d, when)}) need at least {forced.need} of it, each at its cheapest design: {', or '.join(fixes)}"
        elif (cands := [s for s in view.once if k["year"] in d.build_years[s]]) and (
            least := min(cost(s) for s in cands)
        ) > limit:
            # no build fits the year's limit: "build less" cannot help (a QA pass)
            msg = f"resource '{k['resource']}' is limited to {limit} in {k['year']}, and each of the set's sites that can be built then needs at least {least} of it ({_names(d, cands)}): raise the limit, or offer those sites a design needing less"
        else:
            msg = f"resource '{k['resource']}' is limited to {limit} in {k['year']}: raise the limit or build less that year"
    elif g == "precedence":
        p, q = d.site_index[k["before"]], d.site_index[k["after"]]
        gap = next(gap for a, b, gap in d.precedences if a == p and b == q)
        when = (
            f"at least {gap} year(s) before" if gap else "no later than"
        )  # gap 0: that year or before
        msg = (
            f"'{k['before']}' must be built {when} '{k['after']}': drop or shorten this precedence"
        )
    elif g == "balance":
        msg = f"region '{k['region']}' may trail the national served-population share by at most {d.balance_pct} points in {k['year']}: raise balance.tolerance_pct"
    else:  # pragma: no cover - every group of SPEC §4 is handled above
        msg = g
    entry["message"] = msg
    return entry


def _names(d: ProblemData, sites: Sequence[int]) -> str:
    names = ", ".join(f"'{d.site_ids[s]}'" for s in sites[:5])
    return names + (f" and {len(sites) - 5} more" if len(sites) > 5 else "")


def _move_fixes(d: ProblemData, forced: _Forced, freeze_through: int | None) -> list[str]:
    """The changes that can lighten a year's forced builds: move the free ones, the fixed
    ones' years, fewer frozen years, lower minimum quotas (a review: "move those builds"
    of builds the freeze fixed)."""
    out = []
    if any(d.fixed_year[s] < 0 for s in forced.pinned):
        out.append("widen those sites' windows")
    if any(d.fixed_year[s] >= 0 and not _frozen(d, s, freeze_through) for s in forced.pinned):
        out.append("move the fixed builds")
    if any(_frozen(d, s, freeze_through) for s in forced.pinned):
        out.append("freeze fewer years")
    if forced.more:
        out.append("lower the minimum quotas")
    return out


def _crews_message(d: ProblemData, year: int, view: _SetView, freeze_through: int | None) -> str:
    """A year's crews against what the set's builds of that year need from the pools that
    reach them; the country's crews and generic advice where the set forces no build."""
    y = year - d.start
    total = int(d.available[:, y].sum()) if d.has_crews else 0
    cost = _cheapest(d, d.option_crews)
    forced = view.forced(year, cost) if d.has_crews else _Forced(0, [], 0, [])
    # a site of the set counts in every year its window, where the set has it, leaves open
    unreached = [
        s
        for s in view.once
        if (year in d.build_years[s] or s not in view.windows)
        and cost(s)
        and not d.reach[:, s].any()
    ]
    if unreached:  # adding crews cannot help (a QA pass): "3 crew(s) can work: add crews"
        return f"no crew pool reaches {_names(d, unreached)}, which must be built and needs crews: widen a pool's regions or maximum distance to reach it"
    near = 0
    if forced.sites:
        reach = np.flatnonzero(d.reach[:, forced.sites].any(axis=1))
        near = int(d.available[reach, y].sum())
    if forced.need and not near:
        return f"no crew pool that reaches the set's builds in {year} ({forced.words(d, f'in {year}')}) has crews that year: widen a pool's regions or maximum distance, or give those pools crews in {year}"
    if forced.need <= near:  # no shortage these numbers show (a review): the general words
        return f"{total} crew(s) can work in {year} and each site needs its option's crews from pools that reach it: add crews, widen pools' regions or distance, or build less that year"
    fixes = ["add crews to those pools", "widen other pools' regions or distance"]
    fixes += _move_fixes(d, forced, freeze_through)
    return f"the set's builds in {year} ({forced.words(d, f'in {year}')}) need at least {forced.need} crew(s), each at its cheapest design, from pools that reach them, which have {near} that year ({total} in all): {', or '.join(fixes)}"


def _technicians_message(d: ProblemData, r: int, view: _SetView, freeze_through: int | None) -> str:
    """A region's technicians: the first year by which the set's builds there need more
    than its stock and the trainees that can finish in time, and the changes that can close
    that gap (a QA pass: "train earlier" where no year comes before, "raise the capacity" of
    an unlimited region or of years the freeze holds at the baseline's trainees)."""
    region, stock, lead = d.region_ids[r], int(d.trained_stock[r]), d.lead_time
    cost = _cheapest(d, d.option_technicians)
    frozen = [y for y in d.years if freeze_through is not None and y <= freeze_through]
    capacity = [int(v) for v in d.training_capacity[r]]
    need, pinned, more = 0, [], 0
    for year in d.years:
        forced = view.forced(year, cost, region=r)
        need, more = need + forced.need, more + forced.more
        pinned += forced.pinned
        ready = [y for y in d.years if y <= year - lead]
        supply = stock + sum(capacity[y - d.start] for y in ready)
        if need <= supply:
            continue
        builds = _Forced(need, pinned, more, []).words(d, f"by {year}")
        have = [f"{stock} trained before the horizon"]
        held = [y for y in ready if y in frozen]
        free = [y for y in ready if y not in frozen]
        if held:
            trained = sum(capacity[y - d.start] for y in held)
            have.append(
                f"{trained} trained in {_years_text(held)}, frozen years that keep the baseline's trainees"
            )
        if free:
            most = sum(capacity[y - d.start] for y in free)
            have.append(f"at most {most} trained in {_years_text(free)}")
        if not ready:
            have.append(f"none trained in time: the lead time is {lead} year(s)")
        fixes = ["raise its trained_stock"]
        if any(capacity[y - d.start] for y in d.years if year - lead < y <= year):
            fixes.append("shorten training.lead_time")  # where it lets more finish in time
        if free and d.training_limited[r]:
            fixes.append(f"raise its training_capacity in {_years_text(free)}")
        # (the need counts each site at its cheapest design: another design cannot lower it)
        if more:
            fixes.append("lower the region's minimum quotas")
        if any(d.fixed_year[s] < 0 and d.build_years[s].start < d.end for s in pinned):
            fixes.append("widen those sites' windows to later years")
        if held or any(_frozen(d, s, freeze_through) for s in pinned):
            fixes.append("freeze fewer years")
        return f"region '{region}' needs at least {need} technician(s) by {year} for the set's builds there ({builds}) and can have at most {supply}: {', '.join(have)}: {', or '.join(fixes)}"
    open_years = [y for y in d.years if y not in frozen]
    caps = [capacity[y - d.start] for y in open_years]
    cap = (
        "unlimited"
        if not d.training_limited[r]
        else f"{min(caps)}..{max(caps)} a year"
        if caps
        else "none open"
    )
    if frozen:
        cap += f" ({_years_text(frozen)} frozen: the baseline's trainees)"
    raise_ = "raise the stock" + (" or the capacity" if d.training_limited[r] and caps else "")
    return f"region '{region}' has {stock} trained technician(s), training capacity {cap}, lead time {lead} year(s): {raise_}, shorten the lead time, or choose designs needing fewer technicians"


def subset_feasible(
    data: ProblemData, members: list[dict[str, Any]], time_limit: float = 30.0
) -> bool | None:
    """Whether the constraints of a set of group instances admit a solution (tests, audits);
    None when CP-SAT cannot tell within ``time_limit``."""
    return _Subsets(data).feasible(members, time_limit)


def verify_conflict_set(
    data: ProblemData, members: list[dict[str, Any]], time_limit: float = 30.0
) -> bool | None:
    """Whether ``members`` (a plan's ``conflicts``) is infeasible and irreducible: infeasible
    alone, feasible without any one of them (each check within ``time_limit``); None when a
    check cannot tell. The model is built once for every check (the benchmark verifies sets
    of 25 members)."""
    subsets = _Subsets(data)
    alone = subsets.feasible(members, time_limit)
    if alone is not False:  # feasible: no conflict; None: not known
        return None if alone is None else False
    for i in range(len(members)):
        without = subsets.feasible(members[:i] + members[i + 1 :], time_limit)
        if without is not True:  # infeasible without it: not irreducible; None: not known
            return None if without is None else False
    return True


class _Subsets:
    """One relaxed model of ``data`` whose group instances are switched on by name."""

    def __init__(self, data: ProblemData):
        model = build_model(data, relaxed=True, balance_form="regions")
        self.cp, self.literals = to_cpsat(model, group_literals=True)
        self.index = {(g.group, tuple(v for _, v in g.key)): i for i, g in enumerate(model.groups)}

    def feasible(self, members: list[dict[str, Any]], time_limit: float) -> bool | None:
        active = []
        for m in members:
            values = tuple(v for k, v in m.items() if k not in ("group", "message"))
            gid = self.index.get((m["group"], values))
            if gid is not None:
                active.append(gid)
        code, _ = _check(self.cp, self.literals, active, time_limit, 1)
        if code == cp_model.INFEASIBLE:
            return False
        if code in (cp_model.FEASIBLE, cp_model.OPTIMAL):
            return True
        return None
