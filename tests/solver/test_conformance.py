"""The shared conformance examples (../shared/examples, copied to tests/data/conformance).

Their answers come from an independent transcription of the SPEC solved to
proven optimality; every backend must reproduce them to the unit.
"""

import pytest

from solver.conflicts import subset_feasible
from solver.problem import build_problem
from solver.scenario import parse_scenario
from solver.solve import solve
from tests.conftest import load

OPTIMA = {
    "tiny": (1855, {"benefit": 2200, "mobilization": 320, "training": 25, "stability": 0}),
    "generated-a": (
        29581,
        {"benefit": 35043, "mobilization": 2486, "training": 490, "stability": 0},
    ),
    "generated-b": (
        143310,
        {"benefit": 157495, "mobilization": 6570, "training": 1045, "stability": 0},
    ),
}


@pytest.mark.parametrize("name", sorted(OPTIMA))
def test_conformance_optimum(name: str, backend: str) -> None:
    objective, terms = OPTIMA[name]
    plan = solve(load(f"conformance/{name}"), backend=backend, time_limit=60, threads=2)
    assert plan.status == "optimal"
    assert plan.objective == objective
    assert plan.bound == objective
    assert plan.gap == 0.0
    # Weighted-nonzero terms are unique at a unique optimum; these all are.
    assert plan.terms is not None and plan.terms.model_dump() == terms


def test_conformance_infeasible(backend: str) -> None:
    doc = load("conformance/infeasible-technicians")
    plan = solve(doc, backend=backend, time_limit=30, threads=2)
    assert plan.status == "infeasible"
    keys = [
        (c["group"], {k: v for k, v in c.items() if k not in ("group", "message")})
        for c in plan.conflicts
    ]
    assert keys == [
        ("quota.region_year", {"region": "R02", "year": 2035}),
        ("technicians", {"region": "R02"}),
    ]
    data = build_problem(parse_scenario(doc))
    assert subset_feasible(data, plan.conflicts) is False
    for i in range(len(plan.conflicts)):
        assert subset_feasible(data, plan.conflicts[:i] + plan.conflicts[i + 1 :]) is True


def test_failing_progress_callback_does_not_cost_the_plan(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The backends call progress from inside the solver's own callbacks, where an exception
    # used to abort the solve (HiGHS: "Solve error", no plan). The callback is dropped after
    # its first failure, logged once, and the solve reaches its optimum.
    calls = []

    def broken(progress: object) -> None:
        calls.append(progress)
        raise BrokenPipeError("the reader has gone")

    plan = solve(
        load("conformance/tiny"), backend=backend, time_limit=60, threads=2, on_progress=broken
    )
    assert (plan.status, plan.objective) == ("optimal", OPTIMA["tiny"][0])
    assert len(calls) == 1
    failures = [r for r in caplog.records if "progress callback failed" in r.getMessage()]
    assert len(failures) == 1
