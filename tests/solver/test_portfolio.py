"""The portfolio backend hands CP-SAT's first plan to HiGHS as a complete warm start."""

import pytest

from solver.backends import portfolio
from solver.solve import solve
from tests.conftest import load


def test_handoff_reaches_the_proven_optimum(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 0.05 s head start is too short for CP-SAT to prove generated-b (optimum 143310),
    # so HiGHS must finish from CP-SAT's plan (or from scratch if CP-SAT found none).
    monkeypatch.setattr(portfolio, "HEAD_START_MIN", 0.05)
    monkeypatch.setattr(portfolio, "HEAD_START_MAX", 0.05)
    seen = []
    plan = solve(
        load("conformance/generated-b"),
        backend="portfolio",
        time_limit=60,
        threads=2,
        on_progress=seen.append,
    )
    assert plan.status == "optimal" and plan.objective == 143310
    assert plan.solver is not None and "highs" in plan.solver.detail  # type: ignore[attr-defined]
    elapsed = [p.elapsed for p in seen]
    assert elapsed == sorted(elapsed), "progress time runs on across the hand-off"
