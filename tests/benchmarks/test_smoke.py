"""CI tier of the benchmarks: the smoke suite end to end, and the PuLP baseline's correctness.

No timing is asserted: the machines are shared. What is asserted is what a
benchmark must never get wrong — known optima, statuses, checked plans.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import pytest

from benchmarks.baseline_pulp import solve_baseline
from benchmarks.run import BASELINE, RDPLAN_BACKENDS, _scenario_document, main
from benchmarks.suites import CONFORMANCE_OPTIMA, SHORT_YEAR, SUITES
from solver.evaluate import evaluate
from solver.scenario import parse_scenario
from tests.conftest import load


@pytest.mark.parametrize("name", sorted(CONFORMANCE_OPTIMA))
def test_baseline_reproduces_conformance_optimum(name: str) -> None:
    """The literal PuLP transcription proves the independently computed optimum, with a plan that holds."""
    doc = load(f"conformance/{name}")
    result = solve_baseline(doc, time_limit=60, threads=1)
    plan = result.plan
    assert plan["status"] == "optimal"
    assert plan["objective"] == CONFORMANCE_OPTIMA[name]
    assert plan["bound"] == plan["objective"] and plan["gap"] == 0.0
    assert evaluate(parse_scenario(doc), plan).holds


DERIVED = sorted({c.source for c in SUITES["full"] if c.source.startswith("derived/")})


@pytest.mark.parametrize("source", DERIVED)
def test_every_derived_scenario_of_the_full_suite_is_valid(source: str) -> None:
    """A derived case that does not build fails a full run only after its hour; here at once."""
    doc = _scenario_document({"source": source})
    assert parse_scenario(doc).name == source.removeprefix("derived/")
    if "crews" in source and "infeasible" in source:
        year = str(SHORT_YEAR)
        cut = [p for p in doc["crews"] if p.get("available", {}).get(year, p["count"]) < p["count"]]
        assert cut, "the crew cut reaches the document"


def test_baseline_proves_infeasibility() -> None:
    """R02 cannot staff its 2035 quota (conformance README): the baseline says infeasible, with no plan."""
    result = solve_baseline(load("conformance/infeasible-technicians"), time_limit=30, threads=1)
    assert result.plan["status"] == "infeasible"
    assert result.plan["builds"] == []


def test_smoke_suite(tmp_path: Path) -> None:
    """``rdplan bench --suite smoke`` exits 0 and its table holds the known answers for every backend."""
    code = main(["--suite", "smoke", "--out", str(tmp_path), "--plain"])
    csv_files = list(tmp_path.glob("*-smoke.csv"))
    assert len(csv_files) == 1 and csv_files[0].with_suffix(".md").exists()
    rows = list(csv.DictReader(csv_files[0].open(encoding="utf-8")))
    failures = [(r["scenario"], r["backend"], r["check"]) for r in rows if r["check"] != "ok"]
    assert code == 0, failures
    backends = {*RDPLAN_BACKENDS, BASELINE}
    for name, optimum in CONFORMANCE_OPTIMA.items():
        got = {
            r["backend"]: (r["status"], int(r["objective"])) for r in rows if r["scenario"] == name
        }
        assert got == dict.fromkeys(backends, ("optimal", optimum))
    # With a gap tolerance of 5 %: every backend stops within it and brackets the optimum.
    gapped = {r["backend"]: r for r in rows if r["scenario"] == "generated-b-gap5"}
    assert set(gapped) == set(RDPLAN_BACKENDS)
    for r in gapped.values():
        assert r["status"] in ("optimal", "feasible") and float(r["gap"]) <= 0.05
        assert int(r["objective"]) <= CONFORMANCE_OPTIMA["generated-b"] <= int(r["bound"])
        # no baseline of its own: the file's baseline proves optimality (it showed 1.88x)
        assert r["solve_x"] == r["total_x"] == "", r
    proved = [r for r in rows if r["scenario"] == "generated-b" and r["backend"] != BASELINE]
    assert proved and all(float(r["solve_x"]) > 0 for r in proved)
    infeasible = {
        r["backend"]: r["status"] for r in rows if r["scenario"] == "infeasible-technicians"
    }
    assert infeasible == dict.fromkeys(backends, "infeasible")
    for r in rows:
        if r["status"] in ("optimal", "feasible"):
            assert int(r["objective"]) <= int(r["bound"])
        assert float(r["peak_mb"]) > 0
    assert {r["scenario"] for r in rows} >= {"kimhwa-pilot", "gen-10x12x6"}
    # The protocol names the machine's speed reference, measured at both ends of the run.
    protocol = csv_files[0].with_suffix(".md").read_text(encoding="utf-8")
    assert re.search(
        r"speed reference: .* \d+\.\d{3} s at the start and \d+\.\d{3} s at the end", protocol
    )


def test_replan_scenarios_lose_the_same_crews() -> None:
    from benchmarks.suites import CREW_LOSS_YEAR, instance_document, replan_changed
    from solver.scenario import parse_scenario

    national = instance_document("national-20x10.json")
    changed = parse_scenario(replan_changed(national))
    before = parse_scenario(national)
    for old, new in zip(before.crews, changed.crews, strict=True):
        assert old.id == new.id
        per_year = new.available
        assert isinstance(per_year, dict)
        for year, value in per_year.items():
            expected = (
                old.count - round(old.count / 3) if int(year) == CREW_LOSS_YEAR else old.count
            )
            assert value == expected, (old.id, year)
    assert [s.model_dump() for s in changed.sites] == [s.model_dump() for s in before.sites]


def test_replan_base_is_the_committed_optimal_plan() -> None:
    # The frozen re-plan is the same scenario in every run: its baseline is a committed plan
    # (national-20x10's proven optimum), which the evaluator accepts with its stated objective.
    from benchmarks.suites import (
        FREEZE_THROUGH,
        REPLAN_BASE_PLAN,
        instance_document,
        replan_frozen,
    )
    from solver.evaluate import evaluate
    from solver.scenario import parse_scenario

    national = instance_document("national-20x10.json")
    base = instance_document(REPLAN_BASE_PLAN)
    ev = evaluate(parse_scenario(national), base)
    assert ev.holds, ev.violations[:3]
    assert (base["status"], base["objective"], base["bound"]) == ("optimal", 1861928, 1861928)
    frozen = replan_frozen(national)
    assert frozen == replan_frozen(national, base)
    fixed = {s["id"]: s["fixed"] for s in frozen["sites"] if "fixed" in s}
    expected = {b["site"]: b for b in base["builds"] if b["year"] <= FREEZE_THROUGH}
    assert set(fixed) == set(expected)
    assert all(fixed[s] == {"year": b["year"], "option": b["option"]} for s, b in expected.items())


def test_warm_replan_compared_with_cold_and_from_scratch() -> None:
    from benchmarks.run import _warm_cold

    def row(scenario: str, kind: str, backend: str, total_s: float) -> dict[str, Any]:
        return {
            "scenario": scenario,
            "kind": kind,
            "backend": backend,
            "seed": 0,
            "total_s": total_s,
        }

    rows = [
        row("replan-frozen-cold", "replan-cold", "highs", 20.0),
        row("replan-frozen-warm", "replan-warm", "highs", 10.0),
        row("replan-full-cold", "replan-full", "highs", 100.0),
        row("replan-frozen-warm", "replan-warm", "cpsat", 60.0),
        row("whatif-fuel-cold", "replan-cold", "highs", 30.0),
        row("whatif-fuel-warm", "replan-warm", "highs", 15.0),
    ]
    frozen, whatif = _warm_cold(rows)
    assert (frozen["scenario"], frozen["backend"]) == ("replan-frozen", "highs")
    assert frozen["ratio"] == 0.5
    assert frozen["full_ratio"] == 0.1
    # Each warm run against the cold run of its own scenario; the from-scratch re-plan is the
    # frozen re-plan's reference only.
    assert whatif["scenario"] == "whatif-fuel"
    assert whatif["ratio"] == 0.5 and whatif["full"] is None


def test_whatif_fuel_keeps_the_old_plan_as_a_start_that_holds() -> None:
    from benchmarks.suites import REPLAN_BASE_PLAN, instance_document, whatif_fuel
    from solver.evaluate import evaluate
    from solver.scenario import parse_scenario

    national = instance_document("national-20x10.json")
    doc = whatif_fuel(national)
    assert doc["objective"]["mobilization"] == 2 * national["objective"]["mobilization"]
    assert doc["objective"].get("stability", 0) == 0
    base = instance_document(REPLAN_BASE_PLAN)
    assert {(b["site"], b["year"], b["option"]) for b in doc["baseline"]} == {
        (b["site"], b["year"], b["option"]) for b in base["builds"]
    }
    ev = evaluate(parse_scenario(doc), base, check_reported=False)
    assert ev.holds, ev.violations[:3]


def test_frozen_replan_baseline_breaks_the_crew_loss_and_the_tables_say_so() -> None:
    """The re-plan benchmark's warm start — the optimal plan of national-20x10 — needs more
    crews in 2027 than the crew loss leaves, so solvers drop it; plans and tables say so."""
    from benchmarks.run import _warm_verdicts
    from benchmarks.suites import REPLAN_BASE_PLAN, instance_document, replan_frozen
    from solver.model import build_model
    from solver.problem import build_problem
    from solver.scenario import parse_scenario
    from solver.solve import hint_columns, warm_start_report, warm_start_summary

    frozen = replan_frozen(instance_document("national-20x10.json"))
    model = build_model(build_problem(parse_scenario(frozen)))
    report = warm_start_report(model, hint_columns(model, None) or {})
    base = instance_document(REPLAN_BASE_PLAN)
    need = sum(c["count"] for b in base["builds"] if b["year"] == 2027 for c in b["crews"])
    assert need == 50
    assert report["builds"] == len(base["builds"]) and report["holds"] is False
    (violation,) = report["violations"]
    assert violation.startswith(f"the builds of 2027 need {need} crews; the pools that reach")
    said = f"{len(base['builds'])} builds, does not hold: {violation}"
    assert warm_start_summary(report) == said
    row = {"detail": f"Interrupted by user; warm start: {said}"}
    assert _warm_verdicts([{"warm": row}, {"warm": dict(row)}, {"warm": {"detail": "x"}}]) == [
        f"Warm start: {said} (checked by the evaluator)."
    ]


def _meta() -> dict[str, Any]:
    """A results file's header, as ``benchmarks.run.markdown`` reads it, for constructed rows."""
    return {
        "suite": "full",
        "date": "2026-12-06",
        "machine": "x86_64",
        "load_start": "0",
        "load_end": "0",
        "shared": False,
        "threads": 2,
        "time_limit": 60.0,
        "seeds": "0",
        "versions": {},
        "revision": "r",
        "revision_end": "r",
        "wall_s": 1.0,
    }


def test_targets_of_the_issue_from_a_run() -> None:
    """Each results file says where issue #7's targets stand in its own runs: the default
    backend's seeds, the baseline's floor where it did not prove, a failed check meeting none."""
    from benchmarks.run import markdown, targets

    def row(scenario: str, backend: str, seed: int, solve_s: float, **kw: Any) -> dict[str, Any]:
        r: dict[str, Any] = {
            "scenario": scenario,
            "backend": backend,
            "seed": seed,
            "status": "optimal",
            "gap": 0.0,
            "check": "ok",
            "build_s": 0.5,
            "solve_s": solve_s,
            "total_s": solve_s + 1.0,
            "first_plan_s": None,
            "gap1pct_s": None,
            "peak_mb": 400.0,
            "conflict_s": None,
        }
        return r | kw

    rows = [
        row("national-20x10", "portfolio", 1, 8.0),
        row("national-20x10", "portfolio", 2, 12.0),
        row("national-20x10", "highs", 1, 5.0),  # not the default backend: not counted
        row("national-20x10", BASELINE, 1, 200.0),
        row("national-20x10", BASELINE, 2, 60.0, status="feasible", gap=0.0002),
        row("gen-200", "portfolio", 0, 60.0, status="feasible", gap=0.00274),
        row("gen-3000", "portfolio", 0, 200.0, first_plan_s=28.0, gap1pct_s=150.0, peak_mb=4100.4),
        row("replan-frozen-warm", "portfolio", 0, 6.0),
        row("replan-frozen-warm", "portfolio", 1, 10.0),
        row("replan-full-cold", "portfolio", 0, 30.0),
        row("replan-full-cold", "portfolio", 1, 34.0),
        row("replan-frozen-warm", "portfolio", 2, 1.0),  # no from-scratch run for this seed
        row("national-infeasible", "portfolio", 0, 0.1, status="infeasible", conflict_s=1.8),
        row("national-infeasible", "portfolio", 1, 0.1, status="infeasible", conflict_s=1.9),
    ]
    got = {what: (said, met) for what, said, met in targets(rows)}
    assert got["national-20x10 proven optimal in ≤ 10 s"] == (
        "seeds 1, 2: 8.00 s / 12.00 s (mean 10.00 s)",
        False,
    )
    assert got["gen-200 proven optimal in ≤ 10 s"] == ("seed 0: feasible (0.274%)", False)
    assert got["national-20x10 ≥ 20× faster than the baseline (solve s)"] == (
        "seed 1: 25.0×, seed 2: ≥ 5.0×",
        False,
    )
    assert got["gen-3000: a checked plan in ≤ 60 s (build + first plan)"] == (
        "seed 0: 28.50 s",
        True,
    )
    assert got["gen-3000: gap ≤ 1 % in ≤ 300 s (build + solve)"][1] is True
    assert got["gen-3000: model build ≤ 15 s"] == ("seed 0: 0.50 s", True)
    assert got["gen-3000: peak memory ≤ 4,000 MB"] == ("seed 0: 4,100 MB", False)
    frozen = got[
        "re-plan with frozen years + warm start ≤ 25% of re-planning the change from scratch"
    ]
    assert frozen == (
        "seeds 0, 1: 8.00 s against 32.00 s on the means: 0.250 on solve seconds, 0.273 on totals",
        True,
    )
    assert got["national-infeasible: a conflict set in ≤ 30 s"] == (
        "seeds 0, 1: 1.80 s / 1.90 s",
        True,
    )
    # A plan that fails the evaluator meets no target, however fast.
    rows[0]["check"] = "FAIL: a crew works twice"
    rows[1]["solve_s"] = 9.0
    (said, met) = {w: (s, m) for w, s, m in targets(rows)}[
        "national-20x10 proven optimal in ≤ 10 s"
    ]
    assert met is False and said == "seeds 1, 2: its plan failed the check / 9.00 s"
    gen3000 = next(r for r in rows if r["scenario"] == "gen-3000")
    gen3000 |= {"check": "FAIL: a crew works twice", "peak_mb": 400.0}
    failed = {w: m for w, _, m in targets(rows) if w.startswith("gen-3000")}
    assert failed and not any(failed.values())
    gen3000 |= {"check": "ok", "peak_mb": 4100.4}
    # A run that crashed (no seconds) is reported, never divided by.
    crashed = {"status": "error", "check": "FAIL: the run crashed", "solve_s": None}
    crashed |= {"total_s": None, "build_s": None}
    broken = [
        row("national-20x10", "portfolio", 3, 9.0),
        row("national-20x10", BASELINE, 3, 0.0) | crashed,
        row("replan-frozen-warm", "portfolio", 3, 0.0) | crashed,
        row("replan-full-cold", "portfolio", 3, 30.0),
        row("gen-3000", "portfolio", 0, 0.0) | crashed,
    ]
    said = {w: (s, m) for w, s, m in targets(broken)}
    assert said["national-20x10 ≥ 20× faster than the baseline (solve s)"] == (
        "seed 3: — (not proved by both)",
        False,
    )
    assert not any(w.startswith("re-plan") for w in said)
    assert said["gen-3000: model build ≤ 15 s"] == ("seed 0: —", False)
    # Only what ran is reported, and the markdown carries the table.
    assert targets([row("kimhwa-pilot", "portfolio", 0, 0.1)]) == []
    rows[0]["check"] = "ok"
    meta = _meta()
    for r in rows:
        r.update(variables=None, time_limit=60.0, objective=None, bound=None, kind="solve")
        r.update(solve_x=None, total_x=None, conflicts=None)
    text = markdown(rows, meta)
    assert "| national-20x10 proven optimal in ≤ 10 s | seeds 1, 2: 8.00 s / 9.00 s" in text
    assert (
        "| national-infeasible: a conflict set in ≤ 30 s | seeds 0, 1: 1.80 s / 1.90 s | yes |"
        in text
    )


def test_targets_over_saved_results_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``rdplan bench --targets-of A.csv B.csv`` reads results files back, typed as written, and
    states the targets over their runs together (six seeds here, six there); a file that is not
    one is named in a clear error, exit 2."""
    from benchmarks.run import COLUMNS, read_results, write_results

    def row(scenario: str, seed: int, solve_s: float) -> dict[str, Any]:
        r: dict[str, Any] = dict.fromkeys(COLUMNS)
        r |= {"scenario": scenario, "backend": "portfolio", "seed": seed, "status": "optimal"}
        r |= {"objective": 1000, "bound": 1000}  # a proof's, as every optimal row has
        return r | {"check": "ok", "solve_s": solve_s, "total_s": solve_s + 0.5, "gap": 0.0}

    meta = _meta()
    paths = []
    for part, seeds in enumerate((range(0, 6), range(6, 12))):
        rows = [row("replan-frozen-warm", s, 9.0) for s in seeds]
        rows += [row("replan-full-cold", s, 36.0) for s in seeds]
        for r in rows:
            r.update(time_limit=60.0, kind="replan-warm")
        csv_path, _ = write_results(tmp_path, f"part{part}", rows, meta)
        paths.append(csv_path)
    back = read_results(paths[0])
    assert back[0]["seed"] == 0 and back[0]["solve_s"] == 9.0 and back[0]["variables"] is None
    assert main(["--targets-of", *map(str, paths)]) == 0
    out = capsys.readouterr().out
    assert "over 24 runs" in out
    assert "seeds 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11: 9.00 s against 36.00 s on the means:" in out
    assert "0.250 on solve seconds" in out and "| yes |" in out
    not_results = tmp_path / "notes.csv"
    not_results.write_text("a,b\n1,2\n", encoding="utf-8")
    assert main(["--targets-of", str(not_results)]) == 2
    assert "notes.csv: not an rdplan bench results file" in capsys.readouterr().err
    garbled = tmp_path / "garbled.csv"
    garbled.write_text(paths[0].read_text(encoding="utf-8").replace(",9.0,", ",fast,", 1))
    assert main(["--targets-of", str(garbled)]) == 2
    assert "garbled.csv, line 2: solve_s is 'fast', not a finite number" in capsys.readouterr().err
    # hand-edited cells that crashed the reading with a traceback (exit 1, a "contradiction")
    text = paths[0].read_text(encoding="utf-8")
    header, first, *rest = text.splitlines()
    cells = dict(zip(header.split(","), first.split(","), strict=True))
    for column, value, said in (
        ("seed", "inf", "seed is 'inf', not a finite number"),
        ("solve_s", "nan", "solve_s is 'nan', not a finite number"),
        ("solve_s", "", "status optimal without solve_s and total_s"),
        # accepted before, and shown as "optimal -> weird" or "0.02 -> -2.49"
        ("status", "weird", "status is 'weird', not one of error, feasible, infeasible"),
        ("solve_s", "-2.5", "solve_s is -2.5, not a count of seconds"),
    ):
        edited = ",".join(value if c == column else cells[c] for c in header.split(","))
        garbled.write_text("\n".join([header, edited, *rest]) + "\n", encoding="utf-8")
        assert main(["--targets-of", str(garbled)]) == 2
        assert f"garbled.csv, line 2: {said}" in capsys.readouterr().err
    # a truncated row: its cells counted (it said "28 cells, not 28")
    garbled.write_text("\n".join([header, ",".join(first.split(",")[:9]), *rest]) + "\n")
    assert main(["--targets-of", str(garbled)]) == 2
    assert "garbled.csv, line 2: 9 cells, not 28" in capsys.readouterr().err
    # one run in two files: its seed counted twice, its ratio from either file's baseline
    assert main(["--targets-of", str(paths[0]), str(paths[0])]) == 2
    assert "replan-frozen-warm portfolio seed 0 is in" in capsys.readouterr().err
    assert main(["--targets-of", str(tmp_path / "missing.csv")]) == 2
    assert "missing.csv: No such file or directory" in capsys.readouterr().err
