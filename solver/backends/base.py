"""What every backend receives and returns: the common solve contract."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from solver.plan import Status

#: ``on_progress(elapsed, incumbent, bound)``: raw objective values, constant included.
ProgressCallback = Callable[[float, float | None, float | None], None]


def default_threads() -> int:
    return os.cpu_count() or 1


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
