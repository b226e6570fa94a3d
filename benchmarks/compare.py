"""``rdplan bench --compare OLD.csv NEW.csv``: two results files side by side.

What an analyst asks after a change, or on a new machine: did every run still reach the same
answer, and how did the seconds move? Runs are paired on scenario, backend and seed (only
the seeds both files ran count); each scenario and backend is one row. Seconds compare only
where both files proved every paired run (optimal or infeasible): a run stopped by its time
limit says nothing by its seconds, so there the gaps are the comparison. Runs only one
file holds (a case added to the suite since, other seeds) are named at the end, not compared.
Each file's speed reference (its markdown's protocol line, :func:`benchmarks.run.calibrate`)
gives a second ratio, corrected for the machine; ``benchmarks/RESULTS.md`` (*Protocol*) says
how far that correction can be trusted (within ~15 % across kinds).

Two files whose runs of one scenario cannot all be right (two proven optima, a plan where the
other proved infeasibility, a plan above the other's bound) contradict each other: one of the
two revisions is wrong, or the instance changed between them. A paired run its own bench
failed (its ``check``: a plan the evaluator rejects, a wrong optimum) is no answer: it is
marked FAIL, left out of the seconds and of the contradictions. The comparison then exits 1
and names the scenarios and runs.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROVEN = ("optimal", "infeasible")
#: Rows whose solves took under this many seconds in both files are listed but left out of
#: the geometric mean: there fixed costs and the clock's resolution decide the ratio.
MIN_SECONDS = 1.0

_SPEED = re.compile(r"(\d+\.\d+) s at the (?:start|end)")


def speed_reference(csv_path: Path) -> float | None:
    """The mean of the speed references (seconds) in the protocol of the markdown file written
    beside ``csv_path``; None when that file or its line is missing (older runs)."""
    md = csv_path.with_suffix(".md")
    try:
        text = md.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):  # not there, or not text: no reference (a QA pass:
        return None  # a traceback and exit 1, the code of a contradiction)
    for line in text.splitlines():
        if line.startswith("- speed reference:"):
            values = [float(v) for v in _SPEED.findall(line)]
            return statistics.fmean(values) if values else None
    return None


@dataclass
class Row:
    """One scenario and backend, over the seeds both files ran."""

    scenario: str
    backend: str
    seeds: list[int]
    old: list[dict[str, Any]]
    new: list[dict[str, Any]]

    def proven(self, side: str = "both") -> bool:
        runs = {"old": self.old, "new": self.new, "both": self.old + self.new}[side]
        return all(r["status"] in PROVEN and not failed(r) for r in runs)

    def failed(self) -> bool:
        return any(failed(r) for r in self.old + self.new)

    def seconds(self) -> tuple[float, float]:
        """The mean solve seconds of each file's runs (NaN where a run has none: it failed)."""

        def mean(runs: list[dict[str, Any]]) -> float:
            values = [r["solve_s"] for r in runs]
            if any(v is None for v in values):
                return math.nan
            return statistics.fmean(float(v) for v in values)

        return mean(self.old), mean(self.new)


def failed(run: dict[str, Any]) -> bool:
    """A run its own bench failed (``check`` not ok: a plan the evaluator rejects, a wrong
    optimum): its status and seconds are no answer (a QA pass: they were compared as ones)."""
    return str(run.get("check") or "ok") != "ok"


def run_key(run: dict[str, Any]) -> tuple[str, str, int]:
    """What pairs a run with its twin in the other file: scenario, backend and seed."""
    return run["scenario"], run["backend"], int(run["seed"])


def pair(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[Row]:
    """Rows of the runs both files hold (scenario, backend, seed), in the new file's order."""
    index = {run_key(r): r for r in old}
    groups: dict[tuple[str, str], Row] = {}
    for r in new:
        key = run_key(r)
        before = index.get(key)
        if before is None:
            continue
        row = groups.setdefault(key[:2], Row(key[0], key[1], [], [], []))
        row.seeds.append(key[2])
        row.old.append(before)
        row.new.append(r)
    return list(groups.values())


def unpaired(runs: list[dict[str, Any]], others: list[dict[str, Any]]) -> list[str]:
    """The runs of ``runs`` that ``others`` does not hold, as "scenario / backend (seeds)" in
    file order: a case added to or dropped from the suite, or seeds only one file ran."""
    held = {run_key(r) for r in others}
    seeds: dict[tuple[str, str], list[str]] = {}
    for r in runs:
        key = run_key(r)
        if key not in held:
            seeds.setdefault(key[:2], []).append(str(key[2]))
    return [f"{s} / {b} ({', '.join(found)})" for (s, b), found in seeds.items()]


def contradictions(rows: list[Row]) -> dict[str, str]:
    """Scenarios whose paired runs cannot all be right, over both files and every backend (as
    ``rdplan bench`` checks within one file): two proven optima, a plan where another run
    proved infeasibility, or a plan above another run's bound (the objective is maximised)."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for row in rows:  # a failed run's answer is none: its own file says so (compare)
        runs.setdefault(row.scenario, []).extend(r for r in row.old + row.new if not failed(r))
    out: dict[str, str] = {}
    for name, found in runs.items():
        optima = sorted({int(r["objective"]) for r in found if r["status"] == "optimal"})
        plans = [r for r in found if r["status"] in ("optimal", "feasible")]
        bounds = [float(r["bound"]) for r in plans if r["bound"] not in (None, "")]
        if len(optima) > 1:
            out[name] = f"two proven optima, {' and '.join(f'{v:,}' for v in optima)}"
        elif plans and any(r["status"] == "infeasible" for r in found):
            out[name] = "one run proved it infeasible, another has a plan"
        elif plans and bounds and max(int(r["objective"]) for r in plans) > min(bounds) + 1e-6:
            out[name] = (
                f"a plan of {max(int(r['objective']) for r in plans):,} above a bound of"
                f" {min(bounds):,.0f}"
            )
    return out


def setup_change(row: Row) -> str | None:
    """How the paired runs of ``row`` were set up differently (threads, time limit), or None:
    their seconds then compare two setups, not two versions of rdplan."""
    changes = []
    for column, label in (("threads", "threads"), ("time_limit", "time limit")):
        old = sorted({r.get(column) for r in row.old}, key=str)
        new = sorted({r.get(column) for r in row.new}, key=str)
        if old != new:
            shown = [
                ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in vs)
                for vs in (old, new)
            ]
            changes.append(f"{label} {shown[0]} → {shown[1]}")
    return "; ".join(changes) or None


def _statuses(runs: list[dict[str, Any]]) -> str:
    seen: list[str] = []
    for r in runs:
        if r["status"] not in seen:
            seen.append(r["status"])
    return "/".join(seen)


def _objective(row: Row) -> str:
    def best(runs: list[dict[str, Any]]) -> int | None:
        values = [int(r["objective"]) for r in runs if r["objective"] not in (None, "")]
        return max(values) if values else None

    old, new = best(row.old), best(row.new)
    if old == new:
        return "—" if old is None else f"{old:,}"
    return " → ".join("—" if v is None else f"{v:,}" for v in (old, new))


def _gap(runs: list[dict[str, Any]]) -> str:
    gaps = [float(r["gap"]) for r in runs if r["gap"] not in (None, "")]
    return f"{100 * max(gaps):.3f}%" if gaps else "—"


def compare(
    old: list[dict[str, Any]],
    new: list[dict[str, Any]],
    old_speed: float | None = None,
    new_speed: float | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The comparison as markdown lines, and the scenarios whose runs contradict each other
    (:func:`contradictions`), with why."""
    rows = pair(old, new)
    paired = {run_key(r) for row in rows for r in row.new}
    conflicts = contradictions(rows)
    machine = new_speed / old_speed if old_speed and new_speed else None
    lines = [
        "| scenario | backend | seeds | status (old → new) | objective | gap (old → new) |"
        " solve s (old → new, mean) | × (new / old) | × by speed reference |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ratios: list[float] = []
    unlike: list[str] = []
    for row in rows:
        old_s, new_s = row.seconds()
        times = " → ".join("—" if math.isnan(v) else f"{v:.2f}" for v in (old_s, new_s))
        by = adjusted = "—"
        setup = setup_change(row)
        if setup is not None:  # no ratio, and not in the mean
            times += f" ({setup})"
            unlike.append(f"{row.scenario} / {row.backend} ({setup})")
        elif row.failed():
            times += " (a run failed its checks)"
        elif not row.proven():
            times += " (not all proven)"
        elif old_s > 0 and new_s > 0:  # NaN compares False
            ratio = new_s / old_s
            if max(old_s, new_s) >= MIN_SECONDS:
                ratios.append(ratio)
            by = f"{ratio:.2f}"
            if machine:
                adjusted = f"{ratio / machine:.2f}"
        status = f"{_statuses(row.old)} → {_statuses(row.new)}"
        if row.scenario in conflicts:
            status += " **contradiction**"
        if row.failed():
            status += " **FAIL**"
        lines.append(
            f"| {row.scenario} | {row.backend} | {', '.join(map(str, row.seeds))} | {status}"
            f" | {_objective(row)} | {_gap(row.old)} → {_gap(row.new)} | {times} | {by} | {adjusted} |"
        )
    summary = [""]
    if ratios:
        geo = math.exp(statistics.fmean(math.log(r) for r in ratios))
        text = (
            f"Geometric mean of new / old over the {len(ratios)} rows both files proved in"
            f" {MIN_SECONDS:g} s or more: **{geo:.2f}**"
        )
        if machine:
            text += f" ({geo / machine:.2f} by the speed reference)"
        summary.append(text + ". Below 1 the new file is faster.")
    else:
        summary.append(
            f"No row was proved in both files in {MIN_SECONDS:g} s or more: compare the gaps,"
            " not the seconds."
        )
    lost = [f"{r.scenario} / {r.backend}" for r in rows if r.proven("old") and not r.proven("new")]
    gained = [
        f"{r.scenario} / {r.backend}" for r in rows if r.proven("new") and not r.proven("old")
    ]
    if unlike:
        summary.append(f"Not compared in seconds, set up differently: {', '.join(unlike)}.")
    if lost:
        summary.append(f"Proved in the old file only: {', '.join(lost)}.")
    if gained:
        summary.append(f"Proved in the new file only: {', '.join(gained)}.")
    for side, runs, others in (("old", old, new), ("new", new, old)):
        alone = unpaired(runs, others)
        if alone:
            summary.append(f"Runs in the {side} file only (not compared): {', '.join(alone)}.")
    if machine:
        summary.append(
            f"Speed reference: old {old_speed:.3f} s, new {new_speed:.3f} s — the new machine"
            f" reads {machine:.2f}× the old one's (lower is faster)."
        )
    else:
        summary.append("Speed reference: not in both files' protocols; no machine correction.")
    for side, runs in (("old", old), ("new", new)):
        for r in runs:
            if failed(r) and run_key(r) in paired:
                key = f"{r['scenario']} / {r['backend']} / seed {r['seed']} ({side})"
                conflicts[key] = f"the run failed its checks: {r['check']}"
    summary.extend(f"**{name}: {why}**" for name, why in conflicts.items())
    return lines + summary, conflicts
