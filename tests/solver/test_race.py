"""HiGHS as a race of single-thread runs (``highs.RACERS``) where the LP violates crews' hull
rows and the solve has two threads or more."""

import copy
import json
import threading
import time
from dataclasses import replace
from pathlib import Path

from instances.generate import generate
from solver.backends import highs
from solver.backends.base import SolveOptions
from solver.model import MatrixModel, build_model
from solver.plan import Status
from solver.problem import build_problem
from solver.scenario import parse_scenario
from solver.solve import hint_columns, solve, warm_start_report
from tests.conftest import load
from tests.factory import TIGHT_BALANCE, TIGHT_BALANCE_OPTIMUM

INSTANCES = Path(__file__).resolve().parents[2] / "instances"
OPTIMUM = 143310  # generated-b, tests/solver/test_conformance.py


def _model(name: str) -> MatrixModel:
    return build_model(build_problem(parse_scenario(load(name))))


def test_national_is_proved_by_a_race_of_two_seeds() -> None:
    doc = json.loads((INSTANCES / "national-20x10.json").read_text())
    plan = solve(doc, backend="highs", time_limit=300, threads=2, seed=3)
    assert (plan.status, plan.objective, plan.bound) == ("optimal", 1861928, 1861928)
    detail = plan.solver.detail  # type: ignore[union-attr]
    assert "a race of 2 single-thread runs, seeds 3, 53; the plan from seed " in detail
    assert plan.solver.threads == 2  # type: ignore[union-attr]
    # The other run was told to stop; the next HiGHS run in the process waits for it.
    highs._threads(1)
    assert highs._lingering == []
    assert not [t for t in threading.enumerate() if t.name.startswith("rdplan-highs")]


def test_one_thread_or_no_crews_hull_rows_is_one_run() -> None:
    doc = json.loads((INSTANCES / "national-20x10.json").read_text())
    one = solve(doc, backend="highs", time_limit=2, threads=1)
    assert "race" not in one.solver.detail  # type: ignore[union-attr]
    # generated-b's LP violates no crews' hull rows: HiGHS alone, with both threads.
    plain = solve(load("conformance/generated-b"), backend="highs", time_limit=60, threads=2)
    assert (plain.status, plain.objective) == ("optimal", 143310)
    assert "race" not in plain.solver.detail  # type: ignore[union-attr]


def test_a_race_on_small_models_proves_optima_and_infeasibility() -> None:
    # The race's own logic, on models too small to have crews' hull rows: told that they do.
    for name, optimum in (("conformance/generated-b", 143310), ("conformance/tiny", None)):
        model = _model(name)
        raw = highs.solve(model, SolveOptions(time_limit=60, threads=2), crews_hull=True)
        assert raw.status in (Status.OPTIMAL, Status.FEASIBLE) and raw.values is not None
        assert raw.bound is not None and "a race of 2 single-thread runs, seeds 0, 50" in raw.detail
        value = model.objective_of(raw.values)
        assert raw.bound >= value - 1e-6
        if optimum is not None:
            assert round(value) == optimum and raw.bound < optimum + 1
    raw = highs.solve(
        _model("conformance/infeasible-technicians"),
        SolveOptions(time_limit=60, threads=2),
        crews_hull=True,
    )
    assert raw.status is Status.INFEASIBLE and raw.values is None


def test_a_cancelled_race_returns_its_best_so_far() -> None:
    model = build_model(
        build_problem(parse_scenario(json.loads((INSTANCES / "national-20x10.json").read_text())))
    )
    cancel = threading.Event()
    timer = threading.Timer(1.5, cancel.set)
    timer.start()
    started = time.perf_counter()
    raw = highs.solve(model, SolveOptions(time_limit=60, threads=2, cancel=cancel))
    assert time.perf_counter() - started < 1.5 + highs.OVERRUN_GRACE + 2
    assert raw.status in (Status.FEASIBLE, Status.UNKNOWN)
    assert "race" in raw.detail
    highs._threads(1)  # waits for any run left behind
    assert highs._lingering == []
    assert not [t for t in threading.enumerate() if t.name.startswith("rdplan-highs")]


def test_a_far_start_is_the_plan_to_beat_not_highs_start() -> None:
    # A start that holds, far from the bound (generated-b's plan at five times the fuel price,
    # 2.6 % below its LP): the race reports it at once and keeps it as its plan to beat; HiGHS
    # runs without it (highs.STARTED).
    doc = load("conformance/generated-b")
    dearer = copy.deepcopy(doc)
    dearer["objective"]["mobilization"] = 5
    old = solve(dearer, backend="highs", time_limit=60, threads=2)
    model = _model("conformance/generated-b")
    hint = hint_columns(
        model, [{"site": b.site, "year": b.year, "option": b.option} for b in old.builds]
    )
    assert hint is not None
    report = warm_start_report(model, hint)
    assert report["holds"] and report["objective"] < OPTIMUM
    seen: list[float | None] = []
    options = SolveOptions(
        time_limit=60,
        threads=2,
        hint=hint,
        start_value=report["objective"],
        on_progress=lambda elapsed, incumbent, bound: seen.append(incumbent),
    )
    assert not highs.near_start(model, options)
    raw = highs.solve(model, options, crews_hull=True)
    assert raw.values is not None and raw.bound is not None
    assert round(model.objective_of(raw.values)) == OPTIMUM < raw.bound + 1
    assert seen[0] == report["objective"]  # the first progress report is the start's
    assert "the warm start, far from the bound, the plan to beat, not HiGHS's start)" in raw.detail
    # Stopped before HiGHS finds anything: the start is the plan, and it says so.
    cancel = threading.Event()
    cancel.set()
    raw = highs.solve(model, replace(options, cancel=cancel, on_progress=None), crews_hull=True)
    assert raw.values is not None
    assert round(model.objective_of(raw.values)) == report["objective"]
    assert "; nothing beat it)" in raw.detail and "the plan from seed" not in raw.detail


def test_a_race_told_to_give_up_stops_past_its_root_with_its_bound() -> None:
    """``give_up=(seconds, gap)``: once a run has left its root and the race has no plan within
    ``gap`` of its bound, it stops (``gave_up``) with its plan and bound so far — the portfolio
    then searches another way (``portfolio.RESCUE_AFTER``)."""
    model = build_model(build_problem(parse_scenario(generate(**TIGHT_BALANCE))))
    options = SolveOptions(time_limit=60, threads=2)
    raw = highs.solve(model, options, crews_hull=True, give_up=(0.0, 0.0))
    assert raw.gave_up and "past its root: no plan within 0 % of its bound)" in raw.detail
    assert raw.bound is not None and raw.bound >= TIGHT_BALANCE_OPTIMUM
    if raw.values is not None:
        assert model.objective_of(raw.values) <= raw.bound + 1e-6
    # Not before its root has ended, nor with a plan within the gap: the race runs to its proof.
    kept = highs.solve(model, options, crews_hull=True, give_up=(0.0, 0.05))
    assert not kept.gave_up and kept.values is not None and kept.bound is not None
    assert round(model.objective_of(kept.values)) == TIGHT_BALANCE_OPTIMUM
    assert kept.bound < TIGHT_BALANCE_OPTIMUM + 1  # proved
    highs._threads(1)
    assert highs._lingering == []


def test_a_race_reports_its_bound_before_it_has_a_plan() -> None:
    """HiGHS calls its logging callback only with its log on, so a race's bound reached the
    caller's progress only with its first plan: nothing for ~6 s on national-20x10, ~28 s at a
    tight balance. The bound is now reported as HiGHS's interrupt callback sees it."""
    doc = json.loads((INSTANCES / "national-20x10.json").read_text())
    seen: list = []
    solve(doc, backend="highs", time_limit=4, threads=2, on_progress=seen.append)
    before = [p for p in seen if p.incumbent is None and p.bound is not None]
    assert before, seen
    assert all(p.bound >= 1861928 for p in before)
    highs._threads(1)
