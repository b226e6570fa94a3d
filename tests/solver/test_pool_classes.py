"""Interchangeable crew pools share one column per site and year; plans name the real pools."""

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.baseline_pulp import solve_baseline
from solver.evaluate import evaluate
from solver.model import build_model
from solver.problem import build_problem
from solver.scenario import parse_scenario
from solver.solve import solve
from tests.factory import scenario, site


def pool(id: str, lat: float = 40.0, lon: float = 127.0, **extra: Any) -> dict[str, Any]:
    return {"id": id, "count": 2, "lat": lat, "lon": lon, **extra}


def test_pools_with_the_same_reach_and_distances_form_one_class() -> None:
    doc = scenario(
        [site("a", lat=40.5), site("b", region="r2", lat=41.0)],
        regions=[{"id": "r"}, {"id": "r2"}],
        options=[{"id": "o", "crews": 1}],
        crews=[
            pool("k1", available={"2030": 2, "2031": 0}),
            pool("k2", count=3),
            pool("k3", regions=["r"]),  # same base, less reach
            pool("k4", lat=39.0),  # other base
            pool("k5", regions=["r", "r2"], available={"2030": 1, "2031": 1}),  # = k1's reach
        ],
    )
    data = build_problem(parse_scenario(doc))
    assert data.pool_class.tolist() == [0, 0, 2, 3, 0]
    assert data.class_members[0] == [0, 1, 4]
    assert data.class_available.tolist() == [[6, 4], [0, 0], [2, 2], [2, 2], [0, 0]]
    model = build_model(data)
    assert sorted(set(model.a_pool.tolist())) == [0, 2, 3]


def test_a_class_splits_its_crews_among_its_pools_year_by_year() -> None:
    """k1 works only in 2030 and k2 only in 2031: each year's crews come from that year's pool."""
    doc = scenario(
        [site("a", benefit=10), site("b", benefit=9), site("c", benefit=8)],
        options=[{"id": "o", "crews": 2}],
        crews=[
            pool("k1", count=4, available={"2030": 4, "2031": 0}),
            pool("k2", count=2, available={"2030": 0, "2031": 2}),
        ],
    )
    sc = parse_scenario(doc)
    plan = solve(sc, backend="highs", time_limit=20, threads=1)
    assert plan.status == "optimal"
    doc_out = plan.to_document()
    assert evaluate(sc, doc_out).holds
    used: Counter[tuple[int, str]] = Counter()
    for b in doc_out["builds"]:
        for c in b["crews"]:
            used[b["year"], c["pool"]] += c["count"]
    assert used == {(2030, "k1"): 4, (2031, "k2"): 2}


@st.composite
def shared_bases(draw: st.DrawFn) -> dict[str, Any]:
    """Small scenarios whose pools often share a base, with tight per-year crews."""
    bases = [(40.0, 127.0), (40.6, 126.4)]
    num_y = draw(st.integers(1, 3))
    years = [str(2030 + i) for i in range(num_y)]
    crews = []
    for i in range(draw(st.integers(2, 4))):
        lat, lon = draw(st.sampled_from(bases))
        count = draw(st.integers(1, 3))
        p: dict[str, Any] = pool(f"k{i}", lat=lat, lon=lon, count=count)
        if draw(st.booleans()):
            p["available"] = {y: draw(st.integers(0, count)) for y in years}
        if draw(st.booleans()):
            p["max_distance_km"] = draw(st.sampled_from([60, 120]))
        crews.append(p)
    sites = [
        site(
            f"s{i}",
            benefit={"o": draw(st.integers(1, 50)), "big": draw(st.integers(1, 80))},
            lat=draw(st.floats(39.8, 40.8)),
            lon=draw(st.floats(126.2, 127.2)),
            required=draw(st.booleans()),
        )
        for i in range(draw(st.integers(1, 5)))
    ]
    return scenario(
        sites,
        end=2030 + num_y - 1,
        options=[{"id": "o", "crews": 1}, {"id": "big", "crews": 2}],
        crews=crews,
        objective={"benefit": 1, "mobilization": 1},
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shared_bases(), st.sampled_from(["highs", "cpsat", "cbc"]))
def test_merged_pools_reach_the_optimum_of_the_row_by_row_model(
    doc: dict[str, Any], backend: str
) -> None:
    """The PuLP baseline keeps one a column per pool: status and optimum must agree with it."""
    sc = parse_scenario(doc)
    plan = solve(sc, backend=backend, time_limit=20, threads=1)
    reference = solve_baseline(doc, time_limit=20, threads=1).plan
    assert plan.status == reference["status"]
    if plan.status == "optimal":
        assert plan.objective == reference["objective"]
        assert evaluate(sc, plan.to_document()).holds


def _crews_by_year(plan: dict[str, Any]) -> dict[int, dict[tuple[str, str], list[Any]]]:
    """``{year: {(site, option): [(pool, count)]}}``."""
    out: dict[int, dict[tuple[str, str], list[Any]]] = {}
    for b in plan["builds"]:
        crews = [(c["pool"], c["count"]) for c in b["crews"]]
        out.setdefault(b["year"], {})[b["site"], b["option"]] = crews
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shared_bases(), st.sampled_from(["highs", "cpsat", "cbc"]))
def test_a_plan_takes_the_crews_it_prefers_among_the_cheapest(
    doc: dict[str, Any], backend: str
) -> None:
    """Given the crews of another optimal plan (the row-by-row baseline's, one column per pool:
    its ties broken its own way), a solve keeps them in every year it builds the same sites
    and designs — they are among the cheapest there — and its optimum does not change."""
    sc = parse_scenario(doc)
    reference = solve_baseline(doc, time_limit=20, threads=1).plan
    if reference["status"] != "optimal":
        return
    prefer = {
        (b["site"], b["year"]): [(c["pool"], c["count"]) for c in b["crews"]]
        for b in reference["builds"]
    }
    plan = solve(sc, backend=backend, time_limit=20, threads=1, prefer_crews=prefer)
    assert plan.status == "optimal" and plan.objective == reference["objective"]
    out = plan.to_document()
    assert evaluate(sc, out).holds
    mine, theirs = _crews_by_year(out), _crews_by_year(reference)
    for year, crews in mine.items():
        if crews.keys() == theirs.get(year, {}).keys():
            assert crews == theirs[year], year
