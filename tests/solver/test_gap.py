"""The gap tolerance (``solve(gap=...)``, ``rdplan solve --gap``): a solve may stop once its plan
is proved within a relative gap of the bound, measured as SPEC §4 measures the plan's gap."""

import pytest

from solver.evaluate import evaluate
from solver.plan import close_enough, gap_of
from solver.scenario import parse_scenario
from solver.solve import BACKENDS, solve
from tests.conftest import load

GENERATED_B = load("conformance/generated-b")


def test_close_enough_is_the_plan_documents_gap() -> None:
    # A bound below Z + 1 proves Z whatever the tolerance.
    assert close_enough(1000.9, 1000.0, 0.0)
    assert not close_enough(1001.0, 1000.0, 0.0)
    # gap = (floor(bound) - Z) / max(1, |floor(bound)|), Z the integral plan's value.
    assert gap_of(990, 1000) == 0.01
    assert close_enough(1000.4, 990.0, 0.01)
    assert not close_enough(1000.4, 989.0, 0.01)
    # A fractional incumbent (continuous crews) counts as the integer its plan is worth.
    assert close_enough(1000.0, 989.2, 0.01)
    assert not close_enough(float("inf"), 989.0, 0.5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_backend_stops_within_the_gap_with_a_plan_that_holds(backend: str) -> None:
    plan = solve(GENERATED_B, backend=backend, time_limit=30, threads=1, gap=0.05)
    assert plan.status.value in ("optimal", "feasible"), plan.solver
    assert plan.objective is not None and plan.bound is not None and plan.gap is not None
    assert plan.gap <= 0.05
    assert plan.objective <= 143310 <= plan.bound  # the proven optimum lies between them
    assert evaluate(parse_scenario(GENERATED_B), plan.to_document()).holds
    assert plan.to_document()["solver"]["gap_limit"] == 0.05


def test_no_gap_limit_proves_and_is_not_recorded() -> None:
    plan = solve(GENERATED_B, backend="highs", time_limit=30, threads=1)
    assert (plan.status.value, plan.objective) == ("optimal", 143310)
    assert "gap_limit" not in plan.to_document()["solver"]


@pytest.mark.parametrize("gap", [-0.1, 1.0, float("nan")])
def test_a_gap_outside_0_1_is_refused(gap: float) -> None:
    with pytest.raises(ValueError, match="gap must be a fraction"):
        solve(GENERATED_B, gap=gap)
