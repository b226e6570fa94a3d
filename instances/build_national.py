"""Build the real-data instances of the DPRK "Regional Development 20×10" programme.

Run ``python -m instances.build_national [--data-dir DIR] [--out-dir DIR]``. It reads
the public data in ``shared/data`` (``counties.csv``, ``provinces.csv``,
``rollout_actual.csv``) and writes, byte for byte reproducibly,

* ``national-20x10.json``: the whole programme planned from scratch, 2024–2032;
* ``national-replan-2026.json``: the same, with what was built in 2024 and 2025
  and the sites announced for 2026 fixed (12 of the 13; Phanmun is no site),
  planning the rest;
* ``kimhwa-pilot.json``: one province (Kangwon), four years, for tutorials.

Model of the real instance
--------------------------
*Sites* are the second-level units (cities, counties, districts) of the 2008
census geography that have a population: 179 rows of ``counties.csv`` less the
Pyongyang urban-core aggregate (not a 20×10 target unit) and less Kimhwa, the
model county built in 2022 (``rollout_actual.csv`` batch ``model(2021-22)``):
177 sites. The two present-day Kaesong districts (Kaephung, Phanmun) have no
population or coordinates of their own; they lie inside the 2008 unit "Kaesong
City" and are not sites.

*Regions* are the 11 first-level units of that geography (9 provinces,
Pyongyang, Nampo). The present-day special cities Rason and Kaesong overlap
them (``provinces.csv`` ``overlaps_with``) and are not regions: Rason City stays
in North Hamgyong, Kaesong City and Jangphung stay in North Hwanghae, as in the
census. So the 2024 split "Kaesong 1" (Jangphung) counts for North Hwanghae.

*Pace*: the policy builds 20 sites a year for 10 years (notes.md §1), but this
geography has 177 units, not "200-odd": it merges Pyongyang's districts, the
Chongjin and Hamhung districts and the Kaesong districts. At the policy's pace
177 units take ``ceil(177 / 20) = 9`` years, so the horizon is 2024–2032 and
the national quota is ``min 17, max 20``: nine years that sum to 177 with none
above 20 and none below the remainder 17 are 20 a year but for a shortfall of
3 in all. The pace stays a hard quota, as the policy sets it; without a floor
the design trade-offs (a large complex needs 3 crews and 4 kt of cement) made
an optimal plan build 19 a year, which is not what a planner reads as 20×10.
The 10th programme year would hold the units this geography merges away.

*Region quotas* follow the 2024 split (notes.md §1: at most 3 a province,
about 2 each): a province with at least one site per horizon year builds
1–3 a year; Nampo (6 sites) and Pyongyang (2 sites) build 0–1 a year.

Every other number — crews, technicians, cement, benefit rates — is an
ASSUMPTION, named in the constants below and listed in ``instances/README.md``.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instances.serialize import write_json

HERE = Path(__file__).resolve().parent
DATA_DIR_ENV = "RDPLAN_DATA_DIR"

HORIZON_START = 2024

# Policy figures (data: notes.md §1).
PROGRAMME_YEARS = 10
NATIONAL_YEAR_MAX = 20
REGION_YEAR_MAX = 3  # the highest provincial count of 2024 (North Phyongan)

# ASSUMPTIONS: every value below is not in the data (instances/README.md says why).
REGION_YEAR_MIN = 1
SMALL_REGION_YEAR_MAX = 1
BALANCE_TOLERANCE_PCT = 15
TRAINING_LEAD_TIME = 1
OBJECTIVE = {"benefit": 1, "mobilization": 1, "training": 1, "stability": 0}

# Design options: the 2024 package and the two widenings of 2025/2026 (notes.md §2–3).
OPTIONS: list[dict[str, Any]] = [
    {
        "id": "basic",
        "name": "foodstuff, daily-necessities and garment factories (the 2024 package)",
        "crews": 1,
        "technicians": 30,
        "resources": {"cement_kt": 2},
    },
    {
        "id": "standard",
        "name": "the three factories plus a modern city/county hospital",
        "crews": 2,
        "technicians": 45,
        "resources": {"cement_kt": 3},
    },
    {
        "id": "large",
        "name": "the three factories, a hospital and a comprehensive service centre (the 2026 package)",
        "crews": 3,
        "technicians": 60,
        "resources": {"cement_kt": 4},
    },
]
# Annual benefit per 1,000 inhabitants, by option; scaled by the need weight.
BENEFIT_PER_THOUSAND = {"basic": 10, "standard": 14, "large": 17}
NEED_WEIGHT_PCT = {"county": 100, "district": 100, "city": 75}

CEMENT_LIMIT_KT = 70
# A region's trained stock staffs its maximum yearly quota in this design, and
# its yearly training capacity staffs the maximum quota in that one.
TRAINED_STOCK_OPTION = "standard"
TRAINING_CAPACITY_OPTION = "large"
LOCAL_POOL_SPARE_CREWS = 1
NATIONAL_POOLS: list[tuple[str, str, int]] = [
    ("kpa-124.1", "KPA 124th Regiment, national pool 1", 8),
    ("kpa-124.2", "KPA 124th Regiment, national pool 2", 8),
]
NATIONAL_POOL_BASE = "Pyongyang"

# Designs of the sites already built or announced (notes.md §2–3): the 2024 and
# 2025 batches built the three-factory package; Kangdong also got a hospital and
# a service centre in 2025, Ryonggang a hospital; 2026 builds factories,
# hospitals and service centres at once, except the two special cases whose
# design is not the standard one (Sinuiju: greenhouse-farm district; Riwon:
# marine aquaculture), which are fixed in year only.
FIXED_OPTION_BY_YEAR = {2024: "basic", 2025: "basic", 2026: "large"}
FIXED_OPTION_EXCEPTIONS: dict[tuple[str, str], str | None] = {
    ("Pyongyang", "Kangdong"): "large",
    ("Nampo", "Ryonggang"): "standard",
    ("North Pyongan", "Sinuiju City"): None,
    ("South Hamgyong", "Riwon"): None,
}
ROLLOUT_BATCH_YEAR = {"2024": 2024, "2025": 2025, "2026 (announced)": 2026}
MODEL_BATCH_PREFIX = "model"
REPLAN_YEAR = 2026

PILOT_PROVINCE = "Kangwon"
PILOT_START = 2024
PILOT_END = 2027
PILOT_QUOTA = 4
PILOT_NATIONAL_POOL_CREWS = 4
PILOT_CEMENT_LIMIT_KT = 12

SITE_KINDS = ("city", "county", "district")
OUTPUT_FILES = ("national-20x10.json", "national-replan-2026.json", "kimhwa-pilot.json")


@dataclass(frozen=True)
class Province:
    """A first-level unit of the 2008 boundary geography (``provinces.csv``)."""

    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class County:
    """A second-level unit with a 2008 population (``counties.csv``)."""

    province: str
    name: str
    kind: str
    population: int
    lat: float
    lon: float


@dataclass(frozen=True)
class RolloutRow:
    """One row of ``rollout_actual.csv``, keyed as in ``counties.csv``."""

    batch: str
    province: str
    county: str


@dataclass(frozen=True)
class Data:
    """The parts of ``shared/data`` the instances are built from."""

    provinces: list[Province]
    counties: list[County]
    rollout: list[RolloutRow]


def default_data_dir() -> Path:
    """``$RDPLAN_DATA_DIR``, else ``shared/data`` beside the repository."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else HERE.parent.parent / "shared" / "data"


def slug(text: str) -> str:
    """Lower-case ``text`` and join its alphanumeric runs with ``-`` (an id piece)."""
    return "-".join(re.findall(r"[a-z0-9]+", text.lower()))


def site_id(province: str, name: str) -> str:
    """Site id ``province.county``: names repeat across provinces (two Unsans)."""
    return f"{slug(province)}.{slug(name)}"


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load_data(data_dir: Path) -> Data:
    """Read the three CSV files; keep boundary provinces and populated, non-aggregate units."""
    provinces = [
        Province(row["name"], float(row["lat"]), float(row["lon"]))
        for row in _read_csv(data_dir / "provinces.csv")
        if row["in_boundary_file"] == "yes"
    ]
    counties = [
        County(
            row["province"],
            row["name"],
            row["kind"],
            int(row["population_2008"]),
            float(row["lat"]),
            float(row["lon"]),
        )
        for row in _read_csv(data_dir / "counties.csv")
        if row["population_2008"] and row["kind"] in SITE_KINDS
    ]
    rollout = [
        RolloutRow(row["batch_year"], row["province_in_counties_csv"], row["county"])
        for row in _read_csv(data_dir / "rollout_actual.csv")
    ]
    return Data(provinces, counties, rollout)


def already_built(data: Data) -> set[tuple[str, str]]:
    """(province, county) of the model sites built before the programme (Kimhwa)."""
    return {(r.province, r.county) for r in data.rollout if r.batch.startswith(MODEL_BATCH_PREFIX)}


def site_counties(data: Data) -> list[County]:
    """The counties that are sites of the programme, in ``counties.csv`` order."""
    built = already_built(data)
    return [c for c in data.counties if (c.province, c.name) not in built]


def benefit(county: County) -> dict[str, int]:
    """Annual benefit per option: rate per 1,000 × population/1,000 × need weight, rounded half up."""
    need = NEED_WEIGHT_PCT[county.kind]
    return {
        option: (rate * county.population * need + 50_000) // 100_000
        for option, rate in BENEFIT_PER_THOUSAND.items()
    }


def option_field(option_id: str, field: str) -> int:
    """One integer field of a design option."""
    return int(next(o for o in OPTIONS if o["id"] == option_id)[field])


def site_entry(county: County, region: str) -> dict[str, Any]:
    """The scenario entry of one site."""
    return {
        "id": site_id(county.province, county.name),
        "name": county.name,
        "region": region,
        "population": county.population,
        "lat": county.lat,
        "lon": county.lon,
        "benefit": benefit(county),
    }


def region_entry(province: Province, year_max: int) -> dict[str, Any]:
    """A region sized by its maximum yearly quota (``TRAINED_STOCK_OPTION``, ``TRAINING_CAPACITY_OPTION``)."""
    return {
        "id": slug(province.name),
        "name": province.name,
        "training_capacity": year_max * option_field(TRAINING_CAPACITY_OPTION, "technicians"),
        "trained_stock": year_max * option_field(TRAINED_STOCK_OPTION, "technicians"),
    }


def local_pool(province: Province, year_max: int) -> dict[str, Any]:
    """The province's own KPA local construction regiment, based at the province's point."""
    return {
        "id": f"kpa-local.{slug(province.name)}",
        "name": f"KPA local construction regiment, {province.name}",
        "count": year_max + LOCAL_POOL_SPARE_CREWS,
        "lat": province.lat,
        "lon": province.lon,
        "regions": [slug(province.name)],
    }


def national_pool(data: Data, pool_id: str, name: str, count: int) -> dict[str, Any]:
    """A national KPA pool, based at Pyongyang, serving every region."""
    base = next(p for p in data.provinces if p.name == NATIONAL_POOL_BASE)
    return {"id": pool_id, "name": name, "count": count, "lat": base.lat, "lon": base.lon}


def region_year_max(num_sites: int, num_years: int) -> int:
    """A region with a site for every horizon year builds up to 3 a year, a smaller one 1."""
    return REGION_YEAR_MAX if num_sites >= num_years else SMALL_REGION_YEAR_MAX


def programme_years(num_sites: int) -> int:
    """Years the programme needs at 20 sites a year; at most the policy's 10."""
    years = math.ceil(num_sites / NATIONAL_YEAR_MAX)
    if years > PROGRAMME_YEARS:
        raise ValueError(
            f"{num_sites} sites do not fit {PROGRAMME_YEARS} years of {NATIONAL_YEAR_MAX}"
        )
    return years


def build_national(data: Data) -> dict[str, Any]:
    """``national-20x10``: every site planned from scratch, from 2024 at 20 a year."""
    counties = site_counties(data)
    sites_per_region = Counter(c.province for c in counties)
    num_years = programme_years(len(counties))
    horizon_end = HORIZON_START + num_years - 1
    year_max = {
        p.name: region_year_max(sites_per_region[p.name], num_years) for p in data.provinces
    }
    overrides = [
        {"region": slug(p.name), "year": year, "min": 0, "max": year_max[p.name]}
        for p in data.provinces
        if year_max[p.name] != REGION_YEAR_MAX
        for year in range(HORIZON_START, horizon_end + 1)
    ]

    return {
        "schema_version": 1,
        "name": "national-20x10",
        "horizon": {"start": HORIZON_START, "end": horizon_end},
        "regions": [region_entry(p, year_max[p.name]) for p in data.provinces],
        "options": OPTIONS,
        "sites": [site_entry(c, slug(c.province)) for c in counties],
        "crews": [local_pool(p, year_max[p.name]) for p in data.provinces]
        + [national_pool(data, *pool) for pool in NATIONAL_POOLS],
        "resources": [
            {"id": "cement_kt", "name": "cement, kilotonnes a year", "limit": CEMENT_LIMIT_KT}
        ],
        "quotas": {
            "region_year": {"min": REGION_YEAR_MIN, "max": REGION_YEAR_MAX},
            "year": {
                "min": len(counties) - (num_years - 1) * NATIONAL_YEAR_MAX,
                "max": NATIONAL_YEAR_MAX,
            },
            "overrides": overrides,
        },
        "training": {"lead_time": TRAINING_LEAD_TIME},
        "balance": {"tolerance_pct": BALANCE_TOLERANCE_PCT},
        "objective": OBJECTIVE,
    }


def rollout_years(data: Data) -> tuple[dict[tuple[str, str], int], list[RolloutRow]]:
    """Year of every site in the 2024, 2025 and announced-2026 batches; and the rows that are no site."""
    sites = {(c.province, c.name) for c in site_counties(data)}
    years: dict[tuple[str, str], int] = {}
    unmatched: list[RolloutRow] = []
    for row in data.rollout:
        year = ROLLOUT_BATCH_YEAR.get(row.batch)
        if year is None:
            continue
        key = (row.province, row.county)
        if key not in sites:
            unmatched.append(row)
        elif key in years:
            raise ValueError(f"{key} appears in two rollout batches")
        else:
            years[key] = year
    return years, unmatched


def fixed_option(key: tuple[str, str], year: int) -> str | None:
    """The design a built or announced site is fixed to, or None for year only."""
    if key in FIXED_OPTION_EXCEPTIONS:
        return FIXED_OPTION_EXCEPTIONS[key]
    return FIXED_OPTION_BY_YEAR[year]


def build_replan(data: Data) -> tuple[dict[str, Any], list[RolloutRow]]:
    """``national-replan-2026``: 2024/2025 as built, the announced 2026 sites fixed, the rest planned.

    The quotas of 2024 and 2025 become exactly what was built per region (so
    off-quota years such as Pyongyang's 0 in 2024 stay feasible); 2026 keeps the
    programme's quotas, which the announced sites already meet.
    """
    doc = build_national(data)
    doc["name"] = "national-replan-2026"
    years, unmatched = rollout_years(data)
    by_id = {site_id(*key): (key, year) for key, year in years.items()}
    for site in doc["sites"]:
        if site["id"] in by_id:
            key, year = by_id[site["id"]]
            fixed: dict[str, Any] = {"year": year}
            option = fixed_option(key, year)
            if option is not None:
                fixed["option"] = option
            site["fixed"] = fixed

    past_years = range(HORIZON_START, REPLAN_YEAR)
    built = Counter((slug(key[0]), year) for key, year in years.items() if year in past_years)
    quotas = doc["quotas"]
    kept = [o for o in quotas["overrides"] if o["year"] not in past_years]
    past = [
        {
            "region": region["id"],
            "year": year,
            "min": built[region["id"], year],
            "max": built[region["id"], year],
        }
        for region in doc["regions"]
        for year in past_years
    ]
    quotas["overrides"] = sorted(kept + past, key=lambda o: (o["region"], o["year"]))
    return doc, unmatched


def build_pilot(data: Data) -> dict[str, Any]:
    """``kimhwa-pilot``: Kangwon's 16 sites, four a year over 2024–2027, for tutorials."""
    province = next(p for p in data.provinces if p.name == PILOT_PROVINCE)
    region = slug(province.name)
    counties = [c for c in site_counties(data) if c.province == PILOT_PROVINCE]
    if len(counties) != PILOT_QUOTA * (PILOT_END - PILOT_START + 1):
        raise ValueError(
            f"{PILOT_PROVINCE} has {len(counties)} sites; the pilot's quotas need exactly that many"
        )
    return {
        "schema_version": 1,
        "name": "kimhwa-pilot",
        "horizon": {"start": PILOT_START, "end": PILOT_END},
        "regions": [region_entry(province, PILOT_QUOTA)],
        "options": OPTIONS,
        "sites": [site_entry(c, region) for c in counties],
        "crews": [
            local_pool(province, PILOT_QUOTA),
            national_pool(data, *NATIONAL_POOLS[0][:2], PILOT_NATIONAL_POOL_CREWS),
        ],
        "resources": [
            {"id": "cement_kt", "name": "cement, kilotonnes a year", "limit": PILOT_CEMENT_LIMIT_KT}
        ],
        "quotas": {"region_year": {"min": PILOT_QUOTA, "max": PILOT_QUOTA}},
        "training": {"lead_time": TRAINING_LEAD_TIME},
        "objective": OBJECTIVE,
    }


def build_all(data: Data) -> tuple[dict[str, dict[str, Any]], list[RolloutRow]]:
    """Every real-data instance by file name, and the rollout rows that match no site."""
    replan, unmatched = build_replan(data)
    docs = dict(zip(OUTPUT_FILES, (build_national(data), replan, build_pilot(data)), strict=True))
    return docs, unmatched


def main(argv: list[str] | None = None) -> int:
    """Write the three instances; report the rollout rows that are no site on stderr."""
    parser = argparse.ArgumentParser(
        prog="python -m instances.build_national", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"shared/data folder (default ${DATA_DIR_ENV} or ../shared/data)",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=HERE,
        help="where to write the JSON files (default: instances/)",
    )
    args = parser.parse_args(argv)
    data_dir = args.data_dir or default_data_dir()
    if not (data_dir / "counties.csv").is_file():
        parser.error(f"no counties.csv in {data_dir}; pass --data-dir or set {DATA_DIR_ENV}")

    docs, unmatched = build_all(load_data(data_dir))
    for file_name, doc in docs.items():
        write_json(doc, args.out_dir / file_name)
        fixed = sum(1 for s in doc["sites"] if "fixed" in s)
        print(
            f"{args.out_dir / file_name}: {len(doc['sites'])} sites, {fixed} fixed", file=sys.stderr
        )
    for row in unmatched:
        print(
            f"rollout row matches no site: batch {row.batch!r}, {row.province!r} / {row.county!r}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
