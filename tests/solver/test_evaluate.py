"""The evaluator catches every kind of broken plan and recomputes the objective."""

import copy

from solver.evaluate import evaluate
from solver.scenario import parse_scenario
from solver.solve import solve
from tests.conftest import load
from tests.factory import scenario, site


def _plan() -> tuple[dict, dict]:
    doc = load("conformance/tiny")
    plan = solve(doc, backend="cpsat", time_limit=20, threads=1).to_document()
    return doc, plan


def test_solved_plan_holds() -> None:
    doc, plan = _plan()
    ev = evaluate(parse_scenario(doc), plan)
    assert ev.holds, ev.violations
    assert ev.objective == plan["objective"] == 1855


def test_broken_plans_are_caught() -> None:
    doc, plan = _plan()
    sc = parse_scenario(doc)

    def broken(mutate) -> list[str]:
        p = copy.deepcopy(plan)
        mutate(p)
        ev = evaluate(sc, p)
        assert not ev.holds
        return ev.violations

    assert any("objective" in v for v in broken(lambda p: p.update(objective=p["objective"] + 1)))
    assert any("terms" in v for v in broken(lambda p: p["terms"].update(benefit=1)))
    assert any("needs" in v for v in broken(lambda p: p["builds"][0]["crews"].clear()))
    assert any(
        "distance" in v for v in broken(lambda p: p["builds"][0]["crews"][0].update(distance_km=1))
    )
    assert any(
        "region" in v
        for v in broken(
            lambda p: p["builds"][0].update(
                region="south" if p["builds"][0]["region"] == "north" else "north"
            )
        )
    )
    assert any(
        "more than once" in v
        for v in broken(lambda p: p["builds"].append(copy.deepcopy(p["builds"][0])))
    )
    assert any("required" in v for v in broken(lambda p: p["builds"].pop()))
    assert any("unknown site" in v for v in broken(lambda p: p["builds"][0].update(site="zz")))
    assert any("technicians" in v for v in broken(lambda p: p["training"].clear()))
    assert any("year" in v for v in broken(lambda p: p["builds"][0].update(year=1999)))
    assert any("builds[0]" in v for v in broken(lambda p: p["builds"][0].update(year="2030")))


def test_a_build_with_an_option_the_site_lacks_is_not_also_unbuilt() -> None:
    """A required site built with an option it does not offer was reported twice: the option
    (right) and "required but not built" (it is built, wrongly); now once, as the option."""
    doc = load("conformance/tiny")
    plan = solve(doc, time_limit=20, threads=1).to_document()
    i = next(i for i, b in enumerate(plan["builds"]) if b["site"] == "n2")
    plan["builds"][i]["option"] = "large"  # n2 offers basic only
    ev = evaluate(parse_scenario(doc), plan)
    assert not ev.holds
    assert any("option 'large' is not allowed at this site" in v for v in ev.violations)
    assert not any("'n2' is required but not built" in v for v in ev.violations), ev.violations
    del plan["builds"][i]  # not built at all: said so
    ev = evaluate(parse_scenario(doc), plan)
    assert any("'n2' is required but not built" in v for v in ev.violations)


def test_breakdown_adds_up_to_the_terms() -> None:
    doc = load("conformance/generated-a")
    plan = solve(doc, backend="cpsat", time_limit=30, threads=2).to_document()
    cells, sites = plan["breakdown"]["by_region_year"], plan["breakdown"]["by_site"]
    assert (
        sum(c["benefit"] for c in cells)
        == sum(s["benefit"] for s in sites)
        == plan["terms"]["benefit"]
    )
    assert sum(c["crew_km"] for c in cells) == plan["terms"]["mobilization"]
    assert sum(c["trainees"] for c in cells) == plan["terms"]["training"]
    assert sum(c["builds"] for c in cells) == len(plan["builds"]) == len(sites)
    assert cells == sorted(cells, key=lambda c: (c["region"], c["year"]))


def test_breakdown_has_no_empty_region_years() -> None:
    """Everything built in the first of three years: the technicians' check read its trainees
    from a defaultdict and left an all-zero row for 2031 (lead time 1), none for 2032."""
    doc = scenario([site("a", 10), site("b", 5)], end=2032)
    plan = solve(doc, backend="highs", time_limit=10, threads=1).to_document()
    assert [(c["region"], c["year"]) for c in plan["breakdown"]["by_region_year"]] == [("r", 2030)]


def test_zero_rows_hold_and_negative_counts_do_not() -> None:
    """A crew row of count 0 is a[k,s,y] = 0, inside §3.3's domain, as a training row of 0
    trainees is; the evaluator refused the one ("zero rows are left out") and took the
    other. Both hold now; a negative count is outside the domain."""
    doc, plan = _plan()
    sc = parse_scenario(doc)
    build = plan["builds"][0]
    idle = next(p["id"] for p in doc["crews"] if p["id"] not in {c["pool"] for c in build["crews"]})
    zero = copy.deepcopy(plan)
    zero["builds"][0]["crews"].append({"pool": idle, "count": 0, "distance_km": 0})
    zero["training"].append({"region": "south", "year": 2031, "trainees": 0})
    ev = evaluate(sc, zero)
    assert ev.holds, ev.violations
    assert ev.objective == plan["objective"]
    negative = copy.deepcopy(plan)
    negative["builds"][0]["crews"].append({"pool": idle, "count": -1, "distance_km": 0})
    ev = evaluate(sc, negative)
    assert any(f"crew pool '{idle}' has count -1; a count is 0 or more" in v for v in ev.violations)
