"""Infeasible scenarios of every group kind: the returned set is infeasible and irreducible.

Irreducibility is checked by re-solving: the set alone is infeasible, and
without any one member the rest admits a solution (SPEC §4).
"""

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from solver.conflicts import find_conflicts, subset_feasible
from solver.problem import build_problem
from solver.replan import apply_baseline, solve_arguments
from solver.scenario import ScenarioError, parse_scenario
from solver.solve import solve
from tests.factory import scenario, site

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"

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


def _national_short_of_crews(share: float | None = None, loss: int = 0) -> dict[str, Any]:
    """national-20x10 with its 2027 crews cut: every pool to ``share`` of its count, or the
    first national pool short by ``loss``."""
    doc = json.loads((DATA / "national-20x10.json").read_text())
    for pool in doc["crews"]:
        available = {str(y): pool["count"] for y in range(2024, 2033)}
        if share is not None:
            available["2027"] = int(pool["count"] * share)
        elif pool["id"] == "kpa-124.1":
            available["2027"] = pool["count"] - loss
        pool["available"] = available
    return doc


def test_national_crews_short_of_the_yearly_quota_is_named_by_two_rules() -> None:
    # A quarter of every pool in 2027: 13 crews where the yearly quota asks for 17 builds of
    # at least one crew each. CP-SAT's check of every rule could not decide this in a minute;
    # the LP refutes it, and the set is the two rules a planner would change.
    doc = _national_short_of_crews(share=0.25)
    plan = solve(doc, time_limit=60, threads=2)
    assert plan.status == "infeasible"
    assert [(c["group"], c["year"]) for c in plan.conflicts] == [
        ("crews", 2027),
        ("quota.year", 2027),
    ]
    assert "conflicts_irreducible" not in plan.solver
    data = build_problem(parse_scenario(doc))
    assert subset_feasible(data, plan.conflicts) is False
    for i in range(2):
        assert subset_feasible(data, plan.conflicts[:i] + plan.conflicts[i + 1 :]) is True


def test_a_frozen_replan_three_crews_short_names_the_frozen_builds() -> None:
    # The optimum frozen through 2027, then a national pool three crews short in 2027: its
    # builds need 50 crews where 47 can come. The conflict set was empty after a minute.
    base = json.loads((ROOT / "instances/plans/national-20x10-optimal.json").read_text())
    scenario_ = apply_baseline(parse_scenario(_national_short_of_crews(loss=3)), base, 2027)
    plan = solve(scenario_, time_limit=60, threads=2)
    assert plan.status == "infeasible"
    assert "conflicts_irreducible" not in plan.solver
    built_2027 = {b["site"] for b in base["builds"] if b["year"] == 2027}
    assert ("crews", 2027) in {(c["group"], c.get("year")) for c in plan.conflicts}
    sites = {c["site"] for c in plan.conflicts if c["group"] in ("window", "build_once")}
    assert sites and sites <= built_2027
    assert subset_feasible(build_problem(scenario_), plan.conflicts) is False
    # The crews' message measures the set's sites against the pools that reach them; it said
    # "53 crew(s) can work in 2027", every crew in the country (a QA pass).
    crews = next(c["message"] for c in plan.conflicts if c["group"] == "crews")
    match = re.search(
        r"(\d+) site\(s\) that must be built in 2027 .* need at least (\d+) crew\(s\), each at"
        r" its cheapest design, from pools that reach them, which have (\d+) that year"
        r" \((\d+) in all\)",
        crews,
    )
    assert match, crews
    pinned, need, near, total = (int(v) for v in match.groups())
    once = {c["site"] for c in plan.conflicts if c["group"] == "build_once"}
    assert pinned == len(once) and need > near and total > near, crews


def test_a_national_balance_at_zero_points_names_the_first_years_rules() -> None:
    # At 0 points every province must advance in exact proportion, which whole sites cannot:
    # the LP holds (it builds fractions of sites) and CP-SAT's check of every rule could not
    # decide in a minute, so the set was empty. CP-SAT refutes 2024's rules alone.
    doc = json.loads((DATA / "national-20x10.json").read_text())
    doc["balance"]["tolerance_pct"] = 0
    plan = solve(doc, time_limit=60, threads=2)
    assert plan.status == "infeasible"
    assert "conflicts_irreducible" not in plan.solver
    balance = [c for c in plan.conflicts if c["group"] == "balance"]
    assert {c["region"] for c in balance} == {r["id"] for r in doc["regions"]}
    rest = [c for c in plan.conflicts if c["group"] != "balance"]
    assert len(rest) == 1 and rest[0]["group"] in ("quota.year", "quota.region_year")
    assert {c["year"] for c in plan.conflicts} == {2024}
    data = build_problem(parse_scenario(doc))
    assert subset_feasible(data, plan.conflicts) is False
    # Without the quota nothing need be built; without one province's row it may trail.
    assert subset_feasible(data, balance) is True
    assert subset_feasible(data, balance[1:] + rest) is True


def test_a_cancel_stops_the_conflict_search() -> None:
    """A cancel during the conflict search (national at 0 points of balance: ~20 s of it) was
    not seen: the service killed the job after its grace and the proved infeasibility was lost
    (a QA pass). The search stops within a fraction of a second now, and says so."""
    doc = json.loads((DATA / "national-20x10.json").read_text())
    doc["balance"]["tolerance_pct"] = 0
    data = build_problem(parse_scenario(doc))
    cancel = threading.Event()
    threading.Timer(1.5, cancel.set).start()
    started = time.perf_counter()
    found = find_conflicts(data, time_limit=60, threads=1, cancel=cancel)
    assert time.perf_counter() - started < 1.5 + 3.0  # without the cancel: ~20 s, or 60
    assert found.cancelled and not found.irreducible and not found.feasible
    assert found.conflicts == []  # nothing refuted in 1.5 s

    # through solve(): the proof of infeasibility stands, the search's cancel is said
    cancel = threading.Event()
    threading.Timer(12.0, cancel.set).start()  # the proof takes ~2-5 s on 2 cores
    started = time.perf_counter()
    plan = solve(doc, backend="highs", time_limit=60, threads=1, cancel=cancel)
    assert time.perf_counter() - started < 12.0 + 3.0
    solver = plan.to_document()["solver"]
    assert plan.status == "infeasible", solver
    assert solver["conflicts_irreducible"] is False
    assert "the conflict search was cancelled" in solver["detail"]


def _replanned(doc: dict[str, Any], base: dict[str, Any], freeze_through: int) -> Any:
    """``doc`` re-planned against ``base`` frozen through a year, solved as the CLI does."""
    scenario_ = apply_baseline(parse_scenario(doc), base, freeze_through)
    return solve(
        scenario_,
        backend="cpsat",
        time_limit=30,
        threads=1,
        **solve_arguments(scenario_, base, freeze_through),
    )


def test_a_replans_conflicts_speak_of_the_freeze() -> None:
    """A re-plan's conflict set told the planner to "unfix" sites and "widen windows" that
    only the freeze had made (a QA pass); it names the freeze now. And a window moved past
    a frozen build was an error at ``sites[i].fixed.year``, a field the planner never wrote."""
    doc = json.loads((ROOT / "instances/kimhwa-pilot.json").read_text())
    base = solve(doc, backend="cpsat", time_limit=20, threads=1).to_document()
    # crews lost in the frozen year 2025: its frozen builds cannot all be staffed
    short = json.loads(json.dumps(doc))
    short["crews"][0]["available"] = {"2024": 5, "2025": 2, "2026": 5, "2027": 5}
    plan = _replanned(short, base, 2025)
    assert plan.status == "infeasible"
    frozen = [c for c in plan.conflicts if c["group"] in ("window", "build_once")]
    assert frozen and all("frozen" in c["message"] for c in frozen), plan.conflicts
    assert not any("unfix" in c["message"] for c in plan.conflicts), plan.conflicts
    # the horizon cut to 2026: the sites left unbuilt by 2025 must all go in 2026
    shorter = json.loads(json.dumps(doc))
    shorter["horizon"]["end"] = 2026
    plan = _replanned(shorter, base, 2025)
    assert plan.status == "infeasible"
    windows = [c for c in plan.conflicts if c["group"] == "window"]
    assert windows and all("the years through 2025 are frozen" in c["message"] for c in windows)
    quota = [c for c in plan.conflicts if c["group"] == "quota.region_year"]
    assert all("not built in the frozen years" in c["message"] for c in quota)
    # a window moved past the site's frozen build: named at the site, as the freeze
    first = next(b for b in base["builds"] if b["year"] == 2024)
    i = [s["id"] for s in doc["sites"]].index(first["site"])
    moved = json.loads(json.dumps(doc))
    moved["sites"][i]["earliest"] = 2026
    with pytest.raises(ScenarioError) as info:
        apply_baseline(parse_scenario(moved), base, 2025)
    [error] = info.value.errors
    assert error.path == f"sites[{i}]" and "frozen" in error.message, error


def test_a_precedence_of_gap_zero_says_no_later_than() -> None:
    """A cycle of two precedences, one of gap 0: its message said "'n2' must be built at least
    0 year(s) before 'n1'" (a QA pass); the evaluator said "at least 0 year(s)" too."""
    doc = json.loads((Path(__file__).parents[1] / "data" / "tiny.json").read_text())
    doc["precedences"] = [
        {"before": "n1", "after": "n2", "gap": 1},
        {"before": "n2", "after": "n1", "gap": 0},
    ]
    plan = solve(doc, backend="highs", time_limit=20, threads=1)
    assert plan.status == "infeasible"
    said = {c["message"] for c in plan.conflicts if c["group"] == "precedence"}
    assert said == {
        "'n1' must be built at least 1 year(s) before 'n2': drop or shorten this precedence",
        "'n2' must be built no later than 'n1': drop or shorten this precedence",
    }


def _tiny_with(**changes: Any) -> dict[str, Any]:
    doc = json.loads((Path(__file__).parents[1] / "data" / "tiny.json").read_text())
    doc.update(changes)
    return doc


def _messages(doc: dict[str, Any]) -> dict[tuple[str, Any], str]:
    plan = solve(doc, backend="highs", time_limit=20, threads=1)
    assert plan.status == "infeasible", plan.status
    assert subset_feasible(build_problem(parse_scenario(doc)), plan.conflicts) is False
    return {
        (c["group"], c.get("year", c.get("region", c.get("site")))): c["message"]
        for c in plan.conflicts
    }


def test_a_limits_message_says_what_the_set_needs_and_what_can_help() -> None:
    """A QA audit of the explanations: every set was right, its messages not. The crews,
    resources and technicians messages gave a national total or no number at all, and advice
    that could not help ("train earlier" with no year before, "add crews" where no pool
    reaches the site, "build less that year" where no build fits the year). Each now states
    what the set's builds need against what the limit allows, and only changes that can help."""
    # lead time 2 on a two-year horizon: s1 (2031 at the earliest) can have no trainee
    said = _messages(_tiny_with(training={"lead_time": 2}))
    tech = said[("technicians", "south")]
    assert "needs at least 10 technician(s) by 2031" in tech and "can have at most 0" in tech
    assert "the lead time is 2 year(s)" in tech and "train earlier" not in tech
    assert "shorten training.lead_time" in tech and "training_capacity" not in tech
    # no pool reaches s1 (south, beyond k1's 100 km; k2 serves the north only)
    doc = _tiny_with()
    doc["regions"][1]["trained_stock"] = 100
    doc["crews"][0]["max_distance_km"] = 100
    doc["crews"][1]["max_distance_km"] = 100
    said = _messages(doc)
    crews = [m for (g, _), m in said.items() if g == "crews"]
    assert crews and all("no crew pool reaches 's1'" in m for m in crews), said
    assert not any("add crews" in m for m in crews)
    # steel 4 in 2030, where the cheapest design needs 5: building less cannot help
    doc = _tiny_with(resources=[{"id": "steel", "limit": {"2030": 4, "2031": 20}}])
    doc["options"][0]["resources"] = {"steel": 5}
    doc["options"][1]["resources"] = {"steel": 8}
    steel = _messages(doc)[("resources", 2030)]
    assert "needs at least 5 of it" in steel and "build less" not in steel, steel
    # n1 fixed large (2 crews) in 2030 and the national quota asks for a second build: 3
    # crews at the least, where the pools that reach them have 2 (1 of k1, 1 of k2)
    doc = _tiny_with(quotas={"year": {"min": 2, "max": 2}})
    doc["regions"][1]["trained_stock"] = 100
    doc["regions"][0]["trained_stock"] = 100
    doc["sites"][0]["fixed"] = {"year": 2030, "option": "large"}
    doc["crews"][0]["available"] = {"2030": 1, "2031": 2}
    crews = _messages(doc)[("crews", 2030)]
    assert "('n1') and 1 more build(s) its minimum quotas ask for" in crews, crews
    assert "need at least 3 crew(s)" in crews and "which have 2 that year" in crews, crews


def test_a_minimum_quota_over_the_sites_does_not_ask_to_make_them_optional() -> None:
    """North must build 2 in 2030 and 1 in 2031 with its two sites: "make it optional" could
    not help (each site counts once, optional or not); the region's count was of every site,
    and its windows were named though none was in the set."""
    said = _messages(
        _tiny_with(
            quotas={
                "overrides": [
                    {"region": "north", "year": 2030, "min": 2},
                    {"region": "north", "year": 2031, "min": 1},
                ]
            }
        )
    )
    once = [m for (g, _), m in said.items() if g == "build_once"]
    assert once and not any("optional" in m for m in once), once
    assert all("minimum quotas" in m for m in once)
    quota = said[("quota.region_year", 2030)]
    assert "2 of its 2 site(s) can be built then" in quota and "windows" not in quota, quota


def test_a_limits_numbers_are_a_lower_bound_and_a_quota_of_another_region_is_not_its() -> None:
    """A review of the messages above: a quota's count below zero took every site but the
    last, a region quota's unchosen sites left the national one's candidates ("need at least
    10" where 8 crews do), so a message showed a shortage that was none; and a minimum quota
    of region S took "make it optional" from a site of region R, where it was the fix."""
    options = [{"id": "cheap", "crews": 1}, {"id": "big", "crews": 3}]
    sites = [site(n, {"cheap": 10}, region="R", required=False) for n in "abc"]
    sites += [site(n, {"big": 10}, region="S", required=False) for n in "def"]
    quotas = {"year": {"min": 4}, "overrides": [{"region": "R", "year": 2030, "min": 1, "max": 2}]}
    crews = [{"id": "k", "count": 7, "lat": 40.0, "lon": 127.0}]
    doc = scenario(sites, 2030, 2030, ["R", "S"], options, crews=crews, quotas=quotas)
    said = _messages(doc)
    # 4 builds at the cheapest are 1 + 1 + 1 + 3 = 6 ≤ 7: no shortage to show, so none said
    assert "need at least" not in said[("crews", 2030)], said
    doc["crews"][0]["count"] = 8
    assert solve(doc, backend="highs", time_limit=20, threads=1).status == "optimal"

    options = [{"id": "big", "crews": 2}]
    sites = [site("a", {"big": 10}, region="R"), site("s", {"big": 10}, region="S", required=False)]
    quotas = {"overrides": [{"region": "S", "year": 2030, "min": 1}]}
    crews = [{"id": "k", "count": 3, "lat": 40.0, "lon": 127.0}]
    doc = scenario(sites, 2030, 2030, ["R", "S"], options, crews=crews, quotas=quotas)
    said = _messages(doc)
    assert "make it optional" in said[("build_once", "a")], said
    assert "need at least 4 crew(s)" in said[("crews", 2030)], said
    doc["sites"][0]["required"] = False
    assert solve(doc, backend="highs", time_limit=20, threads=1).status == "optimal"
