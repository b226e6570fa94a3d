"""``python -m benchmarks.probe_handover``: one HiGHS run as the race sets it up, a plan handed
over at its root's end (the measurement of RESULTS.md, *Run 37*), on a small scenario."""

from __future__ import annotations

from benchmarks.probe_handover import probe
from solver.solve import solve
from tests.conftest import DATA, load


def test_a_plan_handed_over_at_the_roots_end_is_the_runs_and_proved() -> None:
    scenario = DATA / "conformance" / "generated-b.json"
    plan = solve(load("conformance/generated-b"), backend="cpsat", threads=1).to_document()
    out = probe(str(scenario), seed=0, plan=plan, heuristics=False)
    assert out["status"] == "Optimal" and round(out["objective"]) == 143310, out
    handed = [e for e in out["events"] if e["what"] == "handed over"]
    assert len(handed) == 1 and handed[0]["plan"] == 143310, out["events"]
    alone = probe(str(scenario), seed=0, plan=None, heuristics=True)
    assert alone["status"] == "Optimal" and round(alone["objective"]) == 143310, alone
    assert not [e for e in alone["events"] if e["what"] == "handed over"]
