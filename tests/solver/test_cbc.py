"""CBC 2.10 through PuLP, where its answers were wrong (QA passes, a differential fuzz):
PuLP's MPS file holds 13 significant digits a number, past which CBC solves another model;
at large costs it called feasible models infeasible; its preprocessing proved wrong optima;
its relative gap is not SPEC §4's; its log prints exponents PuLP's patterns must read."""

import json
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from instances.generate import generate
from solver.backends import cbc
from solver.backends.cbc import _FINAL_BOUND, _INCUMBENT, _PROGRESS, mps_rounding
from solver.evaluate import evaluate
from solver.model import build_model
from solver.problem import build_problem
from solver.scenario import parse_scenario
from solver.solve import Progress, solve
from tests.factory import scenario, site

ROOT = Path(__file__).resolve().parents[2]

# A (323 crews at 3,093 km) is worth 999,040 x 900,000,001 - 323 x 3,093 = 899,136,000,000,001,
# B one less; the year's quota builds one. A's cost, 8.99e14, needs 15 digits.
ROUNDED = scenario(
    [
        site("A", {"heavy": 900_000_001}, required=False, lat=0.0, lon=27.816),
        site("B", {"light": 900_000_000}, required=False, lat=0.0, lon=0.0),
    ],
    end=2030,
    options=[{"id": "heavy", "crews": 323}, {"id": "light", "crews": 0}],
    crews=[{"id": "k", "count": 323, "lat": 0.0, "lon": 0.0}],
    quotas={"year": {"max": 1}},
    objective={"benefit": 999_040, "mobilization": 1},
)
ROUNDED_OPTIMUM = 899_136_000_000_001

# Costs of 3e15, exact in 13 digits, which CBC 2.10 (random seed set) called infeasible:
# a in 2030 (3 years) and b in 2031 (2 years), Z = 10^6 x (3 x 10^9 + 2 x 500,000,001).
LARGE = scenario(
    [site("a", 1_000_000_000), site("b", 500_000_001)],
    end=2032,
    quotas={"year": {"max": 1}},
    objective={"benefit": 1_000_000},
)
LARGE_OPTIMUM = 4_000_000_002_000_000


def run(doc: dict[str, Any], backend: str) -> Any:
    return solve(doc, backend=backend, time_limit=20, threads=1)


def test_cbc_claims_no_proof_of_a_model_its_file_rounds() -> None:
    error, exact_rows = mps_rounding(build_model(build_problem(parse_scenario(ROUNDED))))
    assert error > 0 and exact_rows
    plan = run(ROUNDED, "cbc")
    # Before: "optimal" 899,136,000,000,000 with that as its bound, one below the optimum.
    assert plan.status == "feasible"
    assert plan.objective <= ROUNDED_OPTIMUM <= plan.bound
    assert "13 significant digits" in plan.solver.detail
    for backend in ("highs", "cpsat"):
        exact = run(ROUNDED, backend)
        assert (exact.status, exact.objective) == ("optimal", ROUNDED_OPTIMUM)


def test_cbc_at_large_costs_gives_a_plan_not_a_false_infeasibility() -> None:
    assert mps_rounding(build_model(build_problem(parse_scenario(LARGE)))) == (0.0, True)
    plan = run(LARGE, "cbc")  # before: SolverBugError, "cbc reported infeasible"
    assert plan.status in ("feasible", "optimal")
    assert 0 < plan.objective <= LARGE_OPTIMUM
    exact = run(LARGE, "highs")
    assert (exact.status, exact.objective) == ("optimal", LARGE_OPTIMUM)


def test_an_ordinary_model_survives_the_file() -> None:
    doc = scenario([site("a", 10), site("b", 7)], quotas={"year": {"max": 1}})
    assert mps_rounding(build_model(build_problem(parse_scenario(doc)))) == (0.0, True)
    plan = run(doc, "cbc")
    assert (plan.status, plan.objective) == ("optimal", 20 + 7)


def test_cbc_log_numbers_with_a_negative_exponent() -> None:
    """CBC logs "Integer solution of 2.9802322e-08": the pattern stopped at the "e" and the
    solve died (ValueError) on a scenario whose optimum is 0 (a fuzz test)."""
    found = _INCUMBENT.search("Cbc0012I Integer solution of 2.9802322e-08 found by DiveCoefficient")
    assert found is not None and float(found.group(1)) == 2.9802322e-08
    line = "Cbc0010I After 0 nodes, 1 on tree, -1855 best solution, best possible -1.5e+03 (0.01)"
    progress = _PROGRESS.search(line)
    assert progress is not None and [float(g) for g in progress.groups()] == [-1855.0, -1500.0]
    final = _FINAL_BOUND.search("Lower bound:                    -.5")
    assert final is not None and float(final.group(1)) == -0.5
    doc = scenario(
        [
            site("s0", {"o0": 0, "o1": 0}, population=2500, lat=40.904, lon=125.149),
            site("s2", {"o0": 0, "o1": 0}, population=0, lat=40.078, lon=127.618),
        ],
        options=[{"id": "o0", "crews": 2}, {"id": "o1", "crews": 0}],
        crews=[
            {"id": "k0", "count": 1, "lat": 38.792, "lon": 125.797},
            {"id": "k1", "count": 3, "lat": 40.14, "lon": 126.124},
        ],
        objective={"mobilization": 980_359},
    )
    plan = run(doc, "cbc")
    assert (plan.status, plan.objective) == ("optimal", 0)


def test_cbc_preprocessing_proved_wrong_optima() -> None:
    """Two fuzz scenarios where CBC 2.10's preprocessing called a worse plan optimal: 80
    against 148, and -230 (building an optional site at a loss) against 0."""
    resources = scenario(
        [
            site("s0", {"o0": 70, "o1": 0}, population=4500),
            site("s1", {"o0": 40, "o1": 4}, population=500),
        ],
        start=2031,
        end=2033,
        regions=[{"id": "r", "trained_stock": 7}],
        options=[
            {"id": "o0", "crews": 0, "resources": {"q0": 3}},
            {"id": "o1", "crews": 0, "technicians": 11},
        ],
        resources=[{"id": "q0", "limit": {"2031": 2, "2032": 5, "2033": 2}}],
    )
    crews = scenario(
        [site("s0", 196, population=500, required=False, lat=38.412, lon=126.762)],
        end=2030,
        options=[{"id": "o", "crews": 2}],
        crews=[
            {"id": "k0", "count": 3, "lat": 40.514, "lon": 126.533, "available": {"2030": 1}},
            {"id": "k1", "count": 3, "lat": 39.069, "lon": 127.001, "available": 1},
        ],
        objective={"benefit": 2, "mobilization": 2},
    )
    for doc, optimum in ((resources, 148), (crews, 0)):
        for seed in (0, 1):
            plan = solve(doc, backend="cbc", time_limit=20, threads=1, seed=seed)
            assert (plan.status, plan.objective) == ("optimal", optimum)
        assert (run(doc, "highs").status, run(doc, "highs").objective) == ("optimal", optimum)


def test_cbc_stops_at_specs_gap_not_its_own() -> None:
    """A negative optimum: CBC stopped "within gap tolerance" of 0.5 at a plan whose SPEC gap
    was 3.86 (objective -20, bound 7). It goes on from that plan now."""
    doc = {
        "schema_version": 1,
        "horizon": {"start": 2030, "end": 2031},
        "regions": [
            {"id": "r0", "trained_stock": 0},
            {"id": "r1", "training_capacity": {"2030": 0, "2031": 28}, "trained_stock": 18},
        ],
        "options": [
            {"id": "o0", "crews": 2, "technicians": 5},
            {"id": "o1", "crews": 2, "technicians": 0, "resources": {"q0": 3}},
        ],
        "sites": [
            site("s0", {"o0": 0, "o1": 0}, "r0", 38.222, 125.601, 499, required=False),
            site("s1", {"o0": 188, "o1": 0}, "r0", 39.198, 127.044, 400, required=False),
            site("s2", {"o0": 7, "o1": 128}, "r1", 38.383, 128.836, 500),
            site("s3", {"o0": 135, "o1": 179}, "r1", 40.76, 128.139, 0, required=False),
            site("s4", {"o0": 110, "o1": 0}, "r1", 40.721, 128.282, 45318, latest=2031),
        ],
        "crews": [
            {"id": "k0", "count": 2, "lat": 38.463, "lon": 125.735, "available": 2},
            {"id": "k1", "count": 1, "lat": 39.608, "lon": 128.901, "max_distance_km": 334},
        ],
        "resources": [{"id": "q0", "limit": 6}],
        "training": {"lead_time": 0},
        "objective": {"benefit": 0, "mobilization": 0, "training": 3, "stability": 5},
        "baseline": [
            {"site": "s0", "year": 2030, "option": "o0"},
            {"site": "s3", "year": 2030, "option": "o0"},
            {"site": "s4", "year": 2030, "option": "o0"},
        ],
    }
    plan = solve(doc, backend="cbc", time_limit=20, threads=1, gap=0.5)
    assert plan.status in ("optimal", "feasible")
    assert plan.gap is not None and plan.gap <= 0.5, (plan.objective, plan.bound)
    exact = run(doc, "highs")
    assert exact.status == "optimal" and plan.objective <= exact.objective <= plan.bound


def test_cbc_proves_an_infeasibility_at_large_costs() -> None:
    """Costs of 9e13: CBC's infeasibility is checked by a run without the objective, which
    crashed without preprocessing (SIGSEGV); the scenario came out ``unknown`` (a re-fuzz).
    The check runs with preprocessing where that crashes, and the proof stands."""
    doc = {
        "schema_version": 1,
        "horizon": {"start": 2030, "end": 2031},
        "regions": [
            {"id": "r0"},
            {"id": "r1"},
            {"id": "r2", "training_capacity": {"2030": 10, "2031": 0}},
        ],
        "options": [
            {"id": "o0", "crews": 2, "technicians": 0, "resources": {"q0": 3}},
            {"id": "o1", "crews": 1, "technicians": 6, "resources": {"q0": 0}},
        ],
        "sites": [
            site("s0", {"o1": 0}, "r2", 39.492, 125.611, 1500, latest=2032),
            site("s1", {"o0": 93118184, "o1": 0}, "r0", 38.002, 125.848, 1500, latest=2030)
            | {"required": False},
        ],
        "crews": [
            {
                "id": "k0",
                "count": 3,
                "lat": 40.703,
                "lon": 127.72,
                "available": {"2030": 1, "2031": 3},
            },
            {"id": "k1", "count": 2, "lat": 40.214, "lon": 127.443},
        ],
        "resources": [{"id": "q0", "limit": 6}],
        "training": {"lead_time": 1},
        "balance": {"tolerance_pct": 38},
        "objective": {"benefit": 1000000, "mobilization": 0, "training": 2, "stability": 2},
        "baseline": [
            {"site": "s0", "year": 2031, "option": "o1"},
            {"site": "s1", "year": 2030, "option": "o1"},
        ],
    }
    plan = run(doc, "cbc")
    assert plan.status == "infeasible" and plan.conflicts
    assert run(doc, "cpsat").status == "infeasible"


def test_cbc_log_bounds_carry_the_objectives_constant() -> None:
    """CBC's log prints ``-Z`` without the model's constant (here -1: a baseline build outside
    the site's window, always a change): its bound read from the log, at a stop "within gap
    tolerance", was one above the optimum, and the proof lost (a re-fuzz)."""
    doc = {
        "schema_version": 1,
        "horizon": {"start": 2030, "end": 2032},
        "regions": [
            {"id": "r0", "training_capacity": 16, "trained_stock": 4},
            {
                "id": "r1",
                "training_capacity": {"2030": 16, "2031": 5, "2032": 13},
                "trained_stock": 35,
            },
        ],
        "options": [{"id": "o0", "crews": 1, "technicians": 3}],
        "sites": [
            site("s0", {"o0": 808226}, "r0", 38.722, 127.566, 4500, latest=2030)
            | {"required": False}
        ],
        "crews": [
            {"id": "k0", "count": 1, "lat": 40.995, "lon": 125.881},
            {"id": "k1", "count": 2, "lat": 40.36, "lon": 127.731, "max_distance_km": 181},
        ],
        "balance": {"tolerance_pct": 0},
        "objective": {"benefit": 398866, "mobilization": 864584, "training": 1, "stability": 1},
        "baseline": [{"site": "s0", "year": 2032, "option": "o0"}],
    }
    plan = run(doc, "cbc")
    assert (plan.status, plan.objective, plan.bound) == ("optimal", 966870021203, 966870021203)
    assert run(doc, "highs").objective == 966870021203


def test_a_cancelled_cbc_keeps_its_best_plan() -> None:
    """A cancel sent CBC SIGTERM, which writes no solution: the plan it had was lost
    (``unknown``) where every other backend keeps its best plan (a QA pass). CBC is stopped
    by SIGINT now, as at its time limit, and its plan is read."""
    doc = generate(regions=6, sites_per_region=15, years=8, crew_pools=6, seed=3)
    seen: list[float] = []
    cancel = threading.Event()

    def on_progress(p: Progress) -> None:
        if p.incumbent is not None:
            seen.append(p.incumbent)
            cancel.set()  # as soon as CBC has a plan

    started = time.perf_counter()
    plan = solve(
        doc, backend="cbc", time_limit=60, threads=1, cancel=cancel, on_progress=on_progress
    )
    assert time.perf_counter() - started < 30  # stopped, not run to the limit
    document = plan.to_document()
    assert seen and plan.status == "feasible", document["solver"]
    assert document["objective"] >= seen[0]
    assert document["solver"]["detail"].startswith("cancelled: its best plan so far")
    assert evaluate(parse_scenario(doc), document).holds


def test_a_killed_cbc_leaves_no_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CBC that does not stop within CANCEL_GRACE of a cancel's SIGINT is killed, and PuLP,
    which deletes its MPS and solution files only after a solution is written, left them in
    the temporary directory (a QA pass): they live in the run's own directory now."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(cbc, "CANCEL_GRACE", 0.5)
    real = cbc._signal
    # CBC deaf to SIGINT, as one stuck outside its checks: only the SIGKILL reaches it
    monkeypatch.setattr(
        cbc, "_signal", lambda pids, signum: signum == signal.SIGINT or real(pids, signum)
    )
    doc = generate(regions=6, sites_per_region=15, years=8, crew_pools=6, seed=3)
    cancel = threading.Event()
    cancel.set()
    plan = solve(doc, backend="cbc", time_limit=60, threads=1, cancel=cancel)
    assert plan.status == "unknown"
    assert list(tmp_path.iterdir()) == []


def test_a_time_limit_is_said_so_not_optimal() -> None:
    """A CBC run stopped by its time limit with a plan said ``solver.detail: "Optimal"``
    (PuLP's LpStatus) beside status ``feasible`` and its gap; the detail is CBC's own result
    line now, as a proof's is."""
    doc = json.loads((ROOT / "instances/national-20x10.json").read_text())
    stopped = solve(doc, backend="cbc", time_limit=4, threads=1).to_document()
    if stopped["status"] == "feasible":  # a plan within 4 s (else unknown, and said so too)
        assert stopped["solver"]["detail"].startswith("Stopped on time limit"), stopped["solver"]
    assert "Optimal" not in stopped["solver"]["detail"]
    proved = solve(scenario([site("a")]), backend="cbc", time_limit=20, threads=1)
    assert proved.status == "optimal"
    assert proved.solver.detail.startswith("Optimal solution found")  # type: ignore[attr-defined]
