"""Property tests: on generated small scenarios the three backends agree, and every plan checks."""

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solver.evaluate import evaluate
from solver.scenario import parse_scenario
from solver.solve import BACKENDS, solve


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    start = 2030
    num_y = draw(st.integers(1, 3))
    regions = [f"r{i}" for i in range(draw(st.integers(1, 2)))]
    options = [
        {
            "id": f"o{i}",
            "crews": draw(st.integers(0, 2)),
            "technicians": draw(st.integers(0, 10)),
            "resources": {"q": draw(st.integers(0, 2))},
        }
        for i in range(draw(st.integers(1, 2)))
    ]
    sites = []
    for i in range(draw(st.integers(1, 5))):
        opts = draw(st.lists(st.sampled_from([o["id"] for o in options]), min_size=1, unique=True))
        s: dict[str, Any] = {
            "id": f"s{i}",
            "region": draw(st.sampled_from(regions)),
            "population": draw(st.integers(0, 90_000)),
            "lat": draw(st.floats(39.0, 41.0)),
            "lon": draw(st.floats(126.0, 128.0)),
            "benefit": {o: draw(st.integers(0, 100)) for o in opts},
            "required": draw(st.booleans()),
        }
        if draw(st.booleans()):
            s["earliest"] = start + draw(st.integers(0, num_y - 1))
        sites.append(s)
    pools = [
        {
            "id": f"k{i}",
            "count": draw(st.integers(1, 3)),
            "lat": draw(st.floats(39.0, 41.0)),
            "lon": draw(st.floats(126.0, 128.0)),
        }
        for i in range(draw(st.integers(1, 2)))
    ]
    doc: dict[str, Any] = {
        "schema_version": 1,
        "horizon": {"start": start, "end": start + num_y - 1},
        "regions": [
            {
                "id": r,
                "trained_stock": draw(st.integers(0, 20)),
                "training_capacity": draw(st.integers(0, 20)),
            }
            for r in regions
        ],
        "options": options,
        "sites": sites,
        "crews": pools,
        "resources": [{"id": "q", "limit": draw(st.integers(1, 6))}],
        "quotas": {"year": {"max": draw(st.integers(1, 4))}},
        "objective": {
            "benefit": 1,
            "mobilization": draw(st.integers(0, 1)),
            "training": draw(st.integers(0, 2)),
        },
    }
    if len(sites) >= 2 and draw(st.booleans()):
        doc["precedences"] = [{"before": "s0", "after": "s1", "gap": draw(st.integers(0, 1))}]
    if draw(st.booleans()):
        doc["balance"] = {"tolerance_pct": draw(st.integers(20, 100))}
    return doc


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_backends_agree_and_plans_check(doc: dict[str, Any]) -> None:
    sc = parse_scenario(doc)
    plans = {b: solve(sc, backend=b, time_limit=20, threads=1) for b in BACKENDS}
    statuses = {b: p.status for b, p in plans.items()}
    assert len(set(statuses.values())) == 1, statuses
    status = statuses["cpsat"]
    assert status in ("optimal", "infeasible")
    if status == "optimal":
        objectives = {b: p.objective for b, p in plans.items()}
        assert len(set(objectives.values())) == 1, objectives
        for p in plans.values():
            assert evaluate(sc, p.to_document()).holds
    else:
        for p in plans.values():
            assert p.conflicts
