"""Re-planning: a baseline plan as stability reference and warm start, with frozen years.

``apply_baseline`` returns a new validated scenario whose ``baseline`` is the
given plan's builds and, with ``freeze_through = Y``, whose years up to ``Y``
are exactly the baseline's: every baseline build up to ``Y`` becomes ``fixed``
(year and option) and every other site gets ``earliest >= Y + 1``. Crews and
trainees of the frozen years are re-optimised with the rest (the scenario has
no way to fix them); the solver is warm-started from the baseline.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from solver.scenario import FieldError, Scenario, ScenarioError, load_document, parse_scenario


def baseline_builds(plan: str | bytes | dict[str, Any]) -> list[dict[str, Any]]:
    """``[{"site", "year", "option"}]`` of a plan document."""
    doc = load_document(plan) if not isinstance(plan, dict) else plan
    builds = doc.get("builds")
    if not isinstance(builds, list):
        raise ScenarioError(
            [FieldError(path="baseline.builds", message="the baseline plan has no list of builds")]
        )
    out = []
    for i, b in enumerate(builds):
        if not isinstance(b, dict) or not all(k in b for k in ("site", "year", "option")):
            raise ScenarioError(
                [
                    FieldError(
                        path=f"baseline.builds[{i}]",
                        message="each build needs site, year and option",
                    )
                ]
            )
        out.append({"site": b["site"], "year": b["year"], "option": b["option"]})
    return out


def apply_baseline(
    scenario: Scenario, plan: str | bytes | dict[str, Any] | None, freeze_through: int | None = None
) -> Scenario:
    """The scenario re-planned against ``plan`` (or its own baseline), frozen through a year."""
    doc = copy.deepcopy(scenario.to_document())
    if plan is not None:
        doc["baseline"] = baseline_builds(plan)
    baseline = doc.get("baseline", [])
    if freeze_through is not None:
        if not baseline:
            raise ScenarioError(
                [FieldError(path="baseline", message="--freeze-through needs a baseline plan")]
            )
        frozen = {b["site"]: b for b in baseline if b["year"] <= freeze_through}
        for i, s in enumerate(doc["sites"]):
            if s["id"] in frozen:
                b = frozen[s["id"]]
                s["fixed"] = {"year": b["year"], "option": b["option"]}
            elif "fixed" in s and s["fixed"]["year"] <= freeze_through:
                raise ScenarioError(
                    [
                        FieldError(
                            path=f"sites[{i}].fixed",
                            message=f"site '{s['id']}' is fixed to {s['fixed']['year']}, a frozen year in which the baseline does not build it",
                        )
                    ]
                )
            elif "fixed" not in s:
                earliest = max(s.get("earliest", scenario.horizon.start), freeze_through + 1)
                if s.get("latest", scenario.horizon.end) >= earliest:
                    s["earliest"] = earliest
                elif s.get("required", True):
                    raise ScenarioError(
                        [
                            FieldError(
                                path=f"sites[{i}]",
                                message=f"required site '{s['id']}' is not built in the frozen years and its window closes by {freeze_through}",
                            )
                        ]
                    )
                else:
                    # An optional site whose window closed unbuilt: a window after the horizon.
                    s["earliest"] = s["latest"] = scenario.horizon.end + 1
    return parse_scenario(json.loads(json.dumps(doc)))
