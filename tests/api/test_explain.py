"""Issue #5 over HTTP: validation with counting checks, variants, what-if batches, plan diffs
and re-planning against a baseline job — on the real uvicorn server (SQLite, worker processes)."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from tests.api import flows
from tests.api.service import Server, wait_for

pytestmark = [pytest.mark.service, pytest.mark.timeout(300)]

UNKNOWN_JOB = "00000000-0000-4000-8000-000000000000"
#: tiny.json with the objective's mobilization weight 0: optimum 2175 (same builds).
NO_MOBILIZATION = {"objective": {"mobilization": 0}}
#: a horizon that starts after it ends: the patched document is invalid.
BROKEN = {"horizon": {"start": 2035}}


@pytest.fixture
def client(sqlite_server: Server) -> httpx.Client:
    return sqlite_server.client()


def paths(body: dict[str, Any]) -> list[str]:
    return [e["path"] for e in body["errors"]]


def solved(client: httpx.Client, doc: dict[str, Any], **options: Any) -> dict[str, Any]:
    """A tiny solve run to its end (done)."""
    submitted = flows.submit(client, doc, time_limit=10, **options)
    final = flows.wait_status(client, submitted["id"], flows.TERMINAL)
    assert final["status"] == "done", final
    return final


def test_validate_reports_errors_and_counting_checks(
    client: httpx.Client, tiny_doc: dict[str, Any]
) -> None:
    r = client.post("/v1/validate", json=tiny_doc)
    assert r.status_code == 200, r.text
    assert r.json() == {"valid": True, "errors": [], "warnings": []}

    # valid, but the yearly minimums need more sites than there are: a counting check fails
    short = {**tiny_doc, "quotas": {"year": {"min": 3, "max": 3}}}
    body = client.post("/v1/validate", json=short).json()
    assert body["valid"] is True and body["errors"] == []
    assert [(w["check"], w["path"]) for w in body["warnings"]] == [("quota.year", "quotas.year")]
    assert "4 sites" in body["warnings"][0]["message"]
    # more required sites than the yearly maximums allow: said nationally too, as per region
    capped = {**tiny_doc, "quotas": {"year": {"max": 1}}}
    body = client.post("/v1/validate", json=capped).json()
    assert [(w["check"], w["path"]) for w in body["warnings"]] == [("quota.year", "quotas.year")]
    assert "3 required sites" in body["warnings"][0]["message"], body
    assert "at most 2 builds" in body["warnings"][0]["message"], body

    bad = copy.deepcopy(tiny_doc)
    bad["sites"][0]["region"] = "nowhere"
    bad["horizon"]["end"] = 2031.5
    body = client.post("/v1/validate", json=bad).json()
    assert body["valid"] is False and body["warnings"] == []
    assert {"sites[0].region", "horizon.end"} <= set(paths(body))
    assert "validate" not in client.get("/v1/scenarios").text  # nothing was stored

    # garbage is an answer, not an error
    for garbage in ([1, 2], "text", 3, None, {}):
        # JSON's null sent (httpx's json=None sends no body, which is no document: 422)
        r = client.post(
            "/v1/validate",
            content=json.dumps(garbage).encode(),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 200, (garbage, r.text)
        assert r.json()["valid"] is False and r.json()["errors"], garbage
    assert paths(client.post("/v1/validate", json=[1]).json()) == [""]
    r = client.post(
        "/v1/validate", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and paths(r.json()) == [""]


def test_variants_of_a_stored_scenario(client: httpx.Client, tiny_variant: Any) -> None:
    base = client.post("/v1/scenarios", json=tiny_variant("variant-base")).json()["id"]
    r = client.post(
        f"/v1/scenarios/{base}/variants", json={"name": "tiny-free-moves", "patch": NO_MOBILIZATION}
    )
    assert r.status_code == 201, r.text
    variant = r.json()
    assert variant["base"] == base and variant["id"] != base
    assert variant["name"] == "tiny-free-moves" and variant["sites"] == 4
    assert variant["document"]["objective"]["mobilization"] == 0
    assert variant["document"]["objective"]["benefit"] == 1  # merged, not replaced
    assert r.headers["location"] == f"/v1/scenarios/{variant['id']}"
    assert client.get(f"/v1/scenarios/{variant['id']}").json()["document"] == variant["document"]
    again = client.post(
        f"/v1/scenarios/{base}/variants", json={"name": "tiny-free-moves", "patch": NO_MOBILIZATION}
    )
    assert again.status_code == 200 and again.json()["id"] == variant["id"]

    r = client.post(f"/v1/scenarios/{base}/variants", json={"patch": BROKEN})
    assert r.status_code == 422, r.text
    # the horizon's own error, not its echo in every window that takes its years
    assert paths(r.json()) == ["horizon"]
    r = client.post(f"/v1/scenarios/{base}/variants", json={"patch": {"sites": None}})
    assert r.status_code == 422 and "sites" in paths(r.json())
    r = client.post(f"/v1/scenarios/{base}/variants", json={"patch": [1]})
    assert r.status_code == 422 and paths(r.json()) == ["patch"]
    r = client.post(f"/v1/scenarios/{'a' * 64}/variants", json={"patch": NO_MOBILIZATION})
    assert r.status_code == 404 and r.json()["detail"]


def test_batch_compares_variants_with_the_base(
    client: httpx.Client, tiny_doc: dict[str, Any]
) -> None:
    r = client.post(
        "/v1/batches",
        json={
            "scenario": tiny_doc,
            "variants": [
                {"name": "no-mobilization", "patch": NO_MOBILIZATION},
                {"name": "broken", "patch": BROKEN},
            ],
            "grid": {"objective.training": [2]},
            "options": {"time_limit": 10, "threads": 1},
        },
    )
    assert r.status_code == 202, r.text
    batch = r.json()
    assert r.headers["location"] == f"/v1/batches/{batch['id']}"
    assert batch["status"] == "running"
    assert list(batch["jobs"]) == ["base", "no-mobilization", "broken", "objective.training=2"]
    assert batch["jobs"]["broken"] is None
    assert all(batch["jobs"][n] for n in ("base", "no-mobilization", "objective.training=2"))
    assert list(batch["errors"]) == ["broken"]
    assert "horizon" in [e["path"] for e in batch["errors"]["broken"]]

    def done() -> dict[str, Any] | None:
        out: dict[str, Any] = client.get(f"/v1/batches/{batch['id']}").json()
        return out if out["status"] == "done" else None

    final = wait_for(done, 120, "the batch to be done", interval=0.3)
    assert final["job_statuses"] == {
        "base": "done",
        "no-mobilization": "done",
        "broken": None,
        "objective.training=2": "done",
    }
    table = {row["variant"]: row for row in final["table"]}
    assert list(table) == ["base", "no-mobilization", "broken", "objective.training=2"]
    base = table["base"]
    assert base["objective"] == 1855 and base["status"] == "optimal" and base["gap"] == 0
    assert base["objective_change"] == 0 and base["job_id"] == batch["jobs"]["base"]
    assert (base["benefit"], base["mobilization"], base["training"]) == (2200, 320, 25)
    free = table["no-mobilization"]
    assert free["objective"] == 2175 and free["objective_change"] == 320
    assert free["job_status"] == "done" and free["job_id"] == batch["jobs"]["no-mobilization"]
    # its crews may move freely; the sites, their years and options stay optimal for benefit
    assert all(isinstance(free[k], int) for k in ("moved", "redesigned", "dropped", "added"))
    assert table["objective.training=2"]["objective"] == 1830
    assert table["objective.training=2"]["objective_change"] == -25
    broken = table["broken"]
    assert broken["status"] == "invalid" and broken["job_id"] is None
    assert broken["objective"] is None and broken["moved"] is None
    # an ended batch's table, kept once built, is the same on every poll
    assert [done() for _ in range(3)] == [final] * 3

    listed = client.get("/v1/batches", params={"limit": 100}).json()
    assert batch["id"] in [b["id"] for b in listed["items"]] and listed["total"] >= 1
    item = next(b for b in listed["items"] if b["id"] == batch["id"])
    assert item["status"] == "done" and item["table"] is None

    # the jobs are ordinary solves: the variant's plan diffs against the base's
    r = client.get(f"/v1/solves/{batch['jobs']['base']}/diff/{batch['jobs']['no-mobilization']}")
    assert r.status_code == 200, r.text
    assert r.json()["objective_change"] == 320

    # a variant whose job started after the base's ended started from its plan (which holds
    # in both); with two workers the first variant runs beside the base, and nobody waits
    assert "start_solve" not in flows.plan(client, batch["jobs"]["base"])["solver"]
    for name in ("no-mobilization", "objective.training=2"):
        job = flows.job(client, batch["jobs"][name])
        assert job["options"]["start_solve_id"] == batch["jobs"]["base"], job["options"]
        assert job["options"]["start_wait"] is False
        solver = flows.plan(client, job["id"])["solver"]
        start = solver["start_solve"]
        assert start["id"] == batch["jobs"]["base"] and start["waited_seconds"] < 1, start
        if start["used"]:
            assert solver["warm_start"]["holds"] is True, solver["warm_start"]
        else:
            assert start["why_not"].endswith("when this job started"), start


def test_batch_without_start_from_base_and_solves_from_a_start(
    client: httpx.Client, tiny_variant: Any, long_doc: dict[str, Any]
) -> None:
    doc = tiny_variant("start-from")
    r = client.post(
        "/v1/batches",
        json={
            "scenario": doc,
            "variants": [{"name": "free-moves", "patch": NO_MOBILIZATION}],
            "start_from_base": False,
            "options": {"time_limit": 10, "threads": 1},
        },
    )
    assert r.status_code == 202, r.text
    variant = r.json()["jobs"]["free-moves"]
    assert flows.job(client, variant)["options"]["start_solve_id"] is None
    final = flows.wait_status(client, variant, flows.TERMINAL)
    assert final["status"] == "done" and final["result"]["objective"] == 2175
    assert "start_solve" not in flows.plan(client, variant)["solver"]

    # one solve starting from another's plan: the scenario is unchanged (no stability term)
    base = solved(client, doc)
    free = {**doc, "name": "start-from-free", "objective": {**doc["objective"], "mobilization": 0}}
    started = solved(client, free, start_solve_id=base["id"])
    assert started["options"]["start_solve_id"] == base["id"]
    assert started["result"]["objective"] == 2175
    solver = flows.plan(client, started["id"])["solver"]
    assert solver["start_solve"]["used"] is True and solver["warm_start"]["holds"] is True

    # a start from another scenario's plan (no build of it is a site here) is not used
    other = solved(
        client,
        {
            **doc,
            "name": "start-from-other",
            "sites": [{**site, "id": f"other-{site['id']}"} for site in doc["sites"]],
        },
    )
    foreign = solved(client, free, start_solve_id=other["id"])
    start = flows.plan(client, foreign["id"])["solver"]["start_solve"]
    assert start["used"] is False, start
    assert start["why_not"] == "none of its plan's builds is a site of this scenario", start

    # a batch whose options name a start: every job starts from it (start_from_base or not)
    r = client.post(
        "/v1/batches",
        json={
            "scenario": free,
            "variants": [{"name": "cheap-training", "patch": {"objective": {"training": 0}}}],
            "options": {"time_limit": 10, "threads": 1, "start_solve_id": base["id"]},
        },
    )
    assert r.status_code == 202, r.text
    for job_id in r.json()["jobs"].values():
        final = flows.wait_status(client, job_id, flows.TERMINAL)
        assert final["status"] == "done", final
        assert final["options"]["start_solve_id"] == base["id"], final["options"]
        start = flows.plan(client, job_id)["solver"]["start_solve"]
        assert start["id"] == base["id"] and start["used"] is True, start

    # a start that is still running is waited for; its cancel (no plan yet) means from scratch
    long_job = flows.submit(client, long_doc, time_limit=30)
    waiting = flows.submit(client, free, time_limit=10, start_solve_id=long_job["id"])
    flows.wait_status(client, long_job["id"], {"running"}, timeout=30)
    client.delete(f"/v1/solves/{long_job['id']}")
    final = flows.wait_status(client, waiting["id"], flows.TERMINAL, timeout=90)
    assert final["status"] == "done" and final["result"]["objective"] == 2175
    start = flows.plan(client, waiting["id"])["solver"]["start_solve"]
    assert start["id"] == long_job["id"] and start["waited_seconds"] > 0, start
    ended = flows.job(client, long_job["id"])
    if start["used"]:  # the long job found a plan before its cancel: that plan was the start
        assert ended["result"] is not None, (start, ended)
    else:
        assert "without a plan" in start["why_not"], start


def test_a_batch_is_cancelled_as_a_whole(client: httpx.Client, long_doc: dict[str, Any]) -> None:
    # Three national solves of 60 s on two worker processes: two run, one waits. One DELETE
    # stops them all (there was no way but a DELETE per job); the batch ends done, its table
    # with each job's status.
    r = client.post(
        "/v1/batches",
        json={
            "scenario": long_doc,
            "grid": {"balance.tolerance_pct": [10, 20]},
            "options": {"time_limit": 60, "threads": 1, "backend": "cpsat"},
        },
    )
    assert r.status_code == 202, r.text
    batch = r.json()
    flows.wait_running_with_progress(client, batch["jobs"]["base"])
    r = client.delete(f"/v1/batches/{batch['id']}")
    assert r.status_code == 202, r.text
    assert r.json()["id"] == batch["id"]

    def ended() -> dict[str, Any] | None:
        body = client.get(f"/v1/batches/{batch['id']}").json()
        return body if body["status"] == "done" else None

    done = wait_for(ended, 30, "the cancelled batch to end")
    statuses = {row["variant"]: row["job_status"] for row in done["table"]}
    assert statuses == dict.fromkeys(batch["jobs"], "cancelled")
    for job_id in batch["jobs"].values():
        job = client.get(f"/v1/solves/{job_id}").json()
        assert job["status"] == "cancelled", job
        assert job["seconds"] is None or job["seconds"] < 60, job  # stopped, not timed out
    again = client.delete(f"/v1/batches/{batch['id']}")
    assert again.status_code == 202 and again.json()["status"] == "done"
    missing = client.delete(f"/v1/batches/{UNKNOWN_JOB}")
    assert missing.status_code == 404, missing.text


def test_invalid_batches(client: httpx.Client, tiny_doc: dict[str, Any]) -> None:
    patch = {"patch": NO_MOBILIZATION}
    for body, path in (
        ({"scenario": tiny_doc}, "variants"),
        ({"scenario": tiny_doc, "variants": [{"name": "base", **patch}]}, "variants[0].name"),
        (
            {"scenario": tiny_doc, "variants": [{"name": "a", **patch}, {"name": "a", **patch}]},
            "variants[1].name",
        ),
        ({"scenario": tiny_doc, "grid": {"objective": [{}], "objective.training": [1]}}, "grid"),
        ({"scenario": tiny_doc, "grid": {"objective.training": list(range(51))}}, "grid"),
        ({"scenario": tiny_doc, "grid": {"objective..training": [1]}}, "grid"),
        ({"scenario": tiny_doc, "grid": {"objective.training": []}}, "grid.objective.training"),
        # one variant name twice: "is also a variant's name" said no variant had it
        ({"scenario": tiny_doc, "grid": {"objective.training": [0, 0]}}, "grid.objective.training"),
        (
            {"scenario": tiny_doc, "grid": {"objective.training": [1, "1"]}},
            "grid.objective.training",
        ),
        ({"variants": [patch]}, "scenario"),
        ({"scenario_id": "0" * 64, "variants": [patch]}, "scenario_id"),
        ({"scenario": {**tiny_doc, "horizon": None}, "variants": [patch]}, "horizon"),
        (
            {"scenario": tiny_doc, "variants": [patch], "options": {"time_limit": 10_000}},
            "options.time_limit",
        ),
    ):
        r = client.post("/v1/batches", json=body)
        assert r.status_code == 422, (body, r.text)
        assert any(p.startswith(path) for p in paths(r.json())), (path, r.json())
    # every error of the request's form at once: {} named the variants, then the scenario
    r = client.post("/v1/batches", json={})
    assert r.status_code == 422 and paths(r.json()) == ["scenario", "variants"], r.text
    r = client.post("/v1/batches", json={"scenario": tiny_doc, "grid": {"sites.0.x": [1]}})
    [error] = r.json()["errors"]  # the key at fault, without pydantic's "[key]" mark
    assert error["path"] == "grid.sites.0.x" and error["message"].startswith("the key 'sites.0.x'")
    # the same words as rdplan batch --variants: no pydantic class name, the name's rule
    r = client.post(
        "/v1/batches",
        json={"scenario": tiny_doc, "variants": ["oops", {"name": 7, **patch}]},
    )
    assert r.json()["errors"] == [
        {"path": "variants[0]", "message": "must be a JSON object"},
        {"path": "variants[1].name", "message": "a name is a string of 1 to 100 characters, not 7"},
    ]
    assert client.get(f"/v1/batches/{UNKNOWN_JOB}").status_code == 404
    assert client.get("/v1/batches", params={"limit": 0}).status_code == 422


def test_diff_between_two_solves(client: httpx.Client, tiny_variant: Any) -> None:
    doc = tiny_variant("diff-a")
    a = solved(client, doc)
    b = solved(client, {**doc, "name": "diff-b", "objective": {**doc["objective"], "training": 2}})
    r = client.get(f"/v1/solves/{a['id']}/diff/{b['id']}")
    assert r.status_code == 200, r.text
    diff = r.json()
    assert diff["a"] == {"scenario": "diff-a", "status": "optimal", "objective": 1855}
    assert diff["b"]["objective"] == 1830 and diff["objective_change"] == -25
    assert diff["terms"]["training"] == {"a": 25, "b": 25}
    assert diff["unchanged"] + len(diff["moved"]) + len(diff["redesigned"]) >= 1
    assert sum(v["a"] for v in diff["builds_per_year"].values()) == 3
    served = diff["served_population"]
    assert served["years"] == [2030, 2031] and set(served["a"]) == {"north", "south"}

    same = client.get(f"/v1/solves/{a['id']}/diff/{a['id']}").json()
    assert same["objective_change"] == 0 and same["unchanged"] == 3
    assert same["moved"] == same["redesigned"] == same["dropped"] == same["added"] == []

    assert client.get(f"/v1/solves/{UNKNOWN_JOB}/diff/{a['id']}").status_code == 404
    assert client.get(f"/v1/solves/{a['id']}/diff/{UNKNOWN_JOB}").status_code == 404
    # an id not of the service's form is no such job: 404, as the README says (it was 422)
    r = client.get(f"/v1/solves/{a['id']}/diff/not-a-uuid")
    assert r.status_code == 404 and "not-a-uuid" in r.json()["detail"], r.text
    assert r.json()["errors"][0]["path"] == "path.other_id", r.text
    for path in (
        "/v1/solves/xyz",
        "/v1/solves/xyz/events",
        "/v1/solves/xyz/plan",
        "/v1/batches/xyz",
        "/v1/scenarios/zz",
        "/v1/scenarios/zz/variants",
    ):
        method = "POST" if path.endswith("variants") else "GET"
        r = client.request(method, path, json={"patch": {}} if method == "POST" else None)
        assert r.status_code == 404, (path, r.text)
    assert client.delete("/v1/solves/xyz").status_code == 404


def test_diff_of_plans_of_other_sites_draws_each_on_its_own_sites(
    client: httpx.Client, tiny_variant: Any
) -> None:
    # a's sites renamed: on b's scenario its builds served no one (every curve of a was 0)
    doc = tiny_variant("renamed-a")
    for site in doc["sites"]:
        site["id"] = "x-" + site["id"]
    doc["baseline"] = [dict(b, site="x-" + b["site"]) for b in doc.get("baseline", [])]
    a = solved(client, doc)
    b = solved(client, tiny_variant("renamed-b"))
    diff = client.get(f"/v1/solves/{a['id']}/diff/{b['id']}").json()
    served = diff["served_population"]
    assert served["a"] == served["b"], served  # the same builds under other names
    assert sum(served["a"]["north"]) > 0
    # another horizon: no axis of years in common, so no curves (not a's on b's years)
    later = tiny_variant("later")
    later["horizon"] = {"start": 2030, "end": 2032}
    c = solved(client, later)
    other = client.get(f"/v1/solves/{c['id']}/diff/{b['id']}").json()
    assert other["served_population"] is None


def test_diff_with_a_job_that_found_no_plan_is_409(client: httpx.Client, tiny_variant: Any) -> None:
    """An infeasible (or unknown) plan has no builds: a diff against it is not "every site
    dropped" but no comparison at all, as in a batch's table (moved/dropped null)."""
    a = solved(client, tiny_variant("diff-planned"))
    # 4 sites, one of them optional, but 3 builds every year of two: infeasible
    infeasible = {**tiny_variant("diff-infeasible"), "quotas": {"year": {"min": 3, "max": 3}}}
    b = solved(client, infeasible)
    assert b["result"]["status"] == "infeasible"
    for x, y in ((a, b), (b, a), (b, b)):
        r = client.get(f"/v1/solves/{x['id']}/diff/{y['id']}")
        assert r.status_code == 409, r.text
        assert b["id"] in r.json()["detail"] and "infeasible" in r.json()["detail"]
    # its plan document (with the conflicts) is still there; its builds as CSV are not a
    # header alone (a plan that builds nothing), but 409 too
    assert client.get(f"/v1/solves/{b['id']}/plan").json()["conflicts"]
    r = client.get(f"/v1/solves/{b['id']}/plan", params={"format": "csv"})
    assert r.status_code == 409, r.text
    assert r.json()["detail"].endswith("its plan is infeasible: it has no builds to list")


def test_replan_keeps_the_frozen_years_of_the_baseline(
    client: httpx.Client, tiny_variant: Any
) -> None:
    doc = tiny_variant("replan")
    baseline = solved(client, doc)
    baseline_plan = flows.checked_plan(client, baseline["id"], doc)
    r = client.post(
        "/v1/solves",
        json={
            "scenario_id": baseline["scenario_id"],
            "options": {
                "time_limit": 10,
                "threads": 1,
                "baseline_solve_id": baseline["id"],
                "freeze_through": 2030,
            },
        },
    )
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["options"]["baseline_solve_id"] == baseline["id"]
    assert job["options"]["freeze_through"] == 2030
    assert job["options"]["base_scenario_id"] == baseline["scenario_id"]
    assert job["scenario_id"] != baseline["scenario_id"]
    # the scenario's jobs list its re-plans; the re-planned scenario's, the re-plan alone
    of_base = client.get("/v1/solves", params={"scenario": baseline["scenario_id"]}).json()
    assert {j["id"] for j in of_base["items"]} == {baseline["id"], job["id"]}
    assert of_base["total"] == 2
    of_replan = client.get("/v1/solves", params={"scenario": job["scenario_id"]}).json()
    assert [j["id"] for j in of_replan["items"]] == [job["id"]]

    # the job runs on the stored re-planned scenario: the baseline's 2030 builds are fixed
    derived = client.get(f"/v1/scenarios/{job['scenario_id']}").json()["document"]
    assert derived["baseline"] == [
        {"site": b["site"], "year": b["year"], "option": b["option"]}
        for b in baseline_plan["builds"]
    ]
    frozen = {
        (b["site"], b["year"], b["option"]) for b in baseline_plan["builds"] if b["year"] <= 2030
    }
    assert (
        frozen
        and {
            (s["id"], s["fixed"]["year"], s["fixed"]["option"])
            for s in derived["sites"]
            if "fixed" in s
        }
        == frozen
    )

    # ... and its frozen year's training is the baseline plan's: the capacity, and the amount
    # the job holds every plan to
    trained = {(t["region"], t["year"]): t["trainees"] for t in baseline_plan["training"]}
    assert {region["id"]: region["training_capacity"]["2030"] for region in derived["regions"]} == {
        region["id"]: trained.get((region["id"], 2030), 0) for region in derived["regions"]
    }
    assert job["options"]["frozen_training"] == [
        {"region": region["id"], "year": 2030, "trainees": trained.get((region["id"], 2030), 0)}
        for region in sorted(derived["regions"], key=lambda r: r["id"])
    ]

    # ... and so are its crews (the job has all the baseline's: the others are preferred)
    crews = [
        {"site": b["site"], "year": b["year"], "pool": c["pool"], "count": c["count"]}
        for b in sorted(baseline_plan["builds"], key=lambda b: (b["site"], b["year"]))
        for c in b["crews"]
    ]
    assert crews and job["options"]["baseline_crews"] == crews
    frozen_crews = [c for c in crews if c["year"] <= 2030]

    final = flows.wait_status(client, job["id"], flows.TERMINAL)
    assert final["status"] == "done", final
    plan = flows.checked_plan(client, job["id"], derived)
    assert {
        (t["region"], t["year"]): t["trainees"] for t in plan["training"] if t["year"] <= 2030
    } == {k: v for k, v in trained.items() if k[1] <= 2030 and v}
    assert [
        {"site": b["site"], "year": b["year"], "pool": c["pool"], "count": c["count"]}
        for b in sorted(plan["builds"], key=lambda b: b["site"])
        if b["year"] <= 2030
        for c in b["crews"]
    ] == frozen_crews
    assert "frozen years' crews held at the baseline's" in plan["solver"]["detail"]
    assert {
        (b["site"], b["year"], b["option"]) for b in plan["builds"] if b["year"] <= 2030
    } == frozen
    assert plan["objective"] == 1855  # the baseline is optimal and stability weighs 0
    diff = client.get(f"/v1/solves/{baseline['id']}/diff/{job['id']}").json()
    assert diff["moved"] == diff["dropped"] == diff["added"] == []

    # an inline baseline plan document works the same way
    r = client.post(
        "/v1/solves",
        json={
            "scenario": doc,
            "options": {"time_limit": 10, "threads": 1, "baseline": baseline_plan},
        },
    )
    assert r.status_code == 202, r.text
    assert r.json()["options"]["baseline_solve_id"] is None
    assert r.json()["options"]["freeze_through"] is None
    flows.wait_status(client, r.json()["id"], flows.TERMINAL)


def test_replan_errors(client: httpx.Client, tiny_variant: Any, long_doc: dict[str, Any]) -> None:
    doc = tiny_variant("replan-errors")
    baseline = solved(client, doc)
    sid = baseline["scenario_id"]
    good = {"time_limit": 10, "threads": 1}
    for options, path in (
        ({"baseline_solve_id": baseline["id"], "freeze_through": 2040}, "options.freeze_through"),
        ({"baseline_solve_id": UNKNOWN_JOB}, "options.baseline_solve_id"),
        ({"baseline_solve_id": "nope"}, "options.baseline_solve_id"),
        ({"freeze_through": 2030}, "options.freeze_through"),
        ({"baseline": {"status": "optimal"}}, "options.baseline.builds"),
        # a verdict has no builds to keep: it solved as if no baseline were given
        ({"baseline": {"status": "unknown", "builds": []}}, "options.baseline.status"),
        # a crew count past any pool's failed the job (OverflowError) after a 202
        (
            {
                "baseline": {
                    "builds": [
                        {
                            "site": "n1",
                            "year": 2030,
                            "option": "basic",
                            "crews": [{"pool": "k1", "count": 10**30, "distance_km": 1}],
                        }
                    ]
                },
                "freeze_through": 2030,
            },
            "options.baseline.builds[0].crews[0]",
        ),
        # training of a year outside the horizon, or a region and year twice (the second won)
        (
            {
                "baseline": {
                    "builds": [],
                    "training": [{"region": "north", "year": 1990, "trainees": 1}],
                },
                "freeze_through": 2030,
            },
            "options.baseline.training[0].year",
        ),
        (
            {
                "baseline": {
                    "builds": [],
                    "training": [
                        {"region": "north", "year": 2030, "trainees": 0},
                        {"region": "north", "year": 2030, "trainees": 10},
                    ],
                },
                "freeze_through": 2030,
            },
            "options.baseline.training[1]",
        ),
        ({"baseline": {"builds": [{"site": "n1", "year": "2030"}]}}, "options.baseline.builds[0]"),
        # crews that are not a list of crew entries, nothing frozen: a 500 (ScenarioError
        # from the job's options, read after the re-planned scenario)
        (
            {"baseline": {"builds": [{"site": "n1", "year": 2030, "option": "basic", "crews": 5}]}},
            "options.baseline.builds[0].crews",
        ),
        (
            {
                "baseline": {
                    "builds": [{"site": "n1", "year": 2030, "option": "basic", "crews": [5]}]
                }
            },
            "options.baseline.builds[0].crews[0]",
        ),
        (
            {"baseline": {"builds": [{"site": "zz", "year": 2030, "option": "basic"}]}},
            "options.baseline.builds[0]",
        ),
        ({"baseline": {"builds": []}, "baseline_solve_id": baseline["id"]}, "options.baseline"),
        (
            {
                "baseline": {"builds": [], "training": [{"region": "north", "year": 2030}]},
                "freeze_through": 2030,
            },
            "options.baseline.training[0]",
        ),
        ({"start_solve_id": UNKNOWN_JOB}, "options.start_solve_id"),
        ({"start_solve_id": "nope"}, "options.start_solve_id"),
        (
            {"start_solve_id": baseline["id"], "baseline_solve_id": baseline["id"]},
            "options.start_solve_id",
        ),
    ):
        r = client.post("/v1/solves", json={"scenario_id": sid, "options": {**good, **options}})
        assert r.status_code == 422, (options, r.text)
        assert any(p.startswith(path) for p in paths(r.json())), (path, r.json())
        if options.get("freeze_through") == 2040:  # the CLI's message, without its flag
            assert (
                r.json()["errors"][0]["message"] == "2040 is not a year of the horizon 2030..2031"
            )

    # a job without a plan yet: no baseline, no diff (409); it is cancelled at once
    long_job = flows.submit(client, long_doc, time_limit=30)
    try:
        r = client.post(
            "/v1/solves",
            json={"scenario_id": sid, "options": {**good, "baseline_solve_id": long_job["id"]}},
        )
        assert r.status_code == 422 and paths(r.json()) == ["options.baseline_solve_id"]
        r = client.get(f"/v1/solves/{baseline['id']}/diff/{long_job['id']}")
        assert r.status_code == 409, r.text
        assert "not ready" in r.json()["detail"]
    finally:
        client.delete(f"/v1/solves/{long_job['id']}")
    flows.wait_status(client, long_job["id"], flows.TERMINAL, timeout=30)


def test_a_refused_replan_stores_nothing(client: httpx.Client, tiny_variant: Any) -> None:
    """A re-plan refused with 422 leaves the store as it was: the scenario document it sent
    was stored before its re-plan was checked (listed by ``GET /v1/scenarios``, with no job)."""
    baseline = solved(client, tiny_variant("refused-replan-baseline"))
    before = client.get("/v1/scenarios").json()["total"]
    for path, body in (
        (
            "/v1/solves",
            {
                "scenario": tiny_variant("refused-replan-1"),
                "options": {"baseline_solve_id": baseline["id"], "freeze_through": 2040},
            },
        ),
        (
            "/v1/solves",
            {
                "scenario": tiny_variant("refused-replan-2"),
                "options": {"baseline": {"builds": [{"site": "zz", "year": 2030, "option": "a"}]}},
            },
        ),
        (
            "/v1/batches",
            {
                "scenario": tiny_variant("refused-replan-3"),
                "variants": [{"patch": NO_MOBILIZATION}],
                "options": {"freeze_through": 2030},
            },
        ),
    ):
        r = client.post(path, json=body)
        assert r.status_code == 422, (path, r.text)
    assert client.get("/v1/scenarios").json()["total"] == before


def test_replan_refuses_baseline_training_in_an_unknown_region(
    client: httpx.Client, tiny_variant: Any
) -> None:
    """A frozen year's training is what the baseline plan trained there: a row naming a region
    the scenario does not have is an error at its path, not a region silently held to 0
    trainees (which made this re-plan infeasible: south's 25 technicians are never trained)."""
    doc = tiny_variant("replan-training-region")
    baseline = solved(client, doc)
    plan = client.get(f"/v1/solves/{baseline['id']}/plan").json()
    assert plan["training"] == [{"region": "south", "year": 2030, "trainees": 25}]
    typo = {**plan, "training": [{"region": "South", "year": 2030, "trainees": 25}]}
    r = client.post(
        "/v1/solves",
        json={
            "scenario_id": baseline["scenario_id"],
            "options": {"time_limit": 10, "threads": 1, "baseline": typo, "freeze_through": 2030},
        },
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"path": "options.baseline.training[0].region", "message": "unknown region 'South'"}
    ]


def test_openapi_documents_the_new_endpoints(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    for path, methods in {
        "/v1/validate": {"post"},
        "/v1/scenarios/{scenario_id}/variants": {"post"},
        "/v1/solves/{job_id}/diff/{other_id}": {"get"},
        "/v1/batches": {"get", "post"},
        "/v1/batches/{batch_id}": {"get", "delete"},
    }.items():
        assert methods <= set(spec["paths"][path]), path
    options = spec["components"]["schemas"]["SolveOptions"]["properties"]
    assert {"baseline_solve_id", "baseline", "freeze_through", "start_solve_id"} <= set(options)
    assert "start_from_base" in spec["components"]["schemas"]["BatchRequest"]["properties"]


def test_a_batch_names_variants_left_unnamed_apart_from_the_named(
    client: httpx.Client, tiny_doc: dict[str, Any]
) -> None:
    """An unnamed variant's default name clashed with a name given to another (a 422 at a
    variant the user never named; a QA pass)."""
    r = client.post(
        "/v1/batches",
        json={
            "scenario": tiny_doc,
            "variants": [{"name": "variant-1", "patch": {}}, {"patch": {}}, {"patch": {}}],
            "options": {"time_limit": 5},
        },
    )
    assert r.status_code == 202, r.text
    assert list(r.json()["jobs"]) == ["base", "variant-1", "variant-1-2", "variant-2"]


def test_a_json_syntax_error_says_where(client: httpx.Client) -> None:
    r = client.post(
        "/v1/solves", content=b'{"scenario": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["message"].endswith("at character 13"), r.text
