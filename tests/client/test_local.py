"""``Planner.local()``: the same interface as the HTTP client, solving in threads of this process."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from api.client import ApiError, Job, Plan, Planner, Scenario
from tests.api.service import wait_for


@pytest.fixture
def local() -> Iterator[Planner]:
    """A local planner with two solver threads (closed, and its solves cancelled, afterwards)."""
    with Planner.local(workers=2) as p:
        yield p


def test_solve_tiny(local: Planner, tiny: Scenario) -> None:
    plan = local.solve(tiny, time_limit=5, threads=1, progress=False)
    # the SPEC's tiny example: 2200 benefit - 320 crew-km - 25 trainees
    assert (plan.status, plan.objective, plan.bound) == ("optimal", 1855, 1855)
    assert plan.check().holds
    assert plan.label == "tiny" and plan.job_id is not None


def test_progress_bar_shows_the_result(
    local: Planner, tiny: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    local.solve(tiny, time_limit=5, threads=1)
    err = capsys.readouterr().err
    assert "tiny" in err and "done: optimal" in err and "incumbent 1,855" in err


def test_submit_cancel_keeps_the_best_plan(local: Planner, national: Scenario) -> None:
    job = local.submit(national, time_limit=60, threads=1)
    assert isinstance(job, Job) and job.status in ("queued", "running")
    wait_for(lambda: job.info()["status"] == "running", 30, "the local job to start")
    started = time.monotonic()
    local.cancel(job)
    plan_or_error: Plan | Exception
    try:
        plan_or_error = job.wait(progress=False, timeout=30)
    except Exception as exc:  # no plan found before the cancel
        plan_or_error = exc
    assert time.monotonic() - started < 20, "the solver did not stop on cancel"
    info = job.info()
    assert info["status"] == "cancelled" and info["reason"].startswith("cancelled on request")
    if isinstance(plan_or_error, Plan):
        assert plan_or_error.status in ("feasible", "optimal")
    else:
        assert "cancelled" in str(plan_or_error)


def test_batch_and_diff(local: Planner, tiny: Scenario) -> None:
    late = tiny.with_(fix={"n1": 2031}, name="n1 late")
    result = local.batch(
        {"n1 late": late, "no training cost": {"objective": {"training": 0}}},
        base=tiny,
        time_limit=5,
        threads=1,
        progress=False,
    )
    assert list(result) == ["base", "n1 late", "no training cost"]
    table = result.table
    assert table.loc["base", "objective"] == 1855
    assert (
        table.loc["no training cost", "objective"] == 1855 + 25
    )  # the same plan, trainees now free
    diff = local.diff(result["base"], result["n1 late"])
    assert [m["site"] for m in diff.doc["moved"]] == ["n1"]
    assert table.loc["n1 late", "moved"] == 1
    assert table.loc["n1 late", "objective_change"] == diff.objective_change


def test_unknown_option_and_backend(local: Planner, tiny: Scenario) -> None:
    with pytest.raises(TypeError, match="time_limt"):
        local.submit(tiny, time_limt=5)
    with pytest.raises(ApiError, match="unknown backend"):
        local.submit(tiny, backend="gurobi")
