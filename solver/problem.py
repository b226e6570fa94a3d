"""Solver-independent, index-based problem data derived from a scenario.

Every backend, the evaluator and the conflict finder read this object; none of
them looks at the scenario document again. Indices follow the order of the
scenario's lists; years are offsets from ``horizon.start``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from solver.scenario import SCALE_LIMIT, PerYear, Scenario, haversine_km

UNBOUNDED = -1  # marks a missing quota bound in the integer arrays


def round_half_up(value: float) -> int:
    """SPEC §1 rounding: ``floor(v + 0.5)``."""
    return math.floor(value + 0.5)


def _per_year(value: PerYear | None, years: range, default: int) -> np.ndarray:
    if value is None:
        return np.full(len(years), default, dtype=np.int64)
    if isinstance(value, int):
        return np.full(len(years), value, dtype=np.int64)
    return np.array([value[str(y)] for y in years], dtype=np.int64)


@dataclass
class ProblemData:
    """Index-based view of a validated :class:`Scenario` (SPEC §2 derived data)."""

    scenario: Scenario
    start: int
    end: int
    region_ids: list[str]
    option_ids: list[str]
    site_ids: list[str]
    pool_ids: list[str]
    resource_ids: list[str]
    site2region: np.ndarray  # (S,)
    population: np.ndarray  # (S,)
    weight: np.ndarray  # (S,) w(s) of §2
    benefit: np.ndarray  # (S, O), -1 where the option is not allowed at the site
    site_options: list[list[int]]  # allowed options, after a fixed option
    window: np.ndarray  # (S, 2) earliest/latest as given (may reach outside the horizon)
    build_years: list[range]  # years the site may be built in, within the horizon
    required: np.ndarray  # (S,) bool: required or fixed
    fixed_year: np.ndarray  # (S,), -1 when not fixed
    fixed_option: np.ndarray  # (S,), -1 when no fixed option
    option_crews: np.ndarray  # (O,)
    option_technicians: np.ndarray  # (O,)
    option_resources: np.ndarray  # (O, Q)
    resource_limit: np.ndarray  # (Q, Y)
    pool_count: np.ndarray  # (K,)
    available: np.ndarray  # (K, Y)
    distance: np.ndarray  # (K, S) whole km, SPEC §2
    reach: np.ndarray  # (K, S) bool
    pool_class: np.ndarray  # (K,) the first pool interchangeable with k (same reach, distances)
    training_capacity: np.ndarray  # (R, Y), the t upper bound (need bound where unlimited)
    training_limited: np.ndarray  # (R,) bool
    trained_stock: np.ndarray  # (R,)
    lead_time: int
    quota_region_year: np.ndarray  # (R, Y, 2) min/max, UNBOUNDED where absent
    quota_year: np.ndarray  # (Y, 2)
    precedences: list[tuple[int, int, int]]  # (before, after, gap)
    balance_pct: int | None
    weights: dict[str, int]
    baseline: list[tuple[int, int, int]]  # (site, option, year) as given
    region_index: dict[str, int] = field(default_factory=dict)
    option_index: dict[str, int] = field(default_factory=dict)
    site_index: dict[str, int] = field(default_factory=dict)
    pool_index: dict[str, int] = field(default_factory=dict)

    @property
    def num_years(self) -> int:
        return self.end - self.start + 1

    @property
    def years(self) -> range:
        return range(self.start, self.end + 1)

    @property
    def num_sites(self) -> int:
        return len(self.site_ids)

    @property
    def num_regions(self) -> int:
        return len(self.region_ids)

    @property
    def num_pools(self) -> int:
        return len(self.pool_ids)

    @property
    def num_options(self) -> int:
        return len(self.option_ids)

    @cached_property
    def region2sites(self) -> list[np.ndarray]:
        return [np.flatnonzero(self.site2region == r) for r in range(self.num_regions)]

    @cached_property
    def region_weight(self) -> np.ndarray:
        """``W_r`` of SPEC §3.7 (every site of the region, optional ones included)."""
        return np.bincount(
            self.site2region, weights=self.weight, minlength=self.num_regions
        ).astype(np.int64)

    @property
    def has_crews(self) -> bool:
        return self.num_pools > 0

    @cached_property
    def class_available(self) -> np.ndarray:
        """(K, Y): a crew class's crews per year on its first pool, 0 on the others.

        Pools that reach the same sites at the same distances are interchangeable: the model
        has one ``a`` column per class, site and year, bounded by the class's crews
        (``docs/decisions.md``, "Interchangeable crew pools").
        """
        out = np.zeros_like(self.available)
        np.add.at(out, self.pool_class, self.available)
        return out

    @cached_property
    def class_members(self) -> dict[int, list[int]]:
        """A class's first pool -> its pools, in scenario order."""
        members: dict[int, list[int]] = {}
        for k, c in enumerate(self.pool_class.tolist()):
            members.setdefault(c, []).append(k)
        return members


def build_problem(scenario: Scenario) -> ProblemData:
    """Derive the index-based :class:`ProblemData` of a validated scenario."""
    sc = scenario
    years = sc.years
    start, end = sc.horizon.start, sc.horizon.end
    region_index = {r.id: i for i, r in enumerate(sc.regions)}
    option_index = {o.id: i for i, o in enumerate(sc.options)}
    site_index = {s.id: i for i, s in enumerate(sc.sites)}
    pool_index = {k.id: i for i, k in enumerate(sc.crews)}
    resource_index = {q.id: i for i, q in enumerate(sc.resources)}
    num_s, num_o, num_y = len(sc.sites), len(sc.options), len(years)

    site2region = np.array([region_index[s.region] for s in sc.sites], dtype=np.int64)
    population = np.array([s.population for s in sc.sites], dtype=np.int64)
    weight = np.array(
        [max(1, round_half_up(p / 1000)) for p in population.tolist()], dtype=np.int64
    )
    benefit = np.full((num_s, num_o), -1, dtype=np.int64)
    site_options: list[list[int]] = []
    window = np.zeros((num_s, 2), dtype=np.int64)
    build_years: list[range] = []
    fixed_year = np.full(num_s, -1, dtype=np.int64)
    fixed_option = np.full(num_s, -1, dtype=np.int64)
    required = np.zeros(num_s, dtype=bool)
    for i, s in enumerate(sc.sites):
        for o, value in s.benefit.items():
            benefit[i, option_index[o]] = value
        allowed = sorted(option_index[o] for o in s.benefit)
        lo = start if s.earliest is None else s.earliest
        hi = end if s.latest is None else s.latest
        window[i] = (lo, hi)
        required[i] = s.required
        if s.fixed is not None:
            fixed_year[i] = s.fixed.year
            lo = hi = s.fixed.year
            required[i] = True
            if s.fixed.option is not None:
                fixed_option[i] = option_index[s.fixed.option]
                allowed = [option_index[s.fixed.option]]
        site_options.append(allowed)
        build_years.append(range(max(lo, start), min(hi, end) + 1))

    option_crews = np.array([o.crews for o in sc.options], dtype=np.int64)
    option_technicians = np.array([o.technicians for o in sc.options], dtype=np.int64)
    option_resources = np.zeros((num_o, len(sc.resources)), dtype=np.int64)
    for i, option in enumerate(sc.options):
        for q, units in option.resources.items():
            option_resources[i, resource_index[q]] = units
    resource_limit = np.array(
        [_per_year(q.limit, years, 0) for q in sc.resources], dtype=np.int64
    ).reshape(len(sc.resources), num_y)

    num_k = len(sc.crews)
    pool_count = np.array([k.count for k in sc.crews], dtype=np.int64)
    available = np.array(
        [_per_year(k.available, years, k.count) for k in sc.crews], dtype=np.int64
    ).reshape(num_k, num_y)
    distance = np.zeros((num_k, num_s), dtype=np.int64)
    reach = np.zeros((num_k, num_s), dtype=bool)
    for k, pool in enumerate(sc.crews):
        regions = None if pool.regions is None else {region_index[r] for r in pool.regions}
        for i, s in enumerate(sc.sites):
            if regions is not None and int(site2region[i]) not in regions:
                continue
            assert s.lat is not None and s.lon is not None
            d = haversine_km(pool.lat, pool.lon, s.lat, s.lon)
            distance[k, i] = d
            reach[k, i] = pool.max_distance_km is None or d <= pool.max_distance_km

    # Interchangeable pools: the same reach and distances to every site.
    if num_k:
        key = np.where(reach, distance, -1)
        _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
        pool_class = first[inverse.ravel()].astype(np.int64)
    else:
        pool_class = np.zeros(0, dtype=np.int64)

    num_r = len(sc.regions)
    max_tech = np.zeros(num_s, dtype=np.int64)
    for i in range(num_s):
        max_tech[i] = max(int(option_technicians[o]) for o in site_options[i])
    need_bound = np.bincount(site2region, weights=max_tech, minlength=num_r).astype(np.int64)
    training_capacity = np.zeros((num_r, num_y), dtype=np.int64)
    training_limited = np.zeros(num_r, dtype=bool)
    for r, region in enumerate(sc.regions):
        if region.training_capacity is None:
            training_capacity[r] = need_bound[r]
        else:
            training_limited[r] = True
            training_capacity[r] = _per_year(region.training_capacity, years, 0)
    trained_stock = np.array([r.trained_stock for r in sc.regions], dtype=np.int64)

    quota_region_year = np.full((num_r, num_y, 2), UNBOUNDED, dtype=np.int64)
    quota_year = np.full((num_y, 2), UNBOUNDED, dtype=np.int64)
    quotas = sc.quotas
    if quotas.region_year is not None:
        quota_region_year[:, :, 0] = (
            UNBOUNDED if quotas.region_year.min is None else quotas.region_year.min
        )
        quota_region_year[:, :, 1] = (
            UNBOUNDED if quotas.region_year.max is None else quotas.region_year.max
        )
    for ov in quotas.overrides:
        quota_region_year[region_index[ov.region], ov.year - start] = (
            UNBOUNDED if ov.min is None else ov.min,
            UNBOUNDED if ov.max is None else ov.max,
        )
    if quotas.year is not None:
        quota_year[:, 0] = UNBOUNDED if quotas.year.min is None else quotas.year.min
        quota_year[:, 1] = UNBOUNDED if quotas.year.max is None else quotas.year.max

    return ProblemData(
        scenario=sc,
        start=start,
        end=end,
        region_ids=[r.id for r in sc.regions],
        option_ids=[o.id for o in sc.options],
        site_ids=[s.id for s in sc.sites],
        pool_ids=[k.id for k in sc.crews],
        resource_ids=[q.id for q in sc.resources],
        site2region=site2region,
        population=population,
        weight=weight,
        benefit=benefit,
        site_options=site_options,
        window=window,
        build_years=build_years,
        required=required,
        fixed_year=fixed_year,
        fixed_option=fixed_option,
        option_crews=option_crews,
        option_technicians=option_technicians,
        option_resources=option_resources,
        resource_limit=resource_limit,
        pool_count=pool_count,
        available=available,
        distance=distance,
        reach=reach,
        pool_class=pool_class,
        training_capacity=training_capacity,
        training_limited=training_limited,
        trained_stock=trained_stock,
        lead_time=sc.training.lead_time,
        quota_region_year=quota_region_year,
        quota_year=quota_year,
        precedences=[(site_index[p.before], site_index[p.after], p.gap) for p in sc.precedences],
        balance_pct=None if sc.balance is None else sc.balance.tolerance_pct,
        weights=sc.objective.model_dump(),
        baseline=[(site_index[b.site], option_index[b.option], b.year) for b in sc.baseline],
        region_index=region_index,
        option_index=option_index,
        site_index=site_index,
        pool_index=pool_index,
    )


def scale_report(scenario: Scenario) -> list[tuple[str, str]]:
    """SPEC §1 scale limit per constraint family: ``(path, message)`` for each breach.

    For the objective and for each row of §3 as the SPEC writes it, the sum over its
    variables of |coefficient| × (the variable's largest value), plus its constant: ``x`` is
    at most 1 and exists for a site's options and build years, ``a[k,s,y]`` at most
    ``available(k,y)`` where the pool reaches the site, ``t[r,y]`` at most its capacity (the
    region's need where unlimited). Each family reports its largest row. Sums that could
    pass 2^63 are Python integers.
    """
    data = build_problem(scenario)
    out: list[tuple[str, str]] = []
    w = data.weights
    end = data.end

    def check(path: str, what: str, value: int) -> None:
        if value > SCALE_LIMIT:
            out.append((path, f"{what} reaches {value:.3e} > 2^53, the scale limit of SPEC §1"))

    sites = range(data.num_sites)
    options = [data.site_options[s] for s in sites]
    n_years = [len(data.build_years[s]) for s in sites]
    n_x = [len(options[s]) * n_years[s] for s in sites]  # x[s,o,y] columns of each site
    available = data.available.astype(np.int64)  # (K, Y), each at most 1e9
    reach = data.reach.astype(np.int64)
    # the objective (§3.8): benefit accrues (end - y + 1) times for a build in year y
    benefit = sum(
        int(data.benefit[s, o]) * sum(end - y + 1 for y in data.build_years[s])
        for s in sites
        for o in options[s]
    )
    km = (data.distance.astype(np.int64) * reach).sum(axis=1)  # (K,) km to every site reached
    mobilization = sum(int(km[k]) * int(available[k].sum()) for k in range(data.num_pools))
    training = sum(int(v) for v in data.training_capacity.ravel())
    objective = (
        w["benefit"] * benefit
        + w["mobilization"] * mobilization
        + w["training"] * training
        + w["stability"] * len(data.baseline)
    )
    check("objective", "the objective", objective)
    # §3.4, region r in the last year (its largest row): the stock, every trainee in time
    # (t[r,y'] for y' <= end - lead_time), and the staff of every option of every site
    tech = [int(v) for v in data.option_technicians]
    in_time = max(0, data.num_years - data.lead_time)
    for r in range(data.num_regions):
        staff = sum(tech[o] * n_years[s] for s in data.region2sites[r] for o in options[s])
        trained = sum(int(v) for v in data.training_capacity[r, :in_time])
        row = int(data.trained_stock[r]) + trained + staff
        check(f"regions[{r}]", "the technicians rows (§3.4)", row)
    # §3.5, resource q in year y: every option's use at every site buildable that year
    buildable = np.zeros((data.num_sites, data.num_years), dtype=np.int64)
    for s in sites:
        for y in data.build_years[s]:
            buildable[s, y - data.start] = 1
    for q in range(len(data.resource_ids)):
        use = np.array(
            [sum(int(data.option_resources[o, q]) for o in options[s]) for s in sites],
            dtype=np.int64,
        )
        rows = use @ buildable + data.resource_limit[q].astype(np.int64)
        check(f"resources[{q}]", "the resource rows (§3.5)", int(rows.max(initial=0)))
    # §3.3: a pool's row (its crews at every site it reaches, and its availability) and a
    # site's (every pool reaching it, and its options' crews)
    if data.has_crews:
        pools = (reach.sum(axis=1) + 1) * available.max(axis=1, initial=0)
        crews = [sum(int(data.option_crews[o]) for o in options[s]) for s in sites]
        at_site = (reach.T @ available).max(axis=1, initial=0)  # (S,) the year's pools
        rows = [int(v) for v in pools] + [int(at_site[s]) + crews[s] for s in sites]
        check("crews", "the crew rows (§3.3)", max(rows, default=0))
    # §3.7, region r in the last year: an x of one of r's sites has the coefficient
    # 100·w(s)·(W - W_r), of another site's 100·W_r·w(s); the constant is δ·W_r·W
    if data.balance_pct is not None:
        weight = [int(v) for v in data.weight]
        whole = sum(weight)
        every = sum(weight[s] * n_x[s] for s in sites)
        worst = 0
        for r in range(data.num_regions):
            w_r = int(data.region_weight[r])
            inside = sum(weight[s] * n_x[s] for s in data.region2sites[r])
            row = (
                data.balance_pct * w_r * whole
                + 100 * (whole - w_r) * inside
                + 100 * w_r * (every - inside)
            )
            worst = max(worst, row)
        check("balance", "the balance rows (§3.7)", worst)
    return out
