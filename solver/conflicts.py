"""Irreducible infeasible sets of constraint-group instances (SPEC §4 ``conflicts``).

The relaxed matrix model (``x`` over the whole horizon, windows as fixings)
gives every row a group instance. CP-SAT with one enforcement literal per
instance finds an infeasible core by assumptions; a deletion filter then drops
members one at a time, keeping each whose removal makes the rest feasible.
Each shrink re-reads the solver's core, so the filter usually needs far fewer
checks than members. Members confirmed necessary are never lost by a shrink:
a core without one of them would lie inside a set already shown feasible.

The result is infeasible on its own and irreducible, whichever backend the
planner asked for (the oracle is always CP-SAT).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from solver.backends.cpsat import to_cpsat
from solver.model import GroupKey, MatrixModel, build_model
from solver.problem import UNBOUNDED, ProblemData


@dataclass
class ConflictResult:
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    irreducible: bool = True
    feasible: bool = False
    seconds: float = 0.0
    checks: int = 0


def _check(
    cp: cp_model.CpModel, literals: list[int], active: list[int], time_limit: float, threads: int
) -> tuple[int, list[int]]:
    cp.clear_assumptions()
    cp.proto.assumptions.extend([literals[g] for g in active])
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, time_limit)
    # Cores come from the single-worker core-based search; more workers add nothing here.
    solver.parameters.num_workers = 1 if threads <= 2 else 2
    code = solver.solve(cp)
    core: list[int] = []
    if code == cp_model.INFEASIBLE:
        index_of = {lit: g for g, lit in enumerate(literals)}
        core = [
            index_of[lit]
            for lit in solver.sufficient_assumptions_for_infeasibility()
            if lit in index_of
        ]
    return int(code), core


def find_conflicts(data: ProblemData, time_limit: float = 60.0, threads: int = 1) -> ConflictResult:
    """An irreducible infeasible set of group instances of ``data``, with messages."""
    started = time.perf_counter()
    model = build_model(data, relaxed=True, balance_form="regions")
    cp, literals = to_cpsat(model, group_literals=True)
    result = ConflictResult()
    everything = list(range(len(model.groups)))

    def remaining() -> float:
        return time_limit - (time.perf_counter() - started)

    code, core = _check(cp, literals, everything, remaining(), threads)
    result.checks += 1
    if code == cp_model.FEASIBLE or code == cp_model.OPTIMAL:
        result.feasible = True
        result.seconds = time.perf_counter() - started
        return result
    if code != cp_model.INFEASIBLE:
        result.irreducible = False
        result.seconds = time.perf_counter() - started
        return result
    members = sorted(core or everything, key=lambda g: model.groups[g].sort_key())
    i = 0
    while i < len(members):
        if remaining() <= 0:
            result.irreducible = False
            break
        trial = members[:i] + members[i + 1 :]
        code, core = _check(cp, literals, trial, remaining(), threads)
        result.checks += 1
        if code == cp_model.INFEASIBLE:
            keep = set(core) if core else set(trial)
            members = [g for g in trial if g in keep]
        elif code in (cp_model.FEASIBLE, cp_model.OPTIMAL):
            i += 1
        else:
            result.irreducible = False
            i += 1
    result.conflicts = sorted(
        (describe(model, model.groups[g]) for g in members),
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


def describe(model: MatrixModel, key: GroupKey) -> dict[str, Any]:
    """The conflict entry of a group instance, with a message a planner can act on."""
    d = model.data
    k = dict(key.key)
    entry: dict[str, Any] = {"group": key.group, **k}
    g = key.group
    if g == "build_once":
        s = d.site_index[k["site"]]
        why = (
            "is fixed"
            if d.fixed_year[s] >= 0
            else ("is required" if d.required[s] else "is optional")
        )
        msg = (
            f"site '{k['site']}' {why} and must be built exactly once"
            if d.required[s]
            else f"site '{k['site']}' may be built at most once"
        )
        if d.required[s] and d.fixed_year[s] < 0:
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
            msg = f"site '{k['site']}' is fixed to {int(d.fixed_year[s])}{opt}: unfix it or move the fixed year"
        elif len(years):
            msg = f"site '{k['site']}' can only be built in {years.start}..{years.stop - 1}: widen its earliest/latest window"
        else:
            msg = f"site '{k['site']}' has no buildable year in the horizon: widen its earliest/latest window"
    elif g == "quota.region_year":
        r = d.region_index[k["region"]]
        y = k["year"] - d.start
        lo, hi = (int(v) for v in d.quota_region_year[r, y])
        n = len(d.region2sites[r])
        msg = f"region '{k['region']}' must build {_quota_text(lo, hi)} site(s) in {k['year']} ({n} site(s) in the region): change the quota for that year (an override) or the sites' windows"
    elif g == "quota.year":
        lo, hi = (int(v) for v in d.quota_year[k["year"] - d.start])
        msg = f"{_quota_text(lo, hi)} site(s) must be built nationally in {k['year']}: change the yearly quota"
    elif g == "crews":
        y = k["year"] - d.start
        total = int(d.available[:, y].sum()) if d.has_crews else 0
        msg = f"{total} crew(s) can work in {k['year']} and each site needs its option's crews from pools that reach it: add crews, widen pools' regions or distance, or build less that year"
    elif g == "technicians":
        r = d.region_index[k["region"]]
        cap = (
            "unlimited"
            if not d.training_limited[r]
            else f"{int(d.training_capacity[r].min())}..{int(d.training_capacity[r].max())} a year"
        )
        msg = (
            f"region '{k['region']}' has {int(d.trained_stock[r])} trained technician(s), training capacity {cap}, "
            f"lead time {d.lead_time} year(s): raise the stock or capacity, train earlier, or choose designs needing fewer technicians"
        )
    elif g == "resources":
        q = d.resource_ids.index(k["resource"])
        limit = int(d.resource_limit[q, k["year"] - d.start])
        msg = f"resource '{k['resource']}' is limited to {limit} in {k['year']}: raise the limit or build less that year"
    elif g == "precedence":
        p, q = d.site_index[k["before"]], d.site_index[k["after"]]
        gap = next(gap for a, b, gap in d.precedences if a == p and b == q)
        msg = f"'{k['before']}' must be built at least {gap} year(s) before '{k['after']}': drop or shorten this precedence"
    elif g == "balance":
        msg = f"region '{k['region']}' may trail the national served-population share by at most {d.balance_pct} points in {k['year']}: raise balance.tolerance_pct"
    else:  # pragma: no cover - every group of SPEC §4 is handled above
        msg = g
    entry["message"] = msg
    return entry


def subset_feasible(
    data: ProblemData, members: list[dict[str, Any]], time_limit: float = 30.0
) -> bool | None:
    """Whether the constraints of a set of group instances admit a solution (tests, audits)."""
    model = build_model(data, relaxed=True, balance_form="regions")
    cp, literals = to_cpsat(model, group_literals=True)
    index = {(g.group, tuple(v for _, v in g.key)): i for i, g in enumerate(model.groups)}
    active = []
    for m in members:
        values = tuple(v for k, v in m.items() if k not in ("group", "message"))
        gid = index.get((m["group"], values))
        if gid is not None:
            active.append(gid)
    code, _ = _check(cp, literals, active, time_limit, 1)
    if code == cp_model.INFEASIBLE:
        return False
    if code in (cp_model.FEASIBLE, cp_model.OPTIMAL):
        return True
    return None
