"""``Planner.local()``: the same interface as the HTTP client, solving in threads of this process."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from api.client import ApiError, Job, NoBuildsError, Plan, Planner, Scenario
from tests.api.service import wait_for
from tests.conftest import load


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
    # two workers: a variant that started beside the base could not start from its plan
    for name in ("n1 late", "no training cost"):
        start = result[name].doc["solver"]["start_solve"]
        assert start["id"] == result.jobs["base"].id, start
        assert start["used"] or start["why_not"] == "still running when this job started", start


def test_batch_variants_start_from_the_base_plan(tiny: Scenario) -> None:
    """One worker: the base ends before any variant starts, so each starts from its plan —
    the one it survives and the one it does not (n1 moved to 2031)."""
    with Planner.local(workers=1) as local:
        result = local.batch(
            {
                "n1 late": tiny.with_(fix={"n1": 2031}, name="n1 late"),
                "no training cost": {"objective": {"training": 0}},
            },
            base=tiny,
            time_limit=5,
            threads=1,
            progress=False,
        )
        assert "start_solve" not in result["base"].doc["solver"]
        for name in ("n1 late", "no training cost"):
            start = result[name].doc["solver"]["start_solve"]
            assert start["id"] == result.jobs["base"].id and start["used"] is True, start
        assert result["no training cost"].doc["solver"]["warm_start"]["holds"] is True
        assert result["n1 late"].doc["solver"]["warm_start"]["holds"] is False
        assert result.table.loc["n1 late", "moved"] == 1
        # a solved base plan is the start of a later batch's variants too
        again = local.batch(
            {"no training cost": {"objective": {"training": 0}}},
            base=result["base"],
            time_limit=5,
            threads=1,
            progress=False,
        )
        start = again["no training cost"].doc["solver"]["start_solve"]
        assert start["id"] == result.jobs["base"].id and start["used"] is True, start


def test_batch_from_scratch_and_a_start_that_ended_without_a_plan(
    local: Planner, tiny: Scenario
) -> None:
    result = local.batch(
        {"no training cost": {"objective": {"training": 0}}},
        base=tiny,
        time_limit=5,
        threads=1,
        progress=False,
        start_from_base=False,
    )
    assert "start_solve" not in result["no training cost"].doc["solver"]
    assert result.table.loc["no training cost", "objective"] == 1855 + 25
    # a start job that fails (an unknown backend option is caught at submit; a cancelled
    # queued job has no plan): the job solves from scratch and says why
    blocker = local.submit(tiny, time_limit=5, threads=1)
    queued = local.submit(tiny, time_limit=5, threads=1)
    third = local.submit(tiny, time_limit=5, threads=1)
    local.cancel(third)
    after = local.submit(tiny, time_limit=5, threads=1, start_solve_id=third.id)
    plan = after.wait(progress=False, timeout=60)
    assert plan.objective == 1855
    start = plan.doc["solver"]["start_solve"]
    assert start["used"] is False and "without a plan" in start["why_not"], start
    for job in (blocker, queued):
        job.wait(progress=False, timeout=60)
    with pytest.raises(ApiError) as err:
        local.submit(tiny, start_solve_id="no-such-job")
    assert [e["path"] for e in err.value.errors] == ["options.start_solve_id"]


def test_unknown_option_and_backend(local: Planner, tiny: Scenario) -> None:
    with pytest.raises(TypeError, match="time_limt"):
        local.submit(tiny, time_limt=5)
    with pytest.raises(ApiError, match="options.backend: Input should be 'cpsat'"):
        local.submit(tiny, backend="gurobi")


def test_progress_keeps_the_bound_once_known(local: Planner) -> None:
    """The portfolio's LP-guided start proves a bound, then HiGHS runs from its plan: HiGHS's
    first reports come before its root LP has a bound, and the job's progress (the bar's
    "bound … gap …") must keep the start's bound rather than drop it until HiGHS has one."""
    scenario = Scenario(load("conformance/generated-b"))  # the start does not prove it
    job = local.submit(scenario, backend="portfolio", time_limit=20, threads=1)
    plan = job.wait(progress=False)
    assert (plan.status, plan.objective) == ("optimal", 143310)
    assert "then highs" in plan.doc["solver"]["detail"]
    bounds = [p["bound"] for p in job.info()["progress"]]
    known = bounds[next(i for i, b in enumerate(bounds) if b is not None) :]
    assert None not in known, bounds
    assert known == sorted(known, reverse=True), bounds  # a maximisation: bounds only tighten


def test_batch_without_a_base_patches_the_first_variant(local: Planner, tiny: Scenario) -> None:
    """Without ``base`` the first variant is the base (docs/client.md), so a merge patch among
    the others patches it — it was refused with "the batch has no base scenario"."""
    result = local.batch(
        {"tiny": tiny, "no training cost": {"objective": {"training": 0}}},
        time_limit=5,
        threads=1,
        progress=False,
    )
    assert result.base == "tiny" and not result.errors
    assert result["no training cost"].scenario == tiny.with_(weights={"training": 0})
    assert result.table["objective"].tolist() == [1855, 1855 + 25]


def test_conflicts_table_keeps_years_integral(local: Planner) -> None:
    # The conformance example's conflict set: one member with a year, one without (SPEC §4:
    # keys typed as in the scenario). The table shows 2035, not 2035.0, and <NA> where none.
    plan = local.solve(
        load("conformance/infeasible-technicians"), time_limit=20, threads=1, progress=False
    )
    assert plan.status == "infeasible"
    table = plan.conflicts
    assert str(table["year"].dtype) == "Int64"
    assert table[["group", "region"]].values.tolist() == [
        ["quota.region_year", "R02"],
        ["technicians", "R02"],
    ]
    assert table["year"].tolist()[0] == 2035 and table["year"].isna().tolist() == [False, True]
    assert "2035.0" not in plan._repr_html_()


def test_diff_with_an_infeasible_plan_names_it_instead_of_dropping_every_site(
    local: Planner, tiny: Scenario
) -> None:
    """``planner.diff`` read an infeasible plan as one that builds nothing and listed every
    site of the other as dropped; it now refuses it, naming the plan, as the CLI and the
    service's diff (409) do."""
    plan = local.solve(tiny, time_limit=5, threads=1, progress=False)
    verdict = local.solve(
        load("conformance/infeasible-technicians"), time_limit=20, threads=1, progress=False
    )
    assert (plan.status, verdict.status) == ("optimal", "infeasible")
    for a, b, side in ((plan, verdict, "b"), (verdict, plan, "a")):
        with pytest.raises(NoBuildsError) as caught:
            local.diff(a, b)
        assert (caught.value.side, caught.value.status) == (side, "infeasible")
        assert str(caught.value) == (
            f"plan {side} ({verdict.label}) is infeasible: it has no builds to compare"
        )
    assert local.diff(plan, plan).dropped.empty
