"""The client against a real ``rdplan serve``: solve, cancel, batch, diff, DataFrames, plots."""

from __future__ import annotations

import io
import os
import time
from collections import Counter
from typing import Any

import httpx
import pandas as pd
import pytest

from api.client import ApiError, Batch, JobCancelledError, Plan, Planner, Scenario
from solver.diff import diff_plans
from solver.evaluate import evaluate
from tests.api.service import Server, wait_for
from tests.client.conftest import API_KEY, SERVER_SETTINGS, service_env
from tests.conftest import load

pytestmark = pytest.mark.service


def raw_plan(server: Server, job_id: str) -> dict[str, Any]:
    """The plan document straight from the API, without the client."""
    r = httpx.get(
        f"{server.url}/v1/solves/{job_id}/plan", headers={"X-API-Key": API_KEY}, timeout=30
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


@pytest.fixture(scope="module")
def pilot_plan(server: Server, pilot: Scenario) -> Plan:
    """The pilot scenario solved once on the server (optimal in well under a second)."""
    with Planner(server.url, api_key=API_KEY) as planner:
        plan = planner.solve(pilot, time_limit=10, threads=1, progress=False)
    assert plan.status == "optimal"
    return plan


def test_solve_blocks_and_returns_the_checked_plan(
    planner: Planner, server: Server, tiny: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = planner.solve(tiny, time_limit=5, threads=1)
    # the SPEC's tiny example: 2200 benefit - 320 crew-km - 25 trainees
    assert (plan.status, plan.objective, plan.bound, plan.gap) == ("optimal", 1855, 1855, 0.0)
    assert plan.terms == {"benefit": 2200, "mobilization": 320, "training": 25, "stability": 0}
    assert plan.job_id is not None and plan.doc == raw_plan(server, plan.job_id)
    assert evaluate(tiny.model, plan.doc).holds
    err = capsys.readouterr().err  # the tqdm bar, driven by the job's progress
    assert "done: optimal" in err and "incumbent 1,855" in err and "bound 1,855" in err


def test_bad_options_refused_alike_by_the_service_and_the_local_planner(
    planner: Planner, tiny: Scenario
) -> None:
    """Planner.local() checks a job's options with the service's own model (api.options):
    the same values refused, with the same paths and messages."""
    bad: list[dict[str, Any]] = [
        {"time_limit": -1},
        {"threads": 0},
        {"seed": -2},
        {"backend": "gurobi"},
        {"time_limit": 0, "threads": 2000},
        {"gap": 1},
        {"gap": -0.01},
    ]
    with Planner.local(workers=1) as local:
        for options in bad:
            answers = []
            for p in (planner, local):
                with pytest.raises(ApiError) as info:
                    p.submit(tiny, **options)
                answers.append((info.value.status_code, info.value.errors))
            assert answers[0] == answers[1], options
            assert answers[0][0] == 422
            assert {e["path"] for e in answers[0][1]} == {f"options.{k}" for k in options}
        with pytest.raises(ApiError, match="options.time_limit: Input should be a finite number"):
            local.submit(tiny, time_limit=float("inf"))  # JSON has no infinity to send a server


def test_threads_over_the_cores_refused_alike_by_the_service_and_the_local_planner(
    planner: Planner, tiny: Scenario
) -> None:
    """The service caps threads at its MAX_THREADS (the machine's cores by default); the local
    planner took up to 1024. Both now refuse more than the cores, with one path and message."""
    threads = (os.cpu_count() or 1) + 1
    with Planner.local(workers=1) as local:
        answers = []
        for p in (planner, local):
            with pytest.raises(ApiError) as info:
                p.submit(tiny, threads=threads, time_limit=5)
            answers.append((info.value.status_code, info.value.errors))
    assert answers[0] == answers[1]
    assert answers[0][0] == 422 and [e["path"] for e in answers[0][1]] == ["options.threads"]


def test_options_the_service_takes_the_local_planner_takes_alike(
    planner: Planner, tiny: Scenario
) -> None:
    """Values the service's options model converts — numbers as text (read from an environment
    variable, a widget), a whole float for an integer — are converted by Planner.local() too,
    not handed raw to the solver, whose job then failed with "TypeError: '>=' not supported"."""
    given: dict[str, Any] = {"time_limit": "10", "threads": "1", "seed": 3.0, "gap": "0.01"}
    taken = {"time_limit": 10.0, "threads": 1, "seed": 3, "gap": 0.01}
    with Planner.local(workers=1) as local:
        for p in (planner, local):
            plan = p.solve(tiny, progress=False, **given)
            assert (plan.status, plan.objective) == ("optimal", 1855)
            options = p.status(plan.job_id)["options"]
            assert {k: options[k] for k in taken} == taken
            assert all(type(options[k]) is type(v) for k, v in taken.items())


def test_gap_limit_reaches_the_solver_on_the_service_and_locally(planner: Planner) -> None:
    """``gap`` is a job option: stored with the job, handed to the solver, and recorded in the
    plan's ``solver.gap_limit``; the plan stops within it and holds."""
    scenario = Scenario(load("conformance/generated-b"))
    with Planner.local(workers=1) as local:
        for p in (planner, local):
            job = p.submit(scenario, gap=0.05, time_limit=30, threads=1)
            plan = p.wait(job, progress=False)
            assert p.status(job)["options"]["gap"] == 0.05
            assert plan.doc["solver"]["gap_limit"] == 0.05
            assert plan.status in ("optimal", "feasible") and plan.gap <= 0.05
            assert plan.objective <= 143310 <= plan.bound  # the conformance optimum
            assert evaluate(scenario.model, plan.doc).holds
        # Without it the job's options say nothing of a gap, and the plan is proved.
        plan = planner.solve(scenario, time_limit=30, threads=1, progress=False)
        assert (plan.status, plan.objective) == ("optimal", 143310)
        assert planner.status(plan.job_id)["options"].get("gap") is None


def _frozen(plan: Plan, through: int) -> tuple[set[Any], dict[Any, int], dict[Any, Any]]:
    doc = plan.doc
    builds = {(b["site"], b["year"], b["option"]) for b in doc["builds"] if b["year"] <= through}
    training = {
        (t["region"], t["year"]): t["trainees"] for t in doc["training"] if t["year"] <= through
    }
    crews = {
        (b["site"], b["year"]): [(c["pool"], c["count"]) for c in b["crews"]]
        for b in doc["builds"]
        if b["year"] <= through
    }
    return builds, training, crews


def test_replan_with_frozen_years_on_the_service_and_locally(planner: Planner) -> None:
    """``baseline`` + ``freeze_through``: what changes if two crews of every pool are lost in
    2033, with 2031-2032 already built. The service and the local planner derive the same
    re-planned scenario, keep the frozen years' builds, trainees and crews, and the plan
    carries that scenario (its stability reference included)."""
    scenario = Scenario(load("conformance/generated-b"))  # 2031..2034
    base = planner.solve(scenario, time_limit=30, threads=1, progress=False)
    lost = scenario.with_(crews_scale={2033: 0.6}, name="lose-crews-2033")
    plans = []
    with Planner.local(workers=1) as local:
        for p, baseline in ((planner, base), (local, base.doc)):
            job = p.submit(lost, baseline=baseline, freeze_through=2032, time_limit=60, threads=1)
            plan = p.wait(job, progress=False)
            options = p.status(job)["options"]
            assert options["freeze_through"] == 2032
            assert options["frozen_training"] and options["baseline_crews"]
            assert plan.status == "optimal"
            assert _frozen(plan, 2032) == _frozen(base, 2032)
            assert "frozen years' crews held" in plan.doc["solver"]["detail"]
            assert plan.check().holds  # against the re-planned scenario, which the plan carries
            assert plan.scenario is not None and plan.scenario.doc["baseline"]
            plans.append(plan)
        assert plans[0].objective == plans[1].objective
        # Refused alike, with the option's path.
        for p in (planner, local):
            with pytest.raises(ApiError) as info:
                p.submit(lost, baseline=base, freeze_through=2040)
            assert info.value.errors[0]["path"] == "options.freeze_through"
            with pytest.raises(ApiError) as info:
                p.submit(lost, freeze_through=2032)  # nothing to freeze
            assert info.value.errors[0]["path"] == "options.freeze_through"


def test_options_read_from_dataframes_reach_the_service(
    planner: Planner, pilot_plan: Plan, pilot: Scenario
) -> None:
    """``freeze_through=base.builds.year.min()`` is a numpy int64: the service gets the number
    (JSON has no numpy types), as the local planner does, not a TypeError from the encoder."""
    import numpy as np

    first = pilot_plan.builds["year"].min()
    assert isinstance(first, np.integer)
    with Planner.local(workers=1) as local:
        for p in (planner, local):
            job = p.submit(
                pilot,
                baseline=pilot_plan,
                freeze_through=first,
                time_limit=np.float64(10),
                threads=np.int64(1),
                seed=np.int64(3),
            )
            plan = p.wait(job, progress=False)
            options = p.status(job)["options"]
            assert (options["freeze_through"], options["seed"], options["threads"]) == (2024, 3, 1)
            assert (plan.status, plan.objective) == ("optimal", pilot_plan.objective)


def test_api_key_is_required(server: Server, tiny: Scenario) -> None:
    for key in (None, "wrong-key"):
        with Planner(server.url, api_key=key) as anonymous, pytest.raises(ApiError) as info:
            anonymous.submit(tiny)
        assert info.value.status_code == 401 and "API key" in str(info.value)


def test_service_limits_are_reported_with_paths(planner: Planner, tiny: Scenario) -> None:
    with pytest.raises(ApiError) as info:
        planner.submit(tiny, time_limit=10_000)
    assert info.value.status_code == 422
    assert [e["path"] for e in info.value.errors] == ["options.time_limit"]


def test_dataframes_match_the_plan_document(pilot_plan: Plan, pilot: Scenario) -> None:
    doc = pilot_plan.doc
    sites = {s["id"]: s for s in pilot.doc["sites"]}
    years = list(range(pilot.doc["horizon"]["start"], pilot.doc["horizon"]["end"] + 1))
    regions = [r["id"] for r in pilot.doc["regions"]]

    builds = pilot_plan.builds
    assert builds.shape == (len(doc["builds"]), 12)
    assert len(doc["builds"]) == 16  # every pilot site is required
    for row, b in zip(builds.to_dict("records"), doc["builds"], strict=True):
        assert (row["site"], row["region"], row["year"], row["option"]) == (
            b["site"],
            b["region"],
            b["year"],
            b["option"],
        )
        assert row["population"] == sites[b["site"]]["population"]
        assert (row["lat"], row["lon"]) == (sites[b["site"]]["lat"], sites[b["site"]]["lon"])
        assert row["annual_benefit"] == sites[b["site"]]["benefit"][b["option"]]
        assert row["crews"] == sum(c["count"] for c in b["crews"])
        assert row["crew_km"] == sum(c["count"] * c["distance_km"] for c in b["crews"])
    # the crew-km of the builds are the mobilisation term (SPEC §3.8)
    assert builds["crew_km"].sum() == doc["terms"]["mobilization"]
    # benefit term: annual benefit for every year from the build year to the end
    end = years[-1]
    assert ((end - builds["year"] + 1) * builds["annual_benefit"]).sum() == doc["terms"]["benefit"]

    crews = pilot_plan.crew_assignments
    assert len(crews) == sum(len(b["crews"]) for b in doc["builds"])
    assert crews["count"].sum() == builds["crews"].sum()

    training = pilot_plan.training
    assert training.shape == (len(doc["training"]), 3)
    assert training.to_dict("records") == doc["training"]
    assert training["trainees"].sum() == doc["terms"]["training"]

    by_region_year = pilot_plan.by_region_year
    assert by_region_year.shape == (len(regions), len(years))
    assert list(by_region_year.index) == regions and list(by_region_year.columns) == years
    counts = Counter((b["region"], b["year"]) for b in doc["builds"])
    for region in regions:
        for year in years:
            assert by_region_year.at[region, year] == counts[(region, year)]

    served = pilot_plan.served_share
    assert served.shape == (len(regions), len(years))
    for region in regions:
        total = sum(s["population"] for s in sites.values() if s["region"] == region)
        for year in years:
            done = sum(
                sites[b["site"]]["population"]
                for b in doc["builds"]
                if b["region"] == region and b["year"] <= year
            )
            assert served.at[region, year] == pytest.approx(done / total)
    assert served.iloc[:, -1].tolist() == [1.0] * len(regions)  # every site is built by the end
    assert (served.diff(axis=1).iloc[:, 1:] >= 0).all().all()

    usage = pilot_plan.utilisation
    assert usage["sites"].tolist() == by_region_year.sum(axis=0).tolist()
    assert (usage["crews_used"] <= usage["crews_available"]).all()
    assert (usage["cement_kt_used"] <= usage["cement_kt_limit"]).all()
    assert (usage["technicians_needed"] <= usage["technicians_ready"]).all()


def test_submit_then_cancel_a_long_solve(planner: Planner, national: Scenario) -> None:
    job = planner.submit(national, time_limit=60, threads=1)
    assert job.status in ("queued", "running")
    wait_for(lambda: job.info()["status"] == "running", 60, "the job to start", interval=0.2)
    cancelled_at = time.monotonic()
    answer = job.cancel()
    assert answer["cancel_requested"] is True
    try:
        plan = job.wait(progress=False, timeout=45)
    except JobCancelledError as exc:  # cancelled before the solver found a plan
        assert "cancelled on request" in str(exc)
    else:
        assert plan.status in ("feasible", "optimal") and plan.job_id == job.id
    assert time.monotonic() - cancelled_at < 30, "the solver did not stop on the cancel"
    info = job.info()
    assert info["status"] == "cancelled" and info["seconds"] < 60
    assert planner.cancel(job)["status"] == "cancelled"  # cancelling again is harmless


def test_batch_compares_variants_with_the_base(planner: Planner, tiny: Scenario) -> None:
    late = tiny.with_(fix={"n1": 2031}, name="n1 late")
    result = planner.batch(
        {
            "n1 late": late,
            "no mobilisation cost": {"objective": {"mobilization": 0}},
            "broken": {"sites": []},  # invalid: reported in the table, not raised
        },
        base=tiny,
        time_limit=5,
        threads=1,
    )
    assert isinstance(result, Batch)
    assert list(result) == ["base", "n1 late", "no mobilisation cost"]
    assert set(result.errors) == {"broken"} and "sites" in result.errors["broken"]
    table = result.table
    assert list(table.index) == ["base", "n1 late", "no mobilisation cost", "broken"]
    assert table.loc["broken", "status"] == "invalid"
    assert table.loc["base", "objective"] == 1855 and table.loc["base", "status"] == "optimal"
    # the base row against itself: nothing changes, and its proved range is one number, 0
    base_row = table.loc["base"]
    assert base_row["objective_change"] == base_row["change_low"] == base_row["change_high"] == 0
    # without the crew-kilometre cost the optimum is the benefit less the trainees: 2200 - 25
    assert table.loc["no mobilisation cost", "objective"] == 2175
    for name in ("n1 late", "no mobilisation cost"):
        plan = result[name]
        assert plan.job_id is not None and plan.check().holds
        d = diff_plans(result["base"].doc, plan.doc)
        row = table.loc[name]
        assert row["objective_change"] == d["objective_change"] == (plan.objective or 0) - 1855
        assert (row["moved"], row["redesigned"], row["dropped"], row["added"]) == (
            len(d["moved"]),
            len(d["redesigned"]),
            len(d["dropped"]),
            len(d["added"]),
        )
        # both optimal: the proved range of the optimum's change is one number
        assert row["change_low"] == row["change_high"] == row["objective_change"]
        # started from the base plan if the base had ended when its job started (no waiting)
        assert result.jobs[name].options["start_solve_id"] == result.jobs["base"].id
        assert result.jobs[name].options["start_wait"] is False
        start = plan.doc["solver"]["start_solve"]
        assert start["id"] == result.jobs["base"].id and start["waited_seconds"] < 1, start
    assert table.loc["n1 late", "moved"] >= 1


def test_batch_with_a_solved_base_does_not_solve_it_again(
    planner: Planner, pilot_plan: Plan, pilot: Scenario
) -> None:
    cheaper_crews = pilot.with_(weights={"mobilization": 0})
    result = planner.batch(
        {"free crews": cheaper_crews}, base=pilot_plan, time_limit=10, threads=1, progress=False
    )
    assert list(result.jobs) == ["free crews"]
    assert result["base"].doc == pilot_plan.doc
    # dropping a cost term can only raise the optimum
    assert result.table.loc["free crews", "objective_change"] >= 0
    # the solved base's job is the variant's start, long ended: its plan is used, and holds
    solver = result["free crews"].doc["solver"]
    assert solver["start_solve"] == {
        "id": pilot_plan.job_id,
        "waited_seconds": solver["start_solve"]["waited_seconds"],
        "used": True,
    }
    assert solver["warm_start"]["holds"] is True


def test_diff_of_two_jobs(planner: Planner, server: Server, tiny: Scenario) -> None:
    a = planner.submit(tiny, time_limit=5, threads=1)
    b = planner.submit(tiny.with_(fix={"n1": 2031, "s1": (2031, "basic")}), time_limit=5, threads=1)
    a.wait(progress=False)
    b.wait(progress=False)
    diff = planner.diff(a.id, b.id)  # by id: plans and scenarios fetched from the server
    expected = diff_plans(raw_plan(server, a.id), raw_plan(server, b.id))
    assert diff.doc == expected
    assert diff.moved[["site", "region", "from", "to"]].to_dict("records") == expected["moved"]
    assert diff.redesigned.to_dict("records") == expected["redesigned"]
    assert ("n1", 1) in set(zip(diff.moved["site"], diff.moved["shift"], strict=True))
    assert {"site": "s1", "region": "south", "from": "large", "to": "basic"} in expected[
        "redesigned"
    ]
    terms = diff.terms
    assert terms.loc["objective", "change"] == diff.objective_change == expected["objective_change"]
    assert diff.summary["moved"] == len(expected["moved"])
    assert diff.by_region.loc["north", "later"] >= 1
    assert "<table>" in diff._repr_html_()


def png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    return buffer.getvalue()


def test_plots_render_to_png(planner: Planner, pilot_plan: Plan, pilot: Scenario) -> None:
    fewer = pilot.with_(crews_scale={2025: 0.5}, name="half the crews in 2025")
    other = planner.solve(fewer, time_limit=10, threads=1, progress=False)
    assert other.status == "optimal"
    batch = Batch(base="base", plans={"base": pilot_plan, "half the crews": other})
    for fig in (
        pilot_plan.plot_timeline(),
        pilot_plan.plot_map(),
        pilot_plan.plot_served_share(),
        pilot_plan.plot_comparison(other),
        planner.diff(pilot_plan, other).plot(),
        batch.plot(),
    ):
        data = png(fig)
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000
    assert (
        len(pilot_plan.plot_timeline().axes[0].collections[0].get_paths()) == 16
    )  # one box per build
    # a plan without builds still draws (with a note), so a notebook cell never fails on it
    empty = Plan({"status": "unknown", "builds": []}, pilot, label="nothing")
    for fig in (empty.plot_timeline(), empty.plot_map(), empty.plot_served_share()):
        assert png(fig).startswith(b"\x89PNG")


def test_html_summaries(pilot_plan: Plan, pilot: Scenario) -> None:
    html = pilot_plan._repr_html_()
    assert "optimal" in html and f"{pilot_plan.objective:,}" in html
    assert "<table" in pilot._repr_html_()
    assert isinstance(pilot_plan.served_share_national, pd.Series)


def test_a_closed_planner_says_so(server: Server, tiny: Scenario) -> None:
    """A call on a closed Planner raised httpx's "Cannot send a request, as the client has
    been closed" from inside httpx; it now names the planner and what to do."""
    with Planner(server.url, api_key=API_KEY) as planner:
        assert planner.health()["status"] == "ok"
    for call in (lambda: planner.submit(tiny, time_limit=5), planner.health):
        with pytest.raises(RuntimeError, match=rf"^this Planner of {server.url} is closed"):
            call()


def test_a_start_is_given_as_a_job_or_its_plan(planner: Planner, tiny: Scenario) -> None:
    """``start_solve_id=job`` raised a JSON TypeError from inside httpx over HTTP (a QA pass):
    a Job, its id or its Plan are taken, alike on the service and locally."""
    with Planner.local(workers=1) as local:
        for p in (planner, local):
            first = p.submit(tiny, time_limit=5, threads=1)
            plan = p.wait(first, progress=False)
            for start in (first, first.id, plan):
                job = p.submit(tiny, start_solve_id=start, time_limit=5, threads=1)
                started = p.wait(job, progress=False).doc["solver"]["start_solve"]
                assert started["id"] == first.id and started["used"] is True, started
            with pytest.raises(TypeError, match="start_solve_id"):
                p.submit(tiny, start_solve_id=42)


def test_a_batch_variant_over_the_service_limits_is_listed_not_raised(
    tmp_path: Any, tiny: Scenario
) -> None:
    """One variant over the service's size limits (413) aborted the whole client batch and
    cancelled the jobs already submitted (a QA pass); the service's own batches list it."""
    small = Server(tmp_path, service_env(**{**SERVER_SETTINGS, "max_sites": 4}), api_key=API_KEY)
    with small.running(), Planner(small.url, api_key=API_KEY) as p:
        doc = tiny.doc
        doc["sites"] = doc["sites"] + [
            {**doc["sites"][0], "id": f"extra{i}", "name": f"extra {i}"} for i in range(2)
        ]
        result = p.batch(
            [("big", Scenario(doc)), ("cheaper crews", {"objective": {"mobilization": 0}})],
            base=tiny,
            time_limit=5,
            threads=1,
            progress=False,
        )
        assert "4" in result.errors["big"] and "big" not in result.jobs, result.errors
        assert result.table.loc["big", "status"] == "invalid"
        assert result.table.loc["cheaper crews", "status"] == "optimal"
        assert {p.status(j)["status"] for j in result.jobs.values()} == {"done"}
