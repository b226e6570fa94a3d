"""Re-planning with frozen years, plan diffs and variant batches."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from solver.diff import diff_plans
from solver.evaluate import evaluate
from solver.problem import build_problem
from solver.replan import (
    apply_baseline,
    baseline_crews,
    crew_map,
    crew_rows,
    fix_training,
    frozen_crews,
    frozen_training,
    hold_crews,
    solve_arguments,
)
from solver.scenario import ScenarioError, parse_scenario
from solver.solve import solve
from solver.variants import grid_patches, make_variant, merge_patch, run_batch
from tests import factory
from tests.conftest import DATA, load


def _lose_crews(doc: dict, year: int, lost: int) -> dict:
    doc = json.loads(json.dumps(doc))
    years = range(doc["horizon"]["start"], doc["horizon"]["end"] + 1)
    doc["crews"] = [
        dict(
            c,
            available={
                str(y): max(0, c["count"] - lost) if y == year else c["count"] for y in years
            },
        )
        for c in doc["crews"]
    ]
    return doc


def test_freeze_keeps_frozen_years_and_reoptimises_the_rest(backend: str) -> None:
    doc = load("conformance/generated-b")  # 2031..2034
    base = solve(doc, backend="cpsat", time_limit=30, threads=2).to_document()
    changed = _lose_crews(doc, 2033, 2)
    changed["objective"]["stability"] = 50
    sc = apply_baseline(parse_scenario(changed), base, freeze_through=2032)
    plan = solve(sc, backend=backend, time_limit=60, threads=2)
    assert plan.status == "optimal"
    doc_plan = plan.to_document()
    frozen_before = {
        (b["site"], b["year"], b["option"]) for b in base["builds"] if b["year"] <= 2032
    }
    frozen_after = {
        (b["site"], b["year"], b["option"]) for b in doc_plan["builds"] if b["year"] <= 2032
    }
    assert frozen_before == frozen_after
    # Stability counts exactly the baseline sites that moved, changed design or dropped out.
    diff = diff_plans(base, doc_plan)
    changed_sites = {d["site"] for key in ("moved", "redesigned", "dropped") for d in diff[key]}
    assert plan.terms is not None and plan.terms.stability == len(changed_sites) > 0
    assert all(d["from"] >= 2033 and d["to"] >= 2033 for d in diff["moved"])


def _richer_large(doc: dict, factor: float) -> dict:
    doc = json.loads(json.dumps(doc))
    for site in doc["sites"]:
        if "large" in site["benefit"]:
            site["benefit"]["large"] = int(site["benefit"]["large"] * factor)
    return doc


def _trainees(plan: dict) -> dict[tuple[str, int], int]:
    return {(t["region"], t["year"]): t["trainees"] for t in plan["training"]}


def test_frozen_years_keep_the_baselines_training(backend: str) -> None:
    """A what-if that wants more technicians early (the large design worth half as much again)
    re-planned with 2031-2032 frozen: every region trains in a frozen year exactly what the
    baseline plan did. Left free, the re-plan counts on trainees the frozen years never had
    (checked below with a baseline whose training is not known)."""
    doc = load("conformance/generated-b")  # 2031..2034
    base = solve(doc, backend="highs", time_limit=30, threads=2).to_document()
    before = _trainees(base)
    changed = parse_scenario(_richer_large(doc, 1.5))
    sc = apply_baseline(changed, base, freeze_through=2032)
    capacity = {r.id: r.training_capacity for r in sc.regions}
    assert all(
        capacity[r][str(y)] <= before.get((r, y), 0)  # type: ignore[index]
        for r in capacity
        for y in (2031, 2032)
    )
    fixed = frozen_training(sc, base, 2032)
    assert fixed == {(r, y): before.get((r, y), 0) for r in capacity for y in (2031, 2032)}
    plan = solve(sc, backend=backend, time_limit=60, threads=2, fixed_training=fixed)
    doc_plan = plan.to_document()
    assert doc_plan["status"] == "optimal"
    assert doc_plan["objective"] == 185457
    after = _trainees(doc_plan)
    assert {k: v for k, v in after.items() if k[1] <= 2032} == {
        k: v for k, v in before.items() if k[1] <= 2032 and v
    }
    assert evaluate(sc, doc_plan).holds
    if backend == "highs":
        unknown = {k: v for k, v in base.items() if k != "training"}
        free = solve(apply_baseline(changed, unknown, freeze_through=2032), backend="highs",
                     time_limit=60, threads=2).to_document()  # fmt: skip
        assert free["objective"] > doc_plan["objective"]
        assert any(v > before.get(k, 0) for k, v in _trainees(free).items() if k[1] <= 2032)


def test_frozen_training_capacity_and_errors() -> None:
    doc = load("conformance/tiny")  # 2030..2031; north: capacity 30, south: none
    plan = {
        "builds": [{"site": s["id"], "year": 2030, "option": next(iter(s["benefit"]))}
                   for s in doc["sites"][:1]],
        "training": [{"region": "north", "year": 2030, "trainees": 10}],
    }  # fmt: skip
    sc = apply_baseline(parse_scenario(doc), plan, freeze_through=2030)
    caps = {r.id: r.training_capacity for r in sc.regions}
    assert caps["north"] == {"2030": 10, "2031": 30}
    assert caps["south"]["2030"] == 0 and caps["south"]["2031"] > 0  # type: ignore[index]
    # Not frozen, or training not known: capacities as they were.
    for p, freeze in ((plan, None), ({"builds": plan["builds"]}, 2030)):
        sc = apply_baseline(parse_scenario(doc), p, freeze_through=freeze)
        assert [r.training_capacity for r in sc.regions] == [30, None]
    assert frozen_training(sc, {"builds": plan["builds"]}, 2030) is None
    assert frozen_training(sc, plan, None) is None
    before = apply_baseline(parse_scenario(doc), plan, freeze_through=2029)
    assert [r.training_capacity for r in before.regions] == [30, None]
    assert frozen_training(before, plan, 2029) is None
    bad = dict(plan, training=[{"region": "north", "year": 2030, "trainees": -1}])
    with pytest.raises(ScenarioError) as info:
        apply_baseline(parse_scenario(doc), bad, freeze_through=2030)
    assert [e.path for e in info.value.errors] == ["baseline.training[0]"]
    # a training that is no list is refused without a freeze too (it was taken then)
    for freeze in (2030, None):
        with pytest.raises(ScenarioError) as info:
            apply_baseline(parse_scenario(doc), dict(plan, training="x"), freeze_through=freeze)
        assert [e.path for e in info.value.errors] == ["baseline.training"]


def test_bad_baseline_builds_are_named_once_at_the_baseline() -> None:
    """A frozen baseline build with a year or an option the scenario does not have is named
    at ``baseline[i]``, not a second time at the frozen site's ``fixed`` (copied from it)."""
    doc = load("conformance/tiny")
    s0, s1 = doc["sites"][0], doc["sites"][1]
    plan = {
        "builds": [
            {"site": s0["id"], "year": 1800, "option": next(iter(s0["benefit"]))},
            {"site": s1["id"], "year": 2030, "option": "palace"},
        ]
    }
    with pytest.raises(ScenarioError) as info:
        apply_baseline(parse_scenario(doc), plan, freeze_through=2030)
    assert sorted(e.path for e in info.value.errors) == ["baseline[0].year", "baseline[1].option"]


def test_a_plan_of_another_scenario_frozen_names_every_error_at_once() -> None:
    """Frozen against a plan of another scenario, every unknown site and every training row of
    an unknown region is named: only the first training row was (``training[0].region``),
    and the unknown sites, the error that says what went wrong, not at all."""
    doc = load("conformance/tiny")  # regions north, south
    plan = {
        "builds": [
            {"site": "elsewhere-a", "year": 2030, "option": "basic"},
            {"site": "elsewhere-b", "year": 2031, "option": "basic"},
        ],
        "training": [
            {"region": "east", "year": 2030, "trainees": 5},
            {"region": "west", "year": 2030, "trainees": 5},
            {"region": "north", "year": 2040, "trainees": 5},
        ],
    }
    with pytest.raises(ScenarioError) as info:
        apply_baseline(parse_scenario(doc), plan, freeze_through=2030)
    paths = [e.path for e in info.value.errors]
    assert paths[:2] == ["baseline[0].site", "baseline[1].site"]
    assert paths[2:] == [
        "baseline.training[0].region",
        "baseline.training[1].region",
        "baseline.training[2].year",
    ]


def test_flows_keep_fixed_trainees_and_train_the_rest_late() -> None:
    """The trainee repair (``solver.flows``) with a frozen year held at an amount: that year
    trains exactly it, and what else the builds need comes as late as capacities allow."""
    from solver.flows import integral_flows
    from solver.model import build_model
    from solver.problem import build_problem

    doc = load("conformance/generated-b")  # 2031..2034, lead time 1
    plan = solve(doc, backend="highs", time_limit=30, threads=2)
    model = build_model(build_problem(parse_scenario(doc)))
    x = np.zeros(model.num_cols)
    for b in plan.builds:
        s = model.data.site_index[b.site]
        o = model.data.option_index[b.option]
        y = b.year - model.data.start
        hit = (model.x_site == s) & (model.x_option == o) & (model.x_year == y)
        x[np.flatnonzero(hit)] = 1
    free = integral_flows(model, x)
    t = model.t_offset + np.arange(len(model.t_region))
    region = [model.data.region_ids[r] for r in model.t_region]
    year = (model.t_year + model.data.start).tolist()
    late = dict(zip(zip(region, year, strict=True), free[t].tolist(), strict=True))
    # Hold 2031's training 10 above what the repair chooses in every region that can take it.
    caps = {r.id: r.training_capacity for r in parse_scenario(doc).regions}
    fixed = {
        (r, 2031): min(int(late[(r, 2031)]) + 10, int(caps[r]))  # type: ignore[arg-type]
        for r in caps
        if (r, 2031) in late
    }
    held, count = fix_training(model, fixed)
    assert count == len(fixed)
    got = integral_flows(held, x)
    again = dict(zip(zip(region, year, strict=True), got[t].tolist(), strict=True))
    assert all(again[k] == v for k, v in fixed.items())
    for r in caps:  # the same technicians over the horizon, or fewer where 2031 gives more
        later = sum(again.get((r, y), 0) for y in range(2032, 2035))
        assert later <= sum(late.get((r, y), 0) for y in range(2032, 2035))
    assert float(held.obj @ got) <= float(model.obj @ free)  # the extra trainees cost


def test_frozen_training_held_fewer_says_where() -> None:
    """A frozen year's trainees above the what-if's own bound (its large design needs 15
    technicians, not 25) are held at that bound, and those no factory in the horizon could
    take (trained in the last year, lead time 1) are not held: the plan's detail says both,
    where it used to say every one was held at the baseline's."""
    doc = load("conformance/tiny")  # 2030..2031, lead time 1
    doc["options"][1]["technicians"] = 15
    plan = {
        "builds": [{"site": "n1", "year": 2030, "option": "basic"},
                   {"site": "s1", "year": 2031, "option": "large"},
                   {"site": "n2", "year": 2031, "option": "basic"}],
        "training": [{"region": "south", "year": 2030, "trainees": 35},
                     {"region": "north", "year": 2031, "trainees": 5}],
    }  # fmt: skip
    sc = apply_baseline(parse_scenario(doc), plan, freeze_through=2031)
    args = solve_arguments(sc, plan, 2031)
    assert args["fixed_training"][("south", 2030)] == 35  # the baseline's, as it trained
    out = solve(sc, backend="highs", time_limit=20, threads=1, **args).to_document()
    assert out["status"] == "optimal" and evaluate(sc, out).holds
    assert out["training"] == [{"region": "south", "year": 2030, "trainees": 25}]
    detail = out["solver"]["detail"]
    assert "at the what-if's own bound: south 2030 35 → 25" in detail
    assert "could take them (the lead time): north 2031 (5)" in detail
    # Held in full: nothing more is said.
    plan["training"] = [{"region": "south", "year": 2030, "trainees": 25}]
    sc = apply_baseline(parse_scenario(doc), plan, freeze_through=2031)
    out = solve(sc, backend="highs", time_limit=20, threads=1,
                **solve_arguments(sc, plan, 2031)).to_document()  # fmt: skip
    assert out["training"] == [{"region": "south", "year": 2030, "trainees": 25}]
    assert "what-if's own bound" not in out["solver"]["detail"]
    assert "lead time" not in out["solver"]["detail"]


def test_warm_start_values_the_held_crews() -> None:
    """A re-plan's warm start is valued as its plan would be: the frozen year's builds with
    the baseline's crews (swapped here, 25 crew-km dearer), not the cheapest ones (1,855 was
    reported for a start whose plan is worth 1,830)."""
    doc = load("conformance/tiny")
    base = solve(doc, backend="highs", time_limit=20, threads=1).to_document()
    builds = {b["site"]: b for b in base["builds"]}
    builds["n1"]["crews"] = [{"pool": "k2", "count": 1, "distance_km": 0}]
    builds["n2"]["crews"] = [{"pool": "k1", "count": 1, "distance_km": 0}]
    sc = apply_baseline(parse_scenario(doc), base, freeze_through=2030)
    plan = solve(sc, backend="highs", time_limit=20, threads=1, hint=base,
                 **solve_arguments(sc, base, 2030)).to_document()  # fmt: skip
    assert plan["status"] == "optimal" and plan["objective"] == base["objective"] - 25
    assert plan["solver"]["warm_start"] == {"builds": 3, "holds": True, "objective": 1830}
    assert "25 crew-km more than the cheapest" in plan["solver"]["detail"]


def test_diff_and_cli(tmp_path: Path) -> None:
    doc = load("conformance/tiny")
    a = solve(doc, time_limit=20, threads=1).to_document()
    doc2 = dict(doc, objective=dict(doc["objective"], mobilization=0))
    b = solve(doc2, time_limit=20, threads=1).to_document()
    d = diff_plans(a, a)
    assert (d["moved"], d["dropped"], d["objective_change"]) == ([], [], 0)
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(a))
    pb.write_text(json.dumps(b))
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "solver.cli",
            "diff",
            str(pa),
            str(pb),
            "--json",
            "--scenario",
            str(DATA / "conformance/tiny.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["objective_change"] == b["objective"] - a["objective"]
    assert set(out["served_population"]["a"]) == {"north", "south"}


def test_merge_patch_and_variants() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {
        "a": {"c": 2, "d": 3}
    }
    base = parse_scenario(load("conformance/tiny"))
    v = make_variant(base, {"quotas": {"year": {"max": 1}}})
    assert v.quotas.year is not None and v.quotas.year.max == 1
    assert [n for n, _ in grid_patches({"objective.training": [0, 2]})] == [
        "objective.training=0",
        "objective.training=2",
    ]
    # a name shows a value as JSON, as a planner types it: true, null, 0.5
    assert [n for n, _ in grid_patches({"a.b": [True, None, 0.5, "x"]})] == [
        "a.b=true",
        "a.b=null",
        "a.b=0.5",
        "a.b=x",
    ]
    result = run_batch(
        base,
        [
            ("one-a-year", {"quotas": {"year": {"max": 1}}}),
            ("bad", {"sites": [{"id": 1}]}),
            ("dear-training", {"objective": {"training": 2}}),
        ],
        {"time_limit": 20, "threads": 1},
    )
    table = {r["variant"]: r for r in result["table"]}
    assert table["base"]["objective"] == 1855 and table["base"]["moved"] == 0
    assert table["one-a-year"]["status"] in ("optimal", "infeasible")
    assert table["bad"]["status"] == "invalid"
    # Variants start from the base plan: a what-if it survives says its start holds.
    dear = result["plans"]["dear-training"]
    assert dear.status == "optimal"
    assert dear.solver.warm_start["holds"]  # type: ignore[union-attr]
    assert dear.solver.warm_start["builds"] == len(result["plans"]["base"].builds)  # type: ignore[union-attr]


def test_cli_replan_and_batch(tmp_path: Path) -> None:
    scenario = str(DATA / "conformance/generated-a.json")  # 2034..2036
    base = tmp_path / "base.json"
    run = [sys.executable, "-m", "solver.cli"]
    r = subprocess.run(
        [
            *run,
            "solve",
            scenario,
            "--time-limit",
            "30",
            "--threads",
            "1",
            "--quiet",
            "--out",
            str(base),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    replanned = tmp_path / "replan.json"
    r = subprocess.run(
        [
            *run,
            "solve",
            scenario,
            "--baseline",
            str(base),
            "--freeze-through",
            "2034",
            "--time-limit",
            "30",
            "--threads",
            "1",
            "--quiet",
            "--out",
            str(replanned),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    a, b = json.loads(base.read_text()), json.loads(replanned.read_text())

    def first(plan: dict) -> list:
        return sorted((x["site"], x["option"]) for x in plan["builds"] if x["year"] == 2034)

    assert first(a) == first(b)
    # The frozen year's training is the baseline's, held so by the solve.
    assert {k: v for k, v in _trainees(b).items() if k[1] <= 2034} == {
        k: v for k, v in _trainees(a).items() if k[1] <= 2034
    }
    assert "frozen years' trainees held at the baseline's" in b["solver"]["detail"]
    # And its crews.
    assert _crews(b, 2034) == _crews(a, 2034)
    assert "frozen years' crews held at the baseline's" in b["solver"]["detail"]
    # Same scenario, baseline = its own optimum: nothing needs to change.
    assert b["objective"] == a["objective"] and b["terms"]["stability"] == 0
    r = subprocess.run(
        [*run, "solve", scenario, "--freeze-through", "2034"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "baseline" in r.stderr
    variants = tmp_path / "variants.json"
    variants.write_text(
        json.dumps([{"name": "no-mobilization", "patch": {"objective": {"mobilization": 0}}}])
    )
    r = subprocess.run(
        [
            *run,
            "batch",
            str(DATA / "conformance/tiny.json"),
            "--variants",
            str(variants),
            "--set",
            "objective.training=0,1",
            "--time-limit",
            "20",
            "--threads",
            "1",
            "--out",
            str(tmp_path / "batch.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    rows = {
        row["variant"]: row for row in json.loads((tmp_path / "batch.json").read_text())["table"]
    }
    assert set(rows) == {"base", "no-mobilization", "objective.training=0", "objective.training=1"}
    assert rows["objective.training=1"]["objective"] == rows["base"]["objective"] == 1855
    assert "base: optimal, objective 1,855" in r.stderr  # a line as each solve ends
    # --quiet: no such lines (an analyst's script reads the table); --seed reaches the solves
    r = subprocess.run(
        [*run, "batch", str(DATA / "conformance/tiny.json"), "--set", "objective.training=0",
         "--threads", "1", "--seed", "7", "--quiet", "--out", str(tmp_path / "quiet.json")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0 and r.stderr == "", r.stderr
    plans = json.loads((tmp_path / "quiet.json").read_text())["plans"]
    assert {p["solver"]["seed"] for p in plans.values()} == {7}


def test_plan_says_whether_the_warm_start_holds() -> None:
    """A re-plan's baseline is checked in the changed scenario: it holds (with its objective)
    when nothing changed, and when crews were lost in a year it builds in, the plan says so
    in numbers — solvers discard such a start, and the planner learns why."""
    doc = load("conformance/generated-b")  # 2031..2034
    base = solve(doc, backend="cpsat", time_limit=30, threads=2).to_document()
    same = solve(doc, backend="highs", time_limit=30, threads=2, hint=base)
    warm = same.to_document()["solver"]["warm_start"]
    assert warm == {
        "builds": len(base["builds"]),
        "holds": True,
        "objective": base["objective"],
    }
    year = base["builds"][0]["year"]
    crews = {c["id"]: c["count"] for c in doc["crews"]}
    changed = _lose_crews(doc, year, max(crews.values()))  # every pool empty that year
    plan = solve(changed, backend="highs", time_limit=30, threads=2, hint=base)
    warm = plan.to_document()["solver"]["warm_start"]
    assert warm["holds"] is False and warm["objective"] is None
    assert warm["violations"] == [
        f"the builds of {year} need "
        f"{sum(_crews_of(b) for b in base['builds'] if b['year'] == year)} crews;"
        " the pools that reach them can send 0"
    ]
    cold = solve(changed, backend="highs", time_limit=30, threads=2, hint=[])
    assert "warm_start" not in cold.to_document()["solver"]


def test_a_warm_start_below_zero_proves_nothing(backend: str) -> None:
    """One pool of 3 crews, 1,000 km from two sites whose designs each need all 3: a site a
    year, and every plan is worth less than nothing (Z < 0). b in 2030 (117 x 3 x 2), a in 2031
    (28 x 2 x 2) is the optimum, -4,829; the start builds a in 2032, 56 less. CBC maximising
    (``-max``) took the start's value with the wrong sign as its cutoff, pruned the optimum
    and called the start "optimal" at -4,885, whole or partial (coin-or/Cbc#296)."""
    doc = factory.scenario(
        [
            factory.site("a", {"o1": 28}, lat=39.287, lon=126.721),
            factory.site("b", {"o0": 16, "o1": 117}, lat=38.335, lon=127.456),
        ],
        start=2030,
        end=2032,
        options=[{"id": "o0", "crews": 3}, {"id": "o1", "crews": 3}],
        crews=[{"id": "k", "count": 3, "lat": 41.194, "lon": 125.119}],
        objective={"benefit": 2, "mobilization": 3},
    )
    start = [{"site": "a", "year": 2032, "option": "o1"}]
    for hint in (start, [*start, {"site": "b", "year": 2030, "option": "o1"}]):
        plan = solve(doc, backend=backend, time_limit=20, threads=1, hint=hint)
        assert (plan.status, plan.objective, plan.bound) == ("optimal", -4829, -4829), hint


def _crews_of(build: dict) -> int:
    return sum(c["count"] for c in build["crews"])


def _crews(plan: dict, through: int) -> dict[tuple[str, int], list[tuple[str, int]]]:
    return {
        (b["site"], b["year"]): [(c["pool"], c["count"]) for c in b["crews"]]
        for b in plan["builds"]
        if b["year"] <= through
    }


def _km(plan: dict, through: int) -> int:
    return sum(
        c["count"] * c["distance_km"]
        for b in plan["builds"]
        if b["year"] <= through
        for c in b["crews"]
    )


def _another_crew(doc: dict, plan: dict, through: int) -> dict:
    """``plan`` with one crew of a build up to ``through`` sent from another pool that reaches
    the site and has one to spare that year: a plan that holds, with other crews than the
    solver's (and farther, or as far)."""
    data = build_problem(parse_scenario(doc))
    plan = json.loads(json.dumps(plan))
    for b in plan["builds"]:
        if b["year"] > through or not b["crews"]:
            continue
        y, s = b["year"] - data.start, data.site_index[b["site"]]
        used = np.zeros(len(data.pool_ids), dtype=np.int64)
        for other in plan["builds"]:
            if other["year"] == b["year"]:
                for c in other["crews"]:
                    used[data.pool_index[c["pool"]]] += c["count"]
        here = {c["pool"] for c in b["crews"]}
        for k, pool in enumerate(data.pool_ids):
            if pool in here or not data.reach[k, s] or used[k] >= data.available[k, y]:
                continue
            first = b["crews"][0]
            first["count"] -= 1
            b["crews"] = [c for c in b["crews"] if c["count"]] + [
                {"pool": pool, "count": 1, "distance_km": int(data.distance[k, s])}
            ]
            b["crews"].sort(key=lambda c: c["pool"])
            ev = evaluate(parse_scenario(doc), plan, check_reported=False)
            assert ev.holds, ev.violations
            plan["objective"], plan["terms"] = ev.objective, ev.terms.model_dump()
            return plan
    raise AssertionError("no build has a crew another pool could send")


def test_frozen_years_keep_the_baselines_crews(backend: str) -> None:
    """Crews of the frozen years are history too: a re-plan keeps the baseline's (here other
    crews than the solver would send, a kilometre or more farther), and its optimum and bound
    are the solver's less what those crews travel more — each year's crews serve only that
    year's builds."""
    doc = load("conformance/generated-b")  # 2031..2034
    solved = solve(doc, backend="highs", time_limit=30, threads=2).to_document()
    base = _another_crew(doc, solved, 2032)
    assert _crews(base, 2032) != _crews(solved, 2032)
    changed = parse_scenario(_lose_crews(doc, 2033, 2))
    sc = apply_baseline(changed, base, freeze_through=2032)
    fixed, held = frozen_training(sc, base, 2032), frozen_crews(sc, base, 2032)
    assert held == {k: v for k, v in _crews(base, 2032).items()}
    assert crew_map(crew_rows(held)) == held
    free = solve(sc, backend=backend, time_limit=60, threads=2, fixed_training=fixed)
    plan = solve(
        sc, backend=backend, time_limit=60, threads=2, fixed_training=fixed, held_crews=held
    ).to_document()
    free_doc = free.to_document()
    assert free_doc["status"] == plan["status"] == "optimal"
    assert _crews(plan, 2032) == _crews(base, 2032)
    more = _km(plan, 2032) - _km(free_doc, 2032)
    assert more >= 0
    assert plan["objective"] == plan["bound"] == free_doc["objective"] - 2 * more
    assert evaluate(sc, plan).holds
    assert "frozen years' crews held at the baseline's" in plan["solver"]["detail"]
    if more:  # the proof is given that history, and the plan says so
        assert f"{more:,} crew-km more than the cheapest" in plan["solver"]["detail"]
    moved = diff_plans(base, plan)["crews_reassigned"]
    assert all(d["year"] > 2032 for d in moved)


def test_frozen_crews_that_no_longer_hold_are_reassigned() -> None:
    """A what-if that takes crews from a pool in a frozen year: the year's builds keep their
    sites, the baseline's crews of that year cannot be kept, and the plan says so."""
    doc = load("conformance/generated-b")
    base = solve(doc, backend="highs", time_limit=30, threads=2).to_document()
    used: dict[str, int] = {}
    for b in base["builds"]:
        if b["year"] == 2031:
            for c in b["crews"]:
                used[c["pool"]] = used.get(c["pool"], 0) + c["count"]
    for pool, n in sorted(used.items(), key=lambda kv: -kv[1]):
        changed = json.loads(json.dumps(doc))
        for c in changed["crews"]:
            if c["id"] == pool:
                years = range(2031, 2035)
                c["available"] = {str(y): n - 1 if y == 2031 else c["count"] for y in years}
        sc = apply_baseline(parse_scenario(changed), base, freeze_through=2032)
        plan = solve(
            sc,
            backend="highs",
            time_limit=30,
            threads=2,
            fixed_training=frozen_training(sc, base, 2032),
            held_crews=frozen_crews(sc, base, 2032),
        ).to_document()
        if plan["status"] != "optimal":
            continue  # the others cannot cover that pool's crews: try another
        assert f"2031: pool '{pool}' sent {n} crews, it has {n - 1}" in plan["solver"]["detail"]
        assert {k: v for k, v in _crews(plan, 2032).items() if k[1] == 2032} == {
            k: v for k, v in _crews(base, 2032).items() if k[1] == 2032
        }
        assert evaluate(sc, plan).holds
        return
    raise AssertionError("no pool of 2031 could lose a crew")


def test_frozen_crews_errors_and_unknown() -> None:
    doc = load("conformance/tiny")  # 2030..2031
    site = doc["sites"][0]
    build = {"site": site["id"], "year": 2030, "option": next(iter(site["benefit"]))}
    sc = apply_baseline(parse_scenario(doc), {"builds": [build]}, freeze_through=2030)
    assert frozen_crews(sc, {"builds": [build]}, 2030) is None  # a list of builds: not known
    plan = {"builds": [dict(build, region="north", crews=[{"pool": "p", "count": -1}])]}
    with pytest.raises(ScenarioError) as info:
        apply_baseline(parse_scenario(doc), plan, freeze_through=2030)
    assert [e.path for e in info.value.errors] == ["baseline.builds[0].crews[0]"]


def test_hold_crews_keeps_the_solvers_where_the_baselines_break() -> None:
    doc = load("conformance/tiny")  # n1 and n2 built in 2030, s1 in 2031 (k2 cannot reach it)
    plan = solve(doc, backend="highs", time_limit=20, threads=1)
    data = build_problem(parse_scenario(doc))
    held = {(b.site, b.year): [(c.pool, c.count) for c in b.crews] for b in plan.builds}
    assert hold_crews(data, plan.builds, held) == (plan.builds, 0, [])
    n1, s1 = ("n1", 2030), ("s1", 2031)
    assert set(held) == {n1, ("n2", 2030), s1}
    for change, why in (
        ({n1: [("nowhere", 1)]}, "2030: pool 'nowhere' is not in the scenario"),
        ({n1: []}, "2030: the baseline sends n1 other crews than its option needs"),
        ({s1: [("k2", 2)]}, "2031: pool 'k2' cannot reach s1"),
        ({n1: None}, "2030: the baseline does not build n1 that year"),
        ({("elsewhere", 2030): []}, "2030: the baseline builds elsewhere that year"),
    ):
        changed = {k: v for k, v in {**held, **change}.items() if v is not None}
        builds, more, why_not = hold_crews(data, plan.builds, changed)
        assert (builds, more, why_not) == (plan.builds, 0, [why])
    # Crews that hold but travel farther are kept, and the plan learns by how much.
    farther = {**held, ("n2", 2030): [("k1", 1)]}
    builds, more, why_not = hold_crews(data, plan.builds, farther)
    assert why_not == [] and builds[1].crews[0].pool == "k1"
    k1, k2, n2 = data.pool_index["k1"], data.pool_index["k2"], data.site_index["n2"]
    assert more == data.distance[k1, n2] - data.distance[k2, n2] > 0


def _crews_by_year(plan: dict) -> dict[int, dict[str, list[tuple[str, int]]]]:
    out: dict[int, dict[str, list[tuple[str, int]]]] = {}
    for b in plan["builds"]:
        out.setdefault(b["year"], {})[b["site"]] = [(c["pool"], c["count"]) for c in b["crews"]]
    return out


def test_a_plan_keeps_the_crews_it_is_given_where_they_are_as_cheap(backend: str) -> None:
    """Among equally cheap crews a plan takes those of the plan it is given. generated-b with
    two pools at P00's base: P00y interchangeable with it, P00x reaching fewer regions. The
    same scenario with its pools listed the other way round breaks the ties the other way;
    given that plan, a solve keeps its crews in every year it builds the same sites — without
    it, crews a diff would list as re-assigned for no reason."""
    doc = load("conformance/generated-b")  # 2031..2034
    p00 = next(c for c in doc["crews"] if c["id"] == "P00")
    doc["crews"] += [
        dict(p00, id="P00y"),
        dict(p00, id="P00x", regions=["R00", "R01", "R02", "R03"]),
    ]
    other = dict(doc, crews=doc["crews"][::-1])
    given = solve(other, backend="highs", time_limit=30, threads=2).to_document()
    assert evaluate(parse_scenario(doc), given, check_reported=True).holds
    plan = solve(
        doc, backend=backend, time_limit=60, threads=2, prefer_crews=baseline_crews(given)
    ).to_document()
    assert plan["status"] == "optimal" and plan["objective"] == given["objective"]
    mine, theirs = _crews_by_year(plan), _crews_by_year(given)
    same = [y for y in mine if mine[y].keys() == theirs.get(y, {}).keys()]
    assert same and all(mine[y] == theirs[y] for y in same)
    if backend == "highs":
        free = _crews_by_year(solve(doc, backend="highs", time_limit=30, threads=2).to_document())
        assert any(free[y] != theirs[y] for y in same)
        # A what-if solved from the plan (its hint) keeps its crews the same way.
        again = solve(doc, backend="highs", time_limit=30, threads=2, hint=given).to_document()
        assert diff_plans(given, again)["crews_reassigned"] == []


def test_a_plan_that_builds_nothing_freezes_empty_years() -> None:
    """A baseline plan with no builds is a baseline: freezing 2030 keeps 2030 empty. It was
    refused as "freezing years needs a baseline" (a fuzz test)."""
    doc = factory.scenario(
        [factory.site("a", 10, required=False), factory.site("b", 7, required=False)]
    )
    empty = {"status": "optimal", "builds": [], "training": []}
    frozen = apply_baseline(parse_scenario(doc), empty, freeze_through=2030)
    plan = solve(frozen, backend="highs", time_limit=10, threads=1)
    assert (plan.status, plan.objective) == ("optimal", 10 + 7)  # both in 2031, one year each
    assert {b.year for b in plan.builds} == {2031}
    with pytest.raises(ScenarioError, match="freezing years needs a baseline"):
        apply_baseline(parse_scenario(doc), None, freeze_through=2030)


def test_a_what_ifs_own_fixed_build_in_a_frozen_year_is_not_replaced() -> None:
    """A what-if that fixes a site the baseline built in a frozen year (another year, another
    design) was replaced by the baseline's build without a word: solve said optimal, and
    rdplan check found the plan breaking six rules of the what-if (a QA pass). It is an error
    at the site's fixed build now; one the same as the baseline's is taken."""
    base_doc = load("conformance/generated-b")
    base = solve(base_doc, backend="highs", time_limit=30, threads=1).to_document()
    built = {b["site"]: b for b in base["builds"]}
    frozen_site = next(b for b in base["builds"] if b["year"] <= 2032)
    i = next(k for k, s in enumerate(base_doc["sites"]) if s["id"] == frozen_site["site"])
    what_if = json.loads(json.dumps(base_doc))
    what_if["sites"][i]["fixed"] = {"year": 2034, "option": frozen_site["option"]}
    with pytest.raises(ScenarioError) as refused:
        apply_baseline(parse_scenario(what_if), base, 2032)
    [error] = refused.value.errors
    assert error.path == f"sites[{i}].fixed" and "a frozen year" in error.message
    same = json.loads(json.dumps(base_doc))
    same["sites"][i]["fixed"] = {"year": built[frozen_site["site"]]["year"]}
    assert apply_baseline(parse_scenario(same), base, 2032) is not None
