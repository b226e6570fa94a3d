"""Balance over ``B[s,y]`` with tightened coefficients (``balance_form="sites"``) is exact.

The tightening rests on ``U(r, y)``, a bound on the weight the other regions can have built
by year ``y``; these tests check the bound against brute force and the tightened model's
optimum against the rows as SPEC §3.7 reads them (``"dense"``), on scenarios made so that
the tightening bites (narrow tolerances, region quotas, heavy and light sites).
"""

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instances.generate import generate
from solver.model import MatrixModel, ModelBuilder, build_model, column_bound
from solver.problem import build_problem
from solver.scenario import parse_scenario
from tests.conftest import load
from tests.factory import highs_optimum


@st.composite
def balanced(draw: st.DrawFn) -> dict[str, Any]:
    start = 2030
    num_y = draw(st.integers(2, 4))
    regions = [f"r{i}" for i in range(draw(st.integers(2, 3)))]
    sites = []
    for i in range(draw(st.integers(3, 8))):
        site: dict[str, Any] = {
            "id": f"s{i}",
            "region": regions[i % len(regions)],
            "population": draw(st.integers(500, 400_000)),
            "benefit": {"a": draw(st.integers(1, 100)), "b": draw(st.integers(1, 100))},
            "required": draw(st.sampled_from([False, False, True])),
        }
        if draw(st.booleans()):
            site["earliest"] = start + draw(st.integers(0, num_y - 1))
        sites.append(site)
    doc: dict[str, Any] = {
        "schema_version": 1,
        "horizon": {"start": start, "end": start + num_y - 1},
        "regions": [{"id": r} for r in regions],
        "options": [
            {"id": "a", "crews": 0, "technicians": 0},
            {"id": "b", "crews": 0, "technicians": 0},
        ],
        "sites": sites,
        "quotas": {
            "region_year": {
                "min": draw(st.sampled_from([0, 0, 1])),
                "max": draw(st.integers(1, 2)),
            },
            "year": {"max": draw(st.integers(1, 4))},
        },
        "balance": {"tolerance_pct": draw(st.integers(0, 30))},
    }
    return doc


def _optimum(doc: dict[str, Any], form: str) -> int | None:
    """HiGHS's proven optimum of ``doc`` with balance in ``form`` (None: infeasible)."""
    return highs_optimum(build_model(build_problem(parse_scenario(doc)), balance_form=form))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(balanced())
def test_tightened_sites_form_keeps_the_optimum(doc: dict[str, Any]) -> None:
    assert _optimum(doc, "sites") == _optimum(doc, "dense")


def _balance_weight(model: MatrixModel) -> tuple[int, float]:
    """Number of balance rows and the sum of their coefficients' magnitudes."""
    balance = [g for g, k in enumerate(model.groups) if k.group == "balance"]
    rows = np.flatnonzero(np.isin(model.row_group, balance))
    entry_row = np.repeat(np.arange(model.num_rows), np.diff(model.row_start))
    return len(rows), float(np.abs(model.row_value[np.isin(entry_row, rows)]).sum())


def test_tightening_bites_on_the_national_instance() -> None:
    doc = (Path(__file__).parents[2] / "instances" / "national-20x10.json").read_text()
    data = build_problem(parse_scenario(doc))
    tight = build_model(data, balance_form="sites")
    loose = build_model(data, relaxed=True, balance_form="sites")  # the conflict finder's: as is
    assert tight.balance_form == loose.balance_form == "sites"
    assert len(tight.b_site) == len(loose.b_site) == data.num_sites * data.num_years
    assert len(tight.n_region) == len(loose.n_region) == data.num_regions * data.num_years
    assert tight.num_aux == loose.num_aux == len(tight.b_site) + len(tight.n_region)
    (n_tight, w_tight), (n_loose, w_loose) = _balance_weight(tight), _balance_weight(loose)
    assert n_tight == n_loose == data.num_regions * data.num_years
    assert w_tight < w_loose


@settings(max_examples=60, deadline=None)
@given(balanced())
def test_others_bound_is_the_brute_force_maximum(doc: dict[str, Any]) -> None:
    data = build_problem(parse_scenario(doc))
    builder = ModelBuilder(data, balance_form="sites")
    builder.variables()
    bound = builder._others_bound()
    region_max = data.quota_region_year[..., 1].cumsum(axis=1)
    region_min = data.quota_region_year[..., 0].cumsum(axis=1)
    year_max = data.quota_year[:, 1].cumsum()
    first = np.array(
        [br.start - data.start if len(br) else data.num_years for br in data.build_years]
    )
    for r in range(data.num_regions):
        for y in range(data.num_years):
            others = [
                s for s in range(data.num_sites) if data.site2region[s] != r and first[s] <= y
            ]
            best = 0
            for k in range(len(others) + 1):
                for chosen in combinations(others, k):
                    if k > year_max[y] - region_min[r, y]:
                        continue
                    counts = np.bincount(data.site2region[list(chosen)], minlength=data.num_regions)
                    if (counts > region_max[:, y]).any():
                        continue
                    best = max(best, int(data.weight[list(chosen)].sum()))
            assert bound[r, y] == best, (r, y)


def test_region_counts_match_a_real_plan() -> None:
    # N[r,y] counts the sites of r built by the end of y, and the region-year quotas hold over
    # the counts: on national-20x10's committed optimal plan, every row made only of x, B and
    # N columns (their definitions, balance, quotas over x and over N) holds.
    root = Path(__file__).parents[2] / "instances"
    data = build_problem(parse_scenario((root / "national-20x10.json").read_text()))
    model = build_model(data, balance_form="sites")
    plan = json.loads((root / "plans" / "national-20x10-optimal.json").read_text())
    options = {o: i for i, o in enumerate(data.option_ids)}
    builds = [
        (data.site_ids.index(b["site"]), options[b["option"]], b["year"]) for b in plan["builds"]
    ]
    hint = model.complete_hint(model.hint_from_builds(builds))
    n_offset = model.aux_offset + len(model.b_site)
    assert set(range(model.num_x)) | set(range(model.aux_offset, model.num_cols)) == set(hint)
    values = np.zeros(model.num_cols)
    values[list(hint)] = list(hint.values())
    built = np.zeros((data.num_regions, data.num_years), dtype=int)
    for b in plan["builds"]:
        built[data.region_ids.index(b["region"]), b["year"] - data.start :] += 1
    n = values[n_offset:]
    assert (n == built[model.n_region, model.n_year]).all()
    assert (n <= model.col_ub[n_offset:]).all()
    entry_row = np.repeat(np.arange(model.num_rows), np.diff(model.row_start))
    flows = (model.row_index >= model.a_offset) & (model.row_index < model.aux_offset)
    pure = np.bincount(entry_row[flows], minlength=model.num_rows) == 0
    lhs = np.bincount(
        entry_row, weights=model.row_value * values[model.row_index], minlength=model.num_rows
    )
    assert ((lhs >= model.row_lb - 1e-9) | ~pure).all() and (
        (lhs <= model.row_ub + 1e-9) | ~pure
    ).all()
    quota = [g for g, k in enumerate(model.groups) if k.group == "quota.region_year"]
    on_n = np.isin(model.row_group[entry_row], quota) & (model.row_index >= n_offset)
    assert len(np.unique(entry_row[on_n])) == data.num_regions * data.num_years


@pytest.mark.parametrize("name", ["conformance/tiny", "conformance/generated-b", "national-20x10"])
def test_the_column_bound_bounds_the_model_without_building_it(name: str) -> None:
    """``column_bound`` (a service refuses a model past RDPLAN_MAX_COLUMNS with it) is at
    least the columns built, and close: every x and a column exactly."""
    data = build_problem(parse_scenario(load(name)))
    built = build_model(data).num_cols
    assert built <= column_bound(data) <= built + data.num_sites + data.num_regions * data.num_years
    # and the conflict finder's, every window open
    relaxed = build_model(data, relaxed=True, balance_form="regions").num_cols
    assert (
        relaxed <= column_bound(data, relaxed=True) <= relaxed + 2 * data.num_sites * data.num_years
    )


def test_the_column_bound_counts_the_balance_form_the_model_takes() -> None:
    """Past SITES_BALANCE_MAX_TERMS the model's balance has a region's auxiliaries only: the
    bound counted a site's too, 26 % over, and a service refused a model within its limit."""
    doc = generate(regions=20, sites_per_region=100, years=30, crew_pools=4, seed=1)
    doc["balance"] = {"tolerance_pct": 15}
    data = build_problem(parse_scenario(doc))
    built = build_model(data).num_cols
    assert built <= column_bound(data) <= built + data.num_regions * data.num_years
