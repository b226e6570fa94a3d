"""Integral crews and trainees for given builds: what makes continuous ``a`` and ``t`` exact.

Once the builds ``x`` are fixed, what is left of SPEC §3 splits in two:

* **crews** (§3.3), year by year: pools with ``available(k, y)`` crews (a class of
  interchangeable pools as one, with their crews together: ``ProblemData.class_available``),
  each site built in ``y`` needing ``crews(o)`` of them from pools that reach it, at
  ``w_mobilization · dist`` a crew — a transportation problem. Its constraint matrix is the
  incidence matrix of a bipartite graph (totally unimodular) and its data are integers, so it
  has an integral optimum: a min-cost flow, solved here exactly with OR-Tools' network simplex.
* **trainees** (§3.4), region by region: cumulative sums ``stock + Σ_{y' <= y-L} t[y'] >=
  need(y)`` with ``lb(y') <= t[y'] <= capacity(y')`` at ``w_training`` each (``lb`` is 0 but
  in a re-plan's frozen years, whose training is history: ``solver.replan.fix_training``).
  Every trainee costs the same, so the least total is optimal; training each year as late as
  the capacities allow (a backward pass) reaches it with integers.

So for every integral ``x`` the best continuous ``a``/``t`` are matched by integral ones of
the same cost: the MILP with ``a`` and ``t`` continuous has the same optimum ``Z`` as the
SPEC model, and its dual bounds are bounds on ``Z``. HiGHS and CBC solve that smaller MILP
(only ``x`` branches); :func:`integral_flows` turns their answer into an integral one, which
the evaluator then checks like every plan (``docs/decisions.md``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from ortools.graph.python import min_cost_flow

from solver.model import MatrixModel


class FlowRepairError(RuntimeError):
    """The builds admit no crews or trainees: the solver's ``x`` was not feasible."""


#: ``{(site, year): [(pool, count)]}``: a plan's crews by build (``solver.replan.baseline_crews``).
Crews = Mapping[tuple[str, int], list[tuple[str, int]]]


def integral_flows(
    model: MatrixModel, values: np.ndarray, prefer: np.ndarray | None = None
) -> np.ndarray:
    """``values`` with ``x`` rounded and ``a``/``t`` replaced by optimal integers for that ``x``
    (``prefer``: :func:`crew_preference`, the crews kept among equally cheap ones)."""
    out = cheapest_crews(model, values, prefer)
    out[model.t_offset : model.aux_offset] = _trainees(model, out[: model.num_x].astype(np.int64))
    if model.num_aux:
        out[model.aux_offset :] = np.rint(out[model.aux_offset :])
    return out


def cheapest_crews(
    model: MatrixModel, values: np.ndarray, prefer: np.ndarray | None = None
) -> np.ndarray:
    """``values`` with ``x`` rounded and the cheapest crews for those builds, and among them
    the ones of ``prefer`` wherever they are as cheap (:func:`crew_preference`)."""
    out = np.asarray(values, dtype=np.float64).copy()
    x = np.rint(out[: model.num_x]).astype(np.int64)
    out[: model.num_x] = x
    out[model.a_offset : model.t_offset] = _crews(model, x, prefer)
    return out


def crew_preference(model: MatrixModel, crews: Crews) -> np.ndarray:
    """Crews per crew column of ``model`` (its pool class, site and year) of another plan's
    ``crews``: what :func:`integral_flows` keeps among equally cheap crews. Sites, pools and
    years the model does not have are left out."""
    d = model.data
    out = np.zeros(len(model.a_pool), dtype=np.int64)
    rows = [
        (int(d.pool_class[d.pool_index[pool]]), d.site_index[site], year - d.start, count)
        for (site, year), assigned in crews.items()
        if site in d.site_index and d.start <= year <= d.end
        for pool, count in assigned
        if pool in d.pool_index
    ]
    if not rows or not len(out):
        return out
    want = np.asarray(rows, dtype=np.int64)
    num_s, num_y = len(d.site_ids), d.num_years
    key = (model.a_pool * num_s + model.a_site) * num_y + model.a_year
    order = np.argsort(key, kind="stable")
    wanted = (want[:, 0] * num_s + want[:, 1]) * num_y + want[:, 2]
    at = np.clip(np.searchsorted(key[order], wanted), 0, len(key) - 1)
    found = key[order][at] == wanted
    np.add.at(out, order[at[found]], want[found, 3])
    return out


def _crews(model: MatrixModel, x: np.ndarray, prefer: np.ndarray | None = None) -> np.ndarray:
    """Optimal integral crews for the builds ``x``, year by year; with ``prefer`` (crews per
    column), the cheapest that send the fewest crews beyond it: every unit cost is scaled by
    more than the year's crews, and a crew beyond ``prefer`` costs one more — lexicographic,
    so the crews' cost is still the least."""
    d = model.data
    a = np.zeros(model.t_offset - model.a_offset, dtype=np.int64)
    if len(a) == 0:
        return a
    built = np.flatnonzero(x > 0)
    need = d.option_crews[model.x_option[built]]
    built, need = built[need > 0], need[need > 0]
    if len(built) == 0:
        return a
    cost = d.distance[model.a_pool, model.a_site] * int(d.weights["mobilization"])
    for y in np.unique(model.x_year[built]).tolist():
        sites = model.x_site[built[model.x_year[built] == y]]
        demand = need[model.x_year[built] == y]
        arcs = np.flatnonzero((model.a_year == y) & np.isin(model.a_site, sites))
        pools = np.unique(model.a_pool[arcs])
        # Nodes: 0 source, 1 sink, pools, then sites.
        pool_node = {int(k): 2 + i for i, k in enumerate(pools.tolist())}
        site_node = {int(s): 2 + len(pools) + i for i, s in enumerate(sites.tolist())}
        total = int(demand.sum())
        scale = total + 1 if prefer is not None else 1
        flow = min_cost_flow.SimpleMinCostFlow()
        flow.add_arcs_with_capacity_and_unit_cost(
            np.zeros(len(pools), dtype=np.int32),
            np.array([pool_node[k] for k in pools.tolist()], dtype=np.int32),
            d.class_available[pools, y].astype(np.int64),
            np.zeros(len(pools), dtype=np.int64),
        )
        tails = np.array([pool_node[int(k)] for k in model.a_pool[arcs].tolist()], dtype=np.int32)
        heads = np.array([site_node[int(s)] for s in model.a_site[arcs].tolist()], dtype=np.int32)
        capacity = d.class_available[model.a_pool[arcs], y].astype(np.int64)
        unit = cost[arcs].astype(np.int64) * scale
        beyond = None
        if prefer is None:
            crew_arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacity, unit)
        else:  # the preferred crews at cost, any other one at cost + 1
            kept = np.minimum(prefer[arcs], capacity)
            crew_arcs = flow.add_arcs_with_capacity_and_unit_cost(tails, heads, kept, unit)
            beyond = flow.add_arcs_with_capacity_and_unit_cost(
                tails, heads, capacity - kept, unit + 1
            )
        flow.add_arcs_with_capacity_and_unit_cost(
            np.array([site_node[int(s)] for s in sites.tolist()], dtype=np.int32),
            np.ones(len(sites), dtype=np.int32),
            demand.astype(np.int64),
            np.zeros(len(sites), dtype=np.int64),
        )
        flow.set_nodes_supplies(np.array([0, 1], dtype=np.int32), np.array([total, -total]))
        if flow.solve() != flow.OPTIMAL:
            flow.solve_max_flow_with_min_cost()
            raise FlowRepairError(
                f"the builds of {d.start + int(y)} need {total} crews; the pools that reach"
                f" them can send {flow.maximum_flow()}"
            )
        a[arcs] = flow.flows(crew_arcs)
        if beyond is not None:
            a[arcs] += flow.flows(beyond)
    return a


def _trainees(model: MatrixModel, x: np.ndarray) -> np.ndarray:
    d = model.data
    t = np.zeros(model.aux_offset - model.t_offset, dtype=np.int64)
    if len(t) == 0:
        return t
    num_y, lead = d.num_years, d.lead_time
    # need[r, y]: technicians for the factories opened in y.
    need = np.zeros((d.num_regions, num_y), dtype=np.int64)
    tech = d.option_technicians[model.x_option] * x
    np.add.at(need, (d.site2region[model.x_site], model.x_year), tech)
    cap = np.zeros((d.num_regions, num_y), dtype=np.int64)
    cap[model.t_region, model.t_year] = np.minimum(
        d.training_capacity[model.t_region, model.t_year],
        np.floor(model.col_ub[model.t_offset : model.aux_offset] + 1e-9).astype(np.int64),
    )
    low = np.zeros((d.num_regions, num_y), dtype=np.int64)
    low[model.t_region, model.t_year] = np.ceil(
        model.col_lb[model.t_offset : model.aux_offset] - 1e-9
    ).astype(np.int64)
    col = np.full((d.num_regions, num_y), -1, dtype=np.int64)
    col[model.t_region, model.t_year] = np.arange(len(t))
    for r in np.unique(model.t_region).tolist():
        # C[j] = trainees finished by year j must cover the rows y = j + L:
        # C[j] >= need_cum[j + L] - stock, and C never decreases.
        short = np.cumsum(need[r]) - d.trained_stock[r]
        if lead:
            if (short[:lead] > 0).any():
                raise FlowRepairError(
                    f"region {d.region_ids[r]}: technicians short before training"
                )
            required = np.concatenate([short[lead:], np.full(lead, short[-1])])
        else:
            required = short
        required = np.maximum.accumulate(np.maximum(required, 0))
        # Years with a least training (a frozen year's): the trainees finished by j are at
        # least the required ones of an earlier year k plus every least amount after k.
        for j in range(num_y):
            required[j] = max(required[j], (required[j - 1] if j else 0) + low[r, j])
        cum = np.zeros(num_y, dtype=np.int64)
        cum[-1] = required[-1]
        for j in range(num_y - 1, 0, -1):
            cum[j - 1] = max(required[j - 1], cum[j] - cap[r, j])
        if cum[0] > cap[r, 0]:
            raise FlowRepairError(f"region {d.region_ids[r]}: training capacity too small")
        per_year = np.diff(cum, prepend=0)
        years = np.flatnonzero(per_year > 0)
        if (col[r, years] < 0).any():
            raise FlowRepairError(
                f"region {d.region_ids[r]}: trainees needed in a year without training"
            )
        t[col[r, years]] = per_year[years]
    return t
