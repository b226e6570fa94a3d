"""Re-planning: a baseline plan as stability reference and warm start, with frozen years.

``apply_baseline`` returns a new validated scenario whose ``baseline`` is the
given plan's builds and, with ``freeze_through = Y``, whose years up to ``Y``
are exactly the baseline's: every baseline build up to ``Y`` becomes ``fixed``
(year and option) and every other site gets ``earliest >= Y + 1``. When the
baseline is a plan document with its ``training``, no region can train more in a
frozen year than that plan did: the year's ``training_capacity`` becomes the
plan's trainees there (0 where it trained none), so a re-plan never counts on
technicians the frozen years did not train. The scenario (SPEC §2) can cap a
year's training but not fix it; :func:`frozen_training` gives those frozen
amounts, and ``solver.solve.solve(..., fixed_training=...)`` holds every plan to
exactly them (:func:`fix_training`): frozen years are history, their trainees
included, whatever the rest of the plan needs. The CLI, the service's re-plan
jobs and the benchmark's frozen re-plan pass them. The crews of the frozen years
are history too: when the baseline plan names its builds' crews, :func:`frozen_crews`
gives them and ``solve(..., held_crews=...)`` returns them as the plan's crews of
those years (:func:`hold_crews`), wherever they still hold in the scenario solved.
Each year's crews serve only that year's builds, so no later year depends on them
and holding them changes nothing else; the plan's objective and bound move by the
kilometres the held crews travel more than the solver's (none when the baseline's
crews were the cheapest for its builds, as every rdplan plan's are, and the frozen
years' pools and distances did not change). In the other years the baseline's crews
are preferred: kept wherever they are among the cheapest for the new builds
(``solve(..., prefer_crews=...)``, ``solver.flows.crew_preference``). The solver is
warm-started from the baseline.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from pydantic import ValidationError

from solver.flows import Crews
from solver.model import MatrixModel
from solver.plan import PLAN_STATUSES, Build, CrewAssignment, TrainingRow
from solver.problem import ProblemData
from solver.scenario import (
    MAX_INT,
    FieldError,
    Scenario,
    ScenarioError,
    load_document,
    parse_scenario,
)


def _refuse(path: str, message: str) -> ScenarioError:
    """The error of one field of a baseline plan or of the re-planned scenario."""
    return ScenarioError([FieldError(path=path, message=message)])


def baseline_builds(plan: str | bytes | dict[str, Any]) -> list[dict[str, Any]]:
    """``[{"site", "year", "option"}]`` of a plan document. A verdict (``infeasible``,
    ``unknown``, ``invalid``) has no builds to keep: re-planned against it, the scenario would
    silently lose its baseline, so it is an error."""
    doc = load_document(plan) if not isinstance(plan, dict) else plan
    status = doc.get("status")
    if status is not None and status not in PLAN_STATUSES:
        raise _refuse("baseline.status", f"the baseline plan is {status}: it has no builds to keep")
    builds = doc.get("builds")
    if not isinstance(builds, list):
        raise _refuse("baseline.builds", "the baseline plan has no list of builds")
    out = []
    for i, b in enumerate(builds):
        if not isinstance(b, dict) or not all(k in b for k in ("site", "year", "option")):
            raise _refuse(f"baseline.builds[{i}]", "each build needs site, year and option")
        out.append({"site": b["site"], "year": b["year"], "option": b["option"]})
    return out


def baseline_training(
    plan: str | bytes | dict[str, Any],
    regions: Collection[str] | None = None,
    years: Collection[int] | None = None,
) -> dict[tuple[str, int], int] | None:
    """``{(region, year): trainees}`` of a plan document's ``training``; None when it has none
    (a list of builds, or a plan without the key: its training is not known). With
    ``regions`` and ``years`` (the scenario's), a row of another region or year is an error:
    its trainees would otherwise count nowhere and the region's frozen years train none. A
    region and year listed twice is an error too (a plan has one row for each)."""
    doc = load_document(plan) if not isinstance(plan, dict) else plan
    training = doc.get("training")
    if training is None:
        return None
    if not isinstance(training, list):
        raise _refuse("baseline.training", "the baseline plan's training is not a list")
    out: dict[tuple[str, int], int] = {}
    seen: dict[tuple[str, int], int] = {}
    errors: list[FieldError] = []  # every row's, at once (a plan of another scenario: all)
    for i, item in enumerate(training):
        path = f"baseline.training[{i}]"
        try:
            row = _plan_row(
                TrainingRow,
                item,
                path,
                f"each training entry needs region, year and trainees (an integer in 0..{MAX_INT:,})",
                lambda r: 0 <= r.trainees <= MAX_INT,
            )
        except ScenarioError as exc:
            errors += exc.errors
            continue
        key = (row.region, row.year)
        if regions is not None and row.region not in regions:
            errors.append(
                FieldError(path=f"{path}.region", message=f"unknown region '{row.region}'")
            )
        elif years is not None and row.year not in years:
            first, last = min(years), max(years)
            errors.append(
                FieldError(
                    path=f"{path}.year",
                    message=f"{row.year} is not a year of the horizon {first}..{last}",
                )
            )
        elif key in seen:
            errors.append(
                FieldError(
                    path=path,
                    message=f"a second entry for region '{row.region}' and year {row.year} (also training[{seen[key]}])",
                )
            )
        else:
            seen[key] = i
            out[key] = row.trainees
    if errors:
        raise ScenarioError(errors)
    return out


Row = TypeVar("Row", TrainingRow, CrewAssignment)


def _plan_row(
    model: type[Row], item: Any, path: str, message: str, ok: Callable[[Row], bool]
) -> Row:
    """``item`` read as a plan document's ``model`` row (strictly, as every plan reader does),
    or a ScenarioError at ``path`` when it is not one or ``ok`` refuses it."""
    try:
        row = model.model_validate(item, strict=True)
    except ValidationError:
        row = None
    if row is None or not ok(row):
        raise _refuse(path, message)
    return row


def baseline_crews(
    plan: str | bytes | dict[str, Any],
) -> dict[tuple[str, int], list[tuple[str, int]]] | None:
    """``{(site, year): [(pool, count)]}`` of a plan document's builds; None when its builds
    carry no crews (a list of ``{"site", "year", "option"}``: its crews are not known)."""
    doc = load_document(plan) if not isinstance(plan, dict) else plan
    builds = doc.get("builds")
    if not isinstance(builds, list) or not any(
        isinstance(b, dict) and "crews" in b for b in builds
    ):
        return None
    out: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for i, b in enumerate(builds):
        crews = b.get("crews", []) if isinstance(b, dict) else None
        if not isinstance(crews, list):
            raise _refuse(f"baseline.builds[{i}].crews", "crews is not a list")
        held = []
        for j, item in enumerate(crews):
            crew = _plan_row(
                CrewAssignment,
                item,
                f"baseline.builds[{i}].crews[{j}]",
                f"each crew entry needs pool, count (an integer in 0..{MAX_INT:,}) and distance_km",
                lambda c: 0 <= c.count <= MAX_INT,
            )
            if crew.count:  # a zero row holds no crew (the evaluator's reading too)
                held.append((crew.pool, crew.count))
        out[(str(b["site"]), int(b["year"]))] = held
    return out


def freeze_year_error(scenario: Scenario, freeze_through: int) -> str | None:
    """Why ``scenario`` cannot be frozen through ``freeze_through``, or None when it can: a
    year before the horizon would freeze nothing and one after it everything, neither what a
    year typed wrong meant (the CLI and the service refuse both, with this message)."""
    start, end = scenario.horizon.start, scenario.horizon.end
    if start <= freeze_through <= end:
        return None
    return f"{freeze_through} is not a year of the horizon {start}..{end}"


def _frozen_years(start: int, end: int, freeze_through: int) -> range:
    """The years of the horizon ``start..end`` up to ``freeze_through`` (none before it)."""
    return range(start, min(freeze_through, end) + 1)


def _cap_frozen_training(
    doc: dict[str, Any], trained: dict[tuple[str, int], int], freeze_through: int
) -> None:
    """Each region's ``training_capacity`` in the frozen years: at most what the baseline plan
    trained there. A region without a capacity gets, in the other years, the technicians all
    its sites could ever need — a cap no plan is held back by (training beyond it staffs
    nothing)."""
    start, end = doc["horizon"]["start"], doc["horizon"]["end"]
    frozen = _frozen_years(start, end, freeze_through)
    if not len(frozen):
        return
    most = {o["id"]: o.get("technicians", 0) for o in doc["options"]}
    need: dict[str, int] = {}
    for s in doc["sites"]:
        need[s["region"]] = need.get(s["region"], 0) + max(most[o] for o in s["benefit"])
    for region in doc["regions"]:
        capacity = region.get("training_capacity")
        if capacity is None:
            per_year = {str(y): need.get(region["id"], 0) for y in range(start, end + 1)}
        elif isinstance(capacity, int):
            per_year = {str(y): capacity for y in range(start, end + 1)}
        else:
            per_year = dict(capacity)
        for y in frozen:
            # at most the what-if's own bound: unlimited, SPEC §3 bounds t by the region's
            # largest possible need, which a what-if may lower below what was trained (fewer
            # technicians a design: 25 trained, 22 held; rdplan check refuses 25 there)
            per_year[str(y)] = min(per_year[str(y)], trained.get((region["id"], y), 0))
        region["training_capacity"] = per_year


def apply_baseline(
    scenario: Scenario, plan: str | bytes | dict[str, Any] | None, freeze_through: int | None = None
) -> Scenario:
    """The scenario re-planned against ``plan`` (or its own baseline), frozen through a year."""
    doc = copy.deepcopy(scenario.to_document())
    if plan is not None:
        doc["baseline"] = baseline_builds(plan)
        # its crews' errors here, with the rest: every re-plan prefers them (solve_arguments)
        baseline_crews(plan)
        if freeze_through is None:  # its training's form too, frozen or not (a QA pass: "x"
            baseline_training(plan)  # was taken without a freeze, refused with one)
    baseline = doc.get("baseline", [])
    copied: set[str] = set()  # the frozen sites' fixed builds, copied from baseline rows
    # Every error at once: a plan of another scenario has unknown sites and unknown regions.
    errors: list[FieldError] = []
    if freeze_through is not None:
        regions = {r["id"] for r in doc["regions"]}
        horizon = range(scenario.horizon.start, scenario.horizon.end + 1)
        trained = None
        try:
            trained = baseline_training(plan, regions, horizon) if plan is not None else None
        except ScenarioError as exc:
            errors += exc.errors
        if trained is not None:
            _cap_frozen_training(doc, trained, freeze_through)
        if not baseline and plan is None:  # a plan that builds nothing freezes empty years
            message = (
                "freezing years needs a baseline: a plan to re-plan from, or the scenario's own"
            )
            raise ScenarioError([*errors, FieldError(path="baseline", message=message)])
        frozen = {b["site"]: b for b in baseline if b["year"] <= freeze_through}
        for i, s in enumerate(doc["sites"]):
            if s["id"] in frozen:
                b = frozen[s["id"]]
                own = s.get("fixed")
                if own is not None and (
                    own["year"] != b["year"] or own.get("option", b["option"]) != b["option"]
                ):
                    # the what-if's own fixed build, which the freeze replaced without a word
                    # while check held the plan to it (a QA pass)
                    at = f"{own['year']}" + (
                        f" with option '{own['option']}'" if "option" in own else ""
                    )
                    errors.append(
                        FieldError(
                            path=f"sites[{i}].fixed",
                            message=f"site '{s['id']}' is fixed to {at}, and the baseline builds it in {b['year']} with option '{b['option']}', a frozen year: freeze fewer years, or fix it as the baseline builds it",
                        )
                    )
                    continue
                s["fixed"] = {"year": b["year"], "option": b["option"]}
                copied.add(f"sites[{i}].fixed")
            elif "fixed" in s and s["fixed"]["year"] <= freeze_through:
                errors.append(
                    FieldError(
                        path=f"sites[{i}].fixed",
                        message=f"site '{s['id']}' is fixed to {s['fixed']['year']}, a frozen year in which the baseline does not build it",
                    )
                )
            elif "fixed" not in s:
                earliest = max(s.get("earliest", scenario.horizon.start), freeze_through + 1)
                if s.get("latest", scenario.horizon.end) >= earliest:
                    s["earliest"] = earliest
                elif s.get("required", True):
                    errors.append(
                        FieldError(
                            path=f"sites[{i}]",
                            message=f"required site '{s['id']}' is not built in the frozen years and its window closes by {freeze_through}",
                        )
                    )
                else:
                    # An optional site whose window closed unbuilt: a window after the horizon.
                    s["earliest"] = s["latest"] = scenario.horizon.end + 1
    try:
        replanned = parse_scenario(json.loads(json.dumps(doc)))
    except ScenarioError as exc:
        # A bad baseline build (a year or option the scenario does not have) is named at
        # baseline[i]; the frozen site's fixed build copied from it is the same error at a
        # field the caller never wrote, so it is left out.
        found = exc.errors

        def copied_to(e: FieldError) -> str | None:
            return next((c for c in copied if e.path == c or e.path.startswith(c + ".")), None)

        if copied and any(e.path.startswith("baseline[") for e in found):
            found = [e for e in found if copied_to(e) is None]
        else:
            # the frozen build clashes with the planner's own rules (a window moved past it):
            # named at the site, as the freeze, not at a fixed build the planner never wrote
            found = [
                _as_frozen(e, c, doc, freeze_through) if (c := copied_to(e)) else e for e in found
            ]
        raise ScenarioError(found + errors) from None
    if errors:
        raise ScenarioError(errors)
    return replanned


def _as_frozen(
    error: FieldError, copied: str, doc: dict[str, Any], freeze_through: int | None
) -> FieldError:
    """An error at a frozen site's copied ``sites[i].fixed``, said of the site and the freeze."""
    site_path = copied.removesuffix(".fixed")
    site = doc["sites"][int(site_path.removeprefix("sites[").removesuffix("]"))]
    fixed = site["fixed"]
    return FieldError(
        path=site_path,
        message=f"the baseline builds site '{site['id']}' in {fixed['year']} with option"
        f" '{fixed['option']}' and the years through {freeze_through} are frozen: "
        f"{error.message} (freeze fewer years, or change the site)",
    )


def frozen_training(
    scenario: Scenario, plan: str | bytes | dict[str, Any] | None, freeze_through: int | None
) -> dict[tuple[str, int], int] | None:
    """``{(region, year): trainees}`` for every region and frozen year of ``scenario`` (one
    :func:`apply_baseline` returned, frozen through ``freeze_through`` against ``plan``): what
    the plan trained there (0 where it trained none). :func:`fix_training` holds them within
    the capacity :func:`apply_baseline` capped, and :func:`unheld_training` says where that
    held fewer. None when nothing is frozen or the plan's training is not known (no plan, or
    a list of builds)."""
    trained = None if freeze_through is None or plan is None else baseline_training(plan)
    if freeze_through is None or trained is None:
        return None
    years = _frozen_years(scenario.horizon.start, scenario.horizon.end, freeze_through)
    if not len(years):  # frozen through a year before the horizon: nothing is frozen
        return None
    for region in scenario.regions:  # apply_baseline wrote every region's capacity per year
        if not isinstance(region.training_capacity, dict):
            raise ValueError(f"region '{region.id}' has no per-year capacity: not frozen")
    return {(r.id, y): trained.get((r.id, y), 0) for r in scenario.regions for y in years}


def frozen_crews(
    scenario: Scenario, plan: str | bytes | dict[str, Any] | None, freeze_through: int | None
) -> Crews | None:
    """``{(site, year): [(pool, count)]}``: the crews of ``plan``'s builds in the frozen years
    of ``scenario`` (one :func:`apply_baseline` returned, frozen through ``freeze_through``).
    None when nothing is frozen or the plan's crews are not known (no plan, or a list of
    builds)."""
    return _held(scenario, None if plan is None else baseline_crews(plan), freeze_through)


def _held(scenario: Scenario, crews: Crews | None, freeze_through: int | None) -> Crews | None:
    """:func:`frozen_crews` of a plan's crews already read (:func:`baseline_crews`)."""
    if freeze_through is None or crews is None:
        return None
    if not len(_frozen_years(scenario.horizon.start, scenario.horizon.end, freeze_through)):
        return None
    return frozen_of(crews, freeze_through)


def solve_arguments(
    scenario: Scenario, plan: str | bytes | dict[str, Any] | None, freeze_through: int | None
) -> dict[str, Any]:
    """``solver.solve.solve``'s re-plan arguments for ``scenario`` (one :func:`apply_baseline`
    returned, against ``plan``, frozen through ``freeze_through``): the frozen years' trainees
    to hold (``fixed_training``) and crews to hold (``held_crews``), and the plan's crews to
    prefer elsewhere (``prefer_crews``); each None when not known or nothing is frozen; and
    ``freeze_through``, for the words of a conflict set."""
    crews = None if plan is None else baseline_crews(plan)
    return {
        "fixed_training": frozen_training(scenario, plan, freeze_through),
        "held_crews": _held(scenario, crews, freeze_through),
        "prefer_crews": crews,
        "freeze_through": freeze_through,
    }


def frozen_of(crews: Crews, freeze_through: int) -> Crews:
    """The crews of ``crews`` (:func:`baseline_crews`) in the years up to ``freeze_through``."""
    return {key: held for key, held in crews.items() if key[1] <= freeze_through}


def crew_rows(held: Crews) -> list[dict[str, Any]]:
    """``held`` as ``[{"site", "year", "pool", "count"}]`` (a re-plan job's options)."""
    return [
        {"site": site, "year": year, "pool": pool, "count": count}
        for (site, year), crews in sorted(held.items())
        for pool, count in crews
    ]


def crew_map(rows: list[dict[str, Any]]) -> dict[tuple[str, int], list[tuple[str, int]]]:
    """:func:`crew_rows` back."""
    out: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for c in rows:
        out.setdefault((str(c["site"]), int(c["year"])), []).append(
            (str(c["pool"]), int(c["count"]))
        )
    return out


def hold_crews(
    data: ProblemData,
    builds: list[Build],
    held: Crews,
) -> tuple[list[Build], int, list[str]]:
    """``builds`` with the crews of ``held`` (:func:`frozen_crews`) in every year where they
    hold: the year's builds are the held ones, each gets its option's crews from pools that
    reach it, and no pool sends more than it has that year. Returns the builds, the crew-km
    they travel more than before (negative when fewer), and why a year was not held (the
    solver's crews stay there: a what-if that changed a frozen year's pools, say).
    """
    out = list(builds)
    more_km = 0
    why_not: list[str] = []
    for year in sorted({year for _, year in held}):
        if not data.start <= year <= data.end:
            continue
        index = [i for i, b in enumerate(out) if b.year == year]
        kept = _held_year(data, [out[i] for i in index], held, year)
        if isinstance(kept, str):
            why_not.append(f"{year}: {kept}")
            continue
        for i, crews in zip(index, kept, strict=True):
            more_km += _km(crews) - _km(out[i].crews)
            out[i] = out[i].model_copy(update={"crews": crews})
    return out, more_km, why_not


def _km(crews: list[CrewAssignment]) -> int:
    return sum(c.count * c.distance_km for c in crews)


def _held_year(
    data: ProblemData,
    builds: list[Build],
    held: Crews,
    year: int,
) -> list[list[CrewAssignment]] | str:
    """The held crews of each of ``builds`` (the plan's builds of ``year``), or why they do
    not hold."""
    y = year - data.start
    built = {b.site for b in builds}
    extra = sorted(site for site, when in held if when == year and site not in built)
    if extra:
        return f"the baseline builds {extra[0]} that year"
    use: dict[int, int] = {}
    out = []
    for b in builds:
        s, o = data.site_index[b.site], data.option_index[b.option]
        crews = held.get((b.site, year))
        if crews is None:
            return f"the baseline does not build {b.site} that year"
        if sum(n for _, n in crews) != int(data.option_crews[o]):
            return f"the baseline sends {b.site} other crews than its option needs"
        if len({pool for pool, _ in crews}) < len(crews):
            return f"the baseline lists a pool twice at {b.site}"
        assigned = []
        for pool, n in crews:
            k = data.pool_index.get(pool)
            if k is None:
                return f"pool '{pool}' is not in the scenario"
            if not data.reach[k, s]:
                return f"pool '{pool}' cannot reach {b.site}"
            use[k] = use.get(k, 0) + n
            assigned.append(
                CrewAssignment(pool=pool, count=n, distance_km=int(data.distance[k, s]))
            )
        out.append(sorted(assigned, key=lambda c: c.pool))
    for k, n in sorted(use.items()):
        if n > int(data.available[k, y]):
            return f"pool '{data.pool_ids[k]}' sent {n} crews, it has {int(data.available[k, y])}"
    return out


def training_rows(fixed: Mapping[tuple[str, int], int]) -> list[dict[str, Any]]:
    """``fixed`` as ``[{"region", "year", "trainees"}]`` (a re-plan job's options)."""
    return [{"region": r, "year": y, "trainees": n} for (r, y), n in sorted(fixed.items())]


def training_map(rows: list[dict[str, Any]]) -> dict[tuple[str, int], int]:
    """:func:`training_rows` back."""
    return {(str(t["region"]), int(t["year"])): int(t["trainees"]) for t in rows}


def fix_training(
    model: MatrixModel, fixed: Mapping[tuple[str, int], int]
) -> tuple[MatrixModel, int]:
    """``model`` with each trainee column of ``fixed`` at exactly its amount (at most the
    column's upper bound), and how many columns that fixed. A frozen year's trainees without
    a column (none of them could staff a factory built in the horizon) have nothing to fix."""
    d = model.data
    lb, ub = model.col_lb.copy(), model.col_ub.copy()
    count = 0
    for j, (r, y) in enumerate(zip(model.t_region.tolist(), model.t_year.tolist(), strict=True)):
        amount = fixed.get((d.region_ids[r], d.start + y))
        if amount is None:
            continue
        col = model.t_offset + j
        lb[col] = ub[col] = min(float(amount), float(ub[col]))
        count += 1
    if not count:
        return model, 0
    return replace(model, col_lb=lb, col_ub=ub, lp_bound=None), count


def unheld_training(model: MatrixModel, fixed: Mapping[tuple[str, int], int]) -> str:
    """Where :func:`fix_training` holds fewer of ``fixed``'s trainees than the baseline
    trained, in words for the plan's ``solver.detail`` ("" where it holds them all): below the
    what-if's own bound (its capacity, or the technicians its designs could ever need, SPEC
    §3), or none where no factory built in the horizon could take them (the lead time)."""
    d = model.data
    column = {
        (d.region_ids[r], d.start + y): model.col_ub[model.t_offset + j]
        for j, (r, y) in enumerate(zip(model.t_region.tolist(), model.t_year.tolist(), strict=True))
    }
    lowered, dropped = [], []
    for (region, year), amount in sorted(fixed.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if amount <= 0:
            continue
        if (region, year) not in column:
            r, y = d.region_ids.index(region), year - d.start
            if 0 <= y < d.training_capacity.shape[1] and d.training_capacity[r, y] > 0:
                dropped.append(f"{region} {year} ({amount})")
            else:
                lowered.append(f"{region} {year} {amount} → 0")
        elif column[(region, year)] < amount:
            lowered.append(f"{region} {year} {amount} → {int(column[(region, year)])}")
    words = []
    if lowered:
        words.append("fewer than the baseline's, at the what-if's own bound: " + ", ".join(lowered))
    if dropped:
        words.append(
            "none held where no factory built in the horizon could take them (the lead time): "
            + ", ".join(dropped)
        )
    return "; ".join(words)
