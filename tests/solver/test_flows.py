"""Continuous crews and trainees are exact: ``solver.flows`` restores integers at no cost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from solver.backends import cpsat, highs
from solver.backends.base import SolveOptions
from solver.evaluate import evaluate
from solver.flows import integral_flows
from solver.model import build_model
from solver.plan import Plan, Status, floor_bound, proves
from solver.problem import build_problem
from solver.scenario import parse_scenario
from solver.solve import extract_plan, solve
from tests.conftest import load
from tests.solver.test_properties import scenarios

INSTANCES = Path(__file__).resolve().parents[2] / "instances"

OPTIMA = {
    "conformance/tiny": 1855,
    "conformance/generated-a": 29581,
    "conformance/generated-b": 143310,
}


def _z(model: Any, values: np.ndarray) -> float:
    return float(model.obj @ values) + model.obj_const


@pytest.mark.parametrize("name", sorted(OPTIMA))
def test_continuous_and_integer_flows_have_the_same_optimum(name: str) -> None:
    model = build_model(build_problem(parse_scenario(load(name))))
    for continuous in (True, False):
        raw = highs.solve(
            model, SolveOptions(time_limit=60, threads=2, continuous_flows=continuous)
        )
        assert raw.values is not None and raw.continuous_flows is continuous
        fixed = integral_flows(model, raw.values)
        # Integers everywhere, never worse than the solver's own values, and the known optimum.
        assert np.array_equal(fixed, np.rint(fixed))
        assert _z(model, fixed) >= _z(model, raw.values) - 1e-6
        assert round(_z(model, fixed)) == OPTIMA[name]
        assert raw.bound is not None and floor_bound(raw.bound) == OPTIMA[name]


def test_solve_reports_the_repaired_plan_as_optimal() -> None:
    plan = solve(load("conformance/generated-b"), backend="highs", time_limit=60, threads=2)
    assert (plan.status, plan.objective, plan.bound) == ("optimal", 143310, 143310)
    assert all(c.count >= 1 for b in plan.builds for c in b.crews)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_repair_is_optimal_for_the_builds(doc: dict[str, Any]) -> None:
    """CP-SAT's optimum is integral and optimal: the repair keeps its builds and matches
    its crews' and trainees' cost exactly (it can't beat an optimum, and must not lose)."""
    data = build_problem(parse_scenario(doc))
    model = build_model(data)
    if len(model.violated_empty_rows()):
        return
    raw = cpsat.solve(model, SolveOptions(time_limit=10, threads=2))
    if raw.values is None or raw.status is not Status.OPTIMAL:
        return
    fixed = integral_flows(model, raw.values)
    assert np.array_equal(fixed[: model.num_x], np.rint(raw.values[: model.num_x]))
    assert round(_z(model, fixed)) == round(_z(model, raw.values))
    builds, training = extract_plan(model, fixed)
    plan = Plan(scenario=None, status=Status.FEASIBLE, builds=builds, training=training)
    assert evaluate(data, plan, check_reported=False).holds


def test_trainees_as_late_as_capacity_allows() -> None:
    # One region, stock 0, 10 trainees a year at most, lead time 1: a 30-technician factory
    # opening in 2033 needs trainees finished by 2032 -> 10 in 2030, 10 in 2031, 10 in 2032.
    doc = {
        "schema_version": 1,
        "horizon": {"start": 2030, "end": 2033},
        "regions": [{"id": "r", "trained_stock": 0, "training_capacity": 10}],
        "options": [{"id": "f", "crews": 0, "technicians": 30}],
        "sites": [
            {
                "id": "s",
                "region": "r",
                "population": 1000,
                "lat": 40.0,
                "lon": 127.0,
                "benefit": {"f": 5},
                "earliest": 2033,
            }
        ],
        "training": {"lead_time": 1},
        "objective": {"benefit": 1, "training": 1},
    }
    plan = solve(doc, backend="highs", time_limit=10, threads=2)
    assert plan.status == "optimal"
    assert [(t.year, t.trainees) for t in plan.training] == [(2030, 10), (2031, 10), (2032, 10)]


def test_floor_bound_recognises_proofs_at_national_scale() -> None:
    # HiGHS's bound for a proven 1,862,718 carries round-off either way; neither may cost the
    # proof (the old 1e-6 relative slack added 1.9 units here and made every proof "feasible").
    assert floor_bound(1862718.0000000037) == 1862718
    assert floor_bound(1862717.9999999995) == 1862718
    assert floor_bound(1862718.97) == 1862718  # continuous crews: a fractional LP bound
    assert floor_bound(-5.0000000001) == -5
    # national-20x10, portfolio, 2026-11-27: HiGHS closed its bound to within 0.99 of the plan
    # 1,861,928 and stopped; a 1e-8 relative slack (0.019) made that 1,861,929: no proof.
    assert floor_bound(1861928.99) == 1861928
    assert proves(1861928.99, 1861928.0) and proves(143310.97, 143309.6)
    assert not proves(1861929.01, 1861928.0)


def test_floor_bound_recognises_proofs_of_objectives_in_the_billions() -> None:
    # SPEC §1 allows objectives up to 2^53; the relative slack alone reached a whole unit at
    # 10^9, and no proof above it could be recognised.
    assert floor_bound(5614197390.0) == 5614197390
    assert floor_bound(5614197389.999999) == 5614197390
    assert proves(5614197390.99, 5614197390.0)
    assert not proves(5614197391.0, 5614197390.0)
    assert floor_bound(float(2**52)) == 2**52


@pytest.mark.parametrize("backend", ["cpsat", "highs", "cbc", "portfolio"])
def test_a_proof_of_an_objective_in_the_billions_is_optimal(backend: str) -> None:
    # kimhwa-pilot with the benefit weighted 100,000: Z = 5,614,197,390, proved by every
    # backend in well under a second; it came out "feasible", bound 5 above, before the cap.
    doc = json.loads((INSTANCES / "kimhwa-pilot.json").read_text())
    doc["objective"]["benefit"] = 100_000
    plan = solve(doc, backend=backend, time_limit=20, threads=2)
    assert plan.status == "optimal"
    assert plan.objective == plan.bound == 5_614_197_390
    assert plan.gap == 0
