"""A Ctrl-C while HiGHS runs a Python callback on the main thread (``lpguided``'s LP): raised
inside the callback it was lost in HiGHS, and ``rdplan batch`` ran on to its time limit (a CI
run). It is held while HiGHS runs and given to its handler once HiGHS has returned."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from solver.backends import lpguided
from solver.backends.base import SolveOptions
from solver.interrupts import held_sigint
from solver.model import build_model
from solver.problem import build_problem
from solver.scenario import parse_scenario
from tests.conftest import load


def test_a_ctrl_c_is_held_and_then_raised() -> None:
    with pytest.raises(KeyboardInterrupt), held_sigint() as held:
        os.kill(os.getpid(), signal.SIGINT)
        assert held.wait(5)  # no KeyboardInterrupt in here
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_in_the_lp_stops_it_and_reaches_the_caller() -> None:
    model = build_model(build_problem(parse_scenario(load("conformance/generated-b"))))
    seen: list[bool] = []

    class Interrupting(threading.Event):
        """The LP's cancel flag, read from its callback: the first look sends the Ctrl-C."""

        def is_set(self) -> bool:
            if not seen:
                seen.append(True)
                os.kill(os.getpid(), signal.SIGINT)
            return False

    options = SolveOptions(time_limit=30, threads=1, cancel=Interrupting())
    with pytest.raises(KeyboardInterrupt):
        lpguided._relaxation(model, options, deadline=float("inf"))
    assert seen
