"""A Python client of rdplan for notebooks: scenarios, solves, plans as pandas DataFrames.

::

    from api.client import Planner, Scenario

    planner = Planner("http://127.0.0.1:8000", api_key=None)   # or Planner.local()
    national = Scenario.load("instances/national-20x10.json")
    base = planner.solve(national, time_limit=30, threads=1)   # a tqdm bar while it runs
    base.builds                 # one row per build (site, region, year, option, crews, ...)
    base.by_region_year         # sites built per region (rows) and year (columns)
    base.served_share           # population served by the end of each year / region population
    base.plot_timeline(); base.plot_map(); base.plot_served_share()

    fewer = national.with_(crews_scale={2027: 2 / 3})         # a new, validated scenario
    result = planner.batch({"fewer crews 2027": fewer}, base=base, time_limit=30)
    result.table                # status, objective, terms and changes against the base
    planner.diff(base, result["fewer crews 2027"]).plot()

:class:`Planner` talks to ``rdplan serve`` over HTTP (``/v1/solves``);
:meth:`Planner.local` gives the same interface solving in threads of this
process, without a server. A batch here is one solve job per variant, each starting
from the base plan (``start_solve_id``), as the service's ``POST /v1/batches`` does on
its side; diffs are computed here with :func:`solver.diff.diff_plans`.
"""

from __future__ import annotations

import atexit
import contextlib
import copy
import json
import math
import os
import threading
import time
import uuid
import warnings
import weakref
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Union

import httpx
import numpy as np
import pandas as pd
from pydantic import ValidationError

from api.options import (
    OVER_LIMITS,
    ReplanError,
    SolveOptions,
    over_limits,
    replan_arguments,
    replan_options,
    replanned,
)
from api.states import TERMINAL, start_outcome
from solver.backends.base import default_threads
from solver.diff import NoBuildsError, diff_plans, served_curves
from solver.evaluate import Evaluation, evaluate
from solver.plan import PLAN_STATUSES, read_plan_document
from solver.replan import baseline_builds
from solver.scenario import (
    FieldError,
    ScenarioError,
    error_message,
    format_path,
    validate_document,
)
from solver.scenario import Scenario as ScenarioModel
from solver.solve import DEFAULT_BACKEND
from solver.variants import merge_patch

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "ApiError",
    "Batch",
    "BatchTimeoutError",
    "InvalidPlanError",
    "InvalidScenarioError",
    "Job",
    "JobCancelledError",
    "JobFailedError",
    "NoBuildsError",
    "NoPlanError",
    "Plan",
    "PlanDiff",
    "Planner",
    "Scenario",
]

#: Solve options a job takes (``POST /v1/solves`` ``options``); anything else is a TypeError.
OPTION_KEYS = (
    "backend",
    "time_limit",
    "threads",
    "seed",
    "gap",
    "start_solve_id",
    "start_wait",
    "baseline",
    "freeze_through",
)
TERMS = ("benefit", "mobilization", "training", "stability")

ScenarioLike = Union["Scenario", ScenarioModel, dict[str, Any], str, os.PathLike[str]]
JobRef = Union["Job", str]


# -- errors -------------------------------------------------------------------


class InvalidScenarioError(ScenarioError):
    """A scenario that breaks SPEC §2: ``errors`` holds every problem with its field path."""

    def __init__(self, errors: list[FieldError], what: str = "scenario"):
        super().__init__(errors)
        lines = [f"invalid {what}: {len(errors)} error(s)"]
        lines += [f"  {e.path or '<document>'}: {e.message}" for e in errors]
        self.args = ("\n".join(lines),)

    def __str__(self) -> str:
        return str(self.args[0])


class InvalidPlanError(InvalidScenarioError):
    """A file read as a plan that is not a plan document of SPEC §4 (:meth:`Plan.load`):
    ``errors`` holds every problem with its field path. An :class:`InvalidScenarioError`, so
    that one ``except`` catches every document rdplan refuses."""

    def __init__(self, errors: list[FieldError], what: str = "plan document"):
        super().__init__(errors, what)


class ApiError(RuntimeError):
    """An error answer of the service (``status_code``, ``detail`` and ``errors`` with paths)."""

    def __init__(self, status_code: int, detail: str, errors: list[dict[str, str]] | None = None):
        self.status_code, self.detail, self.errors = status_code, detail, list(errors or [])
        lines = [f"HTTP {status_code}: {detail}"] + [
            f"  {e.get('path') or '<document>'}: {e.get('message')}" for e in self.errors
        ]
        super().__init__("\n".join(lines))


def _scenario_error(exc: ApiError) -> Exception:
    """A refused submission: an :class:`InvalidScenarioError` when every error is the
    scenario's (a re-planned scenario's too), else the :class:`ApiError` itself."""
    if (
        exc.status_code == 422
        and exc.errors
        and not any(str(e.get("path", "")).startswith("options") for e in exc.errors)
    ):
        return InvalidScenarioError([FieldError(**e) for e in exc.errors])
    return exc


class NoPlanError(NoBuildsError):
    """A table or check asked of a plan that is a verdict without builds (``infeasible``,
    ``unknown``, ``invalid``): read as a plan that builds nothing, its tables would be zeros and
    its check a violation per site. A :class:`NoBuildsError`, like a diff's refusal, so one
    ``except`` catches both; ``side`` is None (one plan, no side of a comparison)."""

    def __init__(self, label: str, status: Any, what: str):
        super().__init__(None, status, label, what)


class BatchTimeoutError(TimeoutError):
    """:meth:`Planner.batch` waited its ``timeout`` and some jobs still run: they are left
    running (as :meth:`Planner.wait` leaves its job). ``jobs`` holds every job of the batch by
    variant name and ``running`` the names of those still running, to wait for or cancel."""

    def __init__(self, timeout: float, jobs: dict[str, Job], running: list[str]):
        self.jobs, self.running = dict(jobs), list(running)
        names = ", ".join(f"'{n}' (job {jobs[n].id})" for n in running)
        super().__init__(
            f"batch: {len(running)} of {len(jobs)} job(s) still running after {timeout:g} s, "
            f"left running: {names}; wait for them (error.jobs[name].wait()) or cancel them"
        )


class JobFailedError(RuntimeError):
    """The solve job failed on the service (its ``reason`` says why)."""

    def __init__(self, job_id: str, reason: str | None):
        self.job_id, self.reason = job_id, reason
        super().__init__(f"solve job {job_id} failed: {reason or 'no reason given'}")


class JobCancelledError(RuntimeError):
    """The solve job was cancelled before it found a plan."""

    def __init__(self, job_id: str, reason: str | None):
        self.job_id, self.reason = job_id, reason
        super().__init__(f"solve job {job_id} was cancelled: {reason or 'no reason given'}")


# -- scenarios ------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """``value`` with numpy scalars — years and counts read from a DataFrame, ``plan.builds.year
    .max()`` — as the Python ints, floats and bools they stand for, in mappings (keys too),
    lists and tuples: the JSON types a scenario document and a request take."""
    if isinstance(value, Mapping):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _bounds(value: Any, path: str, errors: list[FieldError]) -> dict[str, int] | None:
    """``(min, max)``, ``{"min", "max"}`` or ``None`` (no bound) as a SPEC quota object."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        lo, hi = value.get("min"), value.get("max")
        extra = set(value) - {"min", "max"}
        if extra:
            errors.append(
                FieldError(path=path, message=f"unknown key(s) {sorted(extra)}; use min and max")
            )
    elif isinstance(value, tuple | list) and len(value) == 2:
        lo, hi = value
    else:
        errors.append(
            FieldError(
                path=path,
                message="give (min, max) with None for no bound, or {'min': .., 'max': ..}",
            )
        )
        return None
    return {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}


class Scenario:
    """A validated scenario document (SPEC §2) with what-if edits.

    Immutable: :meth:`with_` returns a new, validated scenario. Construct it from a
    document (dict or JSON text), a path, or a :class:`solver.scenario.Scenario`;
    an invalid document raises :class:`InvalidScenarioError` listing every error.
    """

    def __init__(self, source: ScenarioLike | Scenario):
        if isinstance(source, Scenario):
            self._model: ScenarioModel = source._model
        elif isinstance(source, ScenarioModel):
            self._model = source
        elif not isinstance(source, dict | str | bytes | os.PathLike):
            raise _type_error(
                "scenario", "a Scenario, a scenario document (dict or JSON text) or a path", source
            )
        else:
            if isinstance(source, os.PathLike) or (
                # JSON text starts with "{" (a byte-order mark, "[" or a number is JSON too,
                # and no file name: validate_document says what is wrong with it)
                isinstance(source, str)
                and source.strip("\ufeff \t\r\n")  # blank: no file's name, an empty document
                and not source.lstrip("\ufeff \t\r\n").startswith(("{", "[", '"'))
            ):
                source = Path(source).read_text(encoding="utf-8")
            model, errors = validate_document(source)
            if model is None:
                raise InvalidScenarioError(errors)
            self._model = model
        self._doc: dict[str, Any] = self._model.to_document()

    # -- input and output
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Scenario:
        """Read and validate a scenario JSON file."""
        if not isinstance(path, str | os.PathLike):  # a document: Scenario(doc) takes it
            raise _type_error("path", "a file's path (a document goes to Scenario(doc))", path)
        return cls(Path(path))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the document as JSON (one-space indent, like ``instances/``); returns the path."""
        out = Path(path)
        out.write_text(json.dumps(self._doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        return out

    @property
    def doc(self) -> dict[str, Any]:
        """The scenario document (a copy: edit it freely, then build a new ``Scenario``)."""
        return copy.deepcopy(self._doc)

    @property
    def model(self) -> ScenarioModel:
        """The solver's validated model of the document."""
        return self._model

    @property
    def name(self) -> str:
        return self._model.name or "scenario"

    @property
    def years(self) -> list[int]:
        return list(self._model.years)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scenario) and self._doc == other._doc

    def __hash__(self) -> int:
        return hash(json.dumps(self._doc, sort_keys=True))

    def __repr__(self) -> str:
        m = self._model
        return (
            f"Scenario({self.name!r}: {len(m.sites)} sites, {len(m.regions)} regions, "
            f"{m.horizon.start}-{m.horizon.end}, {len(m.crews)} crew pools)"
        )

    # -- tables
    @property
    def regions(self) -> pd.DataFrame:
        """One row per region: name, sites, population, training capacity (technicians a year;
        where it is given per year, its smallest year: :attr:`training_capacity` has every
        year; NA: unlimited) and stock."""
        m = self._model
        rows = []
        capacity = self.training_capacity
        for r in m.regions:
            sites = [s for s in m.sites if s.region == r.id]
            rows.append(
                {
                    "region": r.id,
                    "name": r.name or r.id,
                    "sites": len(sites),
                    "population": sum(s.population for s in sites),
                    "training_capacity": capacity.loc[r.id].min(),
                    "trained_stock": r.trained_stock,
                }
            )
        out = pd.DataFrame(
            rows,
            columns=["region", "name", "sites", "population", "training_capacity", "trained_stock"],
        ).set_index("region")
        out["training_capacity"] = out["training_capacity"].astype("Int64")
        return out

    @property
    def training_capacity(self) -> pd.DataFrame:
        """Technicians that can finish training per region (rows) and year (columns); NA:
        unlimited."""
        m = self._model
        out = pd.DataFrame(
            [
                [
                    pd.NA if r.training_capacity is None else _per_year(r.training_capacity, y, 0)
                    for y in m.years
                ]
                for r in m.regions
            ],
            index=pd.Index([r.id for r in m.regions], name="region"),
            columns=pd.Index(list(m.years), name="year"),
            dtype="Int64",
        )
        return out

    @property
    def sites(self) -> pd.DataFrame:
        """One row per site: region, population, coordinates, window, required, fixed, options."""
        m = self._model
        rows = []
        for s in m.sites:
            rows.append(
                {
                    "site": s.id,
                    "name": s.name or s.id,
                    "region": s.region,
                    "population": s.population,
                    "lat": s.lat,
                    "lon": s.lon,
                    "earliest": s.earliest if s.earliest is not None else m.horizon.start,
                    "latest": s.latest if s.latest is not None else m.horizon.end,
                    "required": s.required,
                    "fixed_year": s.fixed.year if s.fixed else None,
                    "fixed_option": s.fixed.option if s.fixed else None,
                    "options": ", ".join(s.benefit),
                }
            )
        out = pd.DataFrame(rows).set_index("site")
        out["fixed_year"] = out["fixed_year"].astype("Int64")  # a year, or <NA>: not fixed
        out[["lat", "lon"]] = out[["lat", "lon"]].astype("float64")  # NaN: no coordinates
        return out

    @property
    def crews(self) -> pd.DataFrame:
        """Crews available per pool (rows) and year (columns)."""
        m = self._model
        data = {}
        for pool in m.crews:
            data[pool.id] = [_per_year(pool.available, y, pool.count) for y in m.years]
        out = (
            pd.DataFrame.from_dict(data, orient="index", columns=list(m.years))
            if data
            else pd.DataFrame(columns=list(m.years))
        )
        out.index.name, out.columns.name = "pool", "year"
        return out

    # -- what-if edits
    def with_(
        self,
        *,
        crews_scale: float | Mapping[int, float] | None = None,
        region_year_quota: tuple[int | None, int | None] | Mapping[str, int] | None = None,
        year_quota: tuple[int | None, int | None] | Mapping[str, int] | None = None,
        region_quota: Mapping[Any, Any] | None = None,
        fix: Mapping[str, Any] | None = None,
        weights: Mapping[str, int] | None = None,
        lead_time: int | None = None,
        baseline: Plan
        | Job
        | Mapping[str, Any]
        | pd.DataFrame
        | list[dict[str, Any]]
        | None = None,
        name: str | None = None,
        patch: Mapping[str, Any] | None = None,
    ) -> Scenario:
        """A new validated scenario with common what-if edits applied (in this order).

        - ``crews_scale``: a factor for every year, or ``{year: factor}``: the crews
          available in that year become ``factor ×`` what they were. Crews are whole:
          each year's national total is rounded down, ``floor(factor × total)``, and
          shared among the pools by largest remainder (each pool gets its own share
          rounded down or up), so ``{2027: 2/3}`` really loses a third of the crews
          rather than a third per pool rounded down. A pool's ``count`` grows when a
          factor above 1 needs it (``available <= count`` always holds).
        - ``region_year_quota`` / ``year_quota``: ``(min, max)``, ``None`` for no bound
          (``(None, None)`` removes the quota).
        - ``region_quota``: ``{region: (min, max)}`` for every year of the horizon, or
          ``{(region, year): (min, max)}``: quota overrides, replacing existing ones.
        - ``fix``: ``{site: year}``, ``{site: (year, option)}`` or ``{site: None}`` (unfix).
        - ``weights``: objective weights to change, e.g. ``{"mobilization": 0}``.
        - ``lead_time``: years between finishing training and staffing.
        - ``baseline``: a plan (a :class:`Plan`, a finished :class:`Job`, a plan document, or
          its builds: ``plan.builds`` or a list of ``{site, year, option}``) to keep close to /
          warm-start from; ``[]`` removes the baseline. A plan without builds (``infeasible``,
          ``unknown``) is refused: it has nothing to keep.
        - ``name``: the new scenario's name.
        - ``patch``: an RFC 7386 JSON merge patch, applied last.

        Raises :class:`InvalidScenarioError` listing every error (with its path) when
        the edits or the resulting document are invalid; an argument of the wrong type is
        one of them, at ``with_.<argument>``.
        """
        # numpy scalars (years and counts read from DataFrames) as the Python numbers they are
        crews_scale, region_year_quota, year_quota, region_quota = (
            _plain(crews_scale),
            _plain(region_year_quota),
            _plain(year_quota),
            _plain(region_quota),
        )
        fix, weights, lead_time, patch = (
            _plain(fix),
            _plain(weights),
            _plain(lead_time),
            _plain(patch),
        )
        if isinstance(baseline, Job):
            baseline = baseline.plan()
        if not isinstance(baseline, Plan):
            baseline = _plain(baseline)
        doc = self.doc
        errors: list[FieldError] = []
        years = self.years
        if crews_scale is not None:
            _scale_crews(doc, crews_scale, years, errors)
        quotas = doc.setdefault("quotas", {})
        for key, value in (("region_year", region_year_quota), ("year", year_quota)):
            if value is not None:
                bounds = _bounds(value, f"with_.{key}_quota", errors)
                if bounds:
                    quotas[key] = bounds
                else:
                    quotas.pop(key, None)
        if region_quota is not None:
            if isinstance(region_quota, Mapping):
                regions = {r.id for r in self._model.regions}
                _region_quota(quotas, region_quota, years, regions, errors)
            else:
                errors.append(
                    _wrong_type(
                        "with_.region_quota",
                        "{region: (min, max)} or {(region, year): (min, max)}",
                        region_quota,
                    )
                )
        if not quotas:
            doc.pop("quotas")
        if fix is not None:
            if isinstance(fix, Mapping):
                _fix_sites(doc, fix, errors)
            else:
                errors.append(
                    _wrong_type(
                        "with_.fix", "{site: year}, {site: (year, option)} or {site: None}", fix
                    )
                )
        if weights is not None:
            if isinstance(weights, Mapping):
                doc["objective"] = {**doc.get("objective", {}), **dict(weights)}
            else:
                errors.append(
                    _wrong_type(
                        "with_.weights", "{term: weight}, e.g. {'mobilization': 0}", weights
                    )
                )
        if lead_time is not None:
            if isinstance(lead_time, int) and not isinstance(lead_time, bool):
                doc["training"] = {**doc.get("training", {}), "lead_time": lead_time}
            else:
                errors.append(_wrong_type("with_.lead_time", "a whole number of years", lead_time))
        if baseline is not None:
            builds = _baseline_rows(baseline, errors)
            if builds:
                doc["baseline"] = builds
            elif builds is not None:  # [] (or an empty table): no baseline
                doc.pop("baseline", None)
        if name is not None:
            if isinstance(name, str):
                doc["name"] = name
            else:
                errors.append(_wrong_type("with_.name", "a string", name))
        if patch is not None:
            if isinstance(patch, Mapping):
                doc = merge_patch(doc, dict(patch))
            else:
                errors.append(
                    _wrong_type("with_.patch", "a JSON merge patch (a dict of changes)", patch)
                )
        if errors:
            raise InvalidScenarioError(errors, "what-if edit")
        model, problems = validate_document(doc)
        if model is None:
            raise InvalidScenarioError(problems, "scenario after the what-if edits")
        return Scenario(model)

    def _repr_html_(self) -> str:
        m = self._model
        q = m.quotas
        rows = [
            ("horizon", f"{m.horizon.start}–{m.horizon.end}"),
            (
                "sites",
                f"{len(m.sites)} ({sum(1 for s in m.sites if s.fixed)} fixed, {sum(1 for s in m.sites if not s.required)} optional)",
            ),
            ("regions", str(len(m.regions))),
            ("options", ", ".join(o.id for o in m.options)),
            ("crew pools", f"{len(m.crews)} ({sum(p.count for p in m.crews)} crews)"),
            (
                "quota per region and year",
                _fmt_bounds(q.region_year)
                + (f" ({len(q.overrides)} overrides)" if q.overrides else ""),
            ),
            ("quota per year", _fmt_bounds(q.year)),
            ("training lead time", f"{m.training.lead_time} year(s)"),
            ("balance", f"{m.balance.tolerance_pct} pp" if m.balance else "off"),
            (
                "objective weights",
                ", ".join(f"{k} {v}" for k, v in m.objective.model_dump().items()),
            ),
        ]
        return _html_table(f"Scenario {self.name}", rows)


def _fmt_bounds(b: Any) -> str:
    if b is None or (b.min is None and b.max is None):
        return "none"
    return f"{'' if b.min is None else b.min}..{'' if b.max is None else b.max}"


def _per_year(value: Any, year: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, int):
        return value
    return int(value[str(year)])


def _shown(value: Any) -> str:
    """``value`` in an error message: its type and (shortened) repr."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _wrong_type(path: str, expected: str, value: Any) -> FieldError:
    """An edit argument of the wrong type, named by its path, with what it should be."""
    return FieldError(path=path, message=f"give {expected}, not {_shown(value)}")


def _type_error(path: str, expected: str, value: Any) -> TypeError:
    """An argument of the wrong type, named, with what to give (as ``with_`` names its own)."""
    wrong = _wrong_type(path, expected, value)
    hint = "; a batch's plans are batch['name']" if isinstance(value, Batch) else ""
    return TypeError(f"{wrong.path}: {wrong.message}{hint}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _timeout(value: Any) -> float | None:
    """A ``timeout`` argument: seconds to wait (a number, not NaN) or None (for ever); checked
    before a job is submitted, so that a wrong one leaves nothing running."""
    if value is None:
        return None
    value = _plain(value)  # numpy numbers (read from a DataFrame) as the numbers they are
    if not _is_number(value) or value != value:
        raise _type_error("timeout", "a number of seconds or None", value)
    if value < 0:  # "still queued after -1 s", the job left running
        raise ValueError(f"timeout: a number of seconds (0 or more) or None, not {value}")
    return float(value)


def _year_error(path: str, year: Any, years: list[int]) -> FieldError | None:
    """Why ``year`` is not a year of the horizon ``years`` (None: it is one). A year given as
    text ("2030", a JSON key) is named as such, not as a year outside the horizon."""
    if isinstance(year, bool) or not isinstance(year, int):
        return FieldError(path=path, message=f"a year is an integer, e.g. 2030, not {_shown(year)}")
    if year not in years:
        return FieldError(path=path, message=f"not a year of the horizon {years[0]}..{years[-1]}")
    return None


def _baseline_rows(baseline: Any, errors: list[FieldError]) -> list[dict[str, Any]] | None:
    """``with_(baseline=...)`` as ``[{site, year, option}]``; None (and ``errors``) when it is
    not a plan with builds: a verdict has nothing to keep, and reading it as an empty list
    would silently remove the scenario's baseline."""
    path = "with_.baseline"
    if isinstance(baseline, Plan):
        baseline = baseline._doc
    if isinstance(baseline, Mapping):  # a plan document, read as every re-plan reads it
        try:
            return baseline_builds(dict(baseline))
        except ScenarioError as exc:
            errors.extend(FieldError(path=f"with_.{e.path}", message=e.message) for e in exc.errors)
            return None
    rows = _build_rows(baseline)
    if rows is None:
        expected = "a Plan, a Job, a plan document (dict), plan.builds or a list of builds"
        if isinstance(baseline, str | os.PathLike):  # a file name: say how to read it
            expected = f"Plan.load(path, scenario) for a plan file, or {expected}"
        errors.append(_wrong_type(path, expected, baseline))
        return None
    builds, bad = [], False
    for i, b in enumerate(rows):
        if (build := _build_of(b)) is not None:
            builds.append(build)
        else:
            bad = True
            errors.append(
                FieldError(
                    path=f"{path}[{i}]",
                    message="give a build with site, year and option "
                    f"(a row of plan.builds), not {b!r}",
                )
            )
    return None if bad else builds


def _build_rows(value: Any) -> list[Any] | None:
    """The rows of ``plan.builds`` (a DataFrame) or of a list of builds; None for anything else."""
    if isinstance(value, pd.DataFrame):
        return list(_plain(value.to_dict("records")))
    if isinstance(value, list | tuple):
        return list(value)
    return None


def _build_of(row: Any) -> dict[str, Any] | None:
    """A row's build, ``{site, year, option}`` (a row of ``plan.builds`` has crews and more as
    a table's columns, not a plan document's); None when it is no build."""
    if isinstance(row, Mapping) and {"site", "year", "option"} <= set(row):
        return {k: row[k] for k in ("site", "year", "option")}
    return None


def _scale_crews(
    doc: dict[str, Any],
    scale: float | Mapping[int, float],
    years: list[int],
    errors: list[FieldError],
) -> None:
    pools: list[dict[str, Any]] = doc.get("crews", [])
    factors: dict[int, float] = {}
    if isinstance(scale, Mapping):
        for y, f in scale.items():
            wrong = _year_error(f"with_.crews_scale.{y}", y, years)
            if wrong is not None:
                errors.append(wrong)
            elif not _is_number(f) or not math.isfinite(f) or f < 0:
                errors.append(
                    FieldError(
                        path=f"with_.crews_scale.{y}",
                        message=f"factor must be a finite number >= 0 (got {f!r})",
                    )
                )
            else:
                factors[y] = f
    elif not _is_number(scale):
        expected = "a factor (a number >= 0) for every year, or {year: factor}"
        errors.append(_wrong_type("with_.crews_scale", expected, scale))
    elif not math.isfinite(scale) or scale < 0:
        errors.append(
            FieldError(
                path="with_.crews_scale",
                message=f"factor must be a finite number >= 0 (got {scale!r})",
            )
        )
    else:
        factors = {y: scale for y in years}
    if not pools:
        errors.append(
            FieldError(path="with_.crews_scale", message="the scenario has no crew pools")
        )
    if errors:
        return
    available = [[_per_year(p.get("available"), y, p["count"]) for y in years] for p in pools]
    for y, f in factors.items():
        j = years.index(y)
        base = [a[j] for a in available]
        exact = [f * b for b in base]
        if not all(math.isfinite(e) for e in [*exact, f * sum(base)]):  # 1e308 × 2: no count
            at = "with_.crews_scale" + (f".{y}" if isinstance(scale, Mapping) else "")
            message = f"factor {f!r} gives no finite number of crews in {y}: far too large"
            errors.append(FieldError(path=at, message=message))
            return
        new = [math.floor(e + 1e-9) for e in exact]
        target = math.floor(f * sum(base) + 1e-9)
        # largest remainder first; among equal remainders the larger pool, then list order
        order = sorted(range(len(pools)), key=lambda k: (-(exact[k] - new[k]), -base[k], k))
        for k in order[: max(0, target - sum(new))]:
            new[k] += 1
        for k, a in enumerate(available):
            a[j] = new[k]
    for p, a in zip(pools, available, strict=True):
        p["count"] = max(p["count"], *a)
        p["available"] = {str(y): v for y, v in zip(years, a, strict=True)}


def _region_quota(
    quotas: dict[str, Any],
    spec: Mapping[Any, Any],
    years: list[int],
    regions: set[str],
    errors: list[FieldError],
) -> None:
    overrides: list[dict[str, Any]] = list(quotas.get("overrides", []))
    for key, value in spec.items():
        if isinstance(key, tuple) and len(key) != 2:
            errors.append(
                _wrong_type(f"with_.region_quota.{key}", "a region or (region, year) as key", key)
            )
            continue
        region, only = key if isinstance(key, tuple) else (key, None)
        path = f"with_.region_quota.{region}" + ("" if only is None else f".{only}")
        if not isinstance(region, str) or region not in regions:
            errors.append(FieldError(path=path, message=f"unknown region {region!r}"))
            continue
        wrong = None if only is None else _year_error(path, only, years)
        if wrong is not None:
            errors.append(wrong)
            continue
        bounds = _bounds(value, path, errors) or {}
        for y in [only] if only is not None else years:
            overrides = [o for o in overrides if (o["region"], o["year"]) != (region, y)]
            overrides.append({"region": region, "year": y, **bounds})
    overrides.sort(key=lambda o: (o["region"], o["year"]))
    if overrides:
        quotas["overrides"] = overrides
    else:
        quotas.pop("overrides", None)


def _fix_sites(doc: dict[str, Any], fix: Mapping[str, Any], errors: list[FieldError]) -> None:
    index = {s["id"]: s for s in doc["sites"]}
    for site, value in fix.items():
        path = f"with_.fix.{site}"
        s = index.get(site)
        if s is None:
            errors.append(FieldError(path=path, message=f"unknown site '{site}'"))
        elif value is None:
            s.pop("fixed", None)
        elif isinstance(value, int) and not isinstance(value, bool):
            s["fixed"] = {"year": value}
        elif isinstance(value, tuple | list) and len(value) == 2:
            s["fixed"] = (
                {"year": value[0]} if value[1] is None else {"year": value[0], "option": value[1]}
            )
        elif isinstance(value, Mapping):
            s["fixed"] = dict(value)
        else:
            errors.append(
                FieldError(
                    path=path, message="give a year, (year, option), {'year', 'option'} or None"
                )
            )


# -- plans ----------------------------------------------------------------------


def _html_table(title: str, rows: Iterable[tuple[str, str]]) -> str:
    body = "".join(
        f"<tr><th style='text-align:left'>{escape(k)}</th><td style='text-align:left'>{escape(v)}</td></tr>"
        for k, v in rows
    )
    return f"<div><strong>{escape(title)}</strong><table>{body}</table></div>"


def _foreign_builds(doc: Mapping[str, Any], scenario: Scenario) -> list[FieldError]:
    """The builds of plan ``doc`` that ``scenario`` has no place for: a site, region or design
    option it does not have, or a year outside its horizon. Such a plan is another scenario's
    (a wrong file, a what-if's plan read with the base), and its tables would silently count
    nothing. A build the scenario has but its rules forbid (a site built in another region,
    an option the site does not offer) is a violation for :meth:`Plan.check`, not this."""
    builds = doc.get("builds")
    if not isinstance(builds, list):
        return []
    m = scenario.model
    sites = {s.id for s in m.sites}
    regions = {r.id for r in m.regions}
    options = {o.id for o in m.options}
    start, end = m.horizon.start, m.horizon.end
    name = scenario.name
    errors: list[FieldError] = []
    for i, b in enumerate(builds):
        if not isinstance(b, Mapping):
            continue
        site, region, option, year = (b.get(k) for k in ("site", "region", "option", "year"))
        if site is not None and not (isinstance(site, str) and site in sites):
            errors.append(
                FieldError(
                    path=f"builds[{i}].site", message=f"{site!r} is not a site of scenario '{name}'"
                )
            )
        if region is not None and not (isinstance(region, str) and region in regions):
            errors.append(
                FieldError(
                    path=f"builds[{i}].region",
                    message=f"{region!r} is not a region of scenario '{name}'",
                )
            )
        if option is not None and not (isinstance(option, str) and option in options):
            errors.append(
                FieldError(
                    path=f"builds[{i}].option",
                    message=f"{option!r} is not a design option of scenario '{name}'",
                )
            )
        if isinstance(year, int) and not start <= year <= end:
            errors.append(
                FieldError(
                    path=f"builds[{i}].year",
                    message=f"{year} is outside the horizon {start}..{end} of scenario '{name}'",
                )
            )
    return errors


def _num(v: int | float | None) -> str:
    if v is None:
        return "–"
    return f"{v:,}" if isinstance(v, int) else f"{v:,.4g}"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.2f} %"


class Plan:
    """A plan document (SPEC §4) with its scenario: DataFrames, plots and a summary.

    ``doc`` is the document as the service returned it; the scenario supplies
    populations, coordinates and region names. ``label`` names the plan in
    comparisons (the variant's name in a batch, else the scenario's name).

    A plan paired with a scenario that is not its own — one without a build's site, region or
    design option, or without its year — raises :class:`InvalidPlanError` naming every such
    build by its path: its tables would silently count nothing. A verdict without builds
    (``infeasible``, ``unknown``) has no tables: they and :meth:`check` raise
    :class:`NoPlanError`.
    """

    def __init__(
        self,
        doc: Mapping[str, Any],
        scenario: Scenario | ScenarioLike,
        label: str | None = None,
        job_id: str | None = None,
    ):
        if not isinstance(doc, Mapping):
            expected = "a plan document (dict); Plan.load(path, scenario) reads a plan file"
            raise _type_error("doc", expected, doc)
        checked, errors = read_plan_document(dict(doc))  # as Plan.load reads a file
        if checked is None:
            raise InvalidPlanError(errors)
        self._doc: dict[str, Any] = copy.deepcopy(checked)
        self.scenario = scenario if isinstance(scenario, Scenario) else Scenario(scenario)
        foreign = _foreign_builds(self._doc, self.scenario)
        if foreign:
            own = self._doc.get("scenario")
            of = f" (a plan of '{own}')" if own and own != self.scenario.name else ""
            raise InvalidPlanError(foreign, f"plan for scenario '{self.scenario.name}'{of}")
        self.label = label or self._doc.get("scenario") or self.scenario.name
        self.job_id = job_id
        self._cache: dict[str, pd.DataFrame] = {}

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        scenario: Scenario | ScenarioLike,
        label: str | None = None,
    ) -> Plan:
        """Read a plan document (``rdplan solve --out``) for ``scenario``; a file that is not
        one raises :class:`InvalidPlanError`, naming every field at fault."""
        doc, errors = read_plan_document(Path(path).read_bytes())
        if doc is None:
            raise InvalidPlanError(errors)
        return cls(doc, scenario, label)

    def save(self, path: str | os.PathLike[str]) -> Path:
        out = Path(path)
        out.write_text(json.dumps(self._doc, indent=1) + "\n", encoding="utf-8")
        return out

    # -- headline
    @property
    def doc(self) -> dict[str, Any]:
        """The plan document (a copy)."""
        return copy.deepcopy(self._doc)

    @property
    def status(self) -> str:
        """``optimal``, ``feasible``, ``infeasible``, ``unknown`` or ``invalid``."""
        return str(self._doc.get("status"))

    @property
    def has_plan(self) -> bool:
        return self.status in PLAN_STATUSES

    @property
    def objective(self) -> int | None:
        return self._doc.get("objective")

    @property
    def bound(self) -> int | None:
        return self._doc.get("bound")

    @property
    def gap(self) -> float | None:
        return self._doc.get("gap")

    @property
    def terms(self) -> dict[str, int]:
        """Unweighted objective terms (benefit, mobilization, training, stability)."""
        return dict(self._doc.get("terms") or {})

    @property
    def unbuilt(self) -> list[str]:
        return list(self._doc.get("unbuilt", []))

    @property
    def conflicts(self) -> pd.DataFrame:
        """An infeasible scenario's irreducible set of constraint groups, one row each."""
        conflicts = self._doc.get("conflicts", [])
        if not conflicts:  # every key column, typed, as a table of the set would have
            return _empty(CONFLICT_DTYPES)
        out = pd.DataFrame(conflicts)
        # every key column whatever the set's groups (a set of build_once and window rows had
        # no region, and `plan.conflicts.region` raised on it), missing values where a group
        # has none of it; then any other key of the document
        for name, dtype in CONFLICT_DTYPES.items():
            out[name] = (out[name] if name in out else pd.Series(None, index=out.index)).astype(
                dtype
            )
        return out[[*CONFLICT_DTYPES, *(c for c in out if c not in CONFLICT_DTYPES)]]

    @property
    def solver(self) -> dict[str, Any]:
        """How the plan was solved: the document's ``solver`` (a copy; ``{}`` without one) —
        backend, seconds, threads, time_limit, seed, ``gap_limit`` when a ``gap`` was asked,
        ``start_solve`` and ``warm_start`` when the solve started from a plan."""
        return copy.deepcopy(dict(self._doc.get("solver") or {}))

    @property
    def seconds(self) -> float | None:
        return self.solver.get("seconds")

    def check(self) -> Evaluation:
        """Check the plan against SPEC §3 with the evaluator (``.holds``, ``.violations``);
        :class:`NoPlanError` for a verdict without builds, which has nothing to check."""
        self._require_builds("check")
        return evaluate(self.scenario.model, self._doc)

    def _require_builds(self, what: str) -> None:
        """Refuse a verdict (``infeasible``, ``unknown``, ``invalid``): read as builds, it is a
        plan that builds nothing, and every table of it zeros."""
        if not self.has_plan:
            raise NoPlanError(self.label, self.status, what)

    def __repr__(self) -> str:
        return f"Plan({self.label!r}: {self.status}, objective {_num(self.objective)}, gap {_pct(self.gap)}, {len(self._doc.get('builds', []))} builds)"

    def _repr_html_(self) -> str:
        t = self.terms
        rows = [
            ("status", self.status),
            ("objective", _num(self.objective)),
            ("bound", _num(self.bound)),
            ("gap", _pct(self.gap)),
            ("terms", ", ".join(f"{k} {_num(t.get(k))}" for k in TERMS) if t else "–"),
            ("builds", f"{len(self._doc.get('builds', []))} (unbuilt: {len(self.unbuilt)})"),
            ("solver", _solver_line(self._doc.get("solver"))),
        ]
        html = _html_table(f"Plan {self.label}", rows)
        if self.has_plan:
            per_year = self._by_region_year().sum(axis=0)
            html += (
                "<div>sites built per year</div>"
                + per_year.to_frame().T.rename(index={0: "sites"}).to_html()
            )
        if self._doc.get("conflicts"):
            html += "<div>conflicts</div>" + self.conflicts.to_html(index=False)
        return html

    # -- tables
    def _sites(self) -> dict[str, Any]:
        return {s.id: s for s in self.scenario.model.sites}

    @property
    def builds(self) -> pd.DataFrame:
        """One row per build, in the plan's order: site, name, region, year, option, the
        site's population, lat, lon and ``annual_benefit`` of the chosen option, and its
        crews (``crews`` in total, ``crew_km`` = Σ count × distance, ``pools``)."""
        if "builds" not in self._cache:
            sites = self._sites()
            rows = []
            for b in self._doc.get("builds", []):
                s = sites.get(b["site"])
                crews = b.get("crews", [])
                rows.append(
                    {
                        "site": b["site"],
                        "name": (s.name or s.id) if s else b["site"],
                        "region": b["region"],
                        "year": b["year"],
                        "option": b["option"],
                        "population": s.population if s else None,
                        "lat": s.lat if s else None,
                        "lon": s.lon if s else None,
                        "annual_benefit": s.benefit.get(b["option"]) if s else None,
                        "crews": sum(c["count"] for c in crews),
                        "crew_km": sum(c["count"] * c["distance_km"] for c in crews),
                        "pools": ", ".join(f"{c['pool']}×{c['count']}" for c in crews),
                    }
                )
            table = pd.DataFrame(rows, columns=list(BUILDS_DTYPES))
            if rows:  # float coordinates, NaN where a site has none (not object columns)
                table[["lat", "lon"]] = table[["lat", "lon"]].astype("float64")
            self._cache["builds"] = table if rows else _empty(BUILDS_DTYPES)
        return self._cache["builds"].copy()

    @property
    def crew_assignments(self) -> pd.DataFrame:
        """One row per crew pool working on a site: site, region, year, pool, count, distance_km."""
        rows = [
            {"site": b["site"], "region": b["region"], "year": b["year"], **c}
            for b in self._doc.get("builds", [])
            for c in b.get("crews", [])
        ]
        if not rows:
            return _empty(CREWS_DTYPES)
        return pd.DataFrame(rows, columns=list(CREWS_DTYPES))

    @property
    def training(self) -> pd.DataFrame:
        """Technicians finishing training: one row per region and year (region, year, trainees)."""
        rows = self._doc.get("training", [])
        return (
            pd.DataFrame(rows, columns=list(TRAINING_DTYPES)) if rows else _empty(TRAINING_DTYPES)
        )

    @property
    def by_region_year(self) -> pd.DataFrame:
        """Sites built per region (rows, the scenario's order) and year (columns, the horizon)."""
        self._require_builds("tabulate (by_region_year)")
        return self._by_region_year()

    def _by_region_year(self) -> pd.DataFrame:
        if "by_region_year" not in self._cache:
            regions = [r.id for r in self.scenario.model.regions]
            years = self.scenario.years
            counts = pd.DataFrame(
                0,
                index=pd.Index(regions, name="region"),
                columns=pd.Index(years, name="year"),
                dtype="int64",
            )
            for b in self._doc.get("builds", []):
                if b["region"] in counts.index and b["year"] in counts.columns:
                    counts.loc[b["region"], b["year"]] += 1
            self._cache["by_region_year"] = counts
        return self._cache["by_region_year"].copy()

    @property
    def served_population(self) -> pd.DataFrame:
        """Population of the sites built by the end of each year, per region (rows) and year."""
        self._require_builds("tabulate (served_population)")
        return self._served_population()

    def _served_population(self) -> pd.DataFrame:
        if "served_population" not in self._cache:
            curves = served_curves(self._doc, self.scenario.model)
            out = pd.DataFrame.from_dict(
                curves, orient="index", columns=self.scenario.years
            ).astype("int64")
            out.index.name, out.columns.name = "region", "year"
            self._cache["served_population"] = out
        return self._cache["served_population"].copy()

    @property
    def served_share(self) -> pd.DataFrame:
        """Served population / region population, per region (rows) and year (columns), 0..1
        (NaN for a region without population)."""
        self._require_builds("tabulate (served_share)")
        return self._served_share()

    def _served_share(self) -> pd.DataFrame:
        population = self.scenario.regions["population"].astype("float64").replace(0, float("nan"))
        return self._served_population().div(population, axis=0)

    @property
    def served_share_national(self) -> pd.Series:
        """Served population / national population, per year."""
        self._require_builds("tabulate (served_share_national)")
        return self._served_share_national()

    def _served_share_national(self) -> pd.Series:
        total = float(self.scenario.regions["population"].sum())
        return self._served_population().sum(axis=0) / (total if total else float("nan"))

    @property
    def utilisation(self) -> pd.DataFrame:
        """National use of each limit per year (rows): ``sites`` built, ``crews_used`` of
        ``crews_available``, ``<resource>_used`` of ``<resource>_limit``, ``trainees`` of
        ``training_capacity`` (NaN: unlimited somewhere), and ``technicians_needed``
        (staff of every factory built so far) against ``technicians_ready`` (stock plus
        those trained by ``year - lead_time``). SPEC §3.4 holds per region; these are sums."""
        self._require_builds("tabulate (utilisation)")
        m = self.scenario.model
        years = self.scenario.years
        options = {o.id: o for o in m.options}
        out = pd.DataFrame(index=pd.Index(years, name="year"))
        out["sites"] = self._by_region_year().sum(axis=0).reindex(years, fill_value=0)
        crews = self.crew_assignments
        out["crews_used"] = (
            crews.groupby("year")["count"].sum().reindex(years, fill_value=0).astype("int64")
        )
        out["crews_available"] = (
            self.scenario.crews.sum(axis=0).reindex(years, fill_value=0).astype("int64")
        )
        builds = self._doc.get("builds", [])
        for r in m.resources:
            out[f"{r.id}_used"] = [
                sum(options[b["option"]].resources.get(r.id, 0) for b in builds if b["year"] == y)
                for y in years
            ]
            out[f"{r.id}_limit"] = [_per_year(r.limit, y, 0) for y in years]
        training = self.training
        out["trainees"] = (
            training.groupby("year")["trainees"].sum().reindex(years, fill_value=0).astype("int64")
        )
        capacity = [[_per_year(r.training_capacity, y, -1) for r in m.regions] for y in years]
        out["training_capacity"] = [float("nan") if -1 in c else float(sum(c)) for c in capacity]
        needed = [
            sum(options[b["option"]].technicians for b in builds if b["year"] == y) for y in years
        ]
        out["technicians_needed"] = pd.Series(needed, index=years).cumsum()
        lead = m.training.lead_time
        trained = out["trainees"].cumsum()
        stock = sum(r.trained_stock for r in m.regions)
        out["technicians_ready"] = [
            stock + (int(trained.loc[y - lead]) if y - lead >= years[0] else 0) for y in years
        ]
        return out

    # -- comparisons
    def compare(self, other: Plan) -> PlanDiff:
        """What changes from this plan to ``other`` (see :class:`PlanDiff`)."""
        if not isinstance(other, Plan):
            raise _type_error("other", "a Plan", other)
        return PlanDiff(self, other)

    # -- plots
    def plot_timeline(self, ax: Axes | None = None) -> Figure:
        """Region × year grid: one square per build, coloured by design option."""
        from matplotlib.collections import PatchCollection
        from matplotlib.patches import Rectangle

        fig, ax = _axes(ax, (10, 0.45 * len(self.scenario.model.regions) + 1.8))
        regions = [r.id for r in self.scenario.model.regions]
        names = {r.id: r.name or r.id for r in self.scenario.model.regions}
        options = [o.id for o in self.scenario.model.options]
        colours = _option_colours(options)
        cells: dict[tuple[str, int], list[str]] = {}
        for b in self._doc.get("builds", []):
            cells.setdefault((b["region"], b["year"]), []).append(b["option"])
        most = max((len(v) for v in cells.values()), default=1)
        width = min(0.84 / max(most, 1), 0.28)  # of a year: the fullest cell spans at most 0.84
        boxes, colours_of = [], []
        for (region, year), opts in cells.items():
            if region not in regions:
                continue
            y = len(regions) - 1 - regions.index(region)
            for i, o in enumerate(
                sorted(opts, key=lambda o: options.index(o) if o in options else len(options))
            ):
                x = year + (i - len(opts) / 2) * width
                boxes.append(Rectangle((x + 0.02, y - 0.3), width - 0.04, 0.6))
                colours_of.append(colours.get(o, "grey"))
        ax.add_collection(
            PatchCollection(boxes, facecolors=colours_of, edgecolors="none", zorder=3)
        )
        years = self.scenario.years
        ax.set_xticks(years)
        ax.set_xlim(years[0] - 0.6, years[-1] + 0.6)
        ax.set_yticks(range(len(regions)))
        ax.set_yticklabels([names[r] for r in reversed(regions)])
        ax.set_ylim(-0.6, len(regions) - 0.4)
        ax.grid(True, axis="x", color="#dddddd", zorder=0)
        for o in options:
            ax.add_patch(Rectangle((0, 0), 0, 0, color=colours[o], label=o))
        ax.legend(title="design", loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        ax.set_xlabel("build year")
        ax.set_title(f"{self.label}: sites built per region and year ({self._status_line()})")
        _no_plan_note(ax, self)
        fig.tight_layout()
        return fig

    def plot_map(self, ax: Axes | None = None) -> Figure:
        """Sites at their coordinates, coloured by build year (grey crosses: not built);
        marker area follows population; black triangles are crew pool bases."""
        import matplotlib as mpl
        import numpy as np

        fig, ax = _axes(ax, (7.5, 7.5))
        sites = self.scenario.sites
        built = self.builds.set_index("site")
        years = self.scenario.years
        sites = sites[sites["lat"].notna() & sites["lon"].notna()]
        year_of = built["year"].reindex(sites.index)
        size = 8 + 60 * np.sqrt(
            sites["population"].astype(float) / max(1.0, float(sites["population"].max()))
        )
        cmap = mpl.colormaps["viridis"].resampled(len(years))
        norm = mpl.colors.BoundaryNorm([y - 0.5 for y in years] + [years[-1] + 0.5], cmap.N)
        on = year_of.notna()
        points = ax.scatter(
            sites.loc[on, "lon"],
            sites.loc[on, "lat"],
            c=year_of[on],
            cmap=cmap,
            norm=norm,
            s=size[on],
            edgecolor="black",
            linewidth=0.3,
            zorder=3,
        )
        if (~on).any():
            ax.scatter(
                sites.loc[~on, "lon"],
                sites.loc[~on, "lat"],
                marker="x",
                color="grey",
                s=25,
                zorder=2,
                label="not built",
            )
        pools = self.scenario.model.crews
        if pools:
            ax.scatter(
                [p.lon for p in pools],
                [p.lat for p in pools],
                marker="^",
                color="black",
                s=40,
                zorder=4,
                label="crew pool base",
            )
        bar = fig.colorbar(points, ax=ax, ticks=years, fraction=0.046, pad=0.04)
        bar.set_label("build year")
        mean_lat = float(sites["lat"].mean()) if len(sites) else 0.0
        ax.set_aspect(1 / max(0.1, math.cos(math.radians(mean_lat))))
        ax.set_xlabel("longitude")
        ax.set_ylabel("latitude")
        if (~on).any() or pools:
            ax.legend(loc="lower right", frameon=True, fontsize="small")
        ax.set_title(f"{self.label}: build year of each site")
        _no_plan_note(ax, self)
        fig.tight_layout()
        return fig

    def plot_served_share(self, ax: Axes | None = None) -> Figure:
        """Served share of each region's population by the end of each year; the national
        share in black, and the band a region may trail it by under the balance rule."""
        fig, ax = _axes(ax, (10, 5.5))
        share = 100 * self._served_share()  # zeros for a verdict, under its "no plan" note
        years = self.scenario.years
        names = {r.id: r.name or r.id for r in self.scenario.model.regions}
        cmap = _region_colours(list(share.index))
        for region, row in share.iterrows():
            ax.plot(
                years,
                row.values,
                marker="o",
                ms=3,
                lw=1.2,
                color=cmap[str(region)],
                label=names[str(region)],
            )
        national = 100 * self._served_share_national()
        ax.plot(years, national.values, color="black", lw=2.5, label="national", zorder=5)
        balance = self.scenario.model.balance
        if balance is not None:
            ax.fill_between(
                years,
                (national - balance.tolerance_pct).clip(lower=0).values,
                national.values,
                color="grey",
                alpha=0.15,
                label=f"balance: may trail by ≤ {balance.tolerance_pct} pp",
            )
        ax.set_xticks(years)
        ax.set_ylim(0, 102)
        ax.set_ylabel("population served by the end of the year (%)")
        ax.grid(True, color="#eeeeee")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize="small")
        ax.set_title(f"{self.label}: served population share ({self._status_line()})")
        _no_plan_note(ax, self)
        fig.tight_layout()
        return fig

    def plot_comparison(self, other: Plan) -> Figure:
        """Two plans side by side: sites built per year, national served share, and each
        region's population-weighted mean build year (this plan ○ → other ●)."""
        return self.compare(other).plot()

    def _status_line(self) -> str:
        if self.gap is None or self.status == "optimal":
            return self.status
        return f"{self.status}, gap {_pct(self.gap)}"


def _solver_line(solver: Mapping[str, Any] | None) -> str:
    if not solver:
        return "–"
    return f"{solver.get('backend')}, {solver.get('seconds')} s of {solver.get('time_limit')} s, {solver.get('threads')} thread(s)"


def _axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    if ax is not None:
        from matplotlib.axes import Axes as MplAxes

        if not isinstance(ax, MplAxes):  # plt.subplots(1, 2)'s array, a Figure: named here
            hint = " (one of plt.subplots(...)'s axes, as axes[0])" if hasattr(ax, "shape") else ""
            raise _type_error("ax", f"a matplotlib Axes or None{hint}", ax)
        parent = ax.get_figure()
        assert isinstance(parent, Figure)
        return parent, ax
    fig, new = plt.subplots(figsize=size)
    plt.close(fig)  # returned, not shown twice: Jupyter displays the returned Figure
    return fig, new


#: The columns of a plan's tables and their dtypes as pandas reads them from a plan that has
#: rows; an empty table (a plan that builds nothing, a verdict) has the same ones, not
#: ``object`` throughout, so that tables of a batch concatenate alike.
BUILDS_DTYPES = {
    "site": "str",
    "name": "str",
    "region": "str",
    "year": "int64",
    "option": "str",
    "population": "int64",
    "lat": "float64",
    "lon": "float64",
    "annual_benefit": "int64",
    "crews": "int64",
    "crew_km": "int64",
    "pools": "str",
}
CREWS_DTYPES = {
    "site": "str",
    "region": "str",
    "year": "int64",
    "pool": "str",
    "count": "int64",
    "distance_km": "int64",
}
TRAINING_DTYPES = {"region": "str", "year": "int64", "trainees": "int64"}
#: A conflict's group, its key columns (SPEC §4: site; region, year; resource; before, after)
#: and message.
CONFLICT_DTYPES = {
    "group": "str",
    "site": "str",
    "region": "str",
    "year": "Int64",
    "resource": "str",
    "before": "str",
    "after": "str",
    "message": "str",
}


def _empty(dtypes: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in dtypes.items()})


def _option_colours(options: list[str]) -> dict[str, Any]:
    import matplotlib as mpl

    palette = mpl.colormaps["tab10"]
    preferred = {"basic": 0, "standard": 1, "large": 2}
    # the other options take the palette's other slots in turn (past seven of them, again)
    others = [i for i in range(10) if i not in preferred.values()]
    rest = [o for o in options if o not in preferred]
    return {
        o: palette(preferred[o] if o in preferred else others[rest.index(o) % len(others)])
        for o in options
    }


def _region_colours(regions: list[str]) -> dict[str, Any]:
    import matplotlib as mpl

    palette = mpl.colormaps["tab20"]
    return {r: palette(i % 20) for i, r in enumerate(regions)}


def _no_plan_note(ax: Axes, plan: Plan) -> None:
    if not plan.has_plan:
        _note(ax, f"no plan ({plan.status})")


def _note(ax: Axes, text: str) -> None:
    """A boxed note across the middle of ``ax``: why a chart has nothing to draw."""
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=14,
        color="firebrick",
        bbox={"facecolor": "white", "edgecolor": "firebrick"},
    )


# -- diffs ----------------------------------------------------------------------


class PlanDiff:
    """Differences from plan ``a`` to plan ``b`` (:func:`solver.diff.diff_plans`) as DataFrames.

    ``optimum_change_range`` is what the two solves *prove* about the change of the
    optimum: with ``a``'s optimum in ``[a.objective, a.bound]`` and ``b``'s in
    ``[b.objective, b.bound]``, the change lies in ``[b.objective - a.bound,
    b.bound - a.objective]`` — a single number only when both are optimal.
    """

    def __init__(self, a: Plan, b: Plan):
        self.a, self.b = a, b
        try:
            self.doc: dict[str, Any] = diff_plans(a._doc, b._doc)
        except NoBuildsError as exc:  # an infeasible plan read as builds would drop every site
            plan = a if exc.side == "a" else b
            raise NoBuildsError(exc.side, exc.status, plan.label) from None
        #: the plans' names in tables and legends, distinct when both plans have one label
        #: (two solves of a scenario, a re-plan of it): "x (a)" and "x (b)"
        self.labels: tuple[str, str] = (
            (a.label, b.label) if a.label != b.label else (f"{a.label} (a)", f"{b.label} (b)")
        )

    @property
    def objective_change(self) -> int | None:
        """``b.objective - a.objective`` (the plans found, not the optima)."""
        change = self.doc.get("objective_change")
        return None if change is None else int(change)

    @property
    def optimum_change_range(self) -> tuple[int, int] | None:
        a, b = self.a, self.b
        if None in (a.objective, a.bound, b.objective, b.bound):
            return None
        assert (
            a.objective is not None
            and a.bound is not None
            and b.objective is not None
            and b.bound is not None
        )
        return b.objective - a.bound, b.bound - a.objective

    def _frame(self, key: str, columns: list[str]) -> pd.DataFrame:
        return pd.DataFrame(self.doc[key], columns=columns)

    @property
    def moved(self) -> pd.DataFrame:
        """Sites built in another year: site, region, from, to, shift (years; > 0 later)."""
        out = self._frame("moved", ["site", "region", "from", "to"])
        out["shift"] = (out["to"] - out["from"]).astype("int64")
        return out

    @property
    def redesigned(self) -> pd.DataFrame:
        """Sites built with another option: site, region, from, to."""
        return self._frame("redesigned", ["site", "region", "from", "to"])

    @property
    def dropped(self) -> pd.DataFrame:
        """Sites ``a`` builds and ``b`` does not: site, region, year, option."""
        return self._frame("dropped", ["site", "region", "year", "option"])

    @property
    def added(self) -> pd.DataFrame:
        """Sites ``b`` builds and ``a`` does not: site, region, year, option."""
        return self._frame("added", ["site", "region", "year", "option"])

    @property
    def crews_reassigned(self) -> pd.DataFrame:
        """Sites built in the same year by other crews: site, year, from, to ({pool: count})."""
        return self._frame("crews_reassigned", ["site", "year", "from", "to"])

    @property
    def terms(self) -> pd.DataFrame:
        """Objective and terms of both plans and their change."""
        rows = {"objective": (self.a.objective, self.b.objective)}
        rows.update({k: (v["a"], v["b"]) for k, v in self.doc["terms"].items()})
        out = pd.DataFrame.from_dict(rows, orient="index", columns=list(self.labels))
        out["change"] = [None if x is None or y is None else y - x for x, y in rows.values()]
        return out

    @property
    def summary(self) -> dict[str, Any]:
        """Counts of each kind of change, the objective change and its proved range."""
        return {
            "unchanged": self.doc["unchanged"],
            "moved": len(self.doc["moved"]),
            "moved_earlier": sum(1 for m in self.doc["moved"] if m["to"] < m["from"]),
            "moved_later": sum(1 for m in self.doc["moved"] if m["to"] > m["from"]),
            "redesigned": len(self.doc["redesigned"]),
            "dropped": len(self.doc["dropped"]),
            "added": len(self.doc["added"]),
            "crews_reassigned": len(self.doc["crews_reassigned"]),
            "objective_change": self.objective_change,
            "optimum_change_range": self.optimum_change_range,
        }

    @property
    def by_region(self) -> pd.DataFrame:
        """Per region: sites moved earlier/later, redesigned, dropped, added, and the change of
        the population-weighted mean build year (``mean_year_shift``, > 0 later)."""
        regions = list(_regions(self.a, self.b))
        out = pd.DataFrame(
            0,
            index=pd.Index(regions, name="region"),
            columns=["earlier", "later", "redesigned", "dropped", "added"],
            dtype="int64",
        )
        for m in self.doc["moved"]:
            out.loc[m["region"], "earlier" if m["to"] < m["from"] else "later"] += 1
        for key in ("redesigned", "dropped", "added"):
            for item in self.doc[key]:
                out.loc[item["region"], key] += 1
        out["mean_year_shift"] = _mean_build_year(self.b, regions) - _mean_build_year(
            self.a, regions
        )
        return out

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"PlanDiff({self.labels[0]!r} -> {self.labels[1]!r}: objective {_num(s['objective_change'])}, "
            f"moved {s['moved']}, redesigned {s['redesigned']}, dropped {s['dropped']}, added {s['added']})"
        )

    def _repr_html_(self) -> str:
        s = self.summary
        rng = s["optimum_change_range"]
        rows = [
            ("objective change", _num(s["objective_change"])),
            (
                "proved range of the optimum's change",
                "–" if rng is None else f"{rng[0]:,} .. {rng[1]:,}",
            ),
            ("unchanged builds", str(s["unchanged"])),
            ("moved", f"{s['moved']} ({s['moved_earlier']} earlier, {s['moved_later']} later)"),
            ("redesigned / dropped / added", f"{s['redesigned']} / {s['dropped']} / {s['added']}"),
            ("same year, other crews", str(s["crews_reassigned"])),
        ]
        return _html_table(f"{self.labels[0]} → {self.labels[1]}", rows) + str(self.terms.to_html())

    def plot(self) -> Figure:
        """Sites built per year, national served share, and mean build year per region."""
        import matplotlib.pyplot as plt
        import numpy as np
        from matplotlib.lines import Line2D
        from matplotlib.ticker import MaxNLocator, ScalarFormatter

        a, b = self.a, self.b
        label_a, label_b = self.labels
        fig, axes = plt.subplots(
            1, 3, figsize=(16, 5.2), gridspec_kw={"width_ratios": [1.1, 1.1, 1.0]}
        )
        plt.close(fig)
        years = sorted(set(a.scenario.years) | set(b.scenario.years))
        x = np.arange(len(years))
        per_a = a.by_region_year.sum(axis=0).reindex(years, fill_value=0)
        per_b = b.by_region_year.sum(axis=0).reindex(years, fill_value=0)
        ax = axes[0]
        ax.bar(x - 0.2, per_a.values, 0.4, label=label_a, color="#9ecae1")
        ax.bar(x + 0.2, per_b.values, 0.4, label=label_b, color="#3182bd")
        ax.set_xticks(x)
        ax.set_xticklabels([str(y) for y in years], rotation=45)
        ax.set_ylabel("sites built")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title("sites built per year")

        ax = axes[1]
        na = 100 * a.served_share_national.reindex(years)
        nb = 100 * b.served_share_national.reindex(years)
        ax.plot(years, na.values, "o-", color="#9ecae1", lw=2, label=label_a)
        ax.plot(years, nb.values, "o-", color="#3182bd", lw=2, label=label_b)
        ax.fill_between(years, na.values, nb.values, color="#3182bd", alpha=0.12)
        ax.set_xticks(years)
        ax.set_xticklabels([str(y) for y in years], rotation=45)
        ax.set_ylim(0, 102)
        ax.set_ylabel("national population served (%)")
        ax.set_title("served population share")
        ax.grid(True, color="#eeeeee")

        ax = axes[2]
        names = _regions(a, b)
        ma, mb = _mean_build_year(a, list(names)), _mean_build_year(b, list(names))
        regions = [r for r in names if not (math.isnan(ma[r]) and math.isnan(mb[r]))]
        ys = np.arange(len(regions))[::-1]
        for yv, r in zip(ys, regions, strict=True):
            ax.plot([ma[r], mb[r]], [yv, yv], color="#bbbbbb", lw=2, zorder=1)
        ax.scatter(
            [ma[r] for r in regions],
            ys,
            facecolor="white",
            edgecolor="#3182bd",
            s=45,
            zorder=2,
            label=label_a,
        )
        ax.scatter([mb[r] for r in regions], ys, color="#3182bd", s=45, zorder=3, label=label_b)
        ax.set_yticks(ys)
        ax.set_yticklabels([names[r] for r in regions])
        # years as years: one region's two means 0.04 apart are not "0.035 +2.0249e3", and
        # the axis spans at least a year around them rather than a hundredth of one
        ax.xaxis.set_major_formatter(ScalarFormatter(useOffset=False))
        means = [v for r in regions for v in (ma[r], mb[r]) if not math.isnan(v)]
        if means and max(means) - min(means) < 1:
            middle = (max(means) + min(means)) / 2
            ax.set_xlim(middle - 0.6, middle + 0.6)
        ax.set_xlabel("mean build year (population-weighted)")
        ax.set_title("when each region is served")
        ax.grid(True, axis="x", color="#eeeeee")
        handles = [
            Line2D(
                [],
                [],
                color="#9ecae1",
                marker="o",
                markerfacecolor="white",
                markeredgecolor="#3182bd",
                lw=6,
                label=label_a,
            ),
            Line2D([], [], color="#3182bd", marker="o", lw=6, label=label_b),
        ]
        fig.legend(
            handles=handles, loc="lower center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 0.0)
        )

        change = self.objective_change
        rng = self.optimum_change_range
        detail = (
            ""
            if rng is None or (a.status == b.status == "optimal")
            else f"; proved change of the optimum {rng[0]:+,} .. {rng[1]:+,}"
        )
        fig.suptitle(
            f"{label_a} ({_num(a.objective)}, {a.status}) → {label_b} ({_num(b.objective)}, {b.status}): "
            f"objective {'–' if change is None else f'{change:+,}'}{detail}",
            fontsize=11,
        )
        fig.tight_layout(rect=(0, 0.06, 1, 1))
        return fig


def _regions(a: Plan, b: Plan) -> dict[str, str]:
    """Region id → name over the scenarios of two plans compared: ``b``'s regions in its order,
    then those of ``a`` that ``b``'s scenario lacks (a what-if may remove or rename a region,
    and the sites dropped there are still part of the change)."""
    names = {r.id: r.name or r.id for r in b.scenario.model.regions}
    for r in a.scenario.model.regions:
        names.setdefault(r.id, r.name or r.id)
    return names


def _mean_build_year(plan: Plan, regions: list[str]) -> pd.Series:
    """Population-weighted mean build year per region of ``regions`` (NaN where nothing is
    built)."""
    builds = plan.builds
    if builds.empty:
        return pd.Series(float("nan"), index=pd.Index(regions, name="region"))
    weight = builds["population"].astype(float).clip(lower=1.0)
    summed = (builds["year"] * weight).groupby(builds["region"]).sum() / weight.groupby(
        builds["region"]
    ).sum()
    return summed.reindex(regions)


# -- batches --------------------------------------------------------------------


#: The columns of :attr:`Batch.table` comparing a plan with the base plan: all 0 in the base's
#: own row (one scenario against itself).
COMPARISON_COLUMNS = (
    "objective_change",
    "change_low",
    "change_high",
    "moved",
    "redesigned",
    "dropped",
    "added",
)


@dataclass
class Batch:
    """The plans of a batch of what-if variants and their comparison with the base plan.

    ``table`` has one row per plan (the base first): status, objective, bound, gap,
    the terms, the objective change against the base and the proved range of the
    optimum's change (``change_low``, ``change_high``), and how many sites moved,
    were redesigned, dropped or added. A variant that could not be solved has its reason in
    ``errors`` and ``status`` ``invalid`` (also over the service's limits), ``failed`` or
    ``cancelled``; so has the base, and then nothing is compared.
    """

    base: str
    plans: dict[str, Plan]
    errors: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Plan:
        """The plan of variant ``name`` (or of the base); a variant without one (invalid, failed,
        cancelled) is a KeyError that says so and why (``errors``)."""
        try:
            return self.plans[name]
        except KeyError:
            if name in self.errors:
                raise KeyError(
                    f"variant {name!r} has no plan: {self.errors[name]} (batch.errors)"
                ) from None
            known = ", ".join(repr(n) for n in [*self.plans, *self.errors])
            raise KeyError(f"no variant {name!r} in this batch; it has {known}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.plans)

    def __len__(self) -> int:
        return len(self.plans)

    @property
    def diffs(self) -> dict[str, PlanDiff]:
        """Each solved variant's diff from the base plan (none when the base has no plan: it
        was invalid, failed or cancelled, and ``errors`` says why)."""
        base = self.plans.get(self.base)
        if base is None or not base.has_plan:
            return {}
        return {
            name: PlanDiff(base, plan)
            for name, plan in self.plans.items()
            if name != self.base and plan.has_plan
        }

    @property
    def table(self) -> pd.DataFrame:
        base = self.plans.get(self.base)
        rows = []
        names = list(self.plans) + [n for n in self.errors if n not in self.plans]
        diffs = self.diffs
        for name in names:
            plan = self.plans.get(name)
            row: dict[str, Any] = {
                "variant": name,
                "status": plan.status
                if plan
                else (self.jobs[name].status if name in self.jobs else "invalid"),
            }
            if plan is not None:
                row.update({"objective": plan.objective, "bound": plan.bound, "gap": plan.gap})
                row.update({k: plan.terms.get(k) for k in TERMS})
                row["seconds"] = plan.seconds
            if name in diffs:
                d = diffs[name]
                s = d.summary
                rng = s["optimum_change_range"]
                row.update(
                    {
                        "objective_change": s["objective_change"],
                        "change_low": None if rng is None else rng[0],
                        "change_high": None if rng is None else rng[1],
                        "moved": s["moved"],
                        "redesigned": s["redesigned"],
                        "dropped": s["dropped"],
                        "added": s["added"],
                    }
                )
            elif name == self.base and base is not None and base.has_plan:
                # the base against itself: one scenario, so its optimum's change is exactly 0
                row.update(dict.fromkeys(COMPARISON_COLUMNS, 0))
            if name in self.errors:
                row["error"] = self.errors[name]
            rows.append(row)
        cols = [
            "variant",
            "status",
            "objective",
            "bound",
            "gap",
            *TERMS,
            *COMPARISON_COLUMNS,
            "seconds",
        ]
        if self.errors:
            cols.append("error")
        out = pd.DataFrame(rows, columns=cols).set_index("variant")
        for c in ("objective", "bound", *TERMS, *COMPARISON_COLUMNS):
            out[c] = out[c].astype("Int64")
        for c in ("gap", "seconds"):  # float, NaN where none: not object when all are None
            out[c] = out[c].astype("float64")
        return out

    def _repr_html_(self) -> str:
        return (
            f"<div><strong>Batch: {len(self.plans)} plan(s), base '{escape(self.base)}'</strong></div>"
            + str(self.table.to_html())
        )

    def plot(self) -> Figure:
        """Objective change of each variant against the base, with the proved range of the
        optimum's change as a bar (a dot alone: both optimal). Without a base plan or a
        variant plan to compare, a "no plan" note says each one's status."""
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter

        everything = self.table
        table = everything.drop(index=self.base, errors="ignore")
        table = table[table["objective_change"].notna()]
        fig, ax = plt.subplots(figsize=(9, 0.6 * max(1, len(table)) + 1.6))
        plt.close(fig)
        ys = list(range(len(table)))[::-1]
        for yv, (_, row) in zip(ys, table.iterrows(), strict=True):
            if pd.notna(row["change_low"]):
                ax.plot(
                    [row["change_low"], row["change_high"]],
                    [yv, yv],
                    color="#9ecae1",
                    lw=6,
                    solid_capstyle="butt",
                    zorder=1,
                )
            ax.scatter([row["objective_change"]], [yv], color="#08519c", zorder=2)
        ax.axvline(0, color="black", lw=0.8)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+,.0f}" if v else "0"))
        ax.set_yticks(ys)
        ax.set_yticklabels(list(table.index))
        ax.set_xlabel(
            f"objective change against '{self.base}' (dot: plans found; bar: proved range of the optimum's change)"
        )
        ax.grid(True, axis="x", color="#eeeeee")
        if table.empty:
            statuses = [f"{n}: {st}" for n, st in everything["status"].items()]
            shown = ", ".join(statuses[:4]) + (", …" if len(statuses) > 4 else "")
            _note(ax, f"no plan to compare ({shown})")
        fig.tight_layout()
        return fig


# -- jobs and planners ----------------------------------------------------------


class _Backend(Protocol):
    """Where jobs run: the HTTP service or threads of this process."""

    url: str

    def submit(self, scenario: Scenario, options: dict[str, Any]) -> dict[str, Any]: ...
    def get(self, job_id: str) -> dict[str, Any]: ...
    def cancel(self, job_id: str) -> dict[str, Any]: ...
    def plan(self, job_id: str) -> dict[str, Any] | None: ...
    def scenario(self, job_id: str) -> Scenario: ...
    def close(self) -> None: ...


@dataclass
class Job:
    """A submitted solve. ``status``, ``wait()``, ``cancel()`` and ``plan()`` ask its planner."""

    id: str
    planner: Planner = field(repr=False)
    scenario: Scenario | None = field(default=None, repr=False)
    label: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        # a re-plan's options hold its frozen trainees and baseline crews, hundreds of rows
        shown = {k: f"{len(v)} rows" if isinstance(v, list) else v for k, v in self.options.items()}
        return f"Job(id={self.id!r}, label={self.label!r}, options={shown})"

    def info(self) -> dict[str, Any]:
        """The job as the service reports it (status, reason, options, progress, result)."""
        return self.planner.status(self)

    @property
    def status(self) -> str:
        """``queued``, ``running``, ``done``, ``failed`` or ``cancelled`` (asked now)."""
        return str(self.info()["status"])

    def wait(self, *, progress: bool = True, timeout: float | None = None) -> Plan:
        return self.planner.wait(self, progress=progress, timeout=timeout)

    def cancel(self) -> dict[str, Any]:
        return self.planner.cancel(self)

    def plan(self) -> Plan:
        return self.planner.plan(self)


def _job_id(job: JobRef) -> str:
    """The id of ``job`` (a :class:`Job` or an id); a plan or a batch given for it is named."""
    if isinstance(job, Job):
        return job.id
    if not isinstance(job, str):
        raise _type_error("job", "a Job or a job id (str)", job)
    return job


def _start_id(start: Any) -> str:
    """``start_solve_id``: a job, a plan of a job, or a job id, as the id the service takes."""
    if isinstance(start, Plan) and start.job_id is not None:
        return start.job_id
    if isinstance(start, Job | str):
        return _job_id(start)
    expected = "a Job, a job id (str) or a Plan of a solve job"
    if isinstance(start, Plan):
        expected += " (this Plan was not solved by a job: Plan.load'ed, or made locally)"
    raise _type_error("start_solve_id", expected, start)


class _HttpBackend:
    def __init__(
        self, url: str, api_key: str | None, timeout: float, transport: httpx.BaseTransport | None
    ):
        headers = {"X-API-Key": api_key} if api_key else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport
        )

    def _call(
        self, method: str, path: str, ok: tuple[int, ...] = (200,), **kwargs: Any
    ) -> httpx.Response:
        if self._http.is_closed:
            raise RuntimeError(
                f"this Planner of {self.url} is closed (close(), or its with block ended): "
                "make another with Planner(url)"
            )
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ConnectionError(f"rdplan service at {self.url} does not answer: {exc}") from exc
        if response.status_code not in ok:
            try:
                body = response.json()
            except ValueError:
                body = {"detail": response.text[:500]}
            detail = body.get("detail") if isinstance(body, dict) else str(body)
            errors = body.get("errors", []) if isinstance(body, dict) else []
            raise ApiError(response.status_code, str(detail), errors)
        return response

    def submit(self, scenario: Scenario, options: dict[str, Any]) -> dict[str, Any]:
        try:
            r = self._call(
                "POST", "/v1/solves", (202,), json={"scenario": scenario._doc, "options": options}
            )
        except ApiError as exc:
            raise _scenario_error(exc) from exc
        out: dict[str, Any] = r.json()
        return out

    def get(self, job_id: str) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", f"/v1/solves/{job_id}").json()
        return out

    def cancel(self, job_id: str) -> dict[str, Any]:
        try:
            out: dict[str, Any] = self._call("DELETE", f"/v1/solves/{job_id}", (202,)).json()
        except ApiError as exc:
            if exc.status_code != 409:  # 409: the job had already ended
                raise
            out = self.get(job_id)
        return out

    def plan(self, job_id: str) -> dict[str, Any] | None:
        try:
            out: dict[str, Any] = self._call("GET", f"/v1/solves/{job_id}/plan").json()
        except ApiError as exc:
            if exc.status_code == 409:
                return None
            raise
        return out

    def scenario(self, job_id: str) -> Scenario:
        scenario_id = self.get(job_id)["scenario_id"]
        return Scenario(self._call("GET", f"/v1/scenarios/{scenario_id}").json()["document"])

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", "/healthz").json()
        return out

    def close(self) -> None:
        self._http.close()


@dataclass
class _LocalJob:
    id: str
    scenario: Scenario
    options: dict[str, Any]
    status: str = "queued"
    reason: str | None = None
    progress: list[dict[str, Any]] = field(default_factory=list)
    plan: dict[str, Any] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    future: Future[None] | None = None


def _close_at_exit(backend: _LocalBackend) -> None:
    """Close ``backend`` (cancel its solves) when the interpreter exits. Python joins a thread
    pool's threads at exit, so a script that ended mid-solve waited for the solve's whole time
    limit. The hook goes where ``concurrent.futures`` puts its own join,
    ``threading._register_atexit``, whose callbacks run last registered first, before the
    join; the standard ``atexit`` runs after it, too late."""
    ref = weakref.ref(backend)

    def close() -> None:
        live = ref()
        if live is not None and not live._closed:
            live.close()

    register = getattr(threading, "_register_atexit", None)
    try:
        if register is None:  # pragma: no cover - every CPython since 3.9 has it
            atexit.register(close)
        else:
            register(close)
    except RuntimeError:  # the interpreter is already shutting down: nothing to stop later
        pass


class _LocalBackend:
    """Jobs in a thread pool of this process (``workers`` solves at a time)."""

    url = "local"

    def __init__(self, workers: int):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rdplan-local")
        self._jobs: dict[str, _LocalJob] = {}
        self._lock = threading.Lock()
        self._closed = False
        _close_at_exit(self)

    def submit(self, scenario: Scenario, options: dict[str, Any]) -> dict[str, Any]:
        if self._closed:  # its threads are gone: the job would stay queued for ever
            raise RuntimeError(
                "this local Planner is closed (close(), or its with block ended): make another "
                "with Planner.local(); its ended jobs can still be read"
            )
        try:  # the service's own model of the options: the same values refused, the same paths
            opts = SolveOptions.model_validate(options)
        except ValidationError as exc:
            raise ApiError(
                422,
                "invalid solve options",
                [
                    {"path": format_path(("options", *e["loc"])), "message": error_message(e)}
                    for e in exc.errors(include_url=False)
                ],
            ) from None
        # the service's check and words (its MAX_THREADS is the core count by default)
        over = over_limits(opts.threads or 1, default_threads())
        if over:
            raise ApiError(422, OVER_LIMITS, over)
        backend = options.get("backend", DEFAULT_BACKEND)
        start = options.get("start_solve_id")
        if start is not None and str(start) not in self._jobs:
            raise ApiError(
                422,
                "unknown start job",
                [{"path": "options.start_solve_id", "message": f"no solve job {start}"}],
            )
        # the values as the service takes them ("10" -> 10.0 s, 3.0 -> seed 3), not as given
        taken = opts.model_dump(include=set(options) - {"baseline", "start_solve_id"})
        options = {k: v for k, v in {**options, **taken}.items() if k != "baseline"}
        if opts.baseline is not None or opts.freeze_through is not None:
            # A re-plan, derived as the service derives it: the job runs on that scenario.
            try:
                derived = replanned(scenario.model, opts.baseline, opts)
            except ReplanError as exc:
                raise _scenario_error(ApiError(422, exc.detail, exc.errors)) from None
            options.update(replan_options(derived, opts.baseline, opts.freeze_through))
            scenario = Scenario(derived)
        job = _LocalJob(
            str(uuid.uuid4()),
            scenario,
            {"backend": backend, "time_limit": 60.0, "threads": None, "seed": 0, **options},
        )
        with self._lock:
            self._jobs[job.id] = job
        job.future = self._pool.submit(self._run, job)
        return self._info(job)

    def _run(self, job: _LocalJob) -> None:
        from solver.solve import Progress, solve

        with self._lock:
            if job.status != "queued":
                return
            job.status, job.started = "running", time.time()

        def on_progress(p: Progress) -> None:
            point = p.as_dict()
            with self._lock:
                if not job.progress or (
                    job.progress[-1]["incumbent"],
                    job.progress[-1]["bound"],
                ) != (p.incumbent, p.bound):
                    job.progress.append(point)

        options = dict(job.options)
        start_id = options.pop("start_solve_id", None)
        wait = options.pop("start_wait", True) is not False
        replan = replan_arguments(options)
        for key in ("freeze_through", "frozen_training", "baseline_crews"):
            options.pop(key, None)  # the job's options, not the solve's arguments
        options.update(replan)
        start: dict[str, Any] | None = None
        try:
            if start_id is not None:
                sites = {site.id for site in job.scenario.model.sites}
                options["hint"], start = self._start_plan(str(start_id), job.cancel, wait, sites)
            plan = solve(
                job.scenario.model, on_progress=on_progress, cancel=job.cancel, **options
            ).to_document()
            if start is not None:
                plan["solver"]["start_solve"] = start
        except Exception as exc:  # reported like the service does: a failed job with a reason
            with self._lock:
                job.status, job.reason, job.finished = (
                    "failed",
                    f"{type(exc).__name__}: {exc}",
                    time.time(),
                )
            return
        with self._lock:
            job.plan, job.finished = plan, time.time()
            if job.cancel.is_set():
                kept = (
                    "; the best plan found so far is kept"
                    if plan.get("status") in PLAN_STATUSES
                    else ""
                )
                job.status, job.reason = (
                    "cancelled",
                    f"cancelled on request after {job.finished - (job.started or job.finished):.1f} s{kept}",
                )
            else:
                job.status = "done"

    def _start_plan(
        self, start_id: str, cancel: threading.Event, wait: bool, sites: set[str]
    ) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """The start job's plan once it has ended (as the service's ``start_plan``; a local
        job always ends, so no time bound), and the plan's ``solver.start_solve``."""
        started = time.perf_counter()
        start = self._jobs[start_id]
        while wait and start.future is not None and not start.future.done() and not cancel.is_set():
            cancel.wait(0.1)
        with self._lock:
            return start_outcome(
                start_id,
                time.perf_counter() - started,
                start.status,
                start.plan,
                cancel.is_set(),
                wait,
                sites,
            )

    def _job(self, job_id: str) -> _LocalJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"no solve job {job_id}")
        return job

    def _info(self, job: _LocalJob) -> dict[str, Any]:
        with self._lock:
            result = None
            if job.plan is not None:
                result = {k: job.plan.get(k) for k in ("status", "objective", "bound", "gap")}
            return {
                "id": job.id,
                "status": job.status,
                "reason": job.reason,
                "options": dict(job.options),
                "cancel_requested": job.cancel.is_set(),
                "created_at": job.created,
                "started_at": job.started,
                "finished_at": job.finished,
                "seconds": None
                if job.finished is None or job.started is None
                else job.finished - job.started,
                "result": result,
                "progress": list(job.progress),
            }

    def get(self, job_id: str) -> dict[str, Any]:
        return self._info(self._job(job_id))

    def cancel(self, job_id: str) -> dict[str, Any]:
        job = self._job(job_id)
        with self._lock:
            if job.status == "queued":
                job.status, job.reason, job.finished = (
                    "cancelled",
                    "cancelled before it started",
                    time.time(),
                )
            if job.status in ("queued", "running", "cancelled"):
                job.cancel.set()
        return self._info(job)

    def plan(self, job_id: str) -> dict[str, Any] | None:
        job = self._job(job_id)
        with self._lock:
            return copy.deepcopy(job.plan)

    def scenario(self, job_id: str) -> Scenario:
        return self._job(job_id).scenario

    def close(self) -> None:
        self._closed = True
        for job in list(self._jobs.values()):
            if job.status in ("queued", "running"):
                self.cancel(job.id)
        self._pool.shutdown(wait=True, cancel_futures=True)


def _tqdm(**kwargs: Any) -> Any:
    """``tqdm.auto`` (a widget in Jupyter with ipywidgets, text otherwise) without its warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm

        return tqdm(**kwargs)


def _progress_text(info: Mapping[str, Any]) -> str:
    status = str(info.get("status"))
    points = info.get("progress") or []
    last = points[-1] if points else {}
    result = info.get("result") or {}
    incumbent = (
        result.get("objective", last.get("incumbent"))
        if status in TERMINAL
        else last.get("incumbent")
    )
    bound = result.get("bound", last.get("bound")) if status in TERMINAL else last.get("bound")
    gap = result.get("gap", last.get("gap")) if status in TERMINAL else last.get("gap")
    if status in TERMINAL and result.get("status"):
        status = f"{status}: {result['status']}"
    parts = [status]
    if incumbent is not None:
        parts.append(f"incumbent {incumbent:,}")
    if bound is not None:
        parts.append(f"bound {bound:,}")
    if gap is not None:
        parts.append(f"gap {100 * gap:.2f}%")
    return " · ".join(parts)


class _Bar:
    """A tqdm bar over a job's time limit, with its status, incumbent, bound and gap."""

    def __init__(self, label: str, time_limit: float, enabled: bool):
        total = float(time_limit)
        # whole seconds, or as many decimals as a limit under a second needs (0.04 s, not 0 s)
        self.digits = 0 if total >= 1 or total <= 0 else min(3, -math.floor(math.log10(total)))
        n = f"{{n:.{self.digits}f}}/{{total:.{self.digits}f}}"
        self.bar = (
            _tqdm(
                total=total,
                desc=label,
                unit="s",
                mininterval=0.5,
                leave=True,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| " + n + " s{postfix}",
            )
            if enabled
            else None
        )
        self.running_since: float | None = None
        self.text, self.drawn = "", 0.0

    def update(self, info: Mapping[str, Any]) -> None:
        if self.bar is None:
            return
        status = info.get("status")
        points = info.get("progress") or []
        if status == "running" and self.running_since is None:
            self.running_since = time.monotonic() - (points[-1]["elapsed"] if points else 0.0)
        if status in TERMINAL:
            elapsed = float(info.get("seconds") or 0.0)
            if info.get("status") == "done":
                elapsed = self.bar.total
        elif self.running_since is not None:
            elapsed = max(
                time.monotonic() - self.running_since, points[-1]["elapsed"] if points else 0.0
            )
        else:
            elapsed = 0.0
        text = _progress_text(info)
        now = time.monotonic()
        # at most one redraw a second (each is an output message in a notebook), and the last one
        if status not in TERMINAL and text == self.text and now - self.drawn < 1.0:
            return
        self.text, self.drawn = text, now
        self.bar.n = min(round(elapsed, self.digits + 1), self.bar.total)
        self.bar.set_postfix_str(text, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Planner:
    """Solves scenarios on an rdplan service (or, from :meth:`local`, in this process).

    ``Planner(url, api_key=None)``: ``url`` of ``rdplan serve``; ``api_key`` is sent as
    ``X-API-Key`` when the service has ``RDPLAN_API_KEYS`` set. Solve options are
    ``backend`` (portfolio, cpsat, highs, cbc, lpguided), ``time_limit`` (seconds), ``threads``,
    ``seed`` and ``gap`` (stop once a plan is proved within this relative gap, 0.001 = 0.1 %);
    left out, the service's defaults apply.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        poll_interval: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ):
        if not isinstance(url, str):  # Planner(os.environ.get("RDPLAN_URL")) with it unset
            expected = (
                "the service's URL, e.g. 'http://127.0.0.1:8000' (Planner.local(): no server)"
            )
            raise _type_error("url", expected, url)
        self._backend: _Backend = _HttpBackend(url, api_key, timeout, transport)
        self.poll_interval = poll_interval

    @classmethod
    def local(cls, *, workers: int = 1, poll_interval: float = 0.2) -> Planner:
        """A planner with the same interface that solves in threads of this process
        (``workers`` solves at a time; ``threads`` left out = all cores, more is refused as
        the service refuses more than its ``MAX_THREADS``)."""
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"workers: solves at a time, an integer >= 1, got {workers!r}")
        planner = cls.__new__(cls)
        planner._backend = _LocalBackend(workers)
        planner.poll_interval = poll_interval
        return planner

    @property
    def url(self) -> str:
        return self._backend.url

    def __repr__(self) -> str:
        return f"Planner({self.url!r})"

    def __enter__(self) -> Planner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP connection (local: cancel running solves and stop the threads)."""
        self._backend.close()

    def health(self) -> dict[str, Any]:
        """The service's ``/healthz`` answer (local: ``{"status": "ok", "runner": "local"}``)."""
        if isinstance(self._backend, _HttpBackend):
            return self._backend.health()
        return {"status": "ok", "runner": "local"}

    # -- jobs
    def submit(
        self, scenario: ScenarioLike | Scenario, *, label: str | None = None, **options: Any
    ) -> Job:
        """Submit a solve job and return at once (the service answers 202, ``queued``).

        Re-planning: ``baseline`` (a :class:`Plan`, a finished :class:`Job` or a plan
        document) makes that plan the scenario's baseline — the stability reference and the
        warm start — and ``freeze_through=Y`` keeps its builds of every year up to ``Y``, its
        trainees and its crews there, and builds nothing else in those years (as the service's
        ``options.baseline`` and ``options.freeze_through``). The job then runs on the
        re-planned scenario, which its plan carries.
        """
        unknown = set(options) - set(OPTION_KEYS)
        if unknown:
            raise TypeError(
                f"unknown solve option(s) {sorted(unknown)}; use {', '.join(OPTION_KEYS)}"
            )
        sc = scenario if isinstance(scenario, Scenario) else Scenario(scenario)
        # numpy scalars (freeze_through=plan.builds.year.max()) as Python numbers: JSON has no others
        opts = {k: _plain(v) for k, v in options.items() if v is not None}
        if "baseline" in opts:
            opts["baseline"] = self._plan_document(opts["baseline"])
        if "start_solve_id" in opts:
            opts["start_solve_id"] = _start_id(opts["start_solve_id"])
        replan = "baseline" in opts or "freeze_through" in opts
        info = self._backend.submit(sc, opts)
        shown = {k: v for k, v in opts.items() if k != "baseline"}
        return Job(
            str(info["id"]),
            self,
            None if replan else sc,  # a re-plan's scenario is the service's derived one
            label or sc.name,
            dict(info.get("options") or shown),
        )

    def _plan_document(self, baseline: Any) -> dict[str, Any]:
        """A re-plan's baseline as a plan document: a :class:`Plan`'s, a :class:`Job`'s plan,
        a document as given, or a list of builds. A verdict without builds (``infeasible``,
        ``unknown``) is sent as it is: the re-plan refuses it at ``options.baseline.status``,
        on the service and in :meth:`local` alike."""
        if isinstance(baseline, Job):
            baseline = self.plan(baseline)
        if isinstance(baseline, Plan):
            return baseline.doc
        if isinstance(baseline, Mapping):
            return dict(baseline)
        rows = _build_rows(baseline)  # plan.builds, or a list of builds
        if rows is not None:
            # a row that is no build goes as given, to be refused at its path
            return {"builds": [_build_of(b) or b for b in rows]}
        raise TypeError(
            f"baseline must be a Plan, a Job, a plan document, plan.builds or a list of builds,"
            f" not {type(baseline).__name__}"
        )

    def job(self, job_id: str) -> Job:
        """A job by id (e.g. one submitted by another session)."""
        info = self._backend.get(job_id)
        return Job(job_id, self, None, None, dict(info.get("options") or {}))

    def _ref(self, job: JobRef) -> Job:
        return job if isinstance(job, Job) else self.job(_job_id(job))

    def status(self, job: JobRef) -> dict[str, Any]:
        """The job's status, reason, options, progress history and result headline."""
        return self._backend.get(_job_id(job))

    def cancel(self, job: JobRef) -> dict[str, Any]:
        """Ask the job to stop (a queued job is cancelled at once; a running one keeps the
        best plan found so far). Cancelling an ended job is a no-op."""
        return self._backend.cancel(_job_id(job))

    def plan(self, job: JobRef) -> Plan:
        """The job's plan, whatever its status (``infeasible`` and ``unknown`` too).

        Raises :class:`JobFailedError` for a failed job, :class:`JobCancelledError` for a job
        cancelled before it found a plan, and ``RuntimeError`` while the job still runs.
        """
        job = self._ref(job)
        doc = self._backend.plan(job.id)
        if doc is None or doc.get("status") not in PLAN_STATUSES:
            info = self._backend.get(job.id)
            if info["status"] == "failed":
                raise JobFailedError(job.id, info.get("reason"))
            if info["status"] == "cancelled":
                raise JobCancelledError(job.id, info.get("reason"))
            if doc is None:
                raise RuntimeError(
                    f"solve job {job.id} is {info['status']}: its plan is not ready yet"
                )
        if job.scenario is None:
            job.scenario = self._backend.scenario(job.id)
        return Plan(doc, job.scenario, label=job.label, job_id=job.id)

    def wait(self, job: JobRef, *, progress: bool = True, timeout: float | None = None) -> Plan:
        """Block until the job ends, with a progress bar; return its plan.

        Interrupting (Ctrl-C, the notebook's stop button) cancels the job. A job
        cancelled with a plan returns it; one without raises :class:`JobCancelledError`;
        a failed job raises :class:`JobFailedError`; ``timeout`` raises ``TimeoutError``
        (the job keeps running).
        """
        timeout = _timeout(timeout)
        job = self._ref(job)
        info = self._backend.get(job.id)
        bar = _Bar(
            job.label or job.id[:8], float(info["options"].get("time_limit") or 60.0), progress
        )
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                bar.update(info)
                if info["status"] in TERMINAL:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(
                        f"solve job {job.id} still {info['status']} after {timeout:g} s"
                    )
                time.sleep(self.poll_interval)
                info = self._backend.get(job.id)
        except KeyboardInterrupt:
            self.cancel(job)
            raise
        finally:
            bar.close()
        return self.plan(job)

    def solve(
        self,
        scenario: ScenarioLike | Scenario,
        *,
        progress: bool = True,
        timeout: float | None = None,
        label: str | None = None,
        **options: Any,
    ) -> Plan:
        """Submit, wait with a progress bar (time limit, incumbent, bound, gap), return the plan."""
        timeout = _timeout(timeout)
        return self.wait(
            self.submit(scenario, label=label, **options), progress=progress, timeout=timeout
        )

    # -- what-ifs
    def batch(
        self,
        variants: Mapping[str, Any] | Iterable[tuple[str, Any]],
        *,
        base: Plan | Scenario | ScenarioLike | None = None,
        base_name: str = "base",
        progress: bool = True,
        timeout: float | None = None,
        start_from_base: bool = True,
        **options: Any,
    ) -> Batch:
        """Solve what-if variants at once and compare them with a base plan.

        ``variants`` maps names to scenarios, or to JSON merge patches of the base
        scenario. ``base`` is an already solved :class:`Plan` (not solved again) or a
        scenario, solved with the variants; without it the first variant is the base.
        All jobs are submitted first; a variant that is invalid or fails is reported in the
        table, not raised. With ``start_from_base`` a variant whose job starts after the base
        job has ended starts from the base plan (``start_solve_id``; no job waits for
        another): a what-if the base plan survives is proved sooner. ``False``: every
        variant from scratch.

        ``timeout`` raises :class:`BatchTimeoutError` (a ``TimeoutError``) and leaves the jobs
        running, as :meth:`wait` does: its ``jobs`` are there to wait for or cancel.
        Interrupting (Ctrl-C, the notebook's stop button) cancels every job.
        """
        if isinstance(variants, str | bytes) or not isinstance(variants, Iterable):
            expected = "{name: scenario or merge patch} or a list of (name, value) pairs"
            raise _type_error("variants", expected, variants)
        items = list(variants.items()) if isinstance(variants, Mapping) else list(variants)
        for i, item in enumerate(items):
            if not (isinstance(item, tuple | list) and len(item) == 2):
                raise _type_error(f"variants[{i}]", "a (name, value) pair", item)
        names = [n for n, _ in items]
        if len(set(names)) != len(names) or base_name in names and base is not None:
            raise ValueError(
                f"variant names must be unique and differ from the base name '{base_name}'"
            )
        timeout = _timeout(timeout)
        plans: dict[str, Plan] = {}
        errors: dict[str, str] = {}
        jobs: dict[str, Job] = {}
        base_scenario: Scenario | None = None
        if isinstance(base, Plan):
            base_scenario = base.scenario
        elif base is not None:
            if not isinstance(base, Scenario | ScenarioModel | dict | str | os.PathLike):
                raise _type_error("base", "a solved Plan, a scenario or None", base)
            base_scenario = base if isinstance(base, Scenario) else Scenario(base)
        if base is None:
            if not items:
                raise ValueError("batch needs a base or at least one variant")
            base_name = names[0]
        to_submit: list[tuple[str, Scenario]] = []
        if base_scenario is not None and not isinstance(base, Plan):
            to_submit.append((base_name, base_scenario))
        for name, value in items:
            try:
                if (
                    isinstance(value, Scenario | ScenarioModel)
                    or (isinstance(value, Mapping) and "schema_version" in value)
                    or isinstance(value, str | os.PathLike)
                ):
                    scenario = value if isinstance(value, Scenario) else Scenario(value)  # type: ignore[arg-type]
                elif isinstance(value, Mapping):
                    if base_scenario is None:
                        raise ValueError(
                            f"variant '{name}' is a patch but the batch has no base scenario"
                        )
                    scenario = base_scenario.with_(patch=value)
                else:
                    raise TypeError(
                        f"variant '{name}': give a Scenario, a scenario document or a merge patch"
                    )
            except ScenarioError as exc:
                errors[name] = "; ".join(
                    f"{e.path or '<document>'}: {e.message}" for e in exc.errors
                )
                continue
            to_submit.append((name, scenario))
            if base_scenario is None and name == base_name:
                base_scenario = scenario  # no base given: the first variant is the base
        if isinstance(base, Plan):
            plans[base_name] = Plan(base._doc, base.scenario, label=base_name, job_id=base.job_id)
        if "start_solve_id" in options:  # the caller's start, for every job
            start_from_base = False
        start: str | None = None
        if start_from_base and isinstance(base, Plan) and base.job_id is not None and base.has_plan:
            start = base.job_id
        try:
            for name, scenario in to_submit:
                extra: dict[str, Any] = (
                    {}
                    if start is None or name == base_name
                    else {"start_solve_id": start, "start_wait": False}
                )
                try:
                    try:
                        jobs[name] = self.submit(scenario, label=name, **{**options, **extra})
                    except ApiError as exc:  # a base plan from another service: no start
                        if not extra or not any(
                            e.get("path") == "options.start_solve_id" for e in exc.errors
                        ):
                            raise
                        start = None
                        jobs[name] = self.submit(scenario, label=name, **options)
                except InvalidScenarioError as exc:
                    errors[name] = "; ".join(
                        f"{e.path or '<document>'}: {e.message}" for e in exc.errors
                    )
                    continue
                except ApiError as exc:
                    if exc.status_code != 413:
                        raise
                    # over the service's limits: an invalid document there (SPEC §4), as the
                    # service's own batches list it
                    errors[name] = "; ".join(
                        [f"{e.get('path') or '<document>'}: {e.get('message')}" for e in exc.errors]
                        or [exc.detail]
                    )
                    continue
                if start_from_base and name == base_name:
                    start = jobs[name].id
            self._wait_all(jobs, plans, errors, progress, timeout)
        except BatchTimeoutError:  # as wait(): the jobs keep running, and the error names them
            raise
        except BaseException:  # an interrupt, or a failure that leaves no handle on the jobs
            for job in jobs.values():
                with contextlib.suppress(Exception):  # best effort: the interrupt is what matters
                    self.cancel(job)
            raise
        ordered = {n: plans[n] for n in [base_name, *names] if n in plans}
        return Batch(base=base_name, plans=ordered, errors=errors, jobs=jobs)

    def _wait_all(
        self,
        jobs: dict[str, Job],
        plans: dict[str, Plan],
        errors: dict[str, str],
        progress: bool,
        timeout: float | None,
    ) -> None:
        pending = dict(jobs)
        bar = (
            _tqdm(total=len(jobs), desc="batch", unit="solve", mininterval=0.5)
            if progress and jobs
            else None
        )
        deadline = None if timeout is None else time.monotonic() + timeout
        shown, drawn = "", 0.0
        try:
            while pending:
                states = []
                for name, job in list(pending.items()):
                    info = self._backend.get(job.id)
                    if info["status"] in TERMINAL:
                        del pending[name]
                        try:
                            plans[name] = self.plan(job)
                        except (JobFailedError, JobCancelledError) as exc:
                            errors[name] = str(exc)
                        if bar is not None:
                            bar.update(1)
                    else:
                        states.append(f"{name}: {_progress_text(info)}")
                text = " | ".join(states)
                if bar is not None and (text != shown or time.monotonic() - drawn >= 5.0):
                    bar.set_postfix_str(text, refresh=True)
                    shown, drawn = text, time.monotonic()
                if not pending:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    assert timeout is not None
                    raise BatchTimeoutError(timeout, jobs, list(pending))
                time.sleep(self.poll_interval)
        finally:
            if bar is not None:
                bar.close()

    def diff(self, a: Plan | JobRef, b: Plan | JobRef) -> PlanDiff:
        """What changes from plan ``a`` to plan ``b`` (plans, jobs or job ids)."""
        for side, value in (("a", a), ("b", b)):
            if not isinstance(value, Plan | Job | str):
                raise _type_error(side, "a Plan, a Job or a job id", value)
        pa = a if isinstance(a, Plan) else self.plan(a)
        pb = b if isinstance(b, Plan) else self.plan(b)
        return PlanDiff(pa, pb)
