"""Plan diffs: what moved, what changed design, what dropped out, whose crews changed."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from solver.plan import PLAN_STATUSES
from solver.problem import build_problem
from solver.scenario import Scenario


class NoBuildsError(ValueError):
    """A plan is a verdict without builds (``infeasible``, ``unknown``, ``invalid``): read as a
    plan that builds nothing, a diff would list every site as dropped (and a table count
    nothing). ``side``: ``"a"`` or ``"b"`` of a comparison, None for one plan; ``what``: what
    it has no builds to do."""

    def __init__(
        self, side: str | None, status: Any, label: str | None = None, what: str = "compare"
    ):
        self.side, self.status, self.label, self.what = side, status, label, what
        if side is None:
            name = "plan" if label is None else f"plan '{label}'"
        else:
            name = f"plan {side}" if label is None else f"plan {side} ({label})"
        super().__init__(f"{name} is {status}: it has no builds to {what}")


def _builds(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["site"]: b for b in plan.get("builds", [])}


def _crews(build: dict[str, Any]) -> dict[str, int]:
    return {c["pool"]: c["count"] for c in build.get("crews", [])}


def served_curves(plan: dict[str, Any], scenario: Scenario) -> dict[str, list[int]]:
    """Per region, the population served by the end of each year of the horizon."""
    data = build_problem(scenario)
    curves = {r: [0] * data.num_years for r in data.region_ids}
    for b in plan.get("builds", []):
        s = data.site_index.get(b["site"])
        if s is None or not data.start <= b["year"] <= data.end:
            continue
        region = data.region_ids[data.site2region[s]]
        for y in range(b["year"] - data.start, data.num_years):
            curves[region][y] += int(data.population[s])
    return curves


def diff_plans(
    a: dict[str, Any],
    b: dict[str, Any],
    scenario: Scenario | None = None,
    scenario_a: Scenario | None = None,
) -> dict[str, Any]:
    """Differences from plan ``a`` to plan ``b`` (both SPEC §4 documents);
    :class:`NoBuildsError` when either is a verdict without builds. With ``scenario`` (``b``'s)
    the population served over time too, ``a``'s on ``scenario_a`` when it is another
    scenario's plan (on ``b``'s, its sites of another scenario served no one); left out when
    the two horizons differ, as the curves then share no axis of years."""
    for side, plan in (("a", a), ("b", b)):
        if plan.get("status") not in PLAN_STATUSES:
            raise NoBuildsError(side, plan.get("status"))
    ba, bb = _builds(a), _builds(b)
    moved, redesigned, dropped, added, crews = [], [], [], [], []
    for site in sorted(ba.keys() | bb.keys()):
        x, y = ba.get(site), bb.get(site)
        if x is None and y is not None:
            added.append(
                {"site": site, "region": y["region"], "year": y["year"], "option": y["option"]}
            )
        elif y is None and x is not None:
            dropped.append(
                {"site": site, "region": x["region"], "year": x["year"], "option": x["option"]}
            )
        elif x is not None and y is not None:
            if x["year"] != y["year"]:
                moved.append(
                    {"site": site, "region": x["region"], "from": x["year"], "to": y["year"]}
                )
            if x["option"] != y["option"]:
                redesigned.append(
                    {"site": site, "region": x["region"], "from": x["option"], "to": y["option"]}
                )
            if x["year"] == y["year"] and _crews(x) != _crews(y):
                crews.append({"site": site, "year": x["year"], "from": _crews(x), "to": _crews(y)})
    per_year: dict[int, dict[str, int]] = defaultdict(lambda: {"a": 0, "b": 0})
    for site_build in ba.values():
        per_year[site_build["year"]]["a"] += 1
    for site_build in bb.values():
        per_year[site_build["year"]]["b"] += 1
    ta, tb = a.get("terms") or {}, b.get("terms") or {}
    out: dict[str, Any] = {
        "a": {
            "scenario": a.get("scenario"),
            "status": a.get("status"),
            "objective": a.get("objective"),
        },
        "b": {
            "scenario": b.get("scenario"),
            "status": b.get("status"),
            "objective": b.get("objective"),
        },
        "objective_change": None
        if a.get("objective") is None or b.get("objective") is None
        else b["objective"] - a["objective"],
        "terms": {
            k: {"a": ta.get(k), "b": tb.get(k)}
            for k in ("benefit", "mobilization", "training", "stability")
        },
        "moved": moved,
        "redesigned": redesigned,
        "dropped": dropped,
        "added": added,
        "crews_reassigned": crews,
        "builds_per_year": {str(y): v for y, v in sorted(per_year.items())},
        "unchanged": sum(
            1
            for s in ba.keys() & bb.keys()
            if ba[s]["year"] == bb[s]["year"] and ba[s]["option"] == bb[s]["option"]
        ),
    }
    own = scenario_a if scenario_a is not None else scenario
    if scenario is not None and own is not None and list(own.years) == list(scenario.years):
        outside = [
            side
            for side, plan, on in (("a", a, own), ("b", b, scenario))
            if any(not on.horizon.start <= int(x["year"]) <= on.horizon.end for x in plan["builds"])
        ]
        unknown = [
            side
            for side, plan, on in (("a", a, own), ("b", b, scenario))
            if not {x["site"] for x in plan["builds"]} <= {site.id for site in on.sites}
        ]
        if outside or unknown:
            # Builds outside the horizon or of sites the scenario does not have would be left
            # out of the curves without a word (another scenario's plan against this one): no
            # curves, and why.
            why = []
            if outside:
                why.append(
                    f"plan {' and '.join(outside)} builds in years outside the scenario's"
                    f" horizon {scenario.horizon.start}..{scenario.horizon.end}"
                )
            if unknown:
                why.append(f"plan {' and '.join(unknown)} builds sites the scenario does not have")
            out["served_population_note"] = (
                f"no served-population curves: {'; '.join(why)} (a plan of another scenario?)"
            )
            return out
        out["served_population"] = {
            "years": list(scenario.years),
            "a": served_curves(a, own),
            "b": served_curves(b, scenario),
        }
    return out


def _number(value: Any, sign: str = "") -> str:
    """An integer as the other reports print it (``1,861,928``; ``+25,000`` with ``sign="+"``)."""
    return format(value, f"{sign if value else ''},") if isinstance(value, int) else str(value)


def _crew_list(crews: dict[str, int]) -> str:
    """A build's crews as the builds CSV writes them: ``pool:count`` pairs."""
    return " ".join(f"{pool}:{count}" for pool, count in crews.items()) or "none"


def format_diff(diff: dict[str, Any]) -> str:
    """A plain-text report of a diff, for the terminal: numbers as the solve and check summaries
    print them, crews as the builds CSV."""
    a, b, change = diff["a"]["objective"], diff["b"]["objective"], diff["objective_change"]
    lines = [f"objective: {_number(a)} -> {_number(b)} (change {_number(change, '+')})"]
    for k, v in diff["terms"].items():
        lines.append(f"  {k:<13} {_number(v['a'])} -> {_number(v['b'])}")
    lines.append(f"unchanged builds: {diff['unchanged']}")
    for key, label in (
        ("moved", "moved"),
        ("redesigned", "new design"),
        ("dropped", "dropped"),
        ("added", "added"),
    ):
        for item in diff[key]:
            if key in ("moved", "redesigned"):
                lines.append(
                    f"{label:<10} {item['site']} ({item['region']}): {item['from']} -> {item['to']}"
                )
            else:
                lines.append(
                    f"{label:<10} {item['site']} ({item['region']}) {item['year']} {item['option']}"
                )
    for item in diff["crews_reassigned"]:
        lines.append(
            f"crews      {item['site']} {item['year']}: {_crew_list(item['from'])} -> "
            f"{_crew_list(item['to'])}"
        )
    served = diff.get("served_population")  # with the scenario only
    if served is not None:
        changes = []
        for region, curve_a in served["a"].items():
            curve_b = served["b"][region]
            years = [
                f"{year} {b - a:+,}"
                for year, a, b in zip(served["years"], curve_a, curve_b, strict=True)
                if a != b
            ]
            if years:
                changes.append(f"served     {region}: " + ", ".join(years))
        lines.extend(changes or ["served population: the same in every region and year"])
    if diff.get("served_population_note"):
        lines.append(diff["served_population_note"])
    return "\n".join(lines)
