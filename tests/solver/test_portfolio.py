"""The portfolio: an LP-guided plan first, HiGHS from it; HiGHS alone where the LP violates
crews' hull rows and on re-plans; lpguided alone on huge models."""

import json
import threading
import time
from pathlib import Path

import pytest

import solver.model
from instances.generate import generate
from solver.backends import lpguided, portfolio
from solver.backends.base import SolveOptions
from solver.evaluate import evaluate
from solver.model import build_model
from solver.problem import build_problem
from solver.scenario import parse_scenario
from solver.solve import solve
from tests.conftest import load
from tests.factory import TIGHT_BALANCE, TIGHT_BALANCE_OPTIMUM


@pytest.mark.parametrize("head", [0.05, 2.0])
def test_handoff_reaches_the_proven_optimum(monkeypatch: pytest.MonkeyPatch, head: float) -> None:
    # With 0.05 s the LP-guided phase has no plan yet and HiGHS starts from scratch; with 2 s
    # it hands HiGHS a complete plan. Both must end at generated-b's proven optimum, 143310.
    monkeypatch.setattr(portfolio, "PRIMAL_MIN", head)
    monkeypatch.setattr(portfolio, "PRIMAL_MAX", head)
    seen = []
    plan = solve(
        load("conformance/generated-b"),
        backend="portfolio",
        time_limit=60,
        threads=2,
        on_progress=seen.append,
    )
    assert plan.status == "optimal" and plan.objective == 143310
    assert plan.solver is not None and "lpguided" in plan.solver.detail  # type: ignore[attr-defined]
    # After the start HiGHS keeps its default root (CREWS_HULL_ROOT was measured cold only).
    assert "interior point" not in plan.solver.detail  # type: ignore[attr-defined]
    elapsed = [p.elapsed for p in seen]
    assert elapsed == sorted(elapsed), "progress time runs on across the hand-off"
    bounds = [p.bound for p in seen if p.bound is not None]
    assert all(b >= 143310 for b in bounds), "every reported bound is a bound"


@pytest.mark.parametrize(
    ("threshold", "limit"),
    [("HUGE_COLUMNS", 60), ("LARGE_COLUMNS", 30)],  # huge; large with under LARGE_MIN_LIMIT
)
def test_huge_models_and_short_large_solves_run_lpguided_alone(
    monkeypatch: pytest.MonkeyPatch, threshold: str, limit: float
) -> None:
    monkeypatch.setattr(portfolio, threshold, 0)
    plan = solve(load("conformance/generated-a"), backend="portfolio", time_limit=limit, threads=2)
    assert (plan.status, plan.objective) == ("optimal", 29581)
    assert "lpguided alone" in plan.solver.detail  # type: ignore[union-attr,attr-defined]


@pytest.mark.parametrize("large", [False, True])
def test_on_large_models_the_start_keeps_its_share_and_a_close_plan(
    monkeypatch: pytest.MonkeyPatch, large: bool
) -> None:
    # Above LARGE_COLUMNS (gen-1000) the LP-guided start is not cut short after its last
    # better plan: it runs its share, and on until its plan is within START_GAP of its bound.
    made: list[portfolio._Patience] = []

    class Spy(portfolio._Patience):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr(portfolio, "_Patience", Spy)
    if large:
        monkeypatch.setattr(portfolio, "LARGE_COLUMNS", 0)
        monkeypatch.setattr(portfolio, "LARGE_MIN_LIMIT", 30.0)  # a minute's route in 30 s
    plan = solve(load("conformance/generated-b"), backend="portfolio", time_limit=30, threads=2)
    assert (plan.status, plan.objective) == ("optimal", 143310)
    assert plan.solver.detail.startswith("lpguided")  # type: ignore[union-attr,attr-defined]
    (flag,) = made
    if large:
        assert flag.patience == float("inf") and flag.gap == portfolio.START_GAP
    else:
        assert flag.patience == portfolio.PATIENCE and flag.gap is None


def test_the_start_stops_on_a_close_plan_only_after_its_share() -> None:
    flag = portfolio._Patience(None, float("inf"), after=600.0, gap=0.01)
    flag.plan(95.0, 100.0)
    assert not flag.is_set()  # 5 % off
    flag.plan(99.5, 100.0)
    assert not flag.is_set()  # close, but within its share
    flag.after = time.perf_counter()  # the share is over
    assert flag.is_set()
    user = threading.Event()
    patient = portfolio._Patience(user, float("inf"))
    patient.plan(99.9, 100.0)
    assert not patient.is_set()  # no gap rule without a gap
    user.set()
    assert patient.is_set()


def test_without_a_plan_at_its_share_the_start_goes_on_to_its_first() -> None:
    flag = portfolio._Patience(None, float("inf"), share=600.0)
    assert not flag.is_set()
    flag.share_ends = time.perf_counter()  # the share is over, no plan yet: on
    assert not flag.is_set()
    flag.plan(95.0, 100.0)
    assert flag.is_set()  # its first plan, past its share
    far = portfolio._Patience(None, 0.0, share=0.0, good=portfolio.FIRST_PLAN_GAP)
    far.plan(60.0, 100.0)
    time.sleep(0.01)
    assert not far.is_set()  # past its share and its patience, but 40 % off: on
    far.plan(99.0, 100.0)
    assert far.is_set()


def test_a_short_solve_goes_on_past_a_first_plan_far_off() -> None:
    """A generated scenario of 200 sites at 10 s: the start stopped at its share with a plan
    40 % below its bound, and HiGHS found nothing better in the rest (914,451; ``lpguided``
    alone 1,509,483; a QA pass)."""
    doc = generate(regions=10, sites_per_region=20, years=10, crew_pools=12, seed=3)
    plan = solve(doc, backend="portfolio", time_limit=10, threads=2)
    assert plan.status == "feasible" and plan.gap is not None and plan.gap < 0.05, plan.solver


def test_a_short_national_solve_on_one_thread_has_a_plan() -> None:
    """At 15 s on one thread the start had a quarter of the time, was stopped ~1.5 s before
    its first plan, and HiGHS found none in the rest: ``unknown`` where ``lpguided`` alone has
    a plan within 0.7 % (a QA pass). The start goes on to its first plan now."""
    doc = json.loads((Path(__file__).parents[1] / "data" / "national-20x10.json").read_text())
    plan = solve(doc, backend="portfolio", time_limit=15, threads=1)
    assert plan.status in ("feasible", "optimal"), plan.solver
    assert evaluate(parse_scenario(doc), plan.to_document()).holds


def test_restricted_model_plans_are_plans_of_the_whole_model() -> None:
    import numpy as np

    from solver.backends import highs
    from solver.flows import integral_flows

    model = build_model(build_problem(parse_scenario(load("conformance/generated-b"))))
    keep = np.zeros(model.num_x, dtype=bool)
    keep[::2] = True  # half the build columns
    sub, cols = model.restrict_x(keep)
    assert sub.num_x == keep.sum() and len(cols) == sub.num_cols
    raw = highs.solve(sub, SolveOptions(time_limit=30, threads=2))
    if raw.values is None:  # the half may admit no plan; then there is nothing to map
        return
    values = np.zeros(model.num_cols)
    values[cols] = raw.values
    lhs = np.add.reduceat(model.row_value * values[model.row_index], model.row_start[:-1])
    nonempty = np.diff(model.row_start) > 0
    assert ((lhs >= model.row_lb - 1e-6) | ~nonempty).all()
    assert ((lhs <= model.row_ub + 1e-6) | ~nonempty).all()
    assert integral_flows(model, values) is not None


def test_lpguided_bound_is_valid_and_proves_small_models() -> None:
    model = build_model(build_problem(parse_scenario(load("conformance/generated-b"))))
    raw = lpguided.solve(model, SolveOptions(time_limit=60, threads=2))
    assert raw.values is not None and raw.bound is not None
    assert 143310 <= raw.bound < 143311  # neighbourhood searched to the end: a proof


def test_a_given_warm_start_goes_to_highs_unreplaced() -> None:
    # A re-plan's baseline (or a caller's hint) is the planner's start: the portfolio hands it
    # to HiGHS as is instead of replacing it by the LP-guided plan. Here the start is
    # generated-b's own optimal plan, so the run ends at 143310 with HiGHS alone.
    doc = load("conformance/generated-b")
    best = solve(doc, backend="highs", time_limit=60, threads=2)
    assert (best.status, best.objective) == ("optimal", 143310)
    hint = [{"site": b.site, "year": b.year, "option": b.option} for b in best.builds]
    plan = solve(doc, backend="portfolio", time_limit=60, threads=2, hint=hint)
    assert (plan.status, plan.objective) == ("optimal", 143310)
    detail = plan.solver.detail  # type: ignore[union-attr,attr-defined]
    assert detail.startswith("highs from the given warm start") and "lpguided" not in detail
    # With no warm start the LP-guided phase runs first, as before.
    cold = solve(doc, backend="portfolio", time_limit=60, threads=2, hint=[])
    assert cold.objective == 143310 and "lpguided" in cold.solver.detail  # type: ignore[union-attr,attr-defined]


def test_a_replan_without_its_baseline_goes_to_highs_alone() -> None:
    # A fifth of the sites fixed where generated-b's optimum builds them: a re-plan. The
    # portfolio skips the LP-guided start (it slowed HiGHS on both benchmark re-plans).
    doc = load("conformance/generated-b")
    best = solve(doc, backend="highs", time_limit=60, threads=2)
    where = {b.site: (b.year, b.option) for b in best.builds}
    sites = [s for s in doc["sites"] if s["id"] in where]
    share = portfolio.REPLAN_FIXED_SHARE
    for s in sites[: int(share * len(doc["sites"])) + 1]:
        year, option = where[s["id"]]
        s["fixed"] = {"year": year, "option": option}
    plan = solve(doc, backend="portfolio", time_limit=60, threads=2)
    assert (plan.status, plan.objective) == ("optimal", 143310)
    assert plan.solver.detail.startswith("highs alone (a re-plan: ")  # type: ignore[union-attr,attr-defined]
    # One site fixed is not a re-plan: the LP-guided start stays.
    doc = load("conformance/generated-b")
    year, option = where[sites[0]["id"]]
    next(s for s in doc["sites"] if s["id"] == sites[0]["id"])["fixed"] = {
        "year": year,
        "option": option,
    }
    plan = solve(doc, backend="portfolio", time_limit=60, threads=2)
    assert plan.objective == 143310 and "lpguided" in plan.solver.detail  # type: ignore[union-attr,attr-defined]


def test_where_the_lp_violates_crews_hull_rows_highs_runs_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # national-20x10: the separation adds crews' hull rows, so with a minute or more the
    # portfolio skips the LP-guided start (HiGHS with those rows finds the plans itself;
    # benchmarks/HISTORY.md, run 8). With less, the start stays: its plan comes within
    # seconds, and its LP bound is progress within one.
    doc = json.loads((Path(__file__).parents[2] / "instances" / "national-20x10.json").read_text())
    seen = []
    quick = solve(doc, backend="portfolio", time_limit=6, threads=2, on_progress=seen.append)
    assert quick.solver.detail.startswith("lpguided")  # type: ignore[union-attr,attr-defined]
    assert seen and seen[0].elapsed < 3
    monkeypatch.setattr(portfolio, "ALONE_MIN_LIMIT", 5.0)  # a minute's route in five seconds
    plan = solve(doc, backend="portfolio", time_limit=5, threads=2)
    detail = plan.solver.detail  # type: ignore[union-attr,attr-defined]
    assert detail.startswith("highs alone (the LP violates crews' hull rows): ")
    assert "implied rows" in detail and "lpguided" not in detail
    assert "root LP by interior point" in detail  # highs.CREWS_HULL_ROOT
    assert "a race of 2 single-thread runs, seeds 0, 50" in detail  # highs.RACERS
    assert plan.status in ("optimal", "feasible", "unknown")
    # The HiGHS backend on its own finds the crews' hull rows in its separation: the same root.
    alone = solve(doc, backend="highs", time_limit=5, threads=2)
    assert "root LP by interior point" in alone.solver.detail  # type: ignore[union-attr,attr-defined]


def test_a_caller_who_settles_for_a_gap_gets_the_starts_plan() -> None:
    """With a gap of 0.1 % or more (``portfolio.START_WITHIN_GAP``) national-20x10 takes the
    LP-guided start even with a minute: its plan is within 1 % seconds before HiGHS alone has
    any. The solve stops there, long before its time limit, with a plan that holds."""
    doc = json.loads((Path(__file__).parents[2] / "instances" / "national-20x10.json").read_text())
    plan = solve(doc, backend="portfolio", time_limit=120, threads=2, gap=0.01)
    assert plan.solver.detail.startswith("lpguided")  # type: ignore[union-attr,attr-defined]
    assert plan.status == "feasible" and plan.gap is not None and 0 < plan.gap <= 0.01
    assert plan.solver.seconds < 120  # type: ignore[union-attr]
    assert evaluate(parse_scenario(doc), plan.to_document()).holds


def test_where_the_race_has_no_close_plan_the_lp_guided_search_takes_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On the national route (HiGHS's race) a tight balance left national-20x10 without any
    plan in 120 s (5 points); the LP-guided search has one in seconds. Past its root and
    ``RESCUE_AFTER`` seconds without a plan within ``RESCUE_GAP`` of its bound, the race gives
    way to it for the rest of the time: its plan stays the one to beat and its bound the bound.
    Here a small model sent down that route at once: the optimum, proved, as every backend
    proves it (160,459)."""

    monkeypatch.setattr(solver.model, "HULL_MIN_X", 0)  # its hull rows, as at national size
    monkeypatch.setattr(portfolio, "adds_crews_hull", lambda *_: True)
    monkeypatch.setattr(portfolio, "ALONE_MIN_LIMIT", 5.0)
    monkeypatch.setattr(portfolio, "RESCUE_AFTER", 0.0)
    monkeypatch.setattr(portfolio, "RESCUE_GAP", 0.0)
    doc = generate(**TIGHT_BALANCE)
    seen = []
    plan = solve(doc, backend="portfolio", time_limit=60, threads=2, on_progress=seen.append)
    detail = plan.solver.detail  # type: ignore[union-attr,attr-defined]
    assert detail.startswith("highs alone (the LP violates crews' hull rows): ")
    assert (
        "past its root: no plan within 0 % of its bound)" in detail
        and "; then lpguided for the rest (" in detail
    )
    assert (plan.status, plan.objective, plan.bound) == (
        "optimal",
        TIGHT_BALANCE_OPTIMUM,
        TIGHT_BALANCE_OPTIMUM,
    )
    assert evaluate(parse_scenario(doc), plan.to_document()).holds
    elapsed = [p.elapsed for p in seen]
    assert elapsed == sorted(elapsed), "progress time runs on across the hand-over"
    assert all(p.bound >= TIGHT_BALANCE_OPTIMUM for p in seen if p.bound is not None)
