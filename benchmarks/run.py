"""``rdplan bench``: solve a suite of scenarios × backends × seeds and tabulate.

Every run is a fresh *spawned* process: HiGHS's ``threads`` option is
process-global, and peak memory (``ru_maxrss`` of the run's process plus that of
its own children, e.g. the CBC binary) must belong to one run. A run that
outlives its time limit by far is killed and counted as a failure.

Every plan goes through the evaluator (``evaluate(scenario, plan.to_document())``)
in the run's process; a plan that does not hold, a known optimum not
reproduced, two runs on one scenario that contradict each other (optimal values
that differ, an objective above another run's bound, a plan where another run
proved infeasibility) or a conflict set that is not infeasible and irreducible
makes the command exit 1. Timings are never asserted.

Results go to ``--out`` (default ``benchmarks/results``) as
``<YYYY-MM-DD>.csv`` and ``<YYYY-MM-DD>.md`` for the full suite, and
``<YYYY-MM-DD>-<suite>.*`` otherwise. Each row is compared with the PuLP
baseline (:mod:`benchmarks.baseline_pulp`) run on the same scenario and seed in
the same invocation: ``solve ×`` = baseline solve seconds / run solve seconds,
``total ×`` = baseline total seconds / run total seconds (above 1: faster than
the baseline). The markdown's header names the machine (its CPU, cores, memory, load)
and a speed reference measured at the start and the end (:func:`calibrate`), so that
files from different machines can be compared; under its tables it says where issue #7's
targets stand in the run's own measurements (:func:`targets`), met or not.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import fnmatch
import json
import math
import multiprocessing as mp
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from benchmarks.suites import (
    CONFORMANCE,
    CREW_LOSS_YEAR,
    FREEZE_THROUGH,
    REPLAN_BASE_PLAN,
    SUITES,
    WHATIF_BALANCE,
    WHATIF_FUEL,
    Case,
    instance_document,
    load_json,
    national_infeasible,
    national_infeasible_crews_quarter,
    national_infeasible_frozen_crews,
    replan_changed,
    replan_frozen,
    suite,
    whatif_balance,
    whatif_fuel,
)
from solver.argtypes import positive_float, thread_count
from solver.plan import PLAN_STATUSES, Status
from solver.solve import BACKENDS, DEFAULT_BACKEND

BASELINE = "baseline"
#: Every backend of the dispatcher, in its order (cpsat, highs, cbc, portfolio, lpguided).
RDPLAN_BACKENDS = tuple(BACKENDS)
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
DEFAULT_TIME_LIMIT = {"smoke": 30.0, "full": 60.0}
DEFAULT_SEEDS = {"smoke": "0", "full": "0"}
#: A run may take this long past its time limit (model build, evaluation, conflicts) before it is killed.
GRACE = 120.0
#: The machine's speed reference, measured at a run's start and end: national-20x10's LP
#: relaxation as rdplan builds it, by HiGHS on one thread, the median of this many solves
#: (~0.6 s each on run 20's machine). Machines that report the same CPU ("AMD EPYC", 2 cores)
#: have differed twofold in rdplan's times (RESULTS.md, runs 15-20): the ratio of two result
#: files' references says how their machines compare, as far as a simplex does.
CALIBRATION_INSTANCE = "national-20x10.json"
CALIBRATION_REPEATS = 5

COLUMNS = [
    "date",
    "suite",
    "scenario",
    "kind",
    "backend",
    "seed",
    "threads",
    "time_limit",
    "variables",
    "constraints",
    "nonzeros",
    "status",
    "objective",
    "bound",
    "gap",
    "build_s",
    "solve_s",
    "total_s",
    "first_plan_s",
    "gap1pct_s",
    "peak_mb",
    "conflict_s",
    "conflicts",
    "known_optimum",
    "solve_x",
    "total_x",
    "check",
    "detail",
]


# --------------------------------------------------------------------------- the run's process


def _scenario_document(spec: dict[str, Any]) -> dict[str, Any]:
    """The scenario of a run, read (or derived) inside the run's process."""
    source: str = spec["source"]
    kind, _, rest = source.partition("/")
    if kind == "conformance":
        return load_json(CONFORMANCE / f"{rest}.json")
    if kind == "instances":
        return instance_document(rest)
    if rest == "national-infeasible":
        return national_infeasible(instance_document("national-20x10.json"))
    if rest == "national-infeasible-frozen-crews":
        return national_infeasible_frozen_crews(instance_document("national-20x10.json"))
    if rest == "national-infeasible-crews-quarter":
        return national_infeasible_crews_quarter(instance_document("national-20x10.json"))
    if rest == "replan-changed":
        return replan_changed(instance_document("national-20x10.json"))
    if rest == "replan-frozen":
        return replan_frozen(instance_document("national-20x10.json"))
    if rest in WHATIF_FUEL:
        return whatif_fuel(instance_document("national-20x10.json"), name=rest)
    if rest in WHATIF_BALANCE:
        return whatif_balance(instance_document("national-20x10.json"), name=rest)
    raise ValueError(f"unknown scenario source '{source}'")


def _peak_mb() -> float:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round((own + children) / 1024, 1)  # Linux reports KiB


def _run_rdplan(
    spec: dict[str, Any], doc: dict[str, Any], send: Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    from solver.conflicts import find_conflicts, verify_conflict_set
    from solver.evaluate import evaluate
    from solver.problem import build_problem
    from solver.replan import solve_arguments
    from solver.scenario import parse_scenario
    from solver.solve import SolverBugError, solve

    out: dict[str, Any] = {}
    marks: dict[str, float] = {}
    last = [0.0]

    def on_progress(p: Any) -> None:
        if p.incumbent is not None and "first" not in marks:
            marks["first"] = p.elapsed
        if p.gap is not None and p.gap <= 0.01 and "gap1" not in marks:
            marks["gap1"] = p.elapsed
        now = time.perf_counter()
        if now - last[0] >= 0.5:
            last[0] = now
            send({"incumbent": p.incumbent, "bound": p.bound, "gap": p.gap})

    scenario = parse_scenario(doc)
    replan: dict[str, Any] = {}
    if spec["source"] == "derived/replan-frozen":
        replan = solve_arguments(scenario, instance_document(REPLAN_BASE_PLAN), FREEZE_THROUGH)
    hint: Any = None
    if spec["kind"] == "replan-cold":
        hint = []  # an empty hint: no warm start (None would use the scenario's baseline)
    started = time.perf_counter()
    try:
        plan = solve(
            scenario,
            backend=spec["backend"],
            time_limit=spec["time_limit"],
            threads=spec["threads"],
            seed=spec["seed"],
            hint=hint,
            on_progress=on_progress,
            conflicts=False,
            gap=spec.get("gap", 0.0),
            **replan,
        )
    except SolverBugError as exc:
        out["wrong_plan"] = str(exc)
        return out
    out["total_s"] = time.perf_counter() - started
    info = plan.solver
    assert info is not None
    out.update(
        status=str(plan.status),
        objective=plan.objective,
        bound=plan.bound,
        gap=plan.gap,
        build_s=info.build_seconds,
        solve_s=info.seconds,
        variables=info.variables,
        constraints=info.constraints,
        nonzeros=info.nonzeros,
        first_plan_s=marks.get("first"),
        gap1pct_s=marks.get("gap1"),
        detail=_detail(info),
    )
    if plan.status.has_plan:
        document = plan.to_document()
        ev = evaluate(scenario, document)
        out["holds"] = ev.holds
        out["violations"] = ev.violations[:5]
        _keep(spec, "plan.json", document)
    if spec["kind"] == "infeasible" and str(plan.status) == "infeasible":
        data = build_problem(scenario)
        remaining = max(5.0, spec["time_limit"])
        found = find_conflicts(data, time_limit=remaining, threads=spec["threads"])
        out["conflict_s"] = found.seconds
        out["conflicts"] = [
            (c["group"], {k: v for k, v in c.items() if k not in ("group", "message")})
            for c in found.conflicts
        ]
        out["conflicts_irreducible"] = found.irreducible
        # Verify the set (outside the timing): infeasible alone, feasible without any one
        # member — every set, whatever its size (sets over 12 members went unverified while
        # this file's protocol said each was, a QA pass); None: a check could not tell.
        out["conflicts_verified"] = (
            verify_conflict_set(data, found.conflicts) if found.conflicts else None
        )
    return out


def _run_baseline(spec: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    from benchmarks.baseline_pulp import solve_baseline
    from solver.evaluate import evaluate
    from solver.scenario import parse_scenario

    started = time.perf_counter()
    result = solve_baseline(
        doc, time_limit=spec["time_limit"], threads=spec["threads"], seed=spec["seed"]
    )
    out: dict[str, Any] = {"total_s": time.perf_counter() - started}
    plan = result.plan
    out.update(
        status=plan["status"],
        objective=plan.get("objective"),
        bound=plan.get("bound"),
        gap=plan.get("gap"),
        build_s=result.build_seconds,
        solve_s=result.solve_seconds,
        first_plan_s=result.first_plan_seconds,
        detail=plan["solver"].get("detail", ""),
        **result.size,
    )
    if plan["status"] in PLAN_STATUSES:
        ev = evaluate(parse_scenario(doc), plan)
        out["holds"] = ev.holds
        out["violations"] = ev.violations[:5]
        _keep(spec, "plan.json", plan)
    return out


def _detail(info: Any) -> str:
    """The solver's detail, and whether the warm start held (a re-plan's baseline may not)."""
    from solver.solve import warm_start_summary

    detail = str(getattr(info, "detail", ""))
    warm = getattr(info, "warm_start", None)
    return f"{detail}; warm start: {warm_start_summary(warm)}" if warm else detail


def _keep(spec: dict[str, Any], name: str, doc: dict[str, Any]) -> None:
    """Write a document into the run's folder: a failing run's folder is kept in the results."""
    if spec.get("run_dir"):
        folder = Path(spec["run_dir"])
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(doc), encoding="utf-8")


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _child(conn: Any, spec: dict[str, Any]) -> None:
    """Entry point of a run's process: solve, check, report over ``conn``."""
    # The parent, interrupted, ends a run by SIGTERM: its finally blocks run (CBC's temporary
    # files are removed), where a SIGKILL left them (a review).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # Solver banners and logs must not interleave with the parent's progress display.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    def send(progress: dict[str, Any]) -> None:
        conn.send(("progress", progress))

    try:
        doc = _scenario_document(spec)
        _keep(spec, "scenario.json", doc)
        if spec["backend"] == BASELINE:
            out = _run_baseline(spec, doc)
        else:
            out = _run_rdplan(spec, doc, send)
        out["peak_mb"] = _peak_mb()
        conn.send(("result", out))
    except BaseException:  # noqa: BLE001 - every failure goes back to the parent as text
        conn.send(("error", traceback.format_exc(limit=8)))
    finally:
        conn.close()


def _calibration_child(conn: Any, repeats: int) -> None:
    """Entry point of the calibration's process: the median of the reference LP's solve seconds."""
    from solver.backends.highs import new_relaxation
    from solver.model import build_model
    from solver.problem import build_problem
    from solver.scenario import parse_scenario

    try:
        model = build_model(build_problem(parse_scenario(instance_document(CALIBRATION_INSTANCE))))
        seconds = []
        for _ in range(repeats):
            h = new_relaxation(model, threads=1)
            started = time.perf_counter()
            h.run()
            seconds.append(time.perf_counter() - started)
        conn.send(statistics.median(seconds))
    except BaseException:  # noqa: BLE001 - a machine without the reference reports none
        conn.send(None)
    finally:
        conn.close()


def _reap(process: Any, receiver: Any, at_once: bool = False) -> None:
    """Wait a little for a spawned process to end, kill it (and what it started: CBC) if it
    does not, close its pipe; ``at_once``: the parent is interrupted, the run is stopped first
    (SIGTERM, after what it started)."""
    if at_once and process.is_alive():
        # what the run started first (CBC), then the run, by SIGTERM: it cleans up as it ends
        _kill_started_by(process)
        process.terminate()
    process.join(10)
    if process.is_alive():
        _kill_started_by(process)
        process.kill()
        process.join()
    receiver.close()


def _kill_started_by(process: Any) -> None:
    """Kill the processes a run started (CBC), which outlive it killed."""
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(process.pid).children(recursive=True):
            child.kill()


def _start_shielded(process: Any) -> None:
    """Start a spawned process with SIGINT ignored from its first instruction (CPython keeps
    an ignored SIGINT ignored): a Ctrl-C at the terminal reaches the whole process group, and a
    run still importing printed KeyboardInterrupt's traceback over the parent's "interrupted"
    (a QA pass). The parent, interrupted, stops it (:func:`_reap`)."""
    if threading.current_thread() is not threading.main_thread():
        process.start()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process.start()
    finally:
        signal.signal(signal.SIGINT, previous)


def calibrate(repeats: int = CALIBRATION_REPEATS) -> float | None:
    """The machine's speed reference (:data:`CALIBRATION_INSTANCE`), in seconds: the median of
    ``repeats`` solves in a spawned process (HiGHS's threads are process-global); None when it
    could not be measured."""
    ctx = mp.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_calibration_child, args=(sender, repeats), name="calibration")
    _start_shielded(process)
    sender.close()
    interrupted = True
    try:
        seconds = receiver.recv() if receiver.poll(GRACE) else None
        interrupted = False
    except EOFError:
        seconds, interrupted = None, False
    finally:
        _reap(process, receiver, at_once=interrupted)
    return None if seconds is None else round(float(seconds), 3)


def run_in_process(
    spec: dict[str, Any], on_progress: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Run one spec in a spawned process; return its result (``error`` on a crash or kill)."""
    ctx = mp.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_child, args=(sender, spec), name=f"bench-{spec['scenario']}-{spec['backend']}"
    )
    started = time.perf_counter()
    _start_shielded(process)
    sender.close()
    deadline = started + spec["time_limit"] + GRACE + spec.get("extra_grace", 0.0)
    result: dict[str, Any] | None = None
    interrupted = True
    try:
        while result is None:
            if receiver.poll(0.2):
                try:
                    tag, payload = receiver.recv()
                except EOFError:
                    result = {
                        "error": f"the run's process ended without a result (exit code {process.exitcode})"
                    }
                    break
                if tag == "progress":
                    if on_progress is not None:
                        on_progress({**payload, "elapsed": time.perf_counter() - started})
                elif tag == "result":
                    result = payload
                else:
                    result = {"error": payload}
            elif not process.is_alive() and not receiver.poll(0):
                result = {"error": f"the run's process died (exit code {process.exitcode})"}
            elif time.perf_counter() > deadline:
                process.kill()
                result = {
                    "error": f"killed after {time.perf_counter() - started:.0f} s: the time limit of {spec['time_limit']:.0f} s was not respected"
                }
        interrupted = False
    finally:
        _reap(process, receiver, at_once=interrupted)
    result["wall_s"] = time.perf_counter() - started
    return result


# --------------------------------------------------------------------------- the suite


def _parse_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _backend_list(text: str) -> list[str]:
    """argparse type of ``--backends``: one rdplan backend or more, each known."""
    backends = _parse_list(text)
    unknown = [b for b in backends if b not in RDPLAN_BACKENDS]
    if not backends or unknown:
        what = f"unknown backend(s) {', '.join(unknown)}" if unknown else "no backend"
        raise argparse.ArgumentTypeError(f"{what}; choose from {', '.join(RDPLAN_BACKENDS)}")
    _once(backends, "backend")
    return backends


def _once(items: list[Any], what: str) -> None:
    """Refuse a list that names an item twice: its runs would be one run twice in a results
    file, which ``--targets-of`` and ``--compare`` then refuse or pair blindly."""
    twice = sorted({str(i) for i in items if items.count(i) > 1})
    if twice:
        raise argparse.ArgumentTypeError(f"{what} {', '.join(twice)} given twice: give each once")


def _seed_list(text: str) -> list[int]:
    """argparse type of ``--seeds``: one seed or more (:func:`solver.argtypes.seed`)."""
    from solver.argtypes import seed

    seeds = [seed(item) for item in _parse_list(text)]
    if not seeds:
        raise argparse.ArgumentTypeError(f"no seed in {text!r}")
    _once(seeds, "seed")
    return seeds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rdplan bench",
        description="Solve a benchmark suite (scenarios × backends × seeds), each run in its own process; "
        "check every plan with the evaluator; write CSV and markdown tables.",
    )
    parser.add_argument(
        "--suite", choices=sorted(SUITES), default="smoke", help="named suite (default smoke)"
    )
    parser.add_argument(
        "--backends",
        type=_backend_list,
        default=list(RDPLAN_BACKENDS),
        help="comma-separated rdplan backends (default: all, cpsat,highs,cbc,portfolio,lpguided; cases may run fewer)",
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="leave out the PuLP baseline (no ratios)"
    )
    parser.add_argument(
        "--seeds",
        type=_seed_list,
        default=None,
        help="comma-separated seeds, for every case (default 0, except cases that set their own)",
    )
    parser.add_argument(
        "--time-limit",
        type=positive_float,
        default=None,
        help="seconds per run, for every case (default 30 smoke, 60 full, except cases that set their own)",
    )
    parser.add_argument(
        "--threads", type=thread_count, default=2, help="threads per run (default 2)"
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"results folder (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--only", default=None, help="comma-separated scenario names or patterns (fnmatch) to run"
    )
    parser.add_argument(
        "--plain", action="store_true", help="plain progress lines even on a terminal"
    )
    offline = parser.add_mutually_exclusive_group()
    offline.add_argument(
        "--targets-of",
        nargs="+",
        type=Path,
        metavar="CSV",
        help="run nothing: print issue #7's targets over the runs of these results files"
        " (e.g. two runs of other seeds, or a run and its baseline)",
    )
    offline.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("OLD", "NEW"),
        help="run nothing: two results files side by side, paired on scenario, backend and seed"
        " (statuses, objectives, gaps, seconds and their ratio, also by the speed reference);"
        " exit 1 when their runs contradict each other",
    )
    return parser


def plan_runs(
    cases: list[Case],
    backends: list[str],
    seeds: list[int],
    time_limit: float,
    threads: int,
    baseline: bool,
    explicit_limit: bool = False,
    explicit_seeds: bool = False,
) -> list[dict[str, Any]]:
    """The run specs of a suite, in order; ``explicit_limit``: ``time_limit`` overrides the
    cases' own; ``explicit_seeds``: ``seeds`` do (``--seeds 3,4`` ran kimhwa-pilot and the
    infeasible cases on seeds 0 and 1 still, a QA pass)."""
    runs: list[dict[str, Any]] = []
    for case in cases:
        names = [b for b in backends if case.backends is None or b in case.backends]
        if baseline and case.baseline:
            names.append(BASELINE)
        for seed in seeds if explicit_seeds or not case.seeds else case.seeds:
            for backend in names:
                runs.append(
                    {
                        "scenario": case.name,
                        "source": case.source,
                        "kind": case.kind,
                        "backend": backend,
                        "seed": seed,
                        "threads": threads,
                        "time_limit": float(
                            time_limit
                            if explicit_limit or case.time_limit is None
                            else case.time_limit
                        ),
                        "known_optimum": case.known_optimum,
                        "expected_conflicts": case.expected_conflicts,
                        "gap": case.gap,
                    }
                )
    return runs


def select(cases: list[Case], only: str | None) -> list[Case]:
    if only is None:
        return list(cases)
    patterns = _parse_list(only)  # --only "" names nothing: not the whole suite (~30 min)
    chosen = [c for c in cases if any(fnmatch.fnmatchcase(c.name, p) for p in patterns)]
    if not chosen:
        raise ValueError(
            f"rdplan bench: --only '{only}' matches no scenario of the suite ({', '.join(c.name for c in cases)})"
        )
    return chosen


def check_run(spec: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """Why a run failed (empty: it passed). Timings never fail a run."""
    problems: list[str] = []
    if "error" in result:
        return [f"error: {result['error'].strip().splitlines()[-1]}"]
    if "wrong_plan" in result:
        return [f"wrong plan: {result['wrong_plan']}"]
    status = result.get("status")
    if result.get("holds") is False:
        problems.append(
            "the evaluator rejects the plan: " + "; ".join(result.get("violations", []))
        )
    known = spec.get("known_optimum")
    tolerance = spec.get("gap") or 0.0
    if tolerance > 0 and status in PLAN_STATUSES:
        objective, bound = result.get("objective"), result.get("bound")
        # lpguided, a heuristic, may end on its own above the gap, as it may without one.
        stopped_early = spec["backend"] != "lpguided" and (
            (result.get("solve_s") or 0.0) < 0.9 * spec["time_limit"]
        )
        if stopped_early and (result.get("gap") is None or result["gap"] > tolerance):
            problems.append(
                f"stopped before its time limit at gap {result.get('gap')}, over its {tolerance}"
            )
        if known is not None and not (
            objective is not None and bound is not None and objective <= known <= bound
        ):
            problems.append(f"objective {objective} and bound {bound} do not bracket {known}")
    elif known is not None:
        if status != "optimal":
            problems.append(f"known optimum {known} not proven (status {status})")
        elif result.get("objective") != known:
            problems.append(f"objective {result.get('objective')} != known optimum {known}")
    if spec["kind"] == "infeasible":
        if status != "infeasible":
            problems.append(f"expected infeasible, got {status}")
        elif spec["backend"] != BASELINE:
            conflicts = result.get("conflicts") or []
            if not conflicts:
                problems.append("no conflict set")
            if result.get("conflicts_irreducible") is False:
                problems.append("the conflict set is not proven irreducible")
            if result.get("conflicts_verified") is False:
                problems.append(
                    "the conflict set is not infeasible, or not irreducible, by subset_feasible"
                )
            elif conflicts and result.get("conflicts_verified") is None:
                problems.append("the conflict set could not be verified: a check did not end")
            expected = spec.get("expected_conflicts")
            if expected is not None and [tuple(c) for c in conflicts] != [
                tuple(c) for c in expected
            ]:
                problems.append(f"conflicts {conflicts} != expected {expected}")
    elif status == "infeasible":
        problems.append("infeasible, but the scenario has a plan")
    return problems


def cross_check(
    specs: list[dict[str, Any]], results: list[dict[str, Any]]
) -> list[tuple[int, str]]:
    """Contradictions between runs on one scenario: (row, message)."""
    problems: list[tuple[int, str]] = []
    by_source: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        by_source.setdefault(spec["source"], []).append(i)
    for rows in by_source.values():
        ok = [i for i in rows if "error" not in results[i] and "wrong_plan" not in results[i]]
        optimal = [i for i in ok if results[i].get("status") == "optimal"]
        with_plan = [i for i in ok if results[i].get("status") in PLAN_STATUSES]
        infeasible = [i for i in ok if results[i].get("status") == "infeasible"]
        values = {results[i]["objective"] for i in optimal}
        if len(values) > 1:
            for i in optimal:
                problems.append((i, f"optimal values disagree across backends: {sorted(values)}"))
        for i in with_plan:
            for j in ok:
                bound = results[j].get("bound")
                if (
                    bound is not None
                    and results[j].get("status") in PLAN_STATUSES
                    and results[i]["objective"] > bound
                ):
                    problems.append(
                        (
                            i,
                            f"objective {results[i]['objective']} exceeds the bound {bound} of {specs[j]['backend']} seed {specs[j]['seed']}",
                        )
                    )
        if with_plan and infeasible:
            for i in infeasible:
                problems.append(
                    (i, f"infeasible, but {specs[with_plan[0]]['backend']} found a plan")
                )
    return problems


def _ratio(base: float | None, ours: float | None) -> float | None:
    if base is None or ours is None or ours <= 0:
        return None
    return base / ours


def attach_ratios(specs: list[dict[str, Any]], results: list[dict[str, Any]]) -> None:
    """``solve_x``/``total_x``: the baseline's seconds over the run's, same case and seed. A
    case, not its scenario file: a case with a gap tolerance (``national-20x10-gap0.5``) has
    no baseline of its own, and its file's baseline proves optimality, another stopping rule."""
    base: dict[tuple[str, int], dict[str, Any]] = {}
    for spec, result in zip(specs, results, strict=True):
        if spec["backend"] == BASELINE and "error" not in result:
            base[spec["scenario"], spec["seed"]] = result
    for spec, result in zip(specs, results, strict=True):
        ref = base.get((spec["scenario"], spec["seed"]))
        if spec["backend"] == BASELINE or ref is None or "error" in result:
            continue
        result["solve_x"] = _ratio(ref.get("solve_s"), result.get("solve_s"))
        result["total_x"] = _ratio(ref.get("total_s"), result.get("total_s"))


def row_of(
    date: str, suite_name: str, spec: dict[str, Any], result: dict[str, Any], problems: list[str]
) -> dict[str, Any]:
    conflicts = result.get("conflicts")
    detail = result.get("detail", "")
    if "error" in result:
        detail = result["error"].strip().splitlines()[-1]
    return {
        "date": date,
        "suite": suite_name,
        "scenario": spec["scenario"],
        "kind": spec["kind"],
        "backend": spec["backend"],
        "seed": spec["seed"],
        "threads": spec["threads"],
        "time_limit": spec["time_limit"],
        "variables": result.get("variables"),
        "constraints": result.get("constraints"),
        "nonzeros": result.get("nonzeros"),
        "status": result.get("status", "error"),
        "objective": result.get("objective"),
        "bound": result.get("bound"),
        "gap": result.get("gap"),
        "build_s": _round(result.get("build_s")),
        "solve_s": _round(result.get("solve_s")),
        "total_s": _round(result.get("total_s")),
        "first_plan_s": _round(result.get("first_plan_s")),
        "gap1pct_s": _round(result.get("gap1pct_s")),
        "peak_mb": result.get("peak_mb"),
        "conflict_s": _round(result.get("conflict_s")),
        "conflicts": None if conflicts is None else json.dumps(conflicts),
        "known_optimum": spec.get("known_optimum"),
        "solve_x": _round(result.get("solve_x"), 2),
        "total_x": _round(result.get("total_x"), 2),
        "check": "ok" if not problems else "FAIL: " + " | ".join(problems),
        "detail": detail,
    }


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


# --------------------------------------------------------------------------- output


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("ortools", "highspy", "pulp", "numpy", "scipy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "absent"
    return out


def _revision() -> str:
    """The commit the solver was measured at (and whether ``solver/`` had local changes)."""
    import subprocess

    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%h %ci"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "solver"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes in solver/" if dirty else "")


def _machine() -> str:
    mem = cpu = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f", {int(line.split()[1]) / 1024**2:.0f} GB RAM"
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = f" ({line.split(':', 1)[1].strip()})"
                break
    except OSError:
        pass
    return f"{platform.machine()}{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}"


def _speed_line(meta: dict[str, Any]) -> str:
    """The protocol's line on the machine's speed reference (:func:`calibrate`)."""
    start, end = meta.get("speed_start"), meta.get("speed_end")
    measured = " and ".join(
        f"{v:.3f} s at the {when}" for v, when in ((start, "start"), (end, "end")) if v is not None
    )
    return (
        f"- speed reference: {Path(CALIBRATION_INSTANCE).stem}'s LP relaxation by HiGHS on one thread, the median of"
        f" {CALIBRATION_REPEATS} solves: {measured or 'not measured'} (lower is faster; the ratio"
        " of two files' references compares their machines)"
    )


def _fmt(value: Any, kind: str = "") -> str:
    if value is None or value == "":
        return "—"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "gap":
        return f"{100 * float(value):.3f}%"
    if kind == "s":
        return f"{float(value):.2f}"
    if kind == "x":
        return f"{float(value):.1f}×"
    return str(value)


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        f"# rdplan benchmark — suite `{meta['suite']}`, {meta['date']}",
        "",
        f"- machine: {meta['machine']}; load average {meta['load_start']} at the start, {meta['load_end']} at the end"
        + (" (**shared machine: timings are noisy**)" if meta["shared"] else ""),
        _speed_line(meta),
        f"- threads {meta['threads']} per run, time limit {meta['time_limit']} s (cases may set their own, see the column), seeds {meta['seeds']}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        f"- rdplan revision: {meta['revision']} at the start, {meta['revision_end']} at the end",
        f"- wall time of the whole run: {meta['wall_s']:.0f} s; each run in its own spawned process",
        "- `build s`: parse + problem data + matrix model (baseline: + the PuLP model and its transfer to HiGHS); "
        "`solve s`: the solver; `total s`: the whole call in the run's process; `first plan s`: the first incumbent "
        "reported by the progress callback, from the solver's start (±0.25 s); `peak MB`: ru_maxrss of the run's "
        "process plus its children",
        "- `solve ×` / `total ×`: the baseline's seconds divided by the run's (same scenario, same seed); both at the "
        "time limit gives ≈1× and says nothing — compare status, gap and first plan then",
        "",
        "| scenario | vars / rows / nnz | backend | seed | status | objective | bound | gap | build s | solve s | total s | first plan s | peak MB | solve × | total × | check |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        size = (
            " / ".join(_fmt(r[k], "int") for k in ("variables", "constraints", "nonzeros"))
            if r["variables"] is not None
            else "—"
        )
        lines.append(
            "| "
            + " | ".join(
                [
                    r["scenario"]
                    + (
                        ""
                        if r["time_limit"] == meta["time_limit"]
                        else f" ({r['time_limit']:.0f} s)"
                    ),
                    size,
                    r["backend"],
                    str(r["seed"]),
                    r["status"],
                    _fmt(r["objective"], "int"),
                    _fmt(r["bound"], "int"),
                    _fmt(r["gap"], "gap"),
                    _fmt(r["build_s"], "s"),
                    _fmt(r["solve_s"], "s"),
                    _fmt(r["total_s"], "s"),
                    _fmt(r["first_plan_s"], "s"),
                    _fmt(r["peak_mb"]),
                    _fmt(r["solve_x"], "x"),
                    _fmt(r["total_x"], "x"),
                    "ok" if r["check"] == "ok" else "**FAIL**",
                ]
            )
            + " |"
        )
    extra = [r for r in rows if r["conflict_s"] is not None or r["gap1pct_s"] is not None]
    if extra:
        lines += [
            "",
            "| scenario | backend | seed | gap ≤ 1% at s | conflict s | conflicts |",
            "|---|---|---|---|---|---|",
        ]
        for r in extra:
            lines.append(
                f"| {r['scenario']} | {r['backend']} | {r['seed']} | {_fmt(r['gap1pct_s'], 's')} | {_fmt(r['conflict_s'], 's')} | {r['conflicts'] or '—'} |"
            )
    warm = _warm_cold(rows)
    if warm:
        lines += [
            "",
            "Re-plans and what-ifs: warm start against the cold solve of the same scenario",
            "",
        ]
        lines += [
            "| scenario | backend | seed | cold status | cold total s | warm status | warm total s | warm / cold | cold first plan s | warm first plan s |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for w in warm:
            lines.append(
                f"| {w['scenario']} | {w['backend']} | {w['seed']} | {w['cold']['status']} | {_fmt(w['cold']['total_s'], 's')} | {w['warm']['status']} | "
                f"{_fmt(w['warm']['total_s'], 's')} | {_fmt(w['ratio'], 's')} | {_fmt(w['cold']['first_plan_s'], 's')} | {_fmt(w['warm']['first_plan_s'], 's')} |"
            )
        verdicts = _warm_verdicts(warm)
        if verdicts:
            lines += ["", *verdicts]
        full = [w for w in warm if w["full"] is not None]
        if full:
            lines += [
                "",
                "Re-plan with frozen years and the warm start against re-planning the same change from"
                " scratch (every year open, no warm start)",
                "",
                "| backend | seed | from scratch status | objective | total s | frozen + warm status | objective | total s | frozen + warm / from scratch |",
                "|---|---|---|---|---|---|---|---|---|",
            ]
            for w in full:
                f, r = w["full"], w["warm"]
                lines.append(
                    f"| {w['backend']} | {w['seed']} | {f['status']} | {_fmt(f['objective'], 'int')} | {_fmt(f['total_s'], 's')} | "
                    f"{r['status']} | {_fmt(r['objective'], 'int')} | {_fmt(r['total_s'], 's')} | {_fmt(w['full_ratio'], 's')} |"
                )
    met = targets_table(rows)
    if met:
        lines += [
            "",
            f"Issue #7's targets in this run (the default backend, `{DEFAULT_BACKEND}`; seconds of this"
            " machine, see the speed reference; benchmarks, never tests)",
            "",
            *met,
        ]
    if meta.get("notes"):
        lines += ["", *[f"- {n}" for n in meta["notes"]]]
    failures = [r for r in rows if r["check"] != "ok"]
    lines += [
        "",
        f"Failures: {len(failures)}"
        if failures
        else "Failures: none (every plan holds; known optima reproduced; runs agree)",
    ]
    for r in failures:
        lines.append(f"- {r['scenario']} / {r['backend']} / seed {r['seed']}: {r['check'][6:]}")
    return "\n".join(lines) + "\n"


def _warm_verdicts(warm: list[dict[str, Any]]) -> list[str]:
    """What the warm runs' plans said of their warm start (``solver.warm_start``), once each."""
    said = {str(w["warm"].get("detail") or "").partition("; warm start: ")[2] for w in warm} - {""}
    return [f"Warm start: {v} (checked by the evaluator)." for v in sorted(said)]


def _pair_key(case: str) -> str:
    """A warm case and its cold one share a name up to ``-warm`` / ``-cold``."""
    return case.removesuffix("-warm").removesuffix("-cold")


def _warm_cold(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each warm run with the cold run of the same scenario, backend and seed; the frozen
    re-plan's also with the from-scratch re-plan of the same change (``replan-full``)."""
    cold = {
        (_pair_key(r["scenario"]), r["backend"], r["seed"]): r
        for r in rows
        if r["kind"] == "replan-cold"
    }
    full = {(r["backend"], r["seed"]): r for r in rows if r["kind"] == "replan-full"}
    out = []
    for r in rows:
        if r["kind"] != "replan-warm":
            continue
        key = _pair_key(r["scenario"])
        c = cold.get((key, r["backend"], r["seed"]))
        if c is None:
            continue
        ratio = r["total_s"] / c["total_s"] if r["total_s"] and c["total_s"] else None
        f = full.get((r["backend"], r["seed"])) if key == "replan-frozen" else None
        full_ratio = r["total_s"] / f["total_s"] if f and r["total_s"] and f["total_s"] else None
        out.append(
            {
                "scenario": key,
                "backend": r["backend"],
                "seed": r["seed"],
                "cold": c,
                "warm": r,
                "ratio": ratio,
                "full": f,
                "full_ratio": full_ratio,
            }
        )
    return out


#: Issue #7's targets, as a run of the suite measures them: the default backend's runs, every
#: seed. Reported in each results file (:func:`targets`), never asserted (``RESULTS.md``).
PROOF_CASES = ("national-20x10", "gen-200")
PROOF_S = 10.0
BASELINE_CASE = "national-20x10"
BASELINE_FACTOR = 20.0
LARGE_CASE = "gen-3000"
LARGE_PLAN_S, LARGE_GAP_S, LARGE_BUILD_S, LARGE_PEAK_MB = 60.0, 300.0, 15.0, 4000.0
FROZEN_CASE, FROM_SCRATCH_CASE = "replan-frozen-warm", "replan-full-cold"
FROZEN_SHARE = 0.25
#: The national-size infeasible cases of the conflict-set target, each its own row.
CONFLICT_CASES = (
    "national-infeasible",
    "national-infeasible-frozen-crews",
    "national-infeasible-crews-quarter",
    "national-infeasible-balance0",
)
CONFLICT_S = 30.0


def targets(rows: list[dict[str, Any]]) -> list[tuple[str, str, bool]]:
    """Issue #7's targets that this run's cases measure, as ``(target, measured, met)``: the
    default backend's runs (:data:`solver.solve.DEFAULT_BACKEND`), every seed, seconds of this
    machine. A target whose cases did not run is left out; a run whose check failed meets none."""
    mine = [r for r in rows if r["backend"] == DEFAULT_BACKEND]

    def runs(case: str, among: list[dict[str, Any]] = mine) -> list[dict[str, Any]]:
        return sorted((r for r in among if r["scenario"] == case), key=lambda r: r["seed"])

    def ok(r: dict[str, Any]) -> bool:
        return bool(r["check"] == "ok")

    def seeds(rs: list[dict[str, Any]]) -> str:
        return "seed" + ("s " if len(rs) > 1 else " ") + ", ".join(str(r["seed"]) for r in rs)

    def mean(values: list[float]) -> float:
        return statistics.fmean(values)

    def timed(r: dict[str, Any]) -> bool:
        return r["solve_s"] is not None and r["total_s"] is not None

    def secs(value: float | None) -> str:
        return "—" if value is None else f"{value:.2f} s"

    out: list[tuple[str, str, bool]] = []
    for case in PROOF_CASES:
        rs = runs(case)
        if not rs:
            continue
        proved = [r for r in rs if r["status"] == "optimal" and ok(r)]
        said = " / ".join(
            f"{r['solve_s']:.2f} s"
            if r in proved
            else f"{r['status']} ({_fmt(r['gap'], 'gap')})"
            if ok(r)
            else "its plan failed the check"
            for r in rs
        )
        if len(proved) == len(rs) > 1:
            said += f" (mean {mean([r['solve_s'] for r in rs]):.2f} s)"
        met = len(proved) == len(rs) and max(r["solve_s"] for r in rs) <= PROOF_S
        out.append((f"{case} proven optimal in ≤ {PROOF_S:g} s", f"{seeds(rs)}: {said}", met))

    base = {r["seed"]: r for r in runs(BASELINE_CASE, rows) if r["backend"] == BASELINE}
    pairs = [(r, base[r["seed"]]) for r in runs(BASELINE_CASE) if r["seed"] in base]
    if pairs:
        parts, exact = [], []
        for r, b in pairs:
            ratio = b["solve_s"] / r["solve_s"] if r["solve_s"] and b["solve_s"] else None
            both = r["status"] == b["status"] == "optimal" and ok(r) and ok(b)
            floor = ratio is not None and r["status"] == "optimal" != b["status"] and ok(r)
            parts.append(
                f"seed {r['seed']}: {'≥ ' if floor else ''}{_fmt(ratio, 'x')}"
                + ("" if both or floor else " (not proved by both)")
            )
            if both:
                exact.append((r["solve_s"], b["solve_s"]))
        said = ", ".join(parts)
        if len(exact) > 1:
            said += (
                f"; {mean([b for _, b in exact]) / mean([s for s, _ in exact]):.1f}× on the means"
            )
        met = len(exact) == len(pairs) and all(b / s >= BASELINE_FACTOR for s, b in exact)
        out.append(
            (
                f"{BASELINE_CASE} ≥ {BASELINE_FACTOR:g}× faster than the baseline (solve s)",
                said,
                met,
            )
        )

    for r in runs(LARGE_CASE):
        build = r["build_s"] or 0.0
        plan = None if r["first_plan_s"] is None else build + r["first_plan_s"]
        gap = None if r["gap1pct_s"] is None else build + r["gap1pct_s"]
        out += [
            (
                f"{LARGE_CASE}: a checked plan in ≤ {LARGE_PLAN_S:g} s (build + first plan)",
                f"seed {r['seed']}: {secs(plan)}",
                ok(r) and plan is not None and plan <= LARGE_PLAN_S,
            ),
            (
                f"{LARGE_CASE}: gap ≤ 1 % in ≤ {LARGE_GAP_S:g} s (build + solve)",
                f"seed {r['seed']}: {secs(gap)} (at the end {_fmt(r['gap'], 'gap')})",
                ok(r) and gap is not None and gap <= LARGE_GAP_S,
            ),
            (
                f"{LARGE_CASE}: model build ≤ {LARGE_BUILD_S:g} s",
                f"seed {r['seed']}: {secs(r['build_s'])}",
                ok(r) and r["build_s"] is not None and r["build_s"] <= LARGE_BUILD_S,
            ),
            (
                f"{LARGE_CASE}: peak memory ≤ {LARGE_PEAK_MB:,.0f} MB",
                f"seed {r['seed']}: "
                + ("—" if r["peak_mb"] is None else f"{round(r['peak_mb']):,} MB"),
                ok(r) and r["peak_mb"] is not None and r["peak_mb"] <= LARGE_PEAK_MB,
            ),
        ]

    scratch = {r["seed"]: r for r in runs(FROM_SCRATCH_CASE)}
    pairs = [
        (r, scratch[r["seed"]])
        for r in runs(FROZEN_CASE)
        if r["seed"] in scratch and timed(r) and timed(scratch[r["seed"]])
    ]
    if pairs:
        good = all(r["status"] == f["status"] == "optimal" and ok(r) and ok(f) for r, f in pairs)
        frozen = mean([r["solve_s"] for r, _ in pairs])
        fresh = mean([f["solve_s"] for _, f in pairs])
        solve = frozen / fresh
        total = mean([r["total_s"] for r, _ in pairs]) / mean([f["total_s"] for _, f in pairs])
        said = (
            f"{seeds([r for r, _ in pairs])}: {frozen:.2f} s against {fresh:.2f} s"
            + (" on the means" if len(pairs) > 1 else "")
            + f": {solve:.3f} on solve seconds, {total:.3f} on totals"
            + ("" if good else "; not every run proved its optimum")
        )
        out.append(
            (
                f"re-plan with frozen years + warm start ≤ {FROZEN_SHARE:.0%} of re-planning the"
                " change from scratch",
                said,
                good and solve <= FROZEN_SHARE,
            )
        )

    for case in CONFLICT_CASES:
        rs = runs(case)
        if not rs:
            continue
        conflict = [r["conflict_s"] for r in rs]
        out.append(
            (
                f"{case}: a conflict set in ≤ {CONFLICT_S:g} s",
                f"{seeds(rs)}: " + " / ".join(secs(s) for s in conflict),
                all(ok(r) for r in rs) and all(s is not None and s <= CONFLICT_S for s in conflict),
            )
        )
    return out


def targets_table(rows: list[dict[str, Any]]) -> list[str]:
    """:func:`targets` as markdown table lines (none when no target's cases ran)."""
    met = targets(rows)
    if not met:
        return []
    return [
        "| target | measured | met? |",
        "|---|---|---|",
        *[f"| {what} | {said} | {'yes' if yes else '**no**'} |" for what, said, yes in met],
    ]


#: How a results CSV's columns (:data:`COLUMNS`) read back: these as integers, these as text,
#: every other one as a float.
INT_COLUMNS = {"seed", "threads", "variables", "constraints", "nonzeros", "known_optimum"}
TEXT_COLUMNS = {
    "date",
    "suite",
    "scenario",
    "kind",
    "backend",
    "status",
    "conflicts",
    "check",
    "detail",
}


def _typed(column: str, value: str | None) -> Any:
    """A results CSV's cell as :func:`write_results` had it (empty: None)."""
    if value in ("", None):
        return None
    if column in TEXT_COLUMNS:
        return value
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    if column in INT_COLUMNS:
        return int(number)
    return number


#: A results row's statuses: a plan document's, or ``error`` (the run failed).
ROW_STATUSES = frozenset({*(s.value for s in Status), "error"})
#: The columns that hold seconds.
SECONDS_COLUMNS = ("build_s", "solve_s", "total_s", "first_plan_s", "gap1pct_s", "conflict_s")


def _row_error(row: dict[str, Any]) -> str | None:
    """What a typed row lacks that every row of its status has (hand-edited, or truncated):
    a plan's objective, a proof's bound, and the seconds of every run that did not fail."""
    status = row["status"]
    if status not in ROW_STATUSES:
        return f"status is {status!r}, not one of {', '.join(sorted(ROW_STATUSES))}"
    negative = [c for c in SECONDS_COLUMNS if row[c] is not None and row[c] < 0]
    if negative:
        return f"{negative[0]} is {row[negative[0]]:g}, not a count of seconds"
    if status in PLAN_STATUSES and row["objective"] is None:
        return f"status {status} without an objective"
    if status == "optimal" and row["bound"] is None:
        return "status optimal without a bound"
    if status != "error" and (row["solve_s"] is None or row["total_s"] is None):
        return f"status {status} without solve_s and total_s"
    return None


def read_results(path: Path) -> list[dict[str, Any]]:
    """The rows of a results CSV written by :func:`write_results`, typed as when written.
    Raises ``ValueError`` naming the file and what is wrong with it."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(
                    f"{path}: not an rdplan bench results file (no {missing[0]!r} column)"
                )
            rows = []
            for line, raw in enumerate(reader, start=2):
                short = [c for c in COLUMNS if raw.get(c) is None]
                if short or None in raw:
                    # a short row's missing cells are None, a long row's extras under None
                    cells = len(COLUMNS) - len(short) + len(raw.get(None) or [])
                    raise ValueError(
                        f"{path}, line {line}: {cells} cells, not {len(COLUMNS)}"
                        " (a truncated or hand-edited results file?)"
                    )
                if any(raw[c] == "" for c in ("scenario", "backend", "seed", "status")):
                    raise ValueError(f"{path}, line {line}: no scenario, backend, seed or status")
                row: dict[str, Any] = {}
                for column in COLUMNS:
                    value = raw[column]
                    try:
                        row[column] = _typed(column, value)
                    except ValueError:
                        raise ValueError(
                            f"{path}, line {line}: {column} is {value!r}, not a finite number"
                        ) from None
                wrong = _row_error(row)
                if wrong is not None:
                    raise ValueError(f"{path}, line {line}: {wrong}")
                rows.append(row)
            return rows
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (not an rdplan bench results file)") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: not a CSV file ({exc})") from None


def write_results(
    out_dir: Path, stem: str, rows: list[dict[str, Any]], meta: dict[str, Any]
) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"{stem}.csv"
    md_path = out_dir / f"{stem}.md"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: "" if r[k] is None else r[k] for k in COLUMNS})
    md_path.write_text(markdown(rows, meta), encoding="utf-8")
    return csv_path, md_path


# --------------------------------------------------------------------------- progress display


class _Display:
    """Rich progress on a terminal, plain lines otherwise (CI logs)."""

    def __init__(self, total: int, plain: bool):
        self.total = total
        self.rich: Any = None
        self.task: Any = None
        if not plain and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.rich = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True, highlight=False),
                transient=False,
            )
            self.rich.start()
            self.task = self.rich.add_task("bench", total=total)

    def start(self, index: int, spec: dict[str, Any]) -> None:
        self.label = f"{spec['scenario']} · {spec['backend']} · seed {spec['seed']}"
        if self.rich is not None:
            self.rich.update(self.task, description=self.label)
        else:
            print(
                f"[{'prep' if index < 0 else f'{index + 1}/{self.total}'}] {self.label} (limit {spec['time_limit']:.0f} s) ...",
                file=sys.stderr,
                flush=True,
            )

    def progress(self, p: dict[str, Any]) -> None:
        if self.rich is None:
            return
        gap = "—" if p.get("gap") is None else f"{100 * p['gap']:.2f}%"
        inc = "—" if p.get("incumbent") is None else f"{p['incumbent']:,}"
        self.rich.update(
            self.task,
            description=f"{self.label} · {p['elapsed']:.0f} s · incumbent {inc} · gap {gap}",
        )

    def done(self, row: dict[str, Any]) -> None:
        text = (
            f"    {row['scenario']} {row['backend']} seed {row['seed']}: {row['status']} objective {_fmt(row['objective'], 'int')} "
            f"gap {_fmt(row['gap'], 'gap')} build {_fmt(row['build_s'], 's')} s solve {_fmt(row['solve_s'], 's')} s peak {_fmt(row['peak_mb'])} MB"
            + ("" if row["check"] == "ok" else f" — {row['check']}")
        )
        if self.rich is not None:
            self.rich.console.print(text)
            self.rich.advance(self.task)
        else:
            print(text, file=sys.stderr, flush=True)

    def stop(self) -> None:
        if self.rich is not None:
            self.rich.stop()


# --------------------------------------------------------------------------- main


def _compare(old_path: Path, new_path: Path) -> int:
    """``--compare OLD NEW``: 0, 1 when the files' runs contradict each other, 2 when a file
    cannot be read or they share no run."""
    from benchmarks.compare import compare, pair, speed_reference

    try:
        old, new = read_results(old_path), read_results(new_path)
    except ValueError as exc:
        print(f"rdplan bench: {exc}", file=sys.stderr)
        return 2
    if not pair(old, new):
        print(
            f"rdplan bench: {old_path} and {new_path} share no run (scenario, backend and seed)",
            file=sys.stderr,
        )
        return 2
    lines, conflicts = compare(old, new, speed_reference(old_path), speed_reference(new_path))
    print(f"{new_path} (new) against {old_path} (old)\n\n" + "\n".join(lines))
    return 1 if conflicts else 0


def _rows_once(paths: list[Path]) -> list[dict[str, Any]]:
    """The rows of several results files; ``ValueError`` when a run (scenario, backend and
    seed) is in two of them: a mean over the files would count its seed twice, and its ratio
    take either file's baseline."""
    rows: list[dict[str, Any]] = []
    where: dict[tuple[Any, ...], Path] = {}
    for path in paths:
        for row in read_results(path):
            key = (row["scenario"], row["backend"], row["seed"])
            if key in where:
                raise ValueError(
                    f"{row['scenario']} {row['backend']} seed {row['seed']} is in {where[key]} "
                    f"and {path}: give each run once"
                )
            where[key] = path
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    """``rdplan bench [--suite smoke|full] ...``: 0 when every run checks out, 1 otherwise."""
    args = build_parser().parse_args(argv)
    if args.compare:
        return _compare(*args.compare)
    if args.targets_of:
        try:
            rows = _rows_once(args.targets_of)
        except ValueError as exc:
            print(f"rdplan bench: {exc}", file=sys.stderr)
            return 2
        table = targets_table(rows)
        files = ", ".join(str(p) for p in args.targets_of)
        print(
            f"Issue #7's targets over {len(rows)} runs of {files} (the default backend,"
            f" `{DEFAULT_BACKEND}`)\n\n" + ("\n".join(table) if table else "no target's cases ran")
        )
        return 0
    backends = args.backends
    seeds = args.seeds or _seed_list(DEFAULT_SEEDS.get(args.suite, "0"))
    time_limit = float(args.time_limit or DEFAULT_TIME_LIMIT.get(args.suite, 60.0))
    try:
        cases = select(suite(args.suite), args.only)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    specs = plan_runs(
        cases,
        backends,
        seeds,
        time_limit,
        args.threads,
        baseline=not args.no_baseline,
        explicit_limit=args.time_limit is not None,
        explicit_seeds=args.seeds is not None,
    )
    if not specs:
        only = "" if args.only is None else f"--only {args.only} with "
        print(
            f"rdplan bench: {only}--backends {','.join(backends)} leaves no run (a case may"
            " run only some backends: benchmarks/RESULTS.md, *The suite*)",
            file=sys.stderr,
        )
        return 2
    try:  # refused now, not after every run has been solved
        args.out.mkdir(parents=True, exist_ok=True)
        if not os.access(args.out, os.W_OK):
            raise PermissionError(13, "permission denied")
    except OSError as exc:
        print(f"rdplan bench: --out {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    date = dt.date.today().isoformat()
    notes: list[str] = []
    load_start = _load()
    speed_start = calibrate()
    revision = _revision()
    started = time.perf_counter()
    display = _Display(len(specs), args.plain)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="rdplan-bench-") as tmp:
        try:
            for i, spec in enumerate(specs):
                spec["run_dir"] = str(Path(tmp) / f"run-{i:03d}")
                display.start(i, spec)
                result = run_in_process(spec, display.progress)
                results.append(result)
                display.done(row_of(date, args.suite, spec, result, check_run(spec, result)))
        finally:
            display.stop()
        if any(s["source"] == "derived/replan-frozen" for s in specs):
            doc = instance_document(REPLAN_BASE_PLAN)
            notes.append(
                f"re-plan: base plan = instances/{REPLAN_BASE_PLAN} (national-20x10, status {doc['status']}, objective {doc['objective']:,}); "
                f"frozen through {FREEZE_THROUGH} (builds, trainees held at the base plan's since run 27, crews since run 28); every pool loses round(1/3) of its {CREW_LOSS_YEAR} crews; "
                "cold = no hint, warm = rdplan's default warm start (the baseline plan)"
            )
        for name, factor in WHATIF_FUEL.items():
            if any(s["source"] == f"derived/{name}" for s in specs):
                notes.append(
                    f"what-if: national-20x10 with mobilisation weight {factor}, baseline ="
                    f" instances/{REPLAN_BASE_PLAN} (stability weight 0: only the warm start);"
                    " cold = no hint, warm = the baseline plan"
                )
        attach_ratios(specs, results)
        problems: dict[int, list[str]] = {
            i: check_run(spec, result)
            for i, (spec, result) in enumerate(zip(specs, results, strict=True))
        }
        for i, message in cross_check(specs, results):
            problems[i].append(message)
        rows = [
            row_of(date, args.suite, spec, result, problems[i])
            for i, (spec, result) in enumerate(zip(specs, results, strict=True))
        ]
        stem = _stem(args, date)
        keep_failures(args.out / f"{stem}-failures", specs, rows)
    meta = {
        "suite": args.suite,
        "date": date,
        "machine": _machine(),
        "load_start": load_start,
        "revision": revision,
        "revision_end": _revision(),
        "load_end": _load(),
        "speed_start": speed_start,
        "speed_end": calibrate(),
        "shared": True,
        "threads": args.threads,
        "time_limit": time_limit,
        "seeds": ",".join(map(str, seeds)),
        "versions": _versions(),
        "wall_s": time.perf_counter() - started,
        "notes": notes + [f"{c.name}: {c.note}" for c in cases if c.note],
    }
    csv_path, md_path = write_results(args.out, stem, rows, meta)
    failed = [r for r in rows if r["check"] != "ok"]
    print(
        f"rdplan bench: {len(rows)} runs, {len(failed)} failed; wrote {csv_path} and {md_path}",
        file=sys.stderr,
    )
    return 1 if failed else 0


def _stem(args: argparse.Namespace, date: str) -> str:
    """``<date>`` for the whole full suite, ``<date>-<suite>[-only]`` otherwise; ``-2``,
    ``-3``… after it when ``args.out`` holds that run's files already (an earlier run the
    same day: its results are not overwritten)."""
    # a part of the full suite (a case, backend, seed, limit or baseline chosen) is not the
    # whole of it, and not named as it (a QA pass)
    part = (
        args.only is not None
        or args.seeds is not None
        or args.time_limit is not None
        or args.no_baseline
        or list(args.backends) != list(RDPLAN_BACKENDS)
    )
    stem = date if args.suite == "full" and not part else f"{date}-{args.suite}"
    if part:
        stem += "-only"
    taken = {p.stem for p in args.out.glob(f"{stem}*")}
    n, free = 1, stem
    while free in taken or f"{free}-failures" in taken:
        n += 1
        free = f"{stem}-{n}"
    return free


def keep_failures(folder: Path, specs: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    """Copy the scenario and plan of every failing run next to the results, to reproduce it."""
    for i, (spec, row) in enumerate(zip(specs, rows, strict=True)):
        run_dir = Path(spec.get("run_dir") or "")
        if row["check"] == "ok" or not spec.get("run_dir") or not run_dir.exists():
            continue
        target = folder / f"{i:03d}-{spec['scenario']}-{spec['backend']}-s{spec['seed']}"
        shutil.copytree(run_dir, target, dirs_exist_ok=True)
        (target / "check.txt").write_text(row["check"] + "\n", encoding="utf-8")


def _load() -> str:
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


if __name__ == "__main__":
    sys.exit(main())
