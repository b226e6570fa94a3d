"""What every backend receives and returns: the common solve contract."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import psutil

from solver.plan import Status

#: ``on_progress(elapsed, incumbent, bound)``: raw objective values, constant included.
ProgressCallback = Callable[[float, float | None, float | None], None]


logger = logging.getLogger(__name__)

#: Resident memory (MB) a solve may add to what its process held when it began; past that a
#: HiGHS MIP run stops with its best plan and bound so far, as at its time limit
#: (``RawResult.memory_stopped``; the plan's detail says so). Counted from the solve's start,
#: so that memory a long-lived process (``rdplan batch``, a notebook) kept from earlier solves
#: does not stop the next one at once; a fresh process holds ~120-150 MB then. HiGHS has no
#: memory limit of its own, and its tree grows with the time it is given. The limit is soft:
#: it is looked at when HiGHS calls back, which on gen-3000 can be a minute apart (its
#: sub-MIPs call no callback), and there the process was 134-716 MB past a limit when HiGHS
#: next called (run 16: 2,753 MB at 144 s for 2,619, 3,716 MB at 191 s for 3,000, 3,728 MB at
#: 198 s for 3,500). The memory comes in jumps with the sub-MIPs that find the plans: the plan
#: within 1 % of the bound came at 143-146 s, right before the stop with a limit of 2,500, so a
#: lower limit would stop gen-3000 before its first good plan on a machine that gets there
#: later. 3,000 stops it after (on run 14's fast machine: 1 % at 101 s, 3.13 GB at 120 s) and
#: bounds what longer time limits would add; at 300 s the peak stays ~3.8 GB either way.
#: ``RDPLAN_MEMORY_LIMIT_MB`` sets another (0: none).
MEMORY_LIMIT_MB = 3000.0
MEMORY_LIMIT_ENV = "RDPLAN_MEMORY_LIMIT_MB"


def default_threads() -> int:
    return os.cpu_count() or 1


def memory_limit_mb() -> float | None:
    """The memory a solve may add: ``RDPLAN_MEMORY_LIMIT_MB`` (0: none) or
    :data:`MEMORY_LIMIT_MB`. A value that is not a number, or is negative (which the service
    refuses at start), is reported and ignored: the default applies."""
    raw = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not raw:
        return MEMORY_LIMIT_MB
    try:
        value = float(raw)
        if value < 0 or value != value:  # negative, or NaN
            raise ValueError(raw)
    except ValueError:
        logger.warning(
            "%s=%r is not a number of megabytes (0 or more); the default %g MB applies",
            MEMORY_LIMIT_ENV,
            raw,
            MEMORY_LIMIT_MB,
        )
        return MEMORY_LIMIT_MB
    return value if value > 0 else None  # 0: none


def memory_ceiling_mb(limit: float | None | Literal["env"] = "env") -> float | None:
    """The resident MB at which the solve starting now stops its HiGHS MIP runs: the process's
    resident memory now plus ``limit`` ("env": :func:`memory_limit_mb`; None or 0: no limit;
    None too where the memory cannot be read)."""
    if limit == "env":
        limit = memory_limit_mb()
    resident = resident_mb()
    return None if not limit or limit < 0 or resident is None else resident + limit


def resident_mb() -> float | None:
    """This process's resident memory now, in MB (None where it cannot be read)."""
    try:
        return float(psutil.Process().memory_info().rss) / 2**20
    except psutil.Error:
        return None


@dataclass
class SolveOptions:
    """Limits and hooks for one backend run."""

    time_limit: float = 60.0
    threads: int = field(default_factory=default_threads)
    seed: int = 0
    hint: dict[int, int] | None = None
    #: Z of ``hint`` when the evaluator found it a plan of this scenario (``solver.solve.
    #: warm_start_report``); None when it breaks a rule, or there is none. It describes
    #: ``hint``: a backend that passes on another hint sets it to None with it.
    start_value: float | None = None
    on_progress: ProgressCallback | None = None
    cancel: threading.Event | None = None
    log: bool = False
    #: Crews and trainees as continuous columns (HiGHS, CBC): exact, see ``solver.flows``.
    continuous_flows: bool = True
    #: HiGHS MIP runs stop when the process's resident memory passes this (MB; None: never),
    #: see :data:`MEMORY_LIMIT_MB`. ``solver.solve.solve`` sets it from its own start.
    memory_limit_mb: float | None = field(default_factory=memory_ceiling_mb)
    #: Stop once a plan is proved within this relative gap of the bound (SPEC §4's ``gap``:
    #: ``(bound - objective) / max(1, |bound|)``); 0: prove optimality (the default).
    #: ``solver.plan.close_enough`` is the rule.
    gap: float = 0.0


@dataclass
class RawResult:
    """A backend's native answer, already mapped onto the status vocabulary."""

    status: Status
    values: np.ndarray | None
    bound: float | None  # the solver's dual bound on Z (constant included)
    seconds: float
    threads: int
    detail: str = ""
    #: ``values`` came from a model with continuous crews/trainees: made integral before use.
    continuous_flows: bool = False
    #: The run stopped at ``SolveOptions.memory_limit_mb``: a caller starts no further run.
    memory_stopped: bool = False
    #: HiGHS's race gave up (``highs.solve``'s ``give_up``): no plan near its bound in time.
    gave_up: bool = False


class ProgressThrottle:
    """Forwards progress at most every ``interval`` seconds, always the final values."""

    def __init__(self, callback: ProgressCallback | None, interval: float = 0.25):
        self.callback = callback
        self.interval = interval
        self.start = time.perf_counter()
        self._last = -1.0
        self.incumbent: float | None = None
        self.bound: float | None = None

    def __call__(
        self, incumbent: float | None = None, bound: float | None = None, force: bool = False
    ) -> None:
        if incumbent is not None:
            self.incumbent = incumbent
        if bound is not None:
            self.bound = bound
        if self.callback is None:
            return
        now = time.perf_counter()
        if force or now - self._last >= self.interval:
            self._last = now
            self.callback(now - self.start, self.incumbent, self.bound)
