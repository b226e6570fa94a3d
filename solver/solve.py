"""The one dispatcher: scenario in, checked plan out.

``solve`` builds the problem data and the matrix model, runs the chosen
backend, turns its values into a :class:`~solver.plan.Plan`, and recomputes the
plan's terms and objective with the evaluator. A backend plan that fails the
evaluator raises :class:`SolverBugError`: it never reaches a user as a plan.
"""

from __future__ import annotations

import importlib
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from solver.backends.base import RawResult, SolveOptions, default_threads, memory_ceiling_mb
from solver.evaluate import evaluate
from solver.flows import Crews, FlowRepairError, cheapest_crews, crew_preference, integral_flows
from solver.model import MatrixModel, build_model
from solver.plan import (
    Build,
    CrewAssignment,
    Plan,
    SolverInfo,
    Status,
    TrainingRow,
    floor_bound,
    gap_of,
    sort_builds,
)
from solver.problem import build_problem
from solver.replan import baseline_crews, fix_training, hold_crews, unheld_training
from solver.scenario import Scenario, ScenarioError, parse_scenario

logger = logging.getLogger(__name__)

BACKENDS = ("cpsat", "highs", "cbc", "portfolio", "lpguided")
DEFAULT_BACKEND = "portfolio"
#: How many of a failing warm start's violations a plan reports.
WARM_START_VIOLATIONS = 5


class SolverBugError(RuntimeError):
    """A backend returned a plan that breaks the SPEC: a bug, reported as an error."""


@dataclass(frozen=True)
class Progress:
    """One progress report: integer incumbent and bound of ``Z`` (SPEC §4 rules)."""

    elapsed: float
    incumbent: int | None
    bound: int | None
    gap: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "elapsed": round(self.elapsed, 3),
            "incumbent": self.incumbent,
            "bound": self.bound,
            "gap": self.gap,
        }


def _backend(name: str) -> Callable[[MatrixModel, SolveOptions], RawResult]:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend '{name}'; choose one of {', '.join(BACKENDS)}")
    module = importlib.import_module(f"solver.backends.{name}")
    return module.solve  # type: ignore[no-any-return]


def extract_plan(
    model: MatrixModel, values: np.ndarray, prefer: Crews | None = None
) -> tuple[list[Build], list[TrainingRow]]:
    """Builds (with crews) and training rows from a solution vector of ``model``; with
    ``prefer`` (another plan's crews), a column's crews go first to the pools of its class
    that plan sent there."""
    data = model.data
    v = np.rint(values).astype(np.int64)
    x_on = np.flatnonzero(v[: model.num_x] > 0)
    a_val = v[model.a_offset : model.t_offset]
    given: Counter[tuple[int, int, int]] = Counter()  # (site, year, pool) -> crews
    # A column's crews belong to a class of interchangeable pools: its pools give them in
    # scenario order, each up to what it has left that year (the class's bound is their sum;
    # were a solver to exceed it, the last pool takes the rest and the evaluator says so).
    # The pools ``prefer`` names there give first, for every column, before the rest.
    left = data.available.copy()
    columns = [
        (int(model.a_pool[i]), int(model.a_site[i]), int(model.a_year[i]), int(a_val[i]))
        for i in np.flatnonzero(a_val > 0).tolist()
    ]
    remaining = [count for *_, count in columns]
    if prefer:
        for n, (c, s, y, _) in enumerate(columns):
            for pool, count in prefer.get((data.site_ids[s], data.start + y), []):
                k = data.pool_index.get(pool)
                if k is None or data.pool_class[k] != c:
                    continue
                give = min(count, int(left[k, y]), remaining[n])
                if give > 0:
                    left[k, y] -= give
                    remaining[n] -= give
                    given[s, y, k] += give
    for n, (c, s, y, _) in enumerate(columns):
        count = remaining[n]
        members = data.class_members[c]
        for m, k in enumerate(members):
            if count == 0:
                break
            give = count if m == len(members) - 1 else min(count, int(left[k, y]))
            if give <= 0:
                continue
            left[k, y] -= give
            count -= give
            given[s, y, k] += give
    crews_of: dict[tuple[int, int], list[CrewAssignment]] = {}
    for (s, y, k), n in given.items():
        crews_of.setdefault((s, y), []).append(
            CrewAssignment(pool=data.pool_ids[k], count=n, distance_km=int(data.distance[k, s]))
        )
    builds = []
    for j in x_on.tolist():
        s, o, y = int(model.x_site[j]), int(model.x_option[j]), int(model.x_year[j])
        builds.append(
            Build(
                site=data.site_ids[s],
                region=data.region_ids[data.site2region[s]],
                year=data.start + y,
                option=data.option_ids[o],
                crews=crews_of.get((s, y), []),
            )
        )
    t_val = v[model.t_offset : model.aux_offset]
    training = [
        TrainingRow(
            region=data.region_ids[model.t_region[i]],
            year=data.start + int(model.t_year[i]),
            trainees=int(t_val[i]),
        )
        for i in np.flatnonzero(t_val > 0).tolist()
    ]
    training.sort(key=lambda t: (t.region, t.year))
    return sort_builds(builds), training


def solve(
    scenario: Scenario | dict[str, Any] | str | bytes,
    backend: str = DEFAULT_BACKEND,
    time_limit: float = 60.0,
    threads: int | None = None,
    seed: int = 0,
    hint: dict[str, Any] | list[dict[str, Any]] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    conflicts: bool = True,
    log: bool = False,
    memory_limit_mb: float | None | Literal["env"] = "env",
    gap: float = 0.0,
    fixed_training: Mapping[tuple[str, int], int] | None = None,
    held_crews: Crews | None = None,
    prefer_crews: Crews | None = None,
    freeze_through: int | None = None,
) -> Plan:
    """Solve a scenario and return its checked plan document (SPEC §4).

    ``hint`` is a warm start: a plan document or a list of builds
    (``{"site", "year", "option"}``); the scenario's ``baseline`` is used when
    none is given. ``cancel`` stops the solver; the best plan found so far is
    returned. Invalid input returns a plan with status ``invalid``. ``memory_limit_mb`` is the
    resident memory the solve may add to its process before its HiGHS MIP runs stop with their
    best plan (``"env"``: ``RDPLAN_MEMORY_LIMIT_MB`` or the default; None or 0: no limit; see
    ``solver.backends.base.MEMORY_LIMIT_MB``). ``gap`` above 0 stops the solve once a plan is
    proved within that relative gap of the bound (SPEC §4's ``gap``, a fraction: 0.001 is
    0.1 %); the plan is then ``feasible`` with its bound and gap, unless the bound proves it.
    ``fixed_training`` (``{(region, year): trainees}``, a re-plan's frozen years:
    ``solver.replan.frozen_training``) holds those trainees at exactly those amounts.
    ``held_crews`` (``{(site, year): [(pool, count)]}``, the baseline's crews of a re-plan's
    frozen years: ``solver.replan.frozen_crews``) are the plan's crews in every year where
    they still hold (``solver.replan.hold_crews``; the plan's ``solver.detail`` says where
    not), its objective and bound moved by the kilometres they travel more.
    ``prefer_crews`` (a baseline plan's crews: ``solver.replan.baseline_crews``; by default
    those of ``hint`` when it is a plan document) are kept wherever they are among the
    cheapest for the plan's builds, so that a plan changes crews only where it must
    (``solver.flows.crew_preference``). ``freeze_through``: the scenario is a re-plan frozen
    through that year (``solver.replan.apply_baseline``), which a conflict set's messages say
    where the freeze made the rule (a frozen site's build, a window the freeze closed).
    """
    _backend(backend)  # reject unknown names before any work
    if not 0 <= gap < 1:  # also refuses NaN
        raise ValueError(f"gap must be a fraction in [0, 1), got {gap!r}")
    memory_limit = memory_ceiling_mb(memory_limit_mb)  # what the solve adds counts, from here
    threads = threads or default_threads()
    try:
        sc = parse_scenario(scenario)
    except ScenarioError as exc:
        return Plan.invalid(exc.errors)
    started = time.perf_counter()
    data = build_problem(sc)
    # CP-SAT and CBC do better with balance over the regional auxiliaries S[r,y], the HiGHS
    # paths with B[s,y] and tightened rows (solver.model, benchmarks/RESULTS.md).
    model = build_model(data, balance_form="regions" if backend in ("cpsat", "cbc") else None)
    frozen, unheld = 0, ""
    if fixed_training:
        unheld = unheld_training(model, fixed_training)
        model, frozen = fix_training(model, fixed_training)
    build_seconds = time.perf_counter() - started
    info = SolverInfo(
        backend=backend,
        seconds=0.0,
        threads=threads,
        time_limit=time_limit,
        seed=seed,
        build_seconds=round(build_seconds, 3),
        **model.size(),
    )
    if gap > 0:
        info.gap_limit = gap  # type: ignore[attr-defined]
    columns = hint_columns(model, hint)
    warm, start_value = _warm_start(model, columns, held_crews) if columns else (None, None)
    empty = model.violated_empty_rows()
    if len(empty):
        raw = RawResult(
            Status.INFEASIBLE,
            None,
            None,
            0.0,
            threads,
            "infeasible before any solve: a rule that no decision can meet, as a quota where no site can be built (the conflicts name it)",
        )
    elif model.num_cols == 0:
        # No site can be built in the horizon and nothing else is decided: the empty plan is
        # the only one, and optimal (HiGHS calls such a model "Empty", not solved).
        raw = RawResult(
            Status.OPTIMAL,
            np.zeros(0),
            float(model.obj_const),
            0.0,
            threads,
            "no decisions: no site can be built in the horizon",
        )
    else:
        raw = _run(
            model,
            backend,
            time_limit,
            threads,
            seed,
            columns,
            start_value,
            on_progress,
            cancel,
            log,
            memory_limit,
            gap,
        )
    info.seconds = round(raw.seconds, 3)
    info.threads = raw.threads
    if frozen:
        noun = "column" if frozen == 1 else "columns"
        raw.detail += f" (the frozen years' trainees held at the baseline's: {frozen} {noun}"
        raw.detail += f"; {unheld})" if unheld else ")"
    elif unheld:
        raw.detail += f" (the frozen years' trainees: {unheld})"
    info.detail = raw.detail  # type: ignore[attr-defined]
    if warm is not None:
        info.warm_start = warm  # type: ignore[attr-defined]
    if prefer_crews is None and isinstance(hint, dict):
        try:
            prefer_crews = baseline_crews(hint)
        except ScenarioError:
            prefer_crews = None  # a hint with odd crews: its builds still start the solver
    plan = plan_from_result(model, raw, info, held_crews, prefer_crews)
    if plan.status is Status.INFEASIBLE and conflicts:
        from solver.conflicts import find_conflicts

        remaining = max(5.0, time_limit - (time.perf_counter() - started))
        found = find_conflicts(
            data,
            time_limit=remaining,
            threads=threads,
            cancel=cancel,
            freeze_through=freeze_through,
        )
        if found.feasible:
            # The backend's infeasibility claim was wrong: CP-SAT found a solution.
            raise SolverBugError(f"{backend} reported infeasible, but the scenario has a solution")
        plan.conflicts = found.conflicts
        info.conflict_seconds = round(found.seconds, 3)  # type: ignore[attr-defined]
        if not found.irreducible:
            info.conflicts_irreducible = False  # type: ignore[attr-defined]
        if found.cancelled:
            info.detail += (  # type: ignore[attr-defined]
                " (the conflict search was cancelled: "
                + (
                    "its set so far, not shown irreducible)"
                    if found.conflicts
                    else "no set had been refuted yet)"
                )
            )
    return plan


def _run(
    model: MatrixModel,
    backend: str,
    time_limit: float,
    threads: int,
    seed: int,
    hint: dict[int, int] | None,
    start_value: float | None,
    on_progress: Callable[[Progress], None] | None,
    cancel: threading.Event | None,
    log: bool,
    memory_limit: float | None,
    gap: float,
) -> RawResult:
    failed = False

    def report(elapsed: float, incumbent: float | None, bound: float | None) -> None:
        # The backends call this from inside the solver's callbacks, where an exception
        # aborts the solve (HiGHS: "Solve error", no plan). A progress observer that fails
        # (a closed pipe, a lost connection) must not cost the plan: it is logged once and
        # not called again.
        nonlocal failed
        if on_progress is None or failed:
            return
        inc = None if incumbent is None else round(incumbent)
        bnd = None if bound is None or not math.isfinite(bound) else floor_bound(bound)
        if inc is not None and bnd is not None and bnd < inc + 1:
            bnd = inc
        gap = None if inc is None or bnd is None else gap_of(inc, bnd)
        try:
            on_progress(Progress(elapsed, inc, bnd, gap))
        except Exception:
            failed = True
            logger.warning("progress callback failed; the solve goes on without it", exc_info=True)

    options = SolveOptions(
        time_limit=time_limit,
        threads=threads,
        seed=seed,
        hint=hint,
        start_value=start_value,
        on_progress=report if on_progress else None,
        cancel=cancel,
        log=log,
        memory_limit_mb=memory_limit,
        gap=gap,
    )
    return _backend(backend)(model, options)


def hint_columns(
    model: MatrixModel, hint: dict[str, Any] | list[dict[str, Any]] | None
) -> dict[int, int] | None:
    """Column values of a warm start: x from the hint's builds (or the baseline)."""
    data = model.data
    if hint is None:
        return model.hint_from_builds(data.baseline) or None
    builds = hint.get("builds", []) if isinstance(hint, dict) else hint
    triples = []
    for b in builds:
        s = data.site_index.get(str(b.get("site")))
        o = data.option_index.get(str(b.get("option")))
        year = b.get("year")
        if s is not None and o is not None and isinstance(year, int):
            triples.append((s, o, year))
    return model.hint_from_builds(triples) or None


def warm_start_report(
    model: MatrixModel, hint: dict[int, int], held_crews: Crews | None = None
) -> dict[str, Any]:
    """Does the warm start hold in this scenario? Its builds, with crews and trainees chosen at
    best for them (``solver.flows``), checked by the evaluator; sites it does not name are left
    unbuilt. A re-plan's baseline can break the changed scenario (crews lost in a year it
    builds in, say): a solver then discards it, and the planner should know why. With
    ``held_crews`` (a re-plan's frozen years, ``solve``'s argument) those years' builds get
    the held crews, as the plan would.

    Returns ``{"builds", "holds", "objective", "violations"}`` (``objective`` of the start when it
    holds; the first violations, in the evaluator's words, when it does not).
    """
    return _warm_start(model, hint, held_crews)[0]


def _warm_start(
    model: MatrixModel, hint: dict[int, int], held_crews: Crews | None
) -> tuple[dict[str, Any], float | None]:
    """:func:`warm_start_report`, and the start's objective in the solver's model (its crews
    the cheapest, the held ones' extra kilometres not counted; None when it does not hold)."""
    cols = np.fromiter(hint.keys(), dtype=np.int64, count=len(hint))
    vals = np.fromiter(hint.values(), dtype=np.float64, count=len(hint))
    on_x = cols < model.num_x
    values = np.zeros(model.num_cols)
    values[cols[on_x]] = vals[on_x]
    builds = int(np.rint(values[: model.num_x]).sum())
    report: dict[str, Any] = {"builds": builds, "holds": False, "objective": None}
    try:
        values = integral_flows(model, values)
    except FlowRepairError as exc:
        report["violations"] = [str(exc)]
        return report, None
    plan_builds, training = extract_plan(model, values)
    ev = evaluate(
        model.data,
        Plan(status=Status.FEASIBLE, builds=plan_builds, training=training),
        check_reported=False,
    )
    report["holds"] = ev.holds
    if not ev.holds:
        report["violations"] = ev.violations[:WARM_START_VIOLATIONS]
        return report, None
    report["objective"] = ev.objective
    if held_crews:
        # the plan's value of these builds: the frozen years' crews held (plan_from_result)
        held, more_km, _ = hold_crews(model.data, plan_builds, held_crews)
        if more_km:
            plan = Plan(status=Status.FEASIBLE, builds=held, training=training)
            report["objective"] = evaluate(model.data, plan, check_reported=False).objective
    return report, float(ev.objective)


def warm_start_summary(report: dict[str, Any]) -> str:
    """One line for a :func:`warm_start_report`, as the CLI and the benchmark tables say it."""
    if report["holds"]:
        return f"{report['builds']} builds, holds (objective {report['objective']:,})"
    return f"{report['builds']} builds, does not hold: " + "; ".join(report.get("violations", []))


def plan_from_result(
    model: MatrixModel,
    raw: RawResult,
    info: SolverInfo,
    held_crews: Crews | None = None,
    prefer_crews: Crews | None = None,
) -> Plan:
    """Turn a backend's raw result into a checked plan document (with ``held_crews``: the
    frozen years' crews held, ``solver.replan.hold_crews``; with ``prefer_crews``: those
    crews kept where they are as cheap, ``solver.flows.crew_preference``)."""
    data = model.data
    name = data.scenario.name
    if not raw.status.has_plan or raw.values is None:
        status = raw.status if raw.status in (Status.INFEASIBLE, Status.UNKNOWN) else Status.UNKNOWN
        return Plan(scenario=name, status=status, solver=info)
    values = raw.values
    prefer = crew_preference(model, prefer_crews) if prefer_crews else None
    if raw.continuous_flows:
        values = integral_flows(model, values, prefer)
    elif prefer is not None:  # the solver's own crews: as cheap or cheaper, and preferred
        values = cheapest_crews(model, values, prefer)
    builds, training = extract_plan(model, values, prefer_crews)
    raw_bound = raw.bound
    if held_crews:
        builds, more_km, why_not = hold_crews(data, builds, held_crews)
        # Each year's crews serve only that year's builds: the best plan with the held ones
        # is the solver's problem's best less what they cost more, so its bound moves alike.
        if raw_bound is not None and math.isfinite(raw_bound):
            raw_bound -= int(data.weights["mobilization"]) * more_km
        held_note = "the frozen years' crews held at the baseline's"
        if more_km:
            # The proof is of the best plan given that history: without it the crews of the
            # frozen years could travel less (docs/decisions.md, *Re-planning*).
            held_note += (
                f", {more_km:,} crew-km more than the cheapest for their builds: objective and"
                " bound are given them"
            )
        if why_not:
            held_note += "; re-assigned where the baseline's do not hold: " + "; ".join(why_not)
        raw.detail += f" ({held_note})"
        info.detail = raw.detail  # type: ignore[attr-defined]
    plan = Plan(scenario=name, status=raw.status, builds=builds, training=training, solver=info)
    ev = evaluate(data, plan, check_reported=False)
    if not ev.holds:
        raise SolverBugError(
            f"{info.backend} returned a plan that breaks the SPEC: " + "; ".join(ev.violations[:10])
        )
    plan.terms = ev.terms
    plan.breakdown = ev.breakdown
    plan.objective = ev.objective
    plan.unbuilt = ev.unbuilt
    bound = floor_bound(raw_bound) if raw_bound is not None and math.isfinite(raw_bound) else None
    if bound is not None and bound < ev.objective + 1:
        plan.status = Status.OPTIMAL
        plan.bound = ev.objective
    elif bound is not None:
        plan.status = Status.FEASIBLE
        plan.bound = bound
    else:
        plan.status = Status.FEASIBLE
        plan.bound = None
    if plan.status is Status.OPTIMAL and raw.status is not Status.OPTIMAL:
        info.detail = f"{raw.detail}; bound proves optimality"  # type: ignore[attr-defined]
    plan.gap = None if plan.bound is None else gap_of(ev.objective, plan.bound)
    return plan
