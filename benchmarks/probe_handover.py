"""Where one HiGHS run's time goes, and the proof from a plan handed over at its root's end.

``python -m benchmarks.probe_handover [SCENARIO] [--seed N] [--plan P.json] [--heuristics off]``

One single-thread HiGHS run set up as the portfolio's race sets up each of its runs (the
implied rows added, :data:`solver.backends.highs.CREWS_HULL_ROOT`), its dual bound and plans
printed as HiGHS reports them (process CPU seconds, which a shared core moves less than wall
seconds). With ``--plan``, that plan is handed to HiGHS through its user-solution callback
once the root's cut loop has settled (three rounds that move the bound by under a millionth,
or the first dive), as a primal method beside the run could; ``--heuristics off`` turns
HiGHS's own primal heuristics off, so that the run only proves. ``benchmarks/RESULTS.md``,
*Run 37*, has what it measured on national-20x10: handed the optimum, a run with its
heuristics off ends in about half the time of a run alone.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import highspy
import numpy as np

from solver.backends.highs import (
    CREWS_HULL_ROOT,
    HEURISTICS_OFF,
    new_highs,
    new_relaxation,
    to_highs,
)
from solver.cuts import add_violated
from solver.model import MatrixModel, build_model
from solver.problem import build_problem
from solver.scenario import parse_scenario
from solver.solve import hint_columns

ROOT = Path(__file__).resolve().parents[1]
CB = highspy.cb.HighsCallbackType
#: The root has settled once this many cut rounds move the bound by under SETTLED of itself.
SETTLED_ROUNDS = 3
SETTLED = 1e-6


def plan_vector(model: MatrixModel, plan: dict[str, Any]) -> np.ndarray:
    """Every column's value for ``plan``'s builds: its crews and trainees by the LP with its
    builds fixed (HiGHS takes a user solution whole, and checks it)."""
    fixed = np.zeros(model.num_x)
    for col, value in (hint_columns(model, plan) or {}).items():
        if col < model.num_x:
            fixed[col] = value
    # one thread, as the run after it (HiGHS's scheduler is process-global)
    h = new_relaxation(model, threads=1)
    h.changeColsBounds(model.num_x, np.arange(model.num_x, dtype=np.int32), fixed, fixed)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise SystemExit("the plan does not hold in this scenario")
    return np.array(h.getSolution().col_value)


def probe(
    scenario: str, seed: int, plan: dict[str, Any] | None, heuristics: bool
) -> dict[str, Any]:
    model, _ = add_violated(build_model(build_problem(parse_scenario(Path(scenario).read_text()))))
    handed = None if plan is None else plan_vector(model, plan)
    h = new_highs()
    settings: dict[str, Any] = {
        "output_flag": False,
        "threads": 1,
        "random_seed": seed,
        "mip_rel_gap": 0.0,
        "mip_abs_gap": 0.999,
        **CREWS_HULL_ROOT,
        **({} if heuristics else HEURISTICS_OFF),
    }
    for name, value in settings.items():
        h.setOptionValue(name, value)
    h.passModel(to_highs(model, continuous_flows=True))
    started = time.process_time()
    bounds: list[float] = []
    events: list[dict[str, Any]] = []

    def note(what: str, bound: float, primal: float | None, nodes: int) -> None:
        event = {"cpu": round(time.process_time() - started, 2), "what": what, "bound": bound}
        event.update({"plan": primal, "nodes": nodes})
        events.append(event)
        print(json.dumps(event), flush=True)

    def callback(kind: Any, _: str, out: Any, into: Any, __: Any) -> None:
        nonlocal handed
        if kind == CB.kCallbackMipImprovingSolution:
            note("plan", out.mip_dual_bound, out.objective_function_value, out.mip_node_count)
        elif kind == CB.kCallbackMipUserSolution and handed is not None:
            bounds.append(out.mip_dual_bound)
            recent = bounds[-SETTLED_ROUNDS - 1 :]
            settled = len(recent) > SETTLED_ROUNDS and (
                recent[0] - recent[-1] < SETTLED * abs(recent[-1])
            )
            if settled or out.mip_node_count > 0:
                into.setSolution(handed)
                note("handed over", out.mip_dual_bound, model.objective_of(handed), 0)
                handed = None

    h.setCallback(callback, None)
    h.startCallback(CB.kCallbackMipImprovingSolution)
    h.startCallback(CB.kCallbackMipUserSolution)
    h.run()
    info = h.getInfo()
    return {
        "seed": seed,
        "heuristics": heuristics,
        "handed": plan is not None,
        "status": h.modelStatusToString(h.getModelStatus()),
        "objective": info.objective_function_value,
        "cpu": round(time.process_time() - started, 2),
        "nodes": info.mip_node_count,
        "events": events,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.probe_handover")
    parser.add_argument("scenario", nargs="?", default=str(ROOT / "instances/national-20x10.json"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plan", help="a plan document to hand over at the root's end")
    parser.add_argument("--heuristics", choices=["on", "off"], default="on")
    args = parser.parse_args(argv)
    plan = json.loads(Path(args.plan).read_text()) if args.plan else None
    out = probe(args.scenario, args.seed, plan, args.heuristics == "on")
    print(json.dumps({k: v for k, v in out.items() if k != "events"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
