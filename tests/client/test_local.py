"""``Planner.local()``: the same interface as the HTTP client, solving in threads of this process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from api.client import (
    ApiError,
    Batch,
    BatchTimeoutError,
    InvalidScenarioError,
    Job,
    NoBuildsError,
    NoPlanError,
    Plan,
    Planner,
    Scenario,
)
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


def test_empty_tables_have_the_columns_and_dtypes_of_full_ones(
    local: Planner, tiny: Scenario
) -> None:
    """A plan's tables without rows were ``object`` throughout, and an empty conflict set (an
    infeasibility proved, its set not found in the time) had no columns at all, so the
    notebook's ``plan.conflicts.message`` raised AttributeError (a QA pass)."""
    full = local.solve(tiny, progress=False)
    assert full.status == "optimal" and len(full.builds) and len(full.training)
    infeasible = local.solve(
        load("conformance/infeasible-technicians"), time_limit=20, threads=1, progress=False
    )
    assert infeasible.status == "infeasible"
    for table in ("builds", "crew_assignments", "training"):
        empty = getattr(infeasible, table)
        assert empty.empty
        assert empty.dtypes.to_dict() == getattr(full, table).dtypes.to_dict(), table
    doc = {**infeasible.doc, "conflicts": []}
    none = Plan(doc, infeasible.scenario).conflicts
    assert none.empty and list(none.columns[[0, -1]]) == ["group", "message"]
    assert str(none["year"].dtype) == "Int64" and none.message.tolist() == []
    assert infeasible.conflicts.dtypes["group"] == none.dtypes["group"]
    # every key column whatever groups a set has (one of build_once and window had no region)
    doc["conflicts"] = [
        {"group": "build_once", "site": "n1", "message": "built once"},
        {"group": "window", "site": "n1", "year": 2030, "message": "its window"},
    ]
    some = Plan(doc, infeasible.scenario).conflicts
    assert some.dtypes.to_dict() == none.dtypes.to_dict()
    assert some.region.isna().all() and some.year.tolist()[1] == 2030


def test_coordinates_are_floats_where_a_scenario_has_none(local: Planner, tiny: Scenario) -> None:
    """A scenario without coordinates gave ``object`` columns of None for ``lat``/``lon`` in its
    sites and its plan's builds, where the tables declare float64 (a QA pass)."""
    doc = tiny.doc
    for s in doc["sites"]:
        s.pop("lat", None), s.pop("lon", None)
    doc["crews"] = []
    for o in doc["options"]:
        o["crews"] = 0
    bare = Scenario(doc)
    assert bare.sites[["lat", "lon"]].dtypes.tolist() == ["float64", "float64"]
    plan = local.solve(bare, time_limit=20, threads=1, progress=False)
    assert plan.has_plan and len(plan.builds)
    assert plan.builds[["lat", "lon"]].dtypes.tolist() == ["float64", "float64"]
    assert plan.builds.lat.isna().all()


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


def test_a_verdict_has_no_tables_and_no_check(local: Planner, tmp_path: Path) -> None:
    """An infeasible plan's tables were all zeros and its check 19 violations, as if building
    nothing were its answer; they now refuse it, naming the plan. Its plots still draw their
    "no plan" note, and its builds are the document's empty list."""
    scenario = Scenario(load("conformance/infeasible-technicians"))
    solved = local.solve(scenario, time_limit=20, threads=1, progress=False)
    verdict = Plan.load(solved.save(tmp_path / "verdict.json"), scenario)
    assert verdict.status == "infeasible" and not verdict.has_plan
    for name in (
        "by_region_year",
        "served_population",
        "served_share",
        "served_share_national",
        "utilisation",
    ):
        with pytest.raises(NoPlanError) as caught:
            getattr(verdict, name)
        assert str(caught.value) == (
            f"plan '{verdict.label}' is infeasible: it has no builds to tabulate ({name})"
        )
        assert isinstance(caught.value, NoBuildsError) and caught.value.status == "infeasible"
    with pytest.raises(NoPlanError, match="is infeasible: it has no builds to check"):
        verdict.check()
    assert verdict.builds.empty and "site" in verdict.builds.columns
    for figure in (verdict.plot_timeline(), verdict.plot_map(), verdict.plot_served_share()):
        assert [t.get_text() for t in figure.axes[0].texts] == ["no plan (infeasible)"]
    assert "infeasible" in verdict._repr_html_() and "infeasible" in repr(verdict)


def test_a_batch_of_verdicts_tabulates_and_plots_a_note(local: Planner) -> None:
    """A batch whose base and variant are infeasible has a table (statuses, no diffs) and a
    chart that says why it is empty, where it drew empty axes without a word."""
    result = local.batch(
        {"renamed": {"name": "renamed"}},
        base=load("conformance/infeasible-technicians"),
        time_limit=20,
        threads=1,
        progress=False,
    )
    assert result.table["status"].tolist() == ["infeasible", "infeasible"]
    # no plan has a gap: float columns of NaN, as where one has (they were object)
    assert result.table[["gap", "seconds"]].dtypes.tolist() == ["float64", "float64"]
    assert result.diffs == {}
    texts = [t.get_text() for t in result.plot().axes[0].texts]
    assert texts == ["no plan to compare (base: infeasible, renamed: infeasible)"]


def test_batch_timeout_leaves_the_jobs_running(pilot: Scenario) -> None:
    """docs/client.md: ``timeout`` raises TimeoutError and leaves the jobs running, as ``wait``
    does; the batch cancelled every job instead, and said neither which nor how to reach them."""
    with Planner.local(workers=1) as local:
        with pytest.raises(BatchTimeoutError) as caught:
            local.batch(
                {
                    "a": pilot.with_(name="a"),
                    "b": pilot.with_(name="b", weights={"mobilization": 0}),
                },
                threads=1,
                time_limit=5,
                progress=False,
                timeout=0.0,
            )
        error = caught.value
        # "b" waits for the one worker; "a" may (rarely) have ended before the first look
        assert isinstance(error, TimeoutError) and "b" in error.running
        assert set(error.running) <= {"a", "b"} and set(error.jobs) == {"a", "b"}
        assert f"'b' (job {error.jobs['b'].id})" in str(error)
        for name in ("a", "b"):
            info = error.jobs[name].info()
            assert info["status"] in ("queued", "running", "done") and not info["cancel_requested"]
            assert error.jobs[name].wait(progress=False, timeout=60).status == "optimal"


def test_plan_solver_is_the_documents_solver(local: Planner, tiny: Scenario) -> None:
    """docs/client.md reads ``plan.solver["gap_limit"]``; Plan had no ``solver``."""
    plan = local.solve(tiny, time_limit=5, threads=1, gap=0.001, progress=False)
    assert plan.solver["gap_limit"] == 0.001 and plan.solver["threads"] == 1
    assert plan.solver == plan.doc["solver"] and plan.seconds == plan.solver["seconds"]
    plan.solver["backend"] = "changed"  # a copy
    assert plan.solver["backend"] != "changed"
    assert Plan({"status": "feasible", "builds": []}, tiny).solver == {}


def test_a_verdict_is_refused_as_a_baseline(local: Planner, tiny: Scenario) -> None:
    """A re-plan against an infeasible plan kept nothing: ``with_`` dropped the baseline and
    the re-plan solved as if none was given. Both refuse it, at the baseline's status, as the
    service and the CLI do, whether it is given as a Plan, a Job or a plan document."""
    scenario = Scenario(load("conformance/infeasible-technicians"))
    job = local.submit(scenario, time_limit=20, threads=1)
    verdict = job.wait(progress=False)
    assert verdict.status == "infeasible"
    message = "the baseline plan is infeasible: it has no builds to keep"
    for baseline in (verdict, job, verdict.doc):
        with pytest.raises(ApiError) as refused:
            local.submit(scenario, baseline=baseline, time_limit=5, threads=1)
        assert refused.value.errors == [{"path": "options.baseline.status", "message": message}]
        for edited in (scenario, tiny):
            with pytest.raises(InvalidScenarioError) as invalid:
                edited.with_(baseline=baseline)
            errors = [(e.path, e.message) for e in invalid.value.errors]
            assert errors == [("with_.baseline.status", message)]
    # what was kept: a plan's own baseline, and [] (documented) still removes it
    plan = local.solve(tiny, time_limit=5, threads=1, progress=False)
    kept = tiny.with_(baseline=plan)
    assert len(kept.doc["baseline"]) == len(plan.builds)
    assert "baseline" not in kept.with_(baseline=[]).doc


def test_threads_over_the_machines_cores_are_refused(local: Planner, tiny: Scenario) -> None:
    """The service refuses more threads than its MAX_THREADS (the core count by default);
    Planner.local() took up to 1024, oversubscribing the machine."""
    cores = os.cpu_count() or 1
    with pytest.raises(ApiError) as refused:
        local.submit(tiny, threads=cores + 1, time_limit=5)
    assert refused.value.status_code == 422
    assert refused.value.errors == [
        {
            "path": "options.threads",
            "message": f"{cores + 1} threads is over this service's limit of {cores}",
        }
    ]
    assert local.solve(tiny, threads=cores, time_limit=5, progress=False).objective == 1855


def test_progress_bar_of_a_time_limit_under_a_second(
    local: Planner, tiny: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    """A limit under 0.05 s was rounded to a total of 0: the bar read "0%| 0/0 s, done"."""
    local.solve(tiny, time_limit=0.04, threads=1)
    err = capsys.readouterr().err
    assert "0/0 s" not in err and "0.04/0.04 s, done" in err and "100%" in err


def test_diff_plot_of_one_region_reads_years(local: Planner, pilot: Scenario) -> None:
    """The pilot has one region: its two mean build years a hundredth apart were labelled
    "0.035 … +2.0249e3"; the axis now reads as years, without an offset."""
    a = local.solve(pilot, time_limit=10, threads=1, progress=False)
    other = pilot.with_(name="no mobilization cost", weights={"mobilization": 0})
    b = local.solve(other, time_limit=10, threads=1, progress=False)
    figure = a.compare(b).plot()
    figure.canvas.draw()
    axis = figure.axes[2].xaxis
    assert axis.get_offset_text().get_text() == ""
    ticks = [float(t.get_text()) for t in axis.get_ticklabels() if t.get_text()]
    assert ticks and all(min(pilot.years) - 1 <= t <= max(pilot.years) + 1 for t in ticks)


def test_arguments_of_the_wrong_type_are_named(local: Planner, tiny: Scenario) -> None:
    """A plan given for a scenario (``planner.solve(base)``), a batch for a plan
    (``planner.diff(base, whatif)``, ``base.compare(whatif)``), a file name for a plan document,
    an unset ``RDPLAN_URL``: each failed inside json, dict() or the job table ("the JSON object
    must be str, bytes or bytearray, not Plan", "unhashable type: 'Batch'", "'NoneType' object
    has no attribute 'rstrip'"). Each is now a TypeError naming the argument and what to give."""
    plan = local.solve(tiny, time_limit=5, threads=1, progress=False)
    batch = local.batch(
        {"late": tiny.with_(fix={"n1": 2031})}, base=plan, time_limit=5, threads=1, progress=False
    )
    scenario = "scenario: give a Scenario, a scenario document (dict or JSON text) or a path, not "
    cases: list[tuple[Any, str]] = [
        (lambda: local.solve(plan, progress=False), scenario + "Plan Plan('tiny'"),
        (lambda: local.submit(None), scenario + "NoneType None"),
        (lambda: Plan(plan.doc, None), scenario + "NoneType None"),
        (
            lambda: Plan("plan.json", tiny),
            "doc: give a plan document (dict); Plan.load(path, scenario) reads a plan file, "
            "not str 'plan.json'",
        ),
        (lambda: local.diff(plan, batch), "b: give a Plan, a Job or a job id, not Batch"),
        (lambda: plan.compare(batch), "other: give a Plan, not Batch"),
        (lambda: plan.plot_comparison(tiny), "other: give a Plan, not Scenario"),
        (lambda: local.wait(plan, progress=False), "job: give a Job or a job id (str), not Plan"),
        (lambda: local.status(batch), "job: give a Job or a job id (str), not Batch"),
        (lambda: local.cancel(None), "job: give a Job or a job id (str), not NoneType None"),
        (lambda: local.batch(["late"], base=plan), "variants[0]: give a (name, value) pair"),
        (lambda: local.batch(None, base=plan), "variants: give {name: scenario or merge patch}"),
        (lambda: local.batch({}, base=batch.jobs["late"]), "base: give a solved Plan, a scenario"),
        (lambda: Planner(os.environ.get("RDPLAN_NO_SUCH_URL")), "url: give the service's URL"),
    ]
    for call, message in cases:
        with pytest.raises(TypeError) as caught:
            call()
        assert str(caught.value).startswith(message), str(caught.value)
    with pytest.raises(TypeError, match=r"a batch's plans are batch\['name'\]"):
        local.diff(batch, plan)


def test_a_closed_planner_refuses_new_solves(tiny: Scenario) -> None:
    """A solve submitted to a closed local planner failed with concurrent.futures' "cannot
    schedule new futures after shutdown" and left its job queued for ever; it is refused,
    saying the planner is closed. The closed planner's ended jobs are still read."""
    with Planner.local() as local:
        plan = local.solve(tiny, time_limit=5, threads=1, progress=False)
    for call in (
        lambda: local.submit(tiny, time_limit=5),
        lambda: local.solve(tiny, time_limit=5, progress=False),
    ):
        with pytest.raises(RuntimeError, match=r"^this local Planner is closed \(close\(\)"):
            call()
    assert local.plan(plan.job_id).objective == 1855
    assert [t for t in threading.enumerate() if t.name.startswith("rdplan-local")] == []


def test_a_replan_job_shows_its_options_in_brief(local: Planner, tiny: Scenario) -> None:
    """A re-plan job's options hold the frozen years' trainees and the baseline's crews: on the
    national scenario hundreds of rows, so a Job shown in a notebook cell was 22,000 characters.
    Its repr counts those lists' rows; ``job.options`` still holds them."""
    plan = local.solve(tiny, time_limit=5, threads=1, progress=False)
    job = local.submit(tiny, baseline=plan, freeze_through=2030, time_limit=5, threads=1)
    job.wait(progress=False)
    crews, training = job.options["baseline_crews"], job.options["frozen_training"]
    assert crews and training and isinstance(crews[0], dict)
    text = repr(job)
    assert f"'baseline_crews': '{len(crews)} rows'" in text
    assert f"'frozen_training': '{len(training)} rows'" in text
    assert "'time_limit': 5.0" in text and "'pool'" not in text
    assert text.startswith(f"Job(id='{job.id}', label='tiny', options={{")


def test_a_script_that_ends_mid_solve_exits_without_waiting_for_it() -> None:
    # A notebook user's script that submits a local solve and ends: Python joined the solve's
    # thread at exit, so the script hung for the whole time limit. The solve is now cancelled
    # at exit, before the join. (600 s limit, 120 s to exit: the bound only tells a hang.)
    script = (
        "import json\n"
        "from api.client import Planner\n"
        "doc = json.load(open('tests/data/national-20x10.json'))\n"
        "planner = Planner.local()\n"
        "job = planner.submit(doc, time_limit=600, backend='cpsat', threads=1)\n"
        "print('submitted', flush=True)\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "submitted" in done.stdout


def test_a_timeout_or_worker_count_of_the_wrong_kind_is_named_before_any_job(
    local: Planner, tiny: Scenario
) -> None:
    # solve(timeout="5") submitted its job, then failed in the wait with "unsupported operand
    # type(s) for +: 'float' and 'str'", the job left running; Planner.local(workers=0) spoke
    # of concurrent.futures' max_workers.
    jobs = local._backend._jobs  # type: ignore[attr-defined]  # the local planner's job table
    before = len(jobs)
    with pytest.raises(TypeError, match="^timeout: .*a number of seconds or None"):
        local.solve(tiny, time_limit=5, threads=1, progress=False, timeout="5")
    with pytest.raises(TypeError, match="^timeout: "):
        local.batch({"same": {}}, base=tiny, progress=False, timeout=float("nan"))
    # a negative one submitted the job, then said "still queued after -1 s"
    with pytest.raises(ValueError, match="^timeout: a number of seconds \\(0 or more\\)"):
        local.solve(tiny, time_limit=5, threads=1, progress=False, timeout=-1)
    assert len(jobs) == before, "nothing was submitted"
    # numpy numbers, as every other argument takes them (np.int64 was refused)
    plan = local.solve(tiny, time_limit=5, threads=1, progress=False, timeout=np.int64(60))
    assert plan.status == "optimal"
    with pytest.raises(ValueError, match="^workers: .*>= 1, got 0"):
        Planner.local(workers=0)


def test_a_plot_or_a_scenario_given_the_wrong_thing_says_so(local: Planner, tiny: Scenario) -> None:
    """``plot_*(ax=axes)`` with plt.subplots(1, 2)'s array, or a Figure, failed deep inside
    matplotlib ("'numpy.ndarray' object has no attribute 'get_figure'"); ``Scenario("[1,2]")``
    looked for a file of that name; ``Scenario.load(doc)`` was pathlib's TypeError."""
    import matplotlib.pyplot as plt

    plan = local.solve(tiny, time_limit=5, threads=1, progress=False)
    fig, axes = plt.subplots(1, 2)
    try:
        for draw in (plan.plot_timeline, plan.plot_map, plan.plot_served_share):
            with pytest.raises(TypeError, match=r"^ax: give a matplotlib Axes or None \(one of"):
                draw(ax=axes)
        with pytest.raises(TypeError, match="^ax: give a matplotlib Axes or None, not Figure"):
            plan.plot_timeline(ax=fig)
        assert plan.plot_timeline(ax=axes[0]) is fig
    finally:
        plt.close(fig)
    with pytest.raises(InvalidScenarioError, match="the document must be a JSON object"):
        Scenario("[1, 2]")
    with pytest.raises(TypeError, match=r"^path: give a file's path \(a document goes to"):
        Scenario.load(tiny.doc)  # type: ignore[arg-type]


def test_a_batch_whose_base_has_no_plan_tabulates_it(local: Planner, pilot: Scenario) -> None:
    """An invalid base (or one failed or cancelled) made ``table``, ``diffs``, ``plot`` and the
    notebook's display raise KeyError (a QA pass); the batch lists it with its reason now and
    compares nothing."""
    result = local.batch(
        [("first", {"schema_version": 1, "bad": 1}), ("second", pilot)],
        time_limit=10,
        threads=1,
        backend="cpsat",
        progress=False,
    )
    assert result.base == "first" and "first" in result.errors
    table = result.table
    assert table.loc["first", "status"] == "invalid"
    assert table.loc["second", "status"] == "optimal"
    assert table["objective_change"].isna().all()
    assert result.diffs == {}
    assert "first" in result._repr_html_()
    texts = [t.get_text() for t in result.plot().axes[0].texts]
    assert texts and texts[0].startswith("no plan to compare"), texts
    # its plan asked for: why there is none, not a bare KeyError: 'first'
    with pytest.raises(KeyError, match=r"variant 'first' has no plan: .*\(batch.errors\)"):
        result["first"]
    with pytest.raises(
        KeyError, match=r"no variant 'third' in this batch; it has 'second', 'first'"
    ):
        result["third"]
    assert result["second"].status == "optimal"


def test_a_cancelled_variant_is_tabulated_as_cancelled(
    local: Planner, national: Scenario, tiny: Scenario
) -> None:
    """A variant whose job was cancelled before it found a plan read ``failed`` in the table."""
    blocker = local.submit(national, time_limit=30, threads=1, backend="cpsat")
    other = local.submit(national, time_limit=30, threads=1, backend="cpsat", seed=1)
    queued = local.submit(tiny, time_limit=5, threads=1)  # two workers busy: still queued
    local.cancel(queued)
    assert local.status(queued)["status"] == "cancelled"
    for job in (blocker, other):
        local.cancel(job)
    batch = Batch(base="base", plans={}, errors={"cut": "cancelled"}, jobs={"cut": queued})
    assert batch.table.loc["cut", "status"] == "cancelled"


def test_a_replan_takes_plan_builds_as_its_baseline(local: Planner, pilot: Scenario) -> None:
    """``baseline=plan.builds`` (the table ``with_`` takes) was refused as a DataFrame, and its
    rows as records failed at ``crews``, a column the user never set (a QA pass)."""
    base = local.solve(pilot, time_limit=20, threads=1, progress=False)
    first = min(pilot.years)
    kept = sorted(base.builds.loc[base.builds["year"] == first, "site"])
    for baseline in (base.builds, base.builds.to_dict("records")):
        plan = local.solve(
            pilot, baseline=baseline, freeze_through=first, time_limit=20, threads=1, progress=False
        )
        assert plan.status == "optimal"
        assert sorted(plan.builds.loc[plan.builds["year"] == first, "site"]) == kept
    with pytest.raises(TypeError, match="plan.builds"):
        local.submit(pilot, baseline=42, freeze_through=first)


def test_option_colours_are_distinct() -> None:
    """An option list mixing the usual names with others gave two designs one colour."""
    from api.client import _option_colours

    for options in (["basic", "large", "xl"], ["a", "b", "c", "basic", "standard", "large"]):
        colours = _option_colours(options)
        assert len(set(colours.values())) == len(options), colours


def test_regions_table_has_a_number_per_region(tiny: Scenario) -> None:
    """A per-year training capacity showed as a dict in ``regions`` (object dtype)."""
    doc = tiny.doc
    doc["regions"][0]["training_capacity"] = {"2030": 32, "2031": 30}
    scenario = Scenario(doc)
    regions = scenario.regions
    assert str(regions["training_capacity"].dtype) == "Int64"
    assert regions.loc["north", "training_capacity"] == 30  # its smallest year
    assert regions["training_capacity"].isna().tolist() == [False, True]  # south: unlimited
    capacity = scenario.training_capacity
    assert capacity.loc["north"].tolist() == [32, 30] and capacity.loc["south"].isna().all()


def test_highs_solves_overlap_in_one_process(local: Planner) -> None:
    """``Planner.local(workers=2)`` runs two solves in threads of one process, and HiGHS's
    scheduler is process-global: each solve resets it first. Solves of one and two threads,
    each reset while another runs, all end with their optimum."""
    longer = Scenario(load("conformance/generated-b"))
    jobs = [local.submit(longer, backend="highs", threads=2, time_limit=30)]
    jobs += [
        local.submit(longer, backend="highs", threads=1 + i % 2, seed=i, time_limit=30)
        for i in range(5)
    ]
    for job in jobs:
        plan = local.wait(job, progress=False)
        assert (plan.status, plan.objective) == ("optimal", 143310), plan.solver
