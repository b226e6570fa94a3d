"""``SolveOptions.memory_limit_mb``: a HiGHS MIP run stops above the process's resident memory
limit with what it has, and the LP-guided search and the portfolio start no larger run after
it. Real HiGHS runs on national-20x10 with a limit the process is already above."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from solver.backends import base, highs, lpguided, portfolio
from solver.backends.base import SolveOptions, memory_limit_mb, resident_mb
from solver.model import MatrixModel, build_model
from solver.plan import Status
from solver.problem import build_problem
from solver.scenario import parse_scenario
from solver.solve import solve
from tests.conftest import load

INSTANCES = Path(__file__).resolve().parents[2] / "instances"


def _national() -> dict:
    return json.loads((INSTANCES / "national-20x10.json").read_text())


def _model() -> MatrixModel:
    return build_model(build_problem(parse_scenario(_national())))


@pytest.fixture(autouse=True)
def no_lingering() -> None:
    highs._threads(1)
    assert highs._lingering == []


def test_the_limit_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(base.MEMORY_LIMIT_ENV, raising=False)
    assert memory_limit_mb() == base.MEMORY_LIMIT_MB
    # What a solve may add, on top of what the process holds when it starts.
    before = resident_mb()
    ceiling = SolveOptions().memory_limit_mb
    assert before is not None and ceiling is not None
    assert before + base.MEMORY_LIMIT_MB <= ceiling <= resident_mb() + base.MEMORY_LIMIT_MB
    monkeypatch.setenv(base.MEMORY_LIMIT_ENV, "2048")
    assert memory_limit_mb() == 2048.0
    monkeypatch.setenv(base.MEMORY_LIMIT_ENV, "0")
    assert memory_limit_mb() is None and SolveOptions().memory_limit_mb is None
    monkeypatch.setenv(base.MEMORY_LIMIT_ENV, "lots")
    with caplog.at_level(logging.WARNING):
        assert memory_limit_mb() == base.MEMORY_LIMIT_MB
    assert base.MEMORY_LIMIT_ENV in caplog.text and "'lots'" in caplog.text
    # -5 was no limit here and refused by the service at start (a QA pass): the default, said
    monkeypatch.setenv(base.MEMORY_LIMIT_ENV, "-5")
    with caplog.at_level(logging.WARNING):
        assert memory_limit_mb() == base.MEMORY_LIMIT_MB
    assert "'-5'" in caplog.text


def test_resident_memory_is_read() -> None:
    resident = resident_mb()
    assert resident is not None and 10 < resident < 24 * 1024


@pytest.mark.parametrize("threads", [1, 2])  # one run, and a race of two
def test_a_highs_run_above_the_limit_stops(threads: int) -> None:
    model = _model()
    options = SolveOptions(time_limit=120, threads=threads, memory_limit_mb=1.0)
    raw = highs.solve(model, options)
    assert raw.memory_stopped
    assert raw.status is not Status.OPTIMAL  # stopped long before its proof
    assert "stopped at the memory limit" in raw.detail and "the limit 1 MB" in raw.detail
    highs._threads(1)
    assert highs._lingering == []


def test_under_the_limit_nothing_stops() -> None:
    plan = solve(load("conformance/generated-b"), backend="highs", time_limit=60, threads=2)
    assert plan.status == "optimal"
    assert "memory limit" not in plan.solver.detail  # type: ignore[union-attr]


def test_lpguided_and_the_portfolio_start_nothing_larger_after_it() -> None:
    model = _model()
    options = SolveOptions(time_limit=120, threads=1, memory_limit_mb=1.0)
    raw = lpguided.solve(model, options)
    assert raw.memory_stopped and raw.values is None
    assert "highs on the whole model" not in raw.detail  # no fallback run
    assert raw.status is Status.UNKNOWN and raw.bound is not None  # the LP bound is kept
    # The portfolio's LP-guided start stopped the same way: HiGHS does not run after it.
    rows = portfolio.solve(model, SolveOptions(time_limit=30, threads=1, memory_limit_mb=1.0))
    assert rows.memory_stopped
    assert "then highs" not in rows.detail


def test_a_plan_says_the_memory_limit_stopped_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(base.MEMORY_LIMIT_ENV, "1")
    plan = solve(_national(), backend="highs", time_limit=120, threads=1)
    assert plan.status in ("feasible", "unknown")
    assert "stopped at the memory limit" in plan.solver.detail  # type: ignore[union-attr]
