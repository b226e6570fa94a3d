"""What-if variants: JSON merge patches (RFC 7386) of a base scenario, solved as a batch.

A batch solves the base and every variant with the same options and returns a
comparison table: status, objective, terms, and the changes of each plan
against the base plan (sites moved, redesigned, dropped, added).
"""

from __future__ import annotations

import argparse
import copy
import functools
import itertools
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from solver.argtypes import (
    clashing_outputs,
    gap_fraction,
    positive_float,
    read_input,
    seed,
    thread_count,
    writable_file,
)
from solver.diff import diff_plans
from solver.plan import Plan
from solver.scenario import FieldError, Scenario, ScenarioError, parse_scenario, pydantic_errors

#: A grid axis (``rdplan batch --set``, a batch's ``grid``): a dotted path of object keys into
#: the scenario document. A merge patch replaces a list whole, so no path enters one.
GRID_PATH_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def make_variant(
    base: Scenario | dict[str, Any], patch: dict[str, Any], name: str | None = None
) -> Scenario:
    """A new validated scenario: ``base`` with ``patch`` applied (errors name the patched field)."""
    doc = base.to_document() if isinstance(base, Scenario) else base
    patched = merge_patch(doc, patch)
    if name is not None:
        patched["name"] = name
    return parse_scenario(patched)


def overlaps(paths: list[str]) -> list[tuple[str, str]]:
    """``(path, inner)`` for each grid path that another one, ``inner``, lies inside (in the
    order given, the first such): setting both would patch one object twice."""
    out = []
    for key in paths:
        inner = [k for k in paths if k.startswith(key + ".")]
        if inner:
            out.append((key, inner[0]))
    return out


def value_text(value: Any) -> str:
    """A grid value as a variant's name shows it: a string as it is, anything else as JSON
    (``true``, ``null``, ``0.5``: as a planner types it in ``--set`` or a grid)."""
    return value if isinstance(value, str) else json.dumps(value)


def repeated_values(grid: dict[str, list[Any]]) -> list[tuple[str, str]]:
    """``(path, message)`` for each value of a grid axis that names the same variant as an
    earlier one (``0`` twice, or ``1`` and ``"1"``): the grid would solve it twice under one
    name."""
    out = []
    for key in sorted(grid):
        first: dict[str, Any] = {}
        for value in grid[key]:
            text = value_text(value)
            if text not in first:
                first[text] = value
                continue
            was = first[text]
            same = type(was) is type(value) and was == value
            out.append(
                (
                    key,
                    f"{value!r} is listed twice"
                    if same
                    else f"{was!r} and {value!r} both name the variant '{key}={text}'",
                )
            )
    return out


def grid_patches(grid: dict[str, list[Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Variants for every combination of dotted-path values, e.g. ``{"objective.mobilization": [0, 1]}``."""
    keys = sorted(grid)
    out = []
    for values in itertools.product(*(grid[k] for k in keys)):
        patch: dict[str, Any] = {}
        for key, value in zip(keys, values, strict=True):
            node = patch
            parts = key.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value
        name = ",".join(f"{k}={value_text(v)}" for k, v in zip(keys, values, strict=True))
        out.append((name, patch))
    return out


def compare(base_plan: Plan, plans: dict[str, Plan]) -> list[dict[str, Any]]:
    """One comparison row per variant against the base plan."""
    base_doc = base_plan.to_document()
    rows = []
    for name, plan in {"base": base_plan, **plans}.items():
        doc = plan.to_document()
        row: dict[str, Any] = {
            "variant": name,
            "status": doc["status"],
            "objective": doc["objective"],
            "gap": doc["gap"],
        }
        row.update(
            {
                k: (doc["terms"] or {}).get(k)
                for k in ("benefit", "mobilization", "training", "stability")
            }
        )
        if plan.status.has_plan and base_plan.status.has_plan:
            d = diff_plans(base_doc, doc)
            row.update(
                {
                    "moved": len(d["moved"]),
                    "redesigned": len(d["redesigned"]),
                    "dropped": len(d["dropped"]),
                    "added": len(d["added"]),
                    "objective_change": d["objective_change"],
                }
            )
        else:
            row.update(
                {
                    "moved": None,
                    "redesigned": None,
                    "dropped": None,
                    "added": None,
                    "objective_change": None,
                }
            )
        if doc["conflicts"]:
            row["conflicts"] = [c["message"] for c in doc["conflicts"]]
        rows.append(row)
    return rows


def run_batch(
    base: Scenario,
    variants: list[tuple[str, dict[str, Any]]],
    solve_options: dict[str, Any] | None = None,
    on_done: Callable[[str, Plan], None] | None = None,
) -> dict[str, Any]:
    """Solve the base and each variant; return plans and the comparison table.

    Each variant starts from the base plan (unless ``solve_options`` has a ``hint``): a what-if
    the base plan survives starts from a plan that holds, often close to its optimum, and HiGHS
    then spends its time on the proof (``solver.backends.highs.near_start``); one it breaks
    is solved as from scratch, and its plan's ``solver.warm_start`` says why."""
    from solver.solve import solve

    opts = dict(solve_options or {})
    base_plan = solve(base, **opts)
    if on_done:
        on_done("base", base_plan)
    variant_opts = dict(opts)
    if base_plan.status.has_plan and "hint" not in opts:
        variant_opts["hint"] = base_plan.to_document()
    plans: dict[str, Plan] = {}
    errors: dict[str, list[dict[str, str]]] = {}
    for name, patch in variants:
        try:
            scenario = make_variant(base, patch)
        except ScenarioError as exc:
            plans[name] = Plan.invalid(exc.errors)
            errors[name] = [e.model_dump() for e in exc.errors]
            if on_done:
                on_done(name, plans[name])
            continue
        plans[name] = solve(scenario, **variant_opts)
        if on_done:
            on_done(name, plans[name])
    return {
        "table": compare(base_plan, plans),
        "plans": {"base": base_plan, **plans},
        "errors": errors,
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    cols = [
        "variant",
        "status",
        "objective",
        "objective_change",
        "gap",
        "benefit",
        "mobilization",
        "training",
        "moved",
        "redesigned",
        "dropped",
        "added",
    ]

    def cell(row: dict[str, Any], col: str) -> str:
        value = row.get(col)
        if value is None:
            return "-"
        # The gap as the progress lines show it: a change smaller than it may be the solver's.
        return f"{100 * value:.3f}%" if col == "gap" else str(value)

    table = [[cell(r, c) for c in cols] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in table)) for i, c in enumerate(cols)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines.extend(" | ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)) for t in table)
    return "\n".join(lines)


def _parse_set(items: list[str]) -> dict[str, list[Any]]:
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, _, values = item.partition("=")
        if not key or not values:
            raise ValueError(f"--set takes path=v1,v2,... (got '{item}')")
        if key in grid:
            raise ValueError(f"--set {key} is given twice: list its values once, {key}=v1,v2")
        if not re.match(GRID_PATH_PATTERN, key):
            raise ValueError(
                f"--set {key}: a path is object keys joined by dots, as objective.mobilization "
                "(a list's items, as sites.0, cannot be set: patch the list in --variants)"
            )
        grid[key] = _set_values(item, values)
    overlapping = overlaps(list(grid))
    if overlapping:
        key, inner = overlapping[0]
        raise ValueError(f"--set {key} and --set {inner} overlap: set one or the other")
    repeated = repeated_values(grid)
    if repeated:
        key, message = repeated[0]
        raise ValueError(f"--set {key}: {message}")
    return grid


def _set_values(item: str, text: str) -> list[Any]:
    """The JSON values of ``v1,v2,...``, split at the commas between values, not those inside
    one (``quotas.year={"min":1,"max":2}``, ``name="a,b"``)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        try:
            value, end = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            end = -1
        while 0 <= end < len(text) and text[end].isspace():
            end += 1
        if end < 0 or (end < len(text) and text[end] != ","):
            bad = text[pos:].split(",", 1)[0]
            raise ValueError(
                f"--set {item}: '{bad}' is not a JSON value (a string needs quotes:"
                f" '{json.dumps(bad)}')"
            )
        values.append(value)
        if end == len(text):
            return values
        pos = end + 1


#: The longest variant name.
MAX_VARIANT_NAME = 100


class BatchVariant(BaseModel):
    """A variant of a batch, as ``rdplan batch --variants`` reads it and the service's batches
    take it: a name (``variant-<index>`` when left out or ``null``) and a JSON merge patch."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_VARIANT_NAME,
        description="default variant-<index>",
    )
    patch: dict[str, Any] = Field(description="JSON merge patch (RFC 7386) of the base scenario")

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any) -> Any:
        if value is None or isinstance(value, str) and 1 <= len(value) <= MAX_VARIANT_NAME:
            return value
        raise ValueError(f"a name is a string of 1 to {MAX_VARIANT_NAME} characters, not {value!r}")


def named_variants(variants: list[BatchVariant]) -> list[tuple[str, dict[str, Any]]]:
    """``(name, patch)`` of each variant, a name left out ``variant-<index>``."""
    given = {v.name for v in variants if v.name is not None}

    def unused(i: int) -> str:
        # not a name given to another variant ([{"name": "variant-1"}, {}, {}] clashed)
        name, n = f"variant-{i}", 1
        while name in given:
            n += 1
            name = f"variant-{i}-{n}"
        return name

    return [(unused(i) if v.name is None else v.name, v.patch) for i, v in enumerate(variants)]


class _VariantsFile(BaseModel):
    variants: list[BatchVariant]


def _read_variants(path: str) -> list[tuple[str, dict[str, Any]]]:
    """``(name, patch)`` of every variant of a ``--variants`` file; ScenarioError at
    ``variants…`` (every variant at fault) or ValueError naming the file when it is not a JSON
    list of them. A variant is ``{"name"?, "patch"}`` as the service's batches take it: a
    name left out or ``null`` is ``variant-<index>``, any other key is an error."""
    try:
        doc = json.loads(read_input(path))  # '-': stdin (the README's "any one input file")
    except OSError as exc:
        raise ValueError(f"cannot read --variants {_shown(path)}: {exc.strerror}") from None
    except (ValueError, RecursionError) as exc:  # not JSON, not UTF-8, nested too deeply
        raise ValueError(f"--variants {_shown(path)} is not a JSON file: {exc}") from None
    if not isinstance(doc, list):
        raise ScenarioError(
            [
                FieldError(
                    path="variants",
                    message=f'{_shown(path)} must hold a JSON list of {{"name", "patch"}} objects',
                )
            ]
        )
    try:
        read = _VariantsFile.model_validate({"variants": doc})
    except ValidationError as exc:
        raise ScenarioError(pydantic_errors(exc)) from None
    return named_variants(read.variants)


def _unique_names(variants: list[tuple[str, dict[str, Any]]], listed: int) -> None:
    """Every variant's name once, none the base's: the table and ``--out`` key plans by name
    (as the service's batches refuse them, 422). The first ``listed`` are the variants file's."""
    seen = {"base"}
    for i, (name, _) in enumerate(variants):
        if name in seen:
            what = "is the base's name" if name == "base" else "is used by an earlier variant"
            where = f"variants[{i}].name" if i < listed else "--set"
            raise ScenarioError([FieldError(path=where, message=f"'{name}' {what}")])
        seen.add(name)


def _report(name: str, plan: Plan, quiet: bool = False) -> None:
    """A solve's end on stderr; for a variant invalid once patched, every error of it (those
    also with ``quiet``: the table says only ``invalid``)."""
    if quiet and not plan.errors:
        return
    objective = "" if plan.objective is None else f", objective {plan.objective:,}"
    print(f"{name}: {plan.status.value}{objective}", file=sys.stderr)
    for e in plan.errors or []:
        print(f"  {e.path or '<document>'}: {e.message}", file=sys.stderr)


def _shown(path: str) -> str:
    return "on stdin" if path == "-" else path


def batch_main(argv: list[str] | None = None) -> int:
    """``rdplan batch BASE.json [--variants V.json] [--set path=v1,v2 ...]``."""
    from solver.solve import BACKENDS, DEFAULT_BACKEND

    parser = argparse.ArgumentParser(
        prog="rdplan batch",
        description="Solve what-if variants of a scenario and compare them with the base plan.",
    )
    parser.add_argument("scenario", help="the base scenario JSON file ('-' for stdin)")
    parser.add_argument(
        "--variants", help='JSON file: [{"name": ..., "patch": {merge patch}}, ...]'
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="PATH=V1,V2",
        help="a parameter grid axis, e.g. objective.mobilization=0,1,2",
    )
    parser.add_argument("--backend", choices=BACKENDS, default=DEFAULT_BACKEND)
    parser.add_argument("--time-limit", type=positive_float, default=60.0)
    parser.add_argument("--threads", type=thread_count, default=None)
    parser.add_argument("--seed", type=seed, default=0, help="the solver's random seed")
    parser.add_argument("--quiet", action="store_true", help="no line on stderr as each solve ends")
    parser.add_argument(
        "--gap",
        type=gap_fraction,
        default=0.0,
        help="stop each solve once its plan is proved within this relative gap (0.001 = 0.1 %%;"
        " default 0: prove optimality); the differences between plans may then be the solver's",
    )
    parser.add_argument(
        "--out", type=writable_file, help="write the comparison (and plans) as JSON here"
    )
    args = parser.parse_args(argv)
    clash = clashing_outputs(
        {"scenario": args.scenario, "--variants": args.variants}, {"--out": args.out}
    )
    if clash is not None:
        print(f"rdplan batch: {clash}", file=sys.stderr)
        return 2
    try:
        text = read_input(args.scenario)
    except OSError as exc:
        print(f"error: cannot read {args.scenario}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        base = parse_scenario(text)
    except ScenarioError as exc:
        print(f"invalid scenario {_shown(args.scenario)}:", file=sys.stderr)
        for e in exc.errors:
            print(f"  {e.path or '<document>'}: {e.message}", file=sys.stderr)
        return 2
    try:
        variants = _read_variants(args.variants) if args.variants else []
        listed = len(variants)
        variants.extend(grid_patches(_parse_set(args.set)) if args.set else [])
        _unique_names(variants, listed)
    except ScenarioError as exc:
        print(f"invalid variants: {len(exc.errors)} error(s)", file=sys.stderr)
        for e in exc.errors:
            print(f"  {e.path or '<document>'}: {e.message}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = run_batch(
        base,
        variants,
        {
            "backend": args.backend,
            "time_limit": args.time_limit,
            "threads": args.threads,
            "seed": args.seed,
            "gap": args.gap,
        },
        on_done=functools.partial(_report, quiet=args.quiet),
    )
    print(format_table(result["table"]))
    if args.out:
        document = json.dumps(
            {
                "table": result["table"],
                "plans": {k: p.to_document() for k, p in result["plans"].items()},
            },
            indent=1,
        )
        try:
            Path(args.out).write_text(document + "\n", encoding="utf-8")
        except OSError as exc:  # writable when the batch began, not now (a full disk)
            print(f"rdplan batch: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
            return 1
    return 0
