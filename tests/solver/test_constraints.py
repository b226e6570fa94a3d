"""One tiny scenario per constraint family and objective term, on every backend.

Each test states why its number is optimal. Horizons are 2030..2031 unless
noted, so a site built in 2030 earns its benefit twice and in 2031 once.
"""

from typing import Any

from solver.plan import Plan
from solver.solve import solve
from tests.factory import scenario, site


def run(doc: dict[str, Any], backend: str) -> Plan:
    return solve(doc, backend=backend, time_limit=20, threads=1)


def years_of(plan: Plan) -> dict[str, int]:
    return {b.site: b.year for b in plan.builds}


def test_build_once_and_benefit(backend: str) -> None:
    # One site, benefit 10: built in the first year it earns 10 x 2 = 20, the most.
    plan = run(scenario([site("a", 10)]), backend)
    assert (plan.status, plan.objective) == ("optimal", 20)
    assert years_of(plan) == {"a": 2030}


def test_optional_site_left_unbuilt_when_it_costs(backend: str) -> None:
    # The optional site needs a crew 111 km away for a benefit of 10 x 2: building it loses 91.
    doc = scenario(
        [site("a", 10, required=False, lat=41.0)],
        options=[{"id": "o", "crews": 1}],
        crews=[{"id": "k", "count": 1, "lat": 40.0, "lon": 127.0}],
        objective={"benefit": 1, "mobilization": 1},
    )
    plan = run(doc, backend)
    assert (plan.status, plan.objective, plan.unbuilt) == ("optimal", 0, ["a"])


def test_quota_year(backend: str) -> None:
    # At most one build a year: the larger benefit goes first, 5 x 2 + 4 x 1 = 14.
    doc = scenario([site("a", 5), site("b", 4)], quotas={"year": {"max": 1}})
    plan = run(doc, backend)
    assert (plan.status, plan.objective) == ("optimal", 14)
    assert years_of(plan) == {"a": 2030, "b": 2031}


def test_quota_region_year_min_and_override(backend: str) -> None:
    # Every year exactly one build in r, but an override allows 0..2 in 2030: both go in 2030,
    # which breaks the 2031 minimum of 1 -- so the override's year takes one and 2031 the other,
    # unless a third site exists. With three sites: two in 2030 (3+2)x2, one in 2031: 10+1 = 11.
    doc = scenario(
        [site("a", 3), site("b", 2), site("c", 1)],
        quotas={
            "region_year": {"min": 1, "max": 1},
            "overrides": [{"region": "r", "year": 2030, "max": 2}],
        },
    )
    plan = run(doc, backend)
    assert (plan.status, plan.objective) == ("optimal", 11)
    assert years_of(plan) == {"a": 2030, "b": 2030, "c": 2031}


def test_window_and_fixed(backend: str) -> None:
    # a may not start before 2031 (10 x 1); b is fixed to 2031 with option "big" (7 x 1); c is free (2 x 2).
    doc = scenario(
        [
            site("a", 10, earliest=2031),
            site("b", {"o": 100, "big": 7}, fixed={"year": 2031, "option": "big"}),
            site("c", 2),
        ],
        options=[{"id": "o", "crews": 0}, {"id": "big", "crews": 0}],
    )
    plan = run(doc, backend)
    assert (plan.status, plan.objective) == ("optimal", 10 + 7 + 4)
    assert {b.site: (b.year, b.option) for b in plan.builds} == {
        "a": (2031, "o"),
        "b": (2031, "big"),
        "c": (2030, "o"),
    }


def test_no_site_can_be_built_in_the_horizon(backend: str) -> None:
    # The only site opens after the horizon: nothing is decided, and the empty plan is optimal
    # (HiGHS calls a model without columns "Empty"; it was reported unknown).
    doc = scenario(
        [site("a", 38, required=False, earliest=2032, latest=2032)],
        options=[{"id": "o", "crews": 1}],
        crews=[{"id": "k", "count": 2, "lat": 40.0, "lon": 127.0}],
    )
    for route in (backend, "portfolio", "lpguided"):
        plan = run(doc, route)
        assert (plan.status, plan.objective, plan.bound, plan.unbuilt) == ("optimal", 0, 0, ["a"])


def test_a_constant_objective_is_proved(backend: str) -> None:
    # The baseline's site cannot be built in the horizon: stability costs 100 whatever is done,
    # and the trainees' column is all there is. HiGHS gave a bound of 0 without the offset.
    doc = scenario(
        [site("a", 5, required=False, earliest=2034, latest=2034)],
        options=[{"id": "o", "crews": 0, "technicians": 3}],
        objective={"training": 1, "stability": 100},
        baseline=[{"site": "a", "year": 2030, "option": "o"}],
    )
    for route in (backend, "portfolio"):
        plan = run(doc, route)
        assert (plan.status, plan.objective, plan.bound) == ("optimal", -100, -100)


def test_crews_one_pool(backend: str) -> None:
    # One crew a year serves two sites 111 and 222 km away (one degree of latitude is 111 km):
    # benefit 100 x 2 + 100 x 1 = 300, mobilization 111 + 222 = 333 whatever the order: Z = -33.
    doc = scenario(
        [site("a", 100, lat=41.0), site("b", 100, lat=42.0)],
        options=[{"id": "o", "crews": 1}],
        crews=[{"id": "k", "count": 1, "lat": 40.0, "lon": 127.0}],
        objective={"benefit": 1, "mobilization": 1},
    )
    plan = run(doc, backend)
    assert (plan.status, plan.objective) == ("optimal", -33)
    assert plan.terms is not None and plan.terms.mobilization == 333
    assert sorted(c.distance_km for b in plan.builds for c in b.crews) == [111, 222]


def test_crews_nearest_pool_and_reach(backend: str) -> None:
    # Site at 42N: pool "far" (40N, 222 km) and "near" (43N, 111 km); "near" serves only region "other"
    # in the second scenario, so the far pool must go: Z = 50 - 111 then 50 - 222 (one-year horizon).
    pools = [
        {"id": "far", "count": 1, "lat": 40.0, "lon": 127.0},
        {"id": "near", "count": 1, "lat": 43.0, "lon": 127.0},
    ]
    doc = scenario(
        [site("a", 50, lat=42.0)],
        start=2030,
        end=2030,
        options=[{"id": "o", "crews": 1}],
        crews=pools,
        objective={"benefit": 1, "mobilization": 1},
    )
    plan = run(doc, backend)
    assert (plan.status, plan.objective) == ("optimal", 50 - 111)
    doc["regions"].append({"id": "other"})
    doc["crews"][1]["regions"] = ["other"]
    plan = run(doc, backend)
    assert (plan.status, plan.objective) == ("optimal", 50 - 222)
    doc["crews"][0]["max_distance_km"] = 200
    assert run(doc, backend).status == "infeasible"


def test_crews_availability_per_year(backend: str) -> None:
    # Two crews needed per site; the pool has 2 crews but none available in 2030: both sites cannot
    # share 2031 (2 + 2 > 2), so one is optional and dropped: Z = 9 x 1 (the better site, in 2031).
    doc = scenario(
        [site("a", 9, required=False), site("b", 5, required=False)],
        options=[{"id": "o", "crews": 2}],
        crews=[
            {"id": "k", "count": 2, "lat": 40.0, "lon": 127.0, "available": {"2030": 0, "2031": 2}}
        ],
    )
    plan = run(doc, backend)
    assert (plan.status, plan.objective) == ("optimal", 9)
    assert plan.unbuilt == ["b"]


def test_technicians_lead_time(backend: str) -> None:
    # 10 technicians per factory, no stock, 10 trainees a year, lead time 1, horizon 2030..2032:
    # nothing can open in 2030; one in 2031 (trained 2030), one in 2032 (trained 2031).
    # Benefit 100 x 2 + 100 x 1 = 300, minus 20 trainees: Z = 280.
    doc = scenario(
        [site("a", 100), site("b", 100)],
        end=2032,
        regions=[{"id": "r", "training_capacity": 10}],
        options=[{"id": "o", "crews": 0, "technicians": 10}],
        objective={"benefit": 1, "training": 1},
    )
    plan = run(doc, backend)
    assert (plan.status, plan.objective) == ("optimal", 280)
    assert [(t.year, t.trainees) for t in plan.training] == [(2030, 10), (2031, 10)]


def test_technicians_stock_and_unlimited_capacity(backend: str) -> None:
    # Stock 10 staffs one factory from 2030; unlimited training (lead 1) staffs the other from 2031.
    # Benefit 10 x 2 + 10 x 1 = 30 (both in 2030 would need 20 by 2030), minus 10 trainees: Z = 20.
    doc = scenario(
        [site("a", 10), site("b", 10)],
        regions=[{"id": "r", "trained_stock": 10}],
        options=[{"id": "o", "crews": 0, "technicians": 10}],
        objective={"benefit": 1, "training": 1},
    )
    plan = run(doc, backend)
    assert (plan.status, plan.objective) == ("optimal", 20)


def test_resources(backend: str) -> None:
    # One unit of cement a year, one per site: 10 x 2 + 7 x 1 = 27.
    doc = scenario(
        [site("a", 10), site("b", 7)],
        options=[{"id": "o", "crews": 0, "resources": {"cement": 1}}],
        resources=[{"id": "cement", "limit": 1}],
    )
    plan = run(doc, backend)
    assert (plan.status, plan.objective) == ("optimal", 27)


def test_precedence_with_gap(backend: str) -> None:
    # a must come a year before b: a 2030 (1 x 2), b 2031 (10 x 1) = 12 instead of 22.
    doc = scenario(
        [site("a", 1), site("b", 10)], precedences=[{"before": "a", "after": "b", "gap": 1}]
    )
    plan = run(doc, backend)
    assert (plan.status, plan.objective) == ("optimal", 12)


def test_precedence_optional_after(backend: str) -> None:
    # b (optional) needs a first, and a cannot be built (its window is outside the horizon, optional):
    # b stays unbuilt; Z = 0.
    doc = scenario(
        [site("a", 1, required=False, earliest=2040, latest=2041), site("b", 10, required=False)],
        precedences=[{"before": "a", "after": "b"}],
    )
    plan = run(doc, backend)
    assert (plan.status, plan.objective, plan.unbuilt) == ("optimal", 0, ["a", "b"])


def test_balance(backend: str) -> None:
    # Two regions of equal weight (50 each), one build a year. After the first year one region is
    # served (share 100% of 50) and the other 0%: it trails the national 50% by 50 points.
    # tolerance 50 allows it: 100 x 2 + 1 x 1 = 201. Tolerance 49 makes the scenario infeasible.
    doc = scenario(
        [
            site("a", 100, region="r", population=50_000),
            site("b", 1, region="q", population=50_000),
        ],
        regions=["r", "q"],
        quotas={"year": {"max": 1}},
        balance={"tolerance_pct": 50},
    )
    plan = run(doc, backend)
    assert (plan.status, plan.objective) == ("optimal", 201)
    doc["balance"]["tolerance_pct"] = 49
    plan = run(doc, backend)
    assert plan.status == "infeasible"
    assert {c["group"] for c in plan.conflicts} >= {"balance"}


def test_stability(backend: str) -> None:
    # The baseline built a in 2031. Moving it to 2030 earns 10 more benefit and costs w_stability:
    # with weight 1000 it stays (Z = 10), with weight 5 it moves (Z = 20 - 5 = 15).
    doc = scenario(
        [site("a", 10)],
        baseline=[{"site": "a", "year": 2031, "option": "o"}],
        objective={"benefit": 1, "stability": 1000},
    )
    plan = run(doc, backend)
    assert (plan.status, plan.objective, years_of(plan)) == ("optimal", 10, {"a": 2031})
    doc["objective"]["stability"] = 5
    plan = run(doc, backend)
    assert (plan.status, plan.objective, years_of(plan)) == ("optimal", 15, {"a": 2030})
    assert plan.terms is not None and plan.terms.stability == 1


def test_option_choice(backend: str) -> None:
    # "large" earns 30 a year but needs 2 crews; one crew is available: "small" (20) is the only way.
    doc = scenario(
        [site("a", {"small": 20, "large": 30})],
        start=2030,
        end=2030,
        options=[{"id": "small", "crews": 1}, {"id": "large", "crews": 2}],
        crews=[{"id": "k", "count": 1, "lat": 40.0, "lon": 127.0}],
    )
    plan = run(doc, backend)
    assert (plan.status, plan.objective, plan.builds[0].option) == ("optimal", 20, "small")


def test_balance_forms_agree(backend: str) -> None:
    # Balance in its three forms (over B[s,y] tightened, over S[r,y], over x)
    # is the same constraint: generated-a (balance 25 %) has the same optimum, 29581, every way.
    import importlib

    from solver.backends.base import SolveOptions
    from solver.model import build_model
    from solver.problem import build_problem
    from solver.scenario import parse_scenario
    from tests.conftest import load

    data = build_problem(parse_scenario(load("conformance/generated-a")))
    module = importlib.import_module(f"solver.backends.{backend}")
    for form in ("sites", "regions", "dense"):
        model = build_model(data, balance_form=form)
        assert model.balance_form == form
        assert (model.num_aux == 0) is (form == "dense")
        raw = module.solve(model, SolveOptions(time_limit=60, threads=2))
        assert raw.values is not None
        assert round(model.objective_of(raw.values)) == 29581
