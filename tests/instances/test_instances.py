"""The committed instances: counts, provenance, reproducibility, quick feasibility counts."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from instances import build_generated, build_national
from instances.generate import generate, generate_with_witness
from instances.generate import main as generate_main

INSTANCES = Path(build_national.__file__).resolve().parent
REPO = INSTANCES.parent
NATIONAL_FILES = list(build_national.OUTPUT_FILES)
GENERATED_FILES = [f"generated/{name}" for name in build_generated.build_suite()]
ALL_FILES = NATIONAL_FILES + GENERATED_FILES
ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
ROLLOUT_YEAR = {"2024": 2024, "2025": 2025, "2026 (announced)": 2026}


def load(name: str) -> dict[str, Any]:
    """A committed instance by its path under ``instances/``."""
    doc: dict[str, Any] = json.loads((INSTANCES / name).read_text(encoding="utf-8"))
    return doc


@pytest.fixture(scope="module")
def data_dir() -> Path:
    """``shared/data``; its absence is an error, not a skip: the real instances are built from it."""
    path = build_national.default_data_dir()
    if not (path / "counties.csv").is_file():
        pytest.fail(f"no shared data at {path}: set {build_national.DATA_DIR_ENV}")
    return path


def rollout(data_dir: Path) -> list[dict[str, str]]:
    """``rollout_actual.csv`` rows."""
    with (data_dir / "rollout_actual.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def per_year(value: Any, year: int, default: int) -> int:
    """A SPEC per-year quantity in one year."""
    if value is None:
        return default
    return value if isinstance(value, int) else value[str(year)]


def region_bounds(doc: dict[str, Any], region: str, year: int) -> tuple[int, int | None]:
    """(min, max) sites of ``region`` in ``year`` after overrides; max None is unbounded."""
    quotas = doc.get("quotas", {})
    bounds = quotas.get("region_year") or {}
    for override in quotas.get("overrides", []):
        if override["region"] == region and override["year"] == year:
            bounds = override
    return bounds.get("min", 0), bounds.get("max")


def counting_problems(doc: dict[str, Any]) -> list[str]:
    """Necessary conditions for feasibility that counting alone can refute (empty when none fails)."""
    years = range(doc["horizon"]["start"], doc["horizon"]["end"] + 1)
    problems: list[str] = []
    sites = doc["sites"]
    options = {o["id"]: o for o in doc["options"]}
    year_bounds = doc.get("quotas", {}).get("year") or {}

    def window(site: dict[str, Any]) -> range:
        if "fixed" in site:
            return range(site["fixed"]["year"], site["fixed"]["year"] + 1)
        return range(
            max(site.get("earliest", years.start), years.start),
            min(site.get("latest", years[-1]), years[-1]) + 1,
        )

    must = [s for s in sites if s.get("required", True) or "fixed" in s]
    for site in must:
        if not window(site):
            problems.append(f"{site['id']}: no year of its window in the horizon")

    min_built = dict.fromkeys(years, 0)
    for region in (r["id"] for r in doc["regions"]):
        in_region = [s for s in sites if s["region"] == region]
        required = [s for s in in_region if s in must]
        bounds = {y: region_bounds(doc, region, y) for y in years}
        if sum(lo for lo, _ in bounds.values()) > len(in_region):
            problems.append(f"{region}: minimum quotas exceed its {len(in_region)} sites")
        if all(hi is not None for _, hi in bounds.values()) and len(required) > sum(
            hi or 0 for _, hi in bounds.values()
        ):
            problems.append(f"{region}: {len(required)} required sites exceed its maximum quotas")
        for year in years:
            lo, hi = bounds[year]
            fixed = sum(1 for s in in_region if s.get("fixed", {}).get("year") == year)
            open_ = sum(1 for s in in_region if year in window(s))
            if hi is not None and fixed > hi:
                problems.append(f"{region} {year}: {fixed} fixed sites exceed max {hi}")
            if lo > open_:
                problems.append(
                    f"{region} {year}: min {lo} exceeds the {open_} sites buildable then"
                )
            min_built[year] += lo
        tech = min(options[o]["technicians"] for o in options) * len(required)
        region_doc = next(r for r in doc["regions"] if r["id"] == region)
        lead = doc.get("training", {}).get("lead_time", 1)
        supply = region_doc.get("trained_stock", 0) + sum(
            per_year(region_doc.get("training_capacity"), y, tech)
            for y in years
            if y + lead <= years[-1]
        )
        if supply < tech:
            problems.append(f"{region}: {supply} technicians at most, {tech} needed at least")

    for year in years:
        min_built[year] = max(min_built[year], year_bounds.get("min", 0))
        if "max" in year_bounds and min_built[year] > year_bounds["max"]:
            problems.append(f"{year}: regional minimums {min_built[year]} exceed the national max")
    if "max" in year_bounds and len(must) > year_bounds["max"] * len(years):
        problems.append(f"{len(must)} required sites exceed {year_bounds['max']} a year")
    if len(sites) < year_bounds.get("min", 0) * len(years):
        problems.append("national minimums exceed the sites")

    least_crews = min(o["crews"] for o in options.values())
    for year in years:
        crews = sum(per_year(k.get("available"), year, k["count"]) for k in doc.get("crews", []))
        if crews < least_crews * min_built[year]:
            problems.append(f"{year}: {crews} crews for at least {min_built[year]} builds")
        for resource in doc.get("resources", []):
            use = min(o.get("resources", {}).get(resource["id"], 0) for o in options.values())
            if per_year(resource["limit"], year, 0) < use * min_built[year]:
                problems.append(f"{year}: {resource['id']} limit below {min_built[year]} builds")
    return problems


# --- every committed instance ---------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_FILES)
def test_instance_is_well_formed(name: str) -> None:
    doc = load(name)
    assert doc["schema_version"] == 1
    for key in ("regions", "options", "sites", "crews", "resources"):
        ids = [item["id"] for item in doc.get(key, [])]
        assert len(ids) == len(set(ids)), f"duplicate {key} ids"
        assert all(ID_RE.fullmatch(i) for i in ids), f"bad {key} id"
    assert counting_problems(doc) == []


@pytest.mark.parametrize("name", ALL_FILES)
def test_instance_validates(name: str) -> None:
    """Every committed instance passes the solver's own validation (SPEC §2), which must exist."""
    try:
        from solver.scenario import validate_document
    except ImportError as exc:  # a missing validator is a failure, never a skip
        pytest.fail(f"solver.scenario.validate_document is not importable: {exc}")
    scenario, errors = validate_document((INSTANCES / name).read_text(encoding="utf-8"))
    assert errors == []
    assert scenario is not None


# --- the real-data instances ------------------------------------------------------------------


def test_national_counts() -> None:
    doc = load("national-20x10.json")
    ids = {s["id"] for s in doc["sites"]}
    assert len(doc["sites"]) == 177
    assert len(doc["regions"]) == 11
    assert "pyongyang.pyongyang" not in ids
    assert "kangwon.kimhwa" not in ids
    assert not any("kaephung" in i or "phanmun" in i for i in ids)
    assert {"north-pyongan.unsan", "south-pyongan.unsan"} <= ids
    assert not any("fixed" in s for s in doc["sites"])
    assert doc["horizon"] == {"start": 2024, "end": 2032}
    assert doc["quotas"]["year"] == {"min": 17, "max": 20}
    assert 177 == 20 * 8 + 17
    assert Counter(s["region"] for s in doc["sites"]) == {
        "north-pyongan": 25, "north-hwanghae": 21, "south-pyongan": 21, "south-hamgyong": 20,
        "south-hwanghae": 20, "jagang": 18, "kangwon": 16, "north-hamgyong": 16, "ryanggang": 12,
        "nampo": 6, "pyongyang": 2,
    }  # fmt: skip


def test_national_sites_carry_census_data(data_dir: Path) -> None:
    with (data_dir / "counties.csv").open(encoding="utf-8", newline="") as handle:
        rows = {build_national.site_id(r["province"], r["name"]): r for r in csv.DictReader(handle)}
    for site in load("national-20x10.json")["sites"]:
        row = rows[site["id"]]
        assert site["population"] == int(row["population_2008"])
        assert (site["lat"], site["lon"]) == (float(row["lat"]), float(row["lon"]))


def test_replan_fixes_the_actual_rollout(data_dir: Path) -> None:
    doc = load("national-replan-2026.json")
    fixed = {s["id"]: s["fixed"]["year"] for s in doc["sites"] if "fixed" in s}
    expected = {
        build_national.site_id(r["province_in_counties_csv"], r["county"]): ROLLOUT_YEAR[
            r["batch_year"]
        ]
        for r in rollout(data_dir)
        if r["batch_year"] in ROLLOUT_YEAR
        and "Kaesong Special City" not in r["province_in_counties_csv"]
    }
    assert fixed == expected
    assert Counter(fixed.values()) == {2024: 20, 2025: 19, 2026: 12}
    assert fixed["north-pyongan.unsan"] == 2024
    assert "south-pyongan.unsan" not in fixed  # the 2025 paper mill is no factory batch
    assert "kangwon.kimhwa" not in {s["id"] for s in doc["sites"]}


def test_replan_past_quotas_are_what_was_built() -> None:
    doc = load("national-replan-2026.json")
    built = Counter((s["region"], s["fixed"]["year"]) for s in doc["sites"] if "fixed" in s)
    for region in (r["id"] for r in doc["regions"]):
        for year in (2024, 2025):
            assert region_bounds(doc, region, year) == (built[region, year], built[region, year])
    assert region_bounds(doc, "pyongyang", 2024) == (0, 0)
    keys = [(o["region"], o["year"]) for o in doc["quotas"]["overrides"]]
    assert len(keys) == len(set(keys))


def test_replan_differs_from_national_only_in_fixes_and_past_quotas() -> None:
    national, replan = load("national-20x10.json"), load("national-replan-2026.json")
    for site in replan["sites"]:
        site.pop("fixed", None)
    for doc in (national, replan):
        doc.pop("name")
        doc["quotas"]["overrides"] = [o for o in doc["quotas"]["overrides"] if o["year"] >= 2026]
    assert national == replan


def test_pilot_counts() -> None:
    doc = load("kimhwa-pilot.json")
    assert [r["id"] for r in doc["regions"]] == ["kangwon"]
    assert len(doc["sites"]) == 16
    assert all(s["id"].startswith("kangwon.") for s in doc["sites"])
    assert "kangwon.kimhwa" not in {s["id"] for s in doc["sites"]}
    years = doc["horizon"]["end"] - doc["horizon"]["start"] + 1
    assert years * doc["quotas"]["region_year"]["min"] == 16


def test_unmatched_rollout_rows_are_the_kaesong_districts(data_dir: Path) -> None:
    _, unmatched = build_national.rollout_years(build_national.load_data(data_dir))
    assert [(r.batch, r.county) for r in unmatched] == [
        ("2025", "Kaephung Dist."),
        ("2026 (announced)", "Phanmun Dist."),
    ]


# --- reproducibility --------------------------------------------------------------------------


def test_build_national_reproduces_committed_files(tmp_path: Path, data_dir: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "instances.build_national",
            "--data-dir",
            str(data_dir),
            "--out-dir",
            str(tmp_path),
        ],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    for name in NATIONAL_FILES:
        assert (tmp_path / name).read_bytes() == (INSTANCES / name).read_bytes(), name


def test_build_generated_reproduces_committed_files(tmp_path: Path) -> None:
    assert build_generated.main(["--out-dir", str(tmp_path)]) == 0
    for name in GENERATED_FILES:
        assert (tmp_path / Path(name).name).read_bytes() == (INSTANCES / name).read_bytes(), name


# --- the generator ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("regions", "sites", "years", "pools"),
    [(4, 6, 3, 6), (6, 3, 5, 2), (3, 7, 3, 1), (10, 12, 6, 12), (1, 1, 1, 1)],
)
def test_generate_sizes_and_feasibility_counts(
    regions: int, sites: int, years: int, pools: int
) -> None:
    doc = generate(regions, sites, years, pools, seed=7, start=2040, balance_pct=20, precedences=3)
    assert len(doc["regions"]) == regions
    assert len(doc["sites"]) == regions * sites
    assert len(doc["crews"]) == pools
    assert doc["horizon"] == {"start": 2040, "end": 2040 + years - 1}
    assert Counter(s["region"] for s in doc["sites"]) == {r["id"]: sites for r in doc["regions"]}
    assert [o["id"] for o in doc["options"]] == ["basic", "standard", "large"]
    assert doc["objective"] == {"benefit": 1, "mobilization": 2, "training": 1, "stability": 0}
    assert doc["balance"]["tolerance_pct"] >= 20
    assert counting_problems(doc) == []


def _witness_violations(doc: dict[str, Any], witness: dict[str, Any]) -> list[str]:
    from solver.evaluate import evaluate
    from solver.scenario import parse_scenario

    return evaluate(parse_scenario(doc), witness, check_reported=False).violations


@pytest.mark.parametrize("stem", sorted(build_generated.SUITE))
def test_suite_witness_proves_feasibility(stem: str) -> None:
    """The committed benchmark instance is the generator's, and its witness plan holds (SPEC §3)."""
    regions, sites, years, pools, options = build_generated.SUITE[stem]
    doc, witness = generate_with_witness(
        regions, sites, years, pools, build_generated.SEED, name=stem, **options
    )
    assert doc == load(f"generated/{stem}.json")
    assert _witness_violations(doc, witness) == []


@pytest.mark.parametrize(
    ("regions", "sites", "years", "pools", "seed"),
    [
        (4, 6, 3, 6, 1),
        (6, 3, 5, 2, 2),
        (3, 7, 3, 1, 3),
        (1, 1, 1, 1, 4),
        (7, 40, 3, 2, 5),
        (5, 9, 4, 40, 6),
    ],
)
def test_generate_witness_holds(
    regions: int, sites: int, years: int, pools: int, seed: int
) -> None:
    """Feasible by construction, whatever the shape: fewer pools than regions, q = 0, q > 1."""
    doc, witness = generate_with_witness(
        regions, sites, years, pools, seed, balance_pct=0, precedences=8
    )
    assert doc == generate(regions, sites, years, pools, seed, balance_pct=0, precedences=8)
    assert len(witness["builds"]) == regions * max(sites // years * years, min(sites, years))
    assert _witness_violations(doc, witness) == []


def test_generate_is_deterministic() -> None:
    assert generate(5, 8, 4, 7, seed=3) == generate(5, 8, 4, 7, seed=3)
    assert generate(5, 8, 4, 7, seed=3) != generate(5, 8, 4, 7, seed=4)


def test_generate_scales() -> None:
    doc = generate(30, 100, 20, 300, seed=1)
    assert len(doc["sites"]) == 3000
    assert doc["quotas"]["region_year"] == {"min": 5, "max": 5}


def test_generate_rejects_unknown_keywords() -> None:
    with pytest.raises(TypeError):
        generate(2, 2, 2, 2, seed=1, balance=10)


def test_generate_refuses_sizes_no_machine_holds() -> None:
    # 100,000 x 100,000 sites ran the machine out of memory (23 GB) before a word was said
    with pytest.raises(ValueError, match="10,000,000,000 sites; at most 100,000"):
        generate(100_000, 100_000, 4, 2, seed=1)
    with pytest.raises(ValueError, match="crew_pools is 10,001; at most 10,000"):
        generate(2, 2, 2, 10_001, seed=1)


def test_generate_main_writes_the_same_document(tmp_path: Path) -> None:
    out = tmp_path / "g.json"
    argv = [
        "--regions",
        "3",
        "--sites-per-region",
        "4",
        "--years",
        "2",
        "--crew-pools",
        "3",
        "--seed",
        "5",
        "--out",
        str(out),
    ]
    assert generate_main(argv) == 0
    assert json.loads(out.read_text(encoding="utf-8")) == generate(3, 4, 2, 3, seed=5)


def test_counting_check_refutes_broken_quotas() -> None:
    """The counting check is not vacuous: quotas that ask for too much are caught."""
    doc = load("national-20x10.json")
    doc["quotas"]["region_year"] = {"min": 3, "max": 3}
    doc["quotas"]["year"] = {"min": 20, "max": 20}
    problems = counting_problems(doc)
    assert any("ryanggang: minimum quotas exceed" in p for p in problems)
    assert any("regional minimums" in p for p in problems)


def test_pilot_solves_to_optimality(backend: str) -> None:
    """The tutorial scenario is proved optimal on every backend, to the same unit."""
    from solver.evaluate import evaluate
    from solver.scenario import parse_scenario
    from solver.solve import solve

    scenario = parse_scenario((INSTANCES / "kimhwa-pilot.json").read_text(encoding="utf-8"))
    plan = solve(scenario, backend=backend, time_limit=60, threads=2)
    assert plan.status == "optimal"
    # 53,573: the optimum all three backends and the PuLP baseline agree on (benchmarks/RESULTS.md).
    assert plan.objective == 53_573
    assert evaluate(scenario, plan.to_document()).holds


def test_rdplan_generate_cli(tmp_path: Path) -> None:
    import subprocess
    import sys

    out = tmp_path / "g.json"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "solver.cli",
            "generate",
            "--regions",
            "3",
            "--sites-per-region",
            "4",
            "--years",
            "3",
            "--crew-pools",
            "2",
            "--seed",
            "7",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    v = subprocess.run(
        [sys.executable, "-m", "solver.cli", "validate", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert v.returncode == 0, v.stderr
    assert "12 sites, 3 regions, 3 years, 2 crew pools" in v.stderr


# --- the backtest -----------------------------------------------------------------------------


def _backtest_table(data_dir: Path, year: int) -> str:
    from instances.backtest import backtest, to_markdown

    plan = load("plans/national-20x10-optimal.json")
    return to_markdown(backtest(plan, data_dir, year), year)


def test_backtest_table_is_the_readme_one(data_dir: Path) -> None:
    """instances/README.md's backtest table is what the script prints for the committed optimum."""
    readme = (INSTANCES / "README.md").read_text(encoding="utf-8")
    table = _backtest_table(data_dir, 2024)
    assert table in readme
    assert table.splitlines()[-1] == "| **all** | 20 | 18 | 0 | | |"


def test_backtest_labels_the_year_it_compares(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--year 2025`` compares with the 2025 batch and says so in its header."""
    from instances.backtest import main

    plan = str(INSTANCES / "plans" / "national-20x10-optimal.json")
    assert main([plan, "--data-dir", str(data_dir), "--year", "2025"]) == 0
    header, _, *rows, total = capsys.readouterr().out.splitlines()
    assert "built 2025" in header and "model 2025" in header and "2024" not in header
    assert total.startswith("| **all** | 19 |")  # Kaephung matches no site
