"""HiGHS from a start close to the bound: its primal heuristics off (``highs.near_start``)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from solver.backends import highs
from solver.backends.base import SolveOptions
from solver.model import MatrixModel, build_model
from solver.problem import build_problem
from solver.scenario import parse_scenario
from solver.solve import solve
from tests.conftest import load

OPTIMUM = 143310  # generated-b, tests/solver/test_conformance.py
INSTANCES = Path(__file__).resolve().parents[2] / "instances"


def _model() -> MatrixModel:
    return build_model(build_problem(parse_scenario(load("conformance/generated-b"))))


def test_near_start_needs_a_start_that_holds_close_to_the_lp_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = _model()
    assert model.lp_bound is None  # no hull rows to separate on a model this small
    h = highs.new_relaxation(model, 1)
    h.run()
    lp = h.getInfo().objective_function_value
    assert lp >= OPTIMUM
    near, far = lp * (1 - 0.9 * highs.NEAR_GAP), lp * (1 - 1.1 * highs.NEAR_GAP)
    assert highs.near_start(model, SolveOptions(threads=1, start_value=near))
    assert not highs.near_start(model, SolveOptions(threads=1, start_value=far))
    assert not highs.near_start(model, SolveOptions(threads=1))  # no start, or one that breaks
    # A bound already known (solver.cuts) is used as it is.
    known = replace(model, lp_bound=lp * (1 + 2 * highs.NEAR_GAP))
    assert not highs.near_start(known, SolveOptions(start_value=near))
    monkeypatch.setattr(highs, "NEAR_MAX_COLUMNS", model.num_cols - 1)
    assert not highs.near_start(model, SolveOptions(threads=1, start_value=near))


def test_national_from_its_optimum_is_proved_with_heuristics_off() -> None:
    # The committed optimal plan (1,861,928) is 0.26 % below the LP bound: a near start. The
    # default backend hands it to HiGHS, which proves it with its heuristics off.
    doc = json.loads((INSTANCES / "national-20x10.json").read_text())
    start = json.loads((INSTANCES / "plans" / "national-20x10-optimal.json").read_text())
    plan = solve(doc, time_limit=300, threads=2, hint=start)
    assert (plan.status, plan.objective, plan.bound) == ("optimal", 1861928, 1861928)
    assert plan.solver.warm_start["holds"]  # type: ignore[union-attr]
    assert "heuristics off" in plan.solver.detail  # type: ignore[union-attr]


def test_a_far_start_leaves_the_heuristics_on() -> None:
    # generated-b's optimum is 0.88 % below its LP bound: HiGHS's heuristics stay on.
    doc = load("conformance/generated-b")
    cold = solve(doc, backend="highs", time_limit=60, threads=2)
    assert (cold.status, cold.objective) == ("optimal", OPTIMUM)
    warm = solve(doc, backend="highs", time_limit=60, threads=2, hint=cold.to_document())
    assert (warm.status, warm.objective, warm.bound) == ("optimal", OPTIMUM, OPTIMUM)
    assert warm.solver.warm_start["holds"]  # type: ignore[union-attr]
    assert "heuristics off" not in warm.solver.detail  # type: ignore[union-attr]


def test_a_start_that_breaks_leaves_the_heuristics_on() -> None:
    doc = load("conformance/generated-b")
    plan = solve(doc, backend="highs", time_limit=60, threads=2).to_document()
    # Every build moved into the first year breaks that year's quotas.
    start = [{**b, "year": doc["horizon"]["start"]} for b in plan["builds"]]
    warm = solve(doc, backend="highs", time_limit=60, threads=2, hint=start)
    assert (warm.status, warm.objective) == ("optimal", OPTIMUM)
    assert not warm.solver.warm_start["holds"]  # type: ignore[union-attr]
    assert "heuristics off" not in warm.solver.detail  # type: ignore[union-attr]
