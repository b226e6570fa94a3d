"""The hull rows (``ModelBuilder.technician_hull``, ``ModelBuilder.crew_hull``,
``solver.cuts``) are exact.

They are implied rows: every plan satisfies them, so adding any of them keeps the optimum.
Checked on the hull construction itself, on national-20x10's committed optimal plan, and on
generated scenarios whose technicians, stocks, training capacities and crew pools make the
rounding bite.
"""

import json
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest.mock import patch

import highspy
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import solver.model
from solver.backends import highs
from solver.cuts import add_violated
from solver.model import MatrixModel, _hull_rows, build_model, count_hull
from solver.problem import build_problem
from solver.scenario import parse_scenario
from tests.factory import highs_optimum

ROOT = Path(__file__).parents[2] / "instances"


def test_hull_rows_hold_at_every_point_and_round_the_knapsack() -> None:
    # Option counts (a, b, c) with technicians 2, 3, 4 (units of 15) and a stock of 9 units,
    # no trainees: the LP may build 2.25 of c; the hull says a + b + 2c <= 4.
    points = np.array(
        [
            (a, b, c)
            for a in range(5)
            for b in range(4)
            for c in range(3)
            if 2 * a + 3 * b + 4 * c <= 9
        ]
    )
    rows = _hull_rows(points)
    assert rows
    for normal, h in rows:
        assert normal.dtype == np.int64 and (points @ normal <= h).all()
        assert (points @ normal == h).any()  # tight: h is the maximum over the points
    found = {(tuple(n.tolist()), h) for n, h in rows}
    assert ((1, 1, 2), 4) in found and ((1, 2, 3), 6) in found
    lp_point = np.array([0.0, 0.0, 2.25])
    assert any(lp_point @ n > h for n, h in rows)


def test_crew_hull_rounds_a_province_own_crews() -> None:
    # A province with 4 crews of its own and no others' (cap 0), designs needing 1, 2, 3 crews,
    # at most 3 builds a year: the LP relaxation may build 4/3 of a large complex, or 1.25
    # standard and half a large; the hull says standard + 2·large <= 2 (and basic + standard +
    # 2·large <= 3).
    facets = count_hull((3, 3, 3), 3, (1, 2, 3), 4, 0)
    found = {(tuple(n.tolist()), h) for n, h in facets}
    assert ((0, 1, 2, 0), 2) in found and ((1, 1, 2, 0), 3) in found
    for lp_point in ([0, 0, 4 / 3, 0], [0, 1.25, 0.5, 0]):
        assert any(np.array(lp_point) @ n > h for n, h in facets)
    points = np.array(
        [
            (a, b, c, 0)
            for a in range(4)
            for b in range(4)
            for c in range(4)
            if a + b + c <= 3 and a + 2 * b + 3 * c <= 4
        ]
    )
    for n, h in facets:
        assert (points @ n <= h).all() and (points @ n == h).any()
    # With others' crews U the rows trade builds for them: 4/3 large on 4 + 0 crews is cut off,
    # one large and one standard on 4 + 1 is not.
    shared = count_hull((3, 3, 3), 3, (1, 2, 3), 4, 3)
    assert any(np.array([0, 0, 4 / 3, 0]) @ n > h for n, h in shared)
    assert all(np.array([0, 1, 1, 1]) @ n <= h for n, h in shared)
    # The aggregate row itself (a + 2b + 3c - U <= 4) is the flows', never a candidate.
    assert ((1, 2, 3, -1), 4) not in {(tuple(n.tolist()), h) for n, h in shared}


def test_degenerate_point_sets_give_no_rows() -> None:
    assert _hull_rows(np.array([[0, 0], [1, 0]])) == []
    assert _hull_rows(np.array([[0, 0, 0], [1, 1, 1], [2, 2, 2]])) == []


def _lp_bound(model: MatrixModel) -> float:
    h = highs.new_relaxation(model, threads=1)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return float(h.getInfo().objective_function_value)


def _lp_with_builds_fixed(model: MatrixModel, hint: dict[int, int]) -> float:
    """The LP optimum of ``model`` with the hinted columns fixed (the best crews and trainees
    for those builds)."""
    h = highs.new_relaxation(model, threads=1)
    cols = np.fromiter(hint, dtype=np.int32)
    vals = np.fromiter(hint.values(), dtype=float)
    h.changeColsBounds(len(cols), cols, vals, vals)
    h.run()
    assert h.getModelStatus() == highspy.HighsModelStatus.kOptimal
    return float(h.getInfo().objective_function_value)


def test_every_candidate_holds_on_the_national_optimum() -> None:
    data = build_problem(parse_scenario((ROOT / "national-20x10.json").read_text()))
    model = build_model(data)
    assert model.candidates is not None and model.candidates.count > 100
    everything = model.with_candidates(np.ones(model.candidates.count, dtype=bool))
    assert everything.num_rows == model.num_rows + model.candidates.count
    plan = json.loads((ROOT / "plans" / "national-20x10-optimal.json").read_text())
    options = {o: i for i, o in enumerate(data.option_ids)}
    hint = model.complete_hint(
        model.hint_from_builds(
            [
                (data.site_ids.index(b["site"]), options[b["option"]], b["year"])
                for b in plan["builds"]
            ]
        )
    )
    # With every candidate row the plan's builds still admit crews and trainees worth the
    # proven optimum: no candidate cuts the optimal plan off.
    assert round(_lp_with_builds_fixed(everything, hint)) == plan["objective"] == 1_861_928


def test_the_lp_violates_a_few_candidates_and_they_tighten_it() -> None:
    data = build_problem(parse_scenario((ROOT / "national-20x10.json").read_text()))
    model = build_model(data)
    assert model.candidates is not None
    family = {g: model.groups[g].group for g in set(model.candidates.group.tolist())}
    assert set(family.values()) == {"technicians", "crews"}
    strengthened, added = add_violated(model, threads=1)
    assert 0 < added < 150 and strengthened.num_rows == model.num_rows + added
    assert strengthened.num_cols == model.num_cols and strengthened.candidates is model.candidates
    # both families are violated by the LP, and the LP bound falls
    assert {family[g] for g in strengthened.row_group[model.num_rows :].tolist()} == {
        "technicians",
        "crews",
    }
    assert _lp_bound(strengthened) < _lp_bound(model) - 1_000
    # The last LP solved is kept as a bound: above the optimum, at or above the final LP's.
    assert strengthened.lp_bound is not None and model.lp_bound is None
    assert 1_861_928 < _lp_bound(strengthened) <= strengthened.lp_bound + 1e-6
    # The conflict finder's relaxed model, the CP-SAT/CBC form and small models keep none aside.
    assert build_model(data, relaxed=True, balance_form="sites").candidates is None
    assert build_model(data, balance_form="regions").candidates is None
    with patch.object(solver.model, "HULL_MIN_X", model.num_x + 1):
        assert build_model(data).candidates is None


@st.composite
def scarce(draw: st.DrawFn) -> dict[str, Any]:
    """Small scenarios where technicians and crews bind: designs needing 2-4 units of 15
    technicians and 1-3 crews, stocks and capacities that are not multiples of the designs, a
    pool of 1-4 crews in each region and 0-3 shared, balance on (form "sites")."""
    start = 2030
    num_y = draw(st.integers(2, 4))
    regions = [
        {
            "id": f"r{i}",
            "trained_stock": draw(st.integers(0, 10)) * 15 + draw(st.sampled_from([0, 0, 5])),
            "training_capacity": draw(st.integers(0, 8)) * 15,
        }
        for i in range(draw(st.integers(1, 2)))
    ]
    sites = []
    for i in range(draw(st.integers(3, 7))):
        sites.append(
            {
                "id": f"s{i}",
                "region": regions[i % len(regions)]["id"],
                "population": draw(st.integers(1_000, 200_000)),
                "lat": 39.0 + i / 10,
                "lon": 126.0 + draw(st.integers(0, 20)) / 10,
                "benefit": {
                    "small": draw(st.integers(1, 40)),
                    "mid": draw(st.integers(20, 70)),
                    "big": draw(st.integers(40, 120)),
                },
                "required": draw(st.sampled_from([False, False, True])),
            }
        )
    crews = [
        {"id": f"local-{r['id']}", "count": draw(st.integers(1, 4)), "lat": 39.0, "lon": 126.0}
        | {"regions": [r["id"]]}
        for r in regions
    ]
    shared = draw(st.integers(0, 3))
    if shared:
        crews.append({"id": "army", "count": shared, "lat": 39.5, "lon": 127.0})
    return {
        "schema_version": 1,
        "horizon": {"start": start, "end": start + num_y - 1},
        "regions": regions,
        "options": [
            {"id": "small", "crews": draw(st.integers(0, 1)), "technicians": 30},
            {"id": "mid", "crews": 2, "technicians": 45},
            {"id": "big", "crews": draw(st.integers(2, 3)), "technicians": 60},
        ],
        "sites": sites,
        "crews": crews,
        "quotas": {"region_year": {"max": draw(st.integers(1, 3))}},
        "training": {"lead_time": draw(st.integers(0, 1))},
        "balance": {"tolerance_pct": draw(st.integers(10, 60))},
        "objective": {"training": draw(st.integers(0, 2)), "mobilization": draw(st.integers(0, 1))},
    }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scarce())
def test_every_candidate_keeps_the_optimum(doc: dict[str, Any]) -> None:
    # These scenarios are far below the size the rows are made for (HULL_MIN_X).
    with patch.object(solver.model, "HULL_MIN_X", 0):
        model = build_model(build_problem(parse_scenario(doc)))
    if model.candidates is None:
        return
    everything = model.with_candidates(np.ones(model.candidates.count, dtype=bool))
    plain = replace(model, candidates=None)  # highs.solve adds nothing to it
    assert highs_optimum(replace(everything, candidates=None)) == highs_optimum(plain)
