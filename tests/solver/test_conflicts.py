"""Infeasible scenarios of every group kind: the returned set is infeasible and irreducible.

Irreducibility is checked by re-solving: the set alone is infeasible, and
without any one member the rest admits a solution (SPEC §4).
"""

from typing import Any

import pytest

from solver.conflicts import subset_feasible
from solver.problem import build_problem
from solver.scenario import parse_scenario
from solver.solve import solve
from tests.factory import scenario, site

ONE_CREW = {
    "options": [{"id": "o", "crews": 1}],
    "crews": [{"id": "k", "count": 1, "lat": 40.0, "lon": 127.0}],
}

CASES: dict[str, tuple[dict[str, Any], set[str]]] = {
    # Three required sites, at most one build a year for two years.
    "quota": (
        scenario([site("a"), site("b"), site("c")], quotas={"region_year": {"max": 1}}),
        {"quota.region_year", "build_once"},
    ),
    # Two sites each needing the single crew, both fixed to 2030.
    "crews": (
        scenario([site("a", fixed={"year": 2030}), site("b", fixed={"year": 2030})], **ONE_CREW),
        {"crews", "window", "build_once"},
    ),
    # 10 technicians per factory, none in stock, lead time 2 on a two-year horizon.
    "technicians": (
        scenario(
            [site("a")],
            options=[{"id": "o", "crews": 0, "technicians": 10}],
            training={"lead_time": 2},
        ),
        {"technicians", "build_once"},
    ),
    # Each build uses 2 cement, the limit is 1.
    "resources": (
        scenario(
            [site("a")],
            options=[{"id": "o", "crews": 0, "resources": {"cement": 2}}],
            resources=[{"id": "cement", "limit": 1}],
        ),
        {"resources", "build_once"},
    ),
    # a before b and b before a.
    "precedence cycle": (
        scenario(
            [site("a"), site("b")],
            precedences=[{"before": "a", "after": "b"}, {"before": "b", "after": "a", "gap": 1}],
        ),
        {"precedence", "build_once"},
    ),
    # a's window starts after b's ends, but a must come first.
    "windows": (
        scenario(
            [site("a", earliest=2031), site("b", latest=2030)],
            precedences=[{"before": "a", "after": "b"}],
        ),
        {"precedence", "window", "build_once"},
    ),
    # Two equal regions, one build a year, no tolerance.
    "balance": (
        scenario(
            [site("a", region="r", population=50_000), site("b", region="q", population=50_000)],
            regions=["r", "q"],
            quotas={"year": {"max": 1}},
            balance={"tolerance_pct": 0},
        ),
        {"balance", "quota.year"},
    ),
    # The yearly quota demands three builds where two sites exist.
    "quota.year": (
        scenario([site("a"), site("b")], quotas={"year": {"min": 3}}),
        {"quota.year", "build_once"},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_conflict_set_is_irreducible(case: str, backend: str) -> None:
    doc, expected_groups = CASES[case]
    plan = solve(doc, backend=backend, time_limit=20, threads=1)
    assert plan.status == "infeasible"
    conflicts = plan.conflicts
    assert conflicts, "an infeasible plan carries its conflict set"
    assert {c["group"] for c in conflicts} <= expected_groups | {"window", "build_once"}
    assert {c["group"] for c in conflicts} & (
        expected_groups - {"build_once", "window"}
    ) or case == "windows"
    assert all(c["message"] for c in conflicts)
    assert conflicts == sorted(
        conflicts,
        key=lambda c: (
            c["group"],
            *[str(v) for k, v in c.items() if k not in ("group", "message")],
        ),
    )
    data = build_problem(parse_scenario(doc))
    assert subset_feasible(data, conflicts) is False
    for i in range(len(conflicts)):
        assert subset_feasible(data, conflicts[:i] + conflicts[i + 1 :]) is True, (
            f"{conflicts[i]} is not needed"
        )


def test_empty_region_with_minimum_quota(backend: str) -> None:
    # Region "empty" has no sites but a minimum of 1 a year: its quota row alone is infeasible.
    doc = scenario(
        [site("a")],
        regions=["r", "empty"],
        quotas={"overrides": [{"region": "empty", "year": 2031, "min": 1}]},
    )
    plan = solve(doc, backend=backend, time_limit=20, threads=1)
    assert plan.status == "infeasible"
    assert [(c["group"], c["region"], c["year"]) for c in plan.conflicts] == [
        ("quota.region_year", "empty", 2031)
    ]
