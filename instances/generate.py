"""Seeded synthetic scenarios in the shape of ``shared/examples/generated-a.json``.

``generate(regions, sites_per_region, years, crew_pools, seed)`` returns a scenario
document, :func:`generate_with_witness` also a plan that proves it feasible;
``python -m instances.generate --regions R --sites-per-region N --years Y
--crew-pools K --seed S [--out FILE]`` writes one.

Every scenario is feasible by construction. The generator first draws a
*witness* plan — ``q = sites_per_region // years`` sites per region and year
(one site a year for ``q = 0``), each in the ``basic`` design — and then sizes
everything around it:

* the region quota is ``min = max = q`` (``0..1`` when ``q = 0``); a site the
  witness leaves out is optional, a site's ``earliest`` never passes its
  witness year, a precedence runs from an earlier to a later witness site;
* each region has home crew pools (pool ``k`` is at home in region ``k mod R``,
  or region ``r`` in pool ``r mod K`` when pools are fewer than regions); a
  pool serves its home regions and the one or two regions nearest its base,
  reaches every home site within its ``max_distance_km``, and home pools have
  enough crews every year for the witness's ``basic`` builds;
* trained stock and training capacity each cover a witness year of ``basic``
  technicians; the resource limits cover a witness year of ``basic`` builds;
* a requested balance tolerance is raised, if needed, to the smallest one the
  witness meets.

The optimiser then trades the larger designs (more crews, technicians,
resources, benefit) against those limits. Random draws come from one
``random.Random(seed)`` in a fixed order, so a seed gives the same document.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path
from typing import Any

from instances.serialize import dumps, write_json
from solver import argtypes
from solver.scenario import haversine_km

OPTIONS: list[dict[str, Any]] = [
    {"id": "basic", "crews": 1, "technicians": 20, "resources": {"steel": 2, "funds": 30}},
    {"id": "standard", "crews": 2, "technicians": 35, "resources": {"steel": 4, "funds": 55}},
    {"id": "large", "crews": 3, "technicians": 55, "resources": {"steel": 7, "funds": 90}},
]
OBJECTIVE = {"benefit": 1, "mobilization": 2, "training": 1, "stability": 0}

# Where regions and pools are drawn: roughly the DPRK's extent, degrees.
LAT_RANGE = (37.7, 42.6)
LON_RANGE = (124.3, 130.3)
SITE_SPREAD_DEG = 0.35
POOL_SPREAD_DEG = 0.5
# Population: log-normal around ~60,000 persons, clipped.
POPULATION_LOG_MEAN = 11.0
POPULATION_LOG_SD = 0.55
POPULATION_RANGE = (5_000, 800_000)
# Benefit per 1,000 persons and year, drawn per site and option.
BENEFIT_RATE = {"basic": (7.0, 13.0), "standard": (9.0, 21.0), "large": (12.0, 27.0)}
OPTION_SHARE = {"standard": 0.8, "large": 0.8}
REQUIRED_SHARE = 0.75
EARLIEST_SHARE = 0.15
POOL_MAX_DISTANCE_SHARE = 0.3
POOL_MAX_DISTANCE_MARGIN_KM = (50, 200)
POOL_AVAILABLE_SHARE = 0.3
POOL_COUNT_RANGE = (2, 5)
STOCK_FACTOR = (1.0, 2.75)
CAPACITY_FACTOR = (1.5, 3.5)
STEEL_PER_SITE = (4.5, 5.5)
FUNDS_PER_SITE = 60

KEYWORDS = ("balance_pct", "precedences", "name")


def _ceil_to(value: float, step: int) -> int:
    return int(math.ceil(value / step) * step)


def _width(count: int) -> int:
    return max(2, len(str(count - 1)))


#: The largest scenario generated: 33x the issue's continental size (3,000 sites, 300 pools),
#: a few hundred MB of JSON at most. Without a cap 100,000 x 100,000 sites ran the machine out
#: of memory (23 GB) before a word was said.
MAX_SITES = 100_000
MAX_CREW_POOLS = 10_000


def _check(regions: int, sites_per_region: int, years: int, crew_pools: int, start: int) -> None:
    if regions < 1 or sites_per_region < 1 or crew_pools < 1:
        raise ValueError("regions, sites_per_region and crew_pools must be at least 1")
    if regions * sites_per_region > MAX_SITES:
        raise ValueError(
            f"regions x sites_per_region is {regions * sites_per_region:,} sites; at most "
            f"{MAX_SITES:,} are generated"
        )
    if crew_pools > MAX_CREW_POOLS:
        raise ValueError(f"crew_pools is {crew_pools:,}; at most {MAX_CREW_POOLS:,} are generated")
    if not 1 <= years <= 50:
        raise ValueError("years must lie in 1..50 (SPEC §2 horizon)")
    if start < 1900 or start + years - 1 > 2200:
        raise ValueError("the horizon must lie in 1900..2200")


def _witness_years(rng: random.Random, num_sites: int, years: list[int]) -> list[int | None]:
    """Witness build year of each site of one region: q a year, or one a year when q = 0."""
    q = num_sites // len(years)
    slots = [y for y in years for _ in range(q)] if q else rng.sample(years, num_sites)
    order = list(range(num_sites))
    rng.shuffle(order)
    witness: list[int | None] = [None] * num_sites
    for index, year in zip(order, slots, strict=False):
        witness[index] = year
    return witness


def _home_groups(regions: int, crew_pools: int) -> list[tuple[list[int], list[int]]]:
    """(pools, regions) pairs whose pools alone build those regions' witness sites.

    Pool ``k`` is at home in region ``k mod R``; with fewer pools than regions,
    region ``r`` is at home in pool ``r mod K``.
    """
    if crew_pools >= regions:
        return [(list(range(r, crew_pools, regions)), [r]) for r in range(regions)]
    return [([k], list(range(k, regions, crew_pools))) for k in range(crew_pools)]


def _balance_needed(
    sites: list[dict[str, Any]], witness: list[int | None], regions: list[str], years: list[int]
) -> int:
    """Smallest tolerance (SPEC §3.7) that the witness plan meets."""
    weight = [max(1, math.floor(s["population"] / 1000 + 0.5)) for s in sites]
    region_weight = dict.fromkeys(regions, 0)
    for site, w in zip(sites, weight, strict=True):
        region_weight[site["region"]] += w
    total = sum(region_weight.values())
    needed = 0
    for year in years:
        served = dict.fromkeys(regions, 0)
        for site, w, built in zip(sites, weight, witness, strict=True):
            if built is not None and built <= year:
                served[site["region"]] += w
        served_total = sum(served.values())
        for r in regions:
            # 100·W·S_r >= 100·W_r·S − δ·W_r·W  <=>  δ >= 100·(W_r·S − W·S_r) / (W_r·W)
            lack = 100 * (region_weight[r] * served_total - total * served[r])
            needed = max(needed, -(-lack // (region_weight[r] * total)))
    return needed


def _clip(value: float, bounds: tuple[int, int]) -> int:
    return int(min(max(value, bounds[0]), bounds[1]))


def _sites(
    rng: random.Random,
    region_ids: list[str],
    centres: list[tuple[float, float]],
    sites_per_region: int,
    horizon: list[int],
) -> tuple[list[dict[str, Any]], list[int | None]]:
    """Sites region by region, and the witness year of each (None: not in the witness)."""
    site_width = _width(sites_per_region)
    sites: list[dict[str, Any]] = []
    witness: list[int | None] = []
    for (centre_lat, centre_lon), region in zip(centres, region_ids, strict=True):
        region_witness = _witness_years(rng, sites_per_region, horizon)
        for i, built in enumerate(region_witness):
            population = _clip(
                rng.lognormvariate(POPULATION_LOG_MEAN, POPULATION_LOG_SD), POPULATION_RANGE
            )
            lat = round(centre_lat + rng.gauss(0, SITE_SPREAD_DEG), 4)
            lon = round(centre_lon + rng.gauss(0, SITE_SPREAD_DEG), 4)
            offered = ["basic"] + [o for o, share in OPTION_SHARE.items() if rng.random() < share]
            site: dict[str, Any] = {
                "id": f"{region}-S{i:0{site_width}d}",
                "region": region,
                "population": population,
                "lat": lat,
                "lon": lon,
                "benefit": {
                    o: round(population / 1000 * rng.uniform(*BENEFIT_RATE[o])) for o in offered
                },
            }
            if rng.random() < EARLIEST_SHARE:
                site["earliest"] = rng.randint(
                    horizon[0], built if built is not None else horizon[-1]
                )
            if built is None or rng.random() >= REQUIRED_SHARE:
                site["required"] = False
            sites.append(site)
        witness.extend(region_witness)
    return sites, witness


def _crew_pools(
    rng: random.Random,
    region_ids: list[str],
    centres: list[tuple[float, float]],
    sites: list[dict[str, Any]],
    demand: list[list[int]],
    crew_pools: int,
    horizon: list[int],
) -> list[dict[str, Any]]:
    """Pools near their home regions, topped up so that home pools alone can build the witness."""
    regions = len(region_ids)
    sites_per_region = len(sites) // regions
    groups = _home_groups(regions, crew_pools)
    home_regions: list[list[int]] = [[] for _ in range(crew_pools)]
    for pools, served in groups:
        for k in pools:
            home_regions[k].extend(served)

    crews: list[dict[str, Any]] = []
    available: list[list[int]] = []
    per_year_given: list[bool] = []
    for k, home in enumerate(home_regions):
        lat = round(centres[home[0]][0] + rng.gauss(0, POOL_SPREAD_DEG), 4)
        lon = round(centres[home[0]][1] + rng.gauss(0, POOL_SPREAD_DEG), 4)
        count = rng.randint(*POOL_COUNT_RANGE)
        pool: dict[str, Any] = {
            "id": f"P{k:0{_width(crew_pools)}d}",
            "count": count,
            "lat": lat,
            "lon": lon,
        }
        by_distance = sorted(range(regions), key=lambda r: haversine_km(lat, lon, *centres[r]))
        near = [r for r in by_distance if r not in home][: rng.randint(1, 2)]
        pool["regions"] = [region_ids[r] for r in sorted(set(home) | set(near))]
        if rng.random() < POOL_MAX_DISTANCE_SHARE:
            farthest = max(
                haversine_km(lat, lon, s["lat"], s["lon"])
                for r in home
                for s in sites[r * sites_per_region : (r + 1) * sites_per_region]
            )
            pool["max_distance_km"] = farthest + rng.randint(*POOL_MAX_DISTANCE_MARGIN_KM)
        given = rng.random() < POOL_AVAILABLE_SHARE
        available.append(
            [rng.randint(1, count) for _ in horizon] if given else [count] * len(horizon)
        )
        per_year_given.append(given)
        crews.append(pool)

    for pools, served in groups:
        for t in range(len(horizon)):
            short = sum(demand[r][t] for r in served) - sum(available[k][t] for k in pools)
            if short > 0:
                available[pools[0]][t] += short
    for pool, per_year, given in zip(crews, available, per_year_given, strict=True):
        pool["count"] = max(pool["count"], *per_year) if given else max(per_year)
        if given:
            pool["available"] = {str(y): n for y, n in zip(horizon, per_year, strict=True)}
    return crews


def _witness_plan(doc: dict[str, Any], witness: list[int | None]) -> dict[str, Any]:
    """The witness as a plan document's ``builds`` and ``training`` (SPEC §4).

    Each group's witness sites take one crew each from the group's pools; each
    region trains in year ``y`` the technicians of its witness builds of ``y + 1``.
    """
    regions = [r["id"] for r in doc["regions"]]
    sites = doc["sites"]
    per_region = len(sites) // len(regions)
    start, end = doc["horizon"]["start"], doc["horizon"]["end"]
    basic = OPTIONS[0]
    by_region_year: dict[tuple[int, int], list[int]] = {}
    for index, year in enumerate(witness):
        if year is not None:
            by_region_year.setdefault((index // per_region, year), []).append(index)

    builds: list[dict[str, Any]] = []
    for pools, served in _home_groups(len(regions), len(doc["crews"])):
        for year in range(start, end + 1):
            left = {k: _available(doc["crews"][k], year) for k in pools}
            for r in served:
                for index in by_region_year.get((r, year), []):
                    k = next(k for k in pools if left[k] > 0)
                    left[k] -= 1
                    pool, site = doc["crews"][k], sites[index]
                    distance = haversine_km(pool["lat"], pool["lon"], site["lat"], site["lon"])
                    builds.append(
                        {
                            "site": site["id"],
                            "region": site["region"],
                            "year": year,
                            "option": basic["id"],
                            "crews": [{"pool": pool["id"], "count": 1, "distance_km": distance}],
                        }
                    )
    training = [
        {"region": region, "year": year, "trainees": len(members) * basic["technicians"]}
        for r, region in enumerate(regions)
        for year in range(start, end)
        if (members := by_region_year.get((r, year + 1), []))
    ]
    builds.sort(key=lambda b: (b["year"], b["region"], b["site"]))
    return {"builds": builds, "training": training}


def _available(pool: dict[str, Any], year: int) -> int:
    per_year = pool.get("available")
    return pool["count"] if per_year is None else int(per_year[str(year)])


def generate(
    regions: int,
    sites_per_region: int,
    years: int,
    crew_pools: int,
    seed: int,
    start: int = 2030,
    **kw: Any,
) -> dict[str, Any]:
    """A feasible synthetic scenario (SPEC §2) with the requested sizes.

    Keyword options: ``balance_pct`` (int, adds ``balance`` with at least this
    tolerance), ``precedences`` (int, number of precedence pairs, default 0),
    ``name`` (str, default ``gen-R-N-Y-K-sS``).
    """
    return generate_with_witness(regions, sites_per_region, years, crew_pools, seed, start, **kw)[0]


def generate_with_witness(
    regions: int,
    sites_per_region: int,
    years: int,
    crew_pools: int,
    seed: int,
    start: int = 2030,
    **kw: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """:func:`generate`'s scenario and its witness plan, the certificate that it is feasible.

    The witness is a plan document's ``builds`` and ``training`` (SPEC §4) that
    meets every rule of SPEC §3; the objective fields are left out.
    """
    unknown = set(kw) - set(KEYWORDS)
    if unknown:
        raise TypeError(f"unknown keyword arguments: {sorted(unknown)}")
    _check(regions, sites_per_region, years, crew_pools, start)
    balance_pct: int | None = kw.get("balance_pct")
    num_precedences: int = kw.get("precedences", 0)
    if balance_pct is not None and not 0 <= balance_pct <= 100:
        raise ValueError(
            f"balance must be a tolerance in 0..100 percentage points, not {balance_pct}"
        )
    if num_precedences < 0:
        raise ValueError(f"precedences must be a count of pairs (0 or more), not {num_precedences}")
    if len(kw.get("name") or "") > 200:  # SPEC §1: a name is at most 200 characters
        raise ValueError(f"a name has at most 200 characters, not {len(kw['name'])}")
    name: str = kw.get("name") or f"gen-{regions}-{sites_per_region}-{years}-{crew_pools}-s{seed}"

    rng = random.Random(seed)
    horizon = list(range(start, start + years))
    q = sites_per_region // years
    region_ids = [f"R{r:0{_width(regions)}d}" for r in range(regions)]
    centres = [(rng.uniform(*LAT_RANGE), rng.uniform(*LON_RANGE)) for _ in range(regions)]
    sites, witness = _sites(rng, region_ids, centres, sites_per_region, horizon)
    # Witness builds per region and year: each is a basic build, one crew.
    demand = [[0] * years for _ in range(regions)]
    for index, built in enumerate(witness):
        if built is not None:
            demand[index // sites_per_region][built - start] += 1
    crews = _crew_pools(rng, region_ids, centres, sites, demand, crew_pools, horizon)

    basic = OPTIONS[0]
    region_docs = []
    for r, region in enumerate(region_ids):
        peak = max(demand[r]) * basic["technicians"]
        region_docs.append(
            {
                "id": region,
                "name": f"Region {r}",
                "training_capacity": _ceil_to(peak * rng.uniform(*CAPACITY_FACTOR), 10),
                "trained_stock": _ceil_to(peak * rng.uniform(*STOCK_FACTOR), 10),
            }
        )
    peak_sites = max(sum(demand[r][t] for r in range(regions)) for t in range(years))
    steel = max(
        math.ceil(peak_sites * rng.uniform(*STEEL_PER_SITE)),
        peak_sites * basic["resources"]["steel"],
    )
    resources = [
        {"id": "steel", "limit": steel},
        {"id": "funds", "limit": {str(y): peak_sites * FUNDS_PER_SITE for y in horizon}},
    ]

    doc: dict[str, Any] = {
        "schema_version": 1,
        "name": name,
        "horizon": {"start": start, "end": horizon[-1]},
        "regions": region_docs,
        "options": OPTIONS,
        "sites": sites,
        "crews": crews,
        "resources": resources,
        "quotas": {"region_year": {"min": q, "max": q} if q else {"min": 0, "max": 1}},
    }
    precedences = _precedences(rng, sites, witness, num_precedences)
    if precedences:
        doc["precedences"] = precedences
    doc["training"] = {"lead_time": 1}
    if balance_pct is not None:
        needed = _balance_needed(sites, witness, region_ids, horizon)
        doc["balance"] = {"tolerance_pct": min(100, max(balance_pct, needed))}
    doc["objective"] = OBJECTIVE
    return doc, _witness_plan(doc, witness)


def _precedences(
    rng: random.Random, sites: list[dict[str, Any]], witness: list[int | None], count: int
) -> list[dict[str, Any]]:
    """Up to ``count`` pairs inside a region, each from an earlier to a later witness site.

    The gap (0 or 1) never exceeds the witness years between the two, so the
    witness keeps every pair.
    """
    year_of = {index: year for index, year in enumerate(witness) if year is not None}
    by_region: dict[str, list[int]] = {}
    for index in year_of:
        by_region.setdefault(sites[index]["region"], []).append(index)
    candidates = [members for members in by_region.values() if len(members) >= 2]
    pairs: dict[tuple[int, int], int] = {}
    # no more draws than the pairs there are allow: a count far past them spun for minutes
    possible = sum(len(members) * (len(members) - 1) // 2 for members in candidates)
    for _ in range(min(count, possible) * 20):
        if len(pairs) >= count or not candidates:
            break
        p, s = sorted(rng.sample(rng.choice(candidates), 2), key=year_of.__getitem__)
        gap = year_of[s] - year_of[p]
        if gap == 0 or (p, s) in pairs:
            continue
        pairs[p, s] = rng.randint(0, min(1, gap))
    return [
        {"before": sites[p]["id"], "after": sites[s]["id"], "gap": gap}
        for (p, s), gap in pairs.items()
    ]


def _out_path(text: str) -> Path:
    """argparse type of ``--out``: a file (its folder made if missing), not stdin's ``-``."""
    if text == "-":  # it wrote a file named "-"
        raise argparse.ArgumentTypeError("'-' is not a file: leave --out out for stdout")
    return Path(text)


def main(argv: list[str] | None = None) -> int:
    """``rdplan generate`` / ``python -m instances.generate``: write one scenario."""
    parser = argparse.ArgumentParser(
        prog="rdplan generate",
        description="Write a seeded, feasible synthetic scenario.",
    )
    parser.add_argument("--regions", type=int, required=True)
    parser.add_argument("--sites-per-region", type=int, required=True)
    parser.add_argument("--years", type=int, required=True)
    parser.add_argument("--crew-pools", type=int, required=True)
    # the range of every other rdplan seed (solve, batch, bench): -1 was taken here
    parser.add_argument("--seed", type=argtypes.seed, required=True)
    parser.add_argument("--start", type=int, default=2030, help="first horizon year (default 2030)")
    parser.add_argument(
        "--balance",
        type=int,
        default=None,
        metavar="PCT",
        help="add balance with at least this tolerance (0..100; raised to the smallest the "
        "witness plan meets)",
    )
    parser.add_argument(
        "--precedences",
        type=int,
        default=0,
        help="precedence pairs to draw, at most (default 0): each runs inside a region between "
        "two sites its witness plan builds in different years, so there may be fewer",
    )
    parser.add_argument("--name", default=None, help="scenario name (default gen-R-N-Y-K-sS)")
    parser.add_argument("--out", type=_out_path, default=None, help="output file (default stdout)")
    args = parser.parse_args(argv)
    try:
        doc = generate(
            args.regions,
            args.sites_per_region,
            args.years,
            args.crew_pools,
            args.seed,
            start=args.start,
            balance_pct=args.balance,
            precedences=args.precedences,
            name=args.name,
        )
    except ValueError as exc:
        parser.error(str(exc))
    drawn = len(doc.get("precedences", []))
    if drawn < args.precedences:
        print(
            f"{parser.prog}: {drawn} precedence pair(s) of the {args.precedences} asked for: "
            "no more were found between sites a region's witness plan builds in different years",
            file=sys.stderr,
        )
    if args.out is None:
        sys.stdout.write(dumps(doc))
        return 0
    try:
        write_json(doc, args.out)
    except OSError as exc:  # a folder, a read-only place: named, not a traceback
        print(f"{parser.prog}: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
