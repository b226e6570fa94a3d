"""The benchmark suites: named lists of cases, and where each case's scenario comes from.

A *case* is one scenario and how to run it (plain solve, infeasible with a
conflict set, re-plan cold or warm). Suites are defined here, in code, so a
result table always says exactly what was run.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = ROOT / "tests" / "data" / "conformance"
INSTANCES = ROOT / "instances"

#: Optima of the conformance examples (tests/data/conformance/README.md), proven independently.
CONFORMANCE_OPTIMA = {"tiny": 1855, "generated-a": 29581, "generated-b": 143310}
CONFORMANCE_CONFLICTS: list[tuple[str, dict[str, Any]]] = [
    ("quota.region_year", {"region": "R02", "year": 2035}),
    ("technicians", {"region": "R02"}),
]

#: The province whose technicians are taken away in the infeasible national variant.
INFEASIBLE_REGION = "kangwon"
#: The infeasible national what-ifs beside it (since run 32): the base plan frozen through
#: :data:`SHORT_FROZEN_THROUGH`, then one national pool short by :data:`SHORT_CREWS` crews in
#: :data:`SHORT_YEAR`; and every pool cut to a quarter of its crews in that year.
SHORT_FROZEN_THROUGH, SHORT_YEAR, SHORT_POOL, SHORT_CREWS = 2027, 2027, "kpa-124.1", 3
#: Re-plan: the years frozen from the base plan, and the year a third of the crews is lost.
FREEZE_THROUGH = 2026
CREW_LOSS_YEAR = 2027
#: The re-plan's baseline: national-20x10's proven optimal plan, committed so that every run
#: re-plans the same scenario (it used to be a 60-s CP-SAT plan made in each run, and the
#: frozen scenario, and its solve times, changed from run to run: 17 s, then 35-42 s).
REPLAN_BASE_PLAN = "plans/national-20x10-optimal.json"

#: The fuel what-ifs, by name: national-20x10 with its mobilisation weight multiplied by this
#: factor, from the base plan, which still holds. Fuel at twice the price: the start lies
#: within ``solver.backends.highs.NEAR_GAP`` of the bound (HiGHS's heuristics off); at three
#: times, 2,567 below the new optimum, beyond it (the race's plan to beat, ``highs.STARTED``).
WHATIF_FUEL = {"whatif-fuel": 2, "whatif-fuel3": 3}

#: The balance what-ifs, by name: national-20x10 with its ``balance.tolerance_pct`` tightened
#: from 15 to this. At 5 points HiGHS's race (the portfolio's national route) had no plan in
#: 120 s; since run 33 the portfolio gives up on it for the LP-guided search
#: (``solver.backends.portfolio.RESCUE_AFTER``). At 4 points no backend finds a plan in a
#: minute, though one exists (found with the objective at 0 in 79-196 s; RESULTS.md, *Run 35*);
#: at 3 points none is found in 400 s. At 0 points it is infeasible, a conflict that rests on
#: integrality alone (the LP builds fractions of sites): no conflict set in a minute before run
#: 34 (``solver.conflicts.YEAR_CHECK_S``).
WHATIF_BALANCE = {"whatif-balance5": 5, "national-infeasible-balance0": 0}

#: Why cbc is left out of most full-suite cases.
NO_CBC = "cbc only on national-20x10 and the small cases: it keeps the full run near half an hour"

KINDS = ("solve", "infeasible", "replan-cold", "replan-warm", "replan-full")


@dataclass(frozen=True)
class Case:
    """One scenario of a suite and how it is run."""

    name: str
    source: str  # "conformance/<name>", "instances/<path>", "derived/<name>"
    kind: str = "solve"
    known_optimum: int | None = None
    expected_conflicts: list[tuple[str, dict[str, Any]]] | None = None
    backends: tuple[str, ...] | None = None  # None: every requested backend
    baseline: bool = True  # also run the PuLP baseline
    time_limit: float | None = None  # None: the run's --time-limit
    seeds: tuple[int, ...] | None = None  # None: the run's --seeds
    #: A planner's gap tolerance (``solve(gap=...)``); 0: prove optimality. With a known optimum
    #: the run must then bracket it within the gap (``benchmarks.run.check_run``).
    gap: float = 0.0
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind


def _conformance() -> list[Case]:
    cases = [
        Case(name, f"conformance/{name}", known_optimum=opt)
        for name, opt in CONFORMANCE_OPTIMA.items()
    ]
    cases.append(
        Case(
            "infeasible-technicians",
            "conformance/infeasible-technicians",
            kind="infeasible",
            expected_conflicts=CONFORMANCE_CONFLICTS,
        )
    )
    return cases


def _fuel_cases(name: str, warm_note: str) -> list[Case]:
    """The fuel what-if ``name`` (:data:`WHATIF_FUEL`) cold and warm, on HiGHS and the
    portfolio."""
    return [
        Case(
            f"{name}-cold",
            f"derived/{name}",
            kind="replan-cold",
            backends=("highs", "portfolio"),
            baseline=False,
            note=f"national-20x10 with mobilisation weight {WHATIF_FUEL[name]}, no warm start",
        ),
        Case(
            f"{name}-warm",
            f"derived/{name}",
            kind="replan-warm",
            backends=("highs", "portfolio"),
            baseline=False,
            note=warm_note,
        ),
    ]


SUITES: dict[str, list[Case]] = {
    "smoke": [
        *_conformance(),
        Case("kimhwa-pilot", "instances/kimhwa-pilot.json"),
        Case(
            "gen-10x12x6",
            "instances/generated/gen-10x12x6.json",
            time_limit=5,
            note="not proven optimal in seconds: a short limit, plans checked",
        ),
        Case(
            "generated-b-gap5",
            "conformance/generated-b",
            known_optimum=CONFORMANCE_OPTIMA["generated-b"],
            baseline=False,
            gap=0.05,
            note="every backend with a gap tolerance of 5 %: a plan within it, the optimum bracketed",
        ),
    ],
    "full": [
        Case("kimhwa-pilot", "instances/kimhwa-pilot.json", seeds=(0, 1)),
        Case("national-20x10", "instances/national-20x10.json"),
        Case(
            "national-20x10-gap0.5",
            "instances/national-20x10.json",
            backends=("highs", "portfolio"),
            baseline=False,
            gap=0.005,
            note="a planner's quick answer: stop within 0.5 % (since run 24; the portfolio then"
            " takes the LP-guided start, portfolio.START_WITHIN_GAP)",
        ),
        Case(
            "national-replan-2026",
            "instances/national-replan-2026.json",
            backends=("cpsat", "highs", "portfolio"),
            note=NO_CBC,
        ),
        Case(
            "gen-200",
            "instances/generated/gen-200.json",
            backends=("cpsat", "highs", "portfolio"),
            note=NO_CBC,
        ),
        Case(
            "gen-1000",
            "instances/generated/gen-1000.json",
            backends=("cpsat", "highs", "portfolio"),
            seeds=(0,),
            note="no cbc: its PuLP hand-off alone takes a large share of the limit at this size",
        ),
        Case(
            "gen-3000",
            "instances/generated/gen-3000.json",
            backends=("portfolio",),
            baseline=False,
            seeds=(0,),
            time_limit=300,
            note=(
                "portfolio (= lpguided at this size) only, 300 s: the target's limit; cpsat/highs"
                " measured at 120 s in results/2026-11-26.md (9.1 / 4.7 GB, 71.7 % at best);"
                " no cbc, no baseline: PuLP would hold ~7 M variable objects"
            ),
        ),
        *[
            Case(
                c.name, c.source, kind=c.kind, expected_conflicts=c.expected_conflicts, seeds=(0, 1)
            )
            for c in _conformance()
            if c.kind == "infeasible"
        ],
        Case(
            "national-infeasible",
            "derived/national-infeasible",
            kind="infeasible",
            seeds=(0, 1),
            note=f"{INFEASIBLE_REGION}: trained stock 0, training capacity 0",
        ),
        Case(
            "national-infeasible-frozen-crews",
            "derived/national-infeasible-frozen-crews",
            kind="infeasible",
            seeds=(0, 1),
            note=f"the base plan frozen through {SHORT_FROZEN_THROUGH}, {SHORT_POOL} {SHORT_CREWS}"
            f" crews short in {SHORT_YEAR} (since run 32: no set in 60 s before it)",
        ),
        Case(
            "national-infeasible-crews-quarter",
            "derived/national-infeasible-crews-quarter",
            kind="infeasible",
            seeds=(0, 1),
            note=f"every pool a quarter of its crews in {SHORT_YEAR}: fewer than the yearly quota"
            " needs (since run 32: no set in 30 s before it)",
        ),
        Case(
            "national-infeasible-balance0",
            "derived/national-infeasible-balance0",
            kind="infeasible",
            seeds=(0, 1),
            note="the provinces' balance at 0 points: integer sites cannot advance in exact"
            " proportion (since run 34: no set in 60 s before it)",
        ),
        Case(
            "replan-frozen-cold",
            "derived/replan-frozen",
            kind="replan-cold",
            backends=("cpsat", "highs", "portfolio"),
            baseline=False,
        ),
        Case(
            "replan-frozen-warm",
            "derived/replan-frozen",
            kind="replan-warm",
            backends=("cpsat", "highs", "portfolio"),
            baseline=False,
        ),
        *_fuel_cases(
            "whatif-fuel",
            "the same from national-20x10's optimal plan, which holds (853 below the new"
            " optimum): HiGHS runs with its heuristics off (run 10, item 19)",
        ),
        *_fuel_cases(
            "whatif-fuel3",
            "the same from national-20x10's optimal plan, which holds but is far (2,567 below"
            " the new optimum): the race's plan to beat, not HiGHS's start (run 19)",
        ),
        Case(
            "whatif-balance5",
            "derived/whatif-balance5",
            backends=("highs", "lpguided", "portfolio"),
            baseline=False,
            note=(
                "national-20x10 with the provinces' balance tightened from 15 to 5 points: the"
                " race finds no plan, the portfolio gives up on it for the LP-guided search"
                " (run 33)"
            ),
        ),
        Case(
            "replan-full-cold",
            "derived/replan-changed",
            kind="replan-full",
            backends=("highs", "portfolio"),
            baseline=False,
            time_limit=300.0,
            note=(
                "the same crew loss re-planned from scratch: every year open, no baseline, no warm"
                " start (what a planner without frozen years would solve); 300 s to let it prove"
            ),
        ),
    ],
}


def load_json(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def instance_document(relative: str) -> dict[str, Any]:
    """An instance file; a missing generated one is rebuilt from its recipe."""
    path = INSTANCES / relative
    if path.exists():
        return load_json(path)
    if relative.startswith("generated/"):
        from instances.build_generated import SEED, SUITE
        from instances.generate import generate

        stem = Path(relative).stem
        if stem in SUITE:
            regions, sites, years, pools, options = SUITE[stem]
            return generate(regions, sites, years, pools, SEED, name=stem, **options)
    raise FileNotFoundError(f"instance {path} is missing")


def national_infeasible(national: dict[str, Any]) -> dict[str, Any]:
    """national-20x10 with one province's technicians gone: stock 0 and capacity 0."""
    doc = copy.deepcopy(national)
    doc["name"] = "national-infeasible"
    for region in doc["regions"]:
        if region["id"] == INFEASIBLE_REGION:
            region["trained_stock"] = 0
            region["training_capacity"] = 0
            break
    else:  # pragma: no cover - the national instance has the province
        raise ValueError(f"national-20x10 has no region '{INFEASIBLE_REGION}'")
    return doc


def _short_of_crews(doc: dict[str, Any], pools: dict[str, int]) -> dict[str, Any]:
    """``doc`` with each pool of ``pools`` down to that many crews in :data:`SHORT_YEAR`."""
    start, end = doc["horizon"]["start"], doc["horizon"]["end"]
    for pool in doc["crews"]:
        if pool["id"] in pools:
            available = pool.get("available") or {
                str(y): pool["count"] for y in range(start, end + 1)
            }
            pool["available"] = {**available, str(SHORT_YEAR): pools[pool["id"]]}
    return doc


def national_infeasible_frozen_crews(
    national: dict[str, Any], base_plan: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The base plan frozen through :data:`SHORT_FROZEN_THROUGH`, then :data:`SHORT_POOL`
    :data:`SHORT_CREWS` crews short in :data:`SHORT_YEAR`: the frozen builds of that year need
    more crews than can come."""
    from solver.replan import apply_baseline
    from solver.scenario import parse_scenario

    if base_plan is None:
        base_plan = instance_document(REPLAN_BASE_PLAN)
    doc = copy.deepcopy(national)
    count = next(p["count"] for p in doc["crews"] if p["id"] == SHORT_POOL)
    doc = _short_of_crews(doc, {SHORT_POOL: count - SHORT_CREWS})
    scenario = apply_baseline(parse_scenario(doc), base_plan, freeze_through=SHORT_FROZEN_THROUGH)
    out = copy.deepcopy(scenario.to_document())
    out["name"] = "national-infeasible-frozen-crews"
    return out


def national_infeasible_crews_quarter(national: dict[str, Any]) -> dict[str, Any]:
    """national-20x10 with every pool a quarter of its crews (rounded down) in
    :data:`SHORT_YEAR`: fewer crews than the yearly quota's builds need."""
    doc = copy.deepcopy(national)
    doc["name"] = "national-infeasible-crews-quarter"
    return _short_of_crews(doc, {p["id"]: p["count"] // 4 for p in doc["crews"]})


def replan_frozen(
    national: dict[str, Any], base_plan: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The base plan (default :data:`REPLAN_BASE_PLAN`) frozen through 2026, then every pool
    loses a third of its 2027 crews."""
    from solver.replan import apply_baseline
    from solver.scenario import parse_scenario

    if base_plan is None:
        base_plan = instance_document(REPLAN_BASE_PLAN)
    scenario = apply_baseline(parse_scenario(national), base_plan, freeze_through=FREEZE_THROUGH)
    doc = copy.deepcopy(scenario.to_document())
    doc["name"] = "replan-frozen"
    return _lose_crews(doc)


def replan_changed(national: dict[str, Any]) -> dict[str, Any]:
    """national-20x10 with the re-plan's crew loss and nothing frozen: the cold reference."""
    doc = copy.deepcopy(national)
    doc["name"] = "replan-changed"
    return _lose_crews(doc)


def whatif_fuel(
    national: dict[str, Any],
    base_plan: dict[str, Any] | None = None,
    name: str = "whatif-fuel",
) -> dict[str, Any]:
    """The fuel what-if ``name`` (:data:`WHATIF_FUEL`; by default fuel at twice the price): the
    base plan (default :data:`REPLAN_BASE_PLAN`) as its baseline, a what-if the old plan
    survives, so the warm start holds. The stability weight stays 0: the baseline is only the
    start."""
    from solver.replan import apply_baseline
    from solver.scenario import parse_scenario

    if base_plan is None:
        base_plan = instance_document(REPLAN_BASE_PLAN)
    doc = copy.deepcopy(apply_baseline(parse_scenario(national), base_plan).to_document())
    doc["name"] = name
    objective = doc.setdefault("objective", {})
    objective["mobilization"] = WHATIF_FUEL[name] * objective.get("mobilization", 1)
    return doc


def whatif_balance(national: dict[str, Any], name: str) -> dict[str, Any]:
    """The balance what-if ``name`` (:data:`WHATIF_BALANCE`): national-20x10 with its provinces'
    tolerance tightened, no start."""
    doc = copy.deepcopy(national)
    doc["name"] = name
    doc["balance"] = {"tolerance_pct": WHATIF_BALANCE[name]}
    return doc


def _lose_crews(doc: dict[str, Any]) -> dict[str, Any]:
    """Every pool loses round(1/3) of its crews of CREW_LOSS_YEAR."""
    years = [str(y) for y in range(doc["horizon"]["start"], doc["horizon"]["end"] + 1)]
    for pool in doc.get("crews", []):
        available = pool.get("available", pool["count"])
        per_year = {y: available for y in years} if isinstance(available, int) else dict(available)
        now = per_year[str(CREW_LOSS_YEAR)]
        per_year[str(CREW_LOSS_YEAR)] = now - round(now / 3)
        pool["available"] = per_year
    return doc


def suite(name: str) -> list[Case]:
    if name not in SUITES:
        raise KeyError(f"unknown suite '{name}'; choose one of {', '.join(SUITES)}")
    return SUITES[name]
