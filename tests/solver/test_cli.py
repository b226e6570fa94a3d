"""The rdplan command line, run as a real process: one test per exit code (SPEC §5)."""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import DATA

TINY = str(DATA / "conformance" / "tiny.json")
INFEASIBLE = str(DATA / "conformance" / "infeasible-technicians.json")


def rdplan(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "solver.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
        cwd=cwd,
    )


def test_solve_optimal_exit_0(tmp_path: Path) -> None:
    out, csv = tmp_path / "plan.json", tmp_path / "builds.csv"
    r = rdplan(
        "solve", TINY, "--time-limit", "20", "--threads", "1", "--out", str(out), "--csv", str(csv)
    )
    assert r.returncode == 0, r.stderr
    plan = json.loads(out.read_text())
    assert (plan["status"], plan["objective"]) == ("optimal", 1855)
    assert "optimal" in r.stderr and "objective 1,855" in r.stderr
    assert csv.read_text().splitlines()[0] == "year,region,site,option,crews,crew_km"
    assert len(csv.read_text().splitlines()) == 1 + len(plan["builds"])
    check = rdplan("check", TINY, str(out))
    assert check.returncode == 0, check.stderr


def test_solve_to_stdout_each_backend() -> None:
    for backend in ("cpsat", "highs", "cbc"):
        r = rdplan(
            "solve", TINY, "--backend", backend, "--time-limit", "20", "--threads", "1", "--quiet"
        )
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["objective"] == 1855


def test_solve_infeasible_exit_1() -> None:
    r = rdplan("solve", INFEASIBLE, "--time-limit", "20", "--threads", "1")
    assert r.returncode == 1
    plan = json.loads(r.stdout)
    assert plan["status"] == "infeasible" and plan["conflicts"]
    assert "conflict technicians" in r.stderr


def _solve_with_closed(stream: str, *args: str) -> tuple[int, str]:
    """``rdplan solve TINY`` whose stdout or stderr reader goes away before anything is
    written (``rdplan solve ... 2>&1 | head -1``); returns the exit code and the other
    stream's text."""
    p = subprocess.Popen(
        [sys.executable, "-m", "solver.cli", "solve", TINY, "--threads", "1", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    closed, other = (p.stdout, p.stderr) if stream == "stdout" else (p.stderr, p.stdout)
    assert closed is not None and other is not None
    closed.close()
    text = other.read()
    return p.wait(timeout=300), text


def test_solve_keeps_going_when_stderr_reader_goes(tmp_path: Path) -> None:
    # The progress lines and the summary go to stderr; once nobody reads it, the solve
    # still finishes and writes its plan (it used to abort inside HiGHS's callback).
    out = tmp_path / "plan.json"
    code, stdout = _solve_with_closed("stderr", "--backend", "highs", "--out", str(out))
    assert code == 0
    assert stdout == ""
    plan = json.loads(out.read_text())
    assert (plan["status"], plan["objective"]) == ("optimal", 1855)


def test_solve_to_closed_stdout_exit_1_without_traceback() -> None:
    code, stderr = _solve_with_closed("stdout", "--quiet")
    assert code == 1
    assert "stdout was closed before the plan was written" in stderr
    assert "Traceback" not in stderr


def test_other_commands_stop_quietly_when_stdout_goes(tmp_path: Path) -> None:
    """``rdplan diff A B | head``: once the reader has gone, a command stops with the exit
    status a shell reports for SIGPIPE, and no traceback."""
    plan = tmp_path / "plan.json"
    assert rdplan("solve", TINY, "--quiet", "--out", str(plan)).returncode == 0
    for args in (["schema"], ["diff", str(plan), str(plan)], ["validate", TINY, "--json"]):
        p = subprocess.Popen(
            [sys.executable, "-m", "solver.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert p.stdout is not None and p.stderr is not None
        p.stdout.close()
        stderr = p.stderr.read()
        assert p.wait(timeout=120) == 141, (args, stderr)
        assert "Traceback" not in stderr, args


def test_solve_malformed_exit_2_writes_plan(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"schema_version": 1, "horizon": {"start": 2030}, "regions": [], "options": [], "sites": [], "x": 1}'
    )
    out = tmp_path / "plan.json"
    r = rdplan("solve", str(bad), "--out", str(out))
    assert r.returncode == 2
    plan = json.loads(out.read_text())
    assert plan["status"] == "invalid"
    found = {e["path"] for e in plan["errors"]}
    assert {"horizon.end", "x", "options", "sites"} <= found
    assert "horizon.end" in r.stderr and "Traceback" not in r.stderr


def test_solve_not_json_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("this is not json")
    r = rdplan("solve", str(bad))
    assert r.returncode == 2
    assert json.loads(r.stdout)["errors"][0]["path"] == ""
    r = rdplan("solve", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_validate_exit_codes(tmp_path: Path) -> None:
    assert rdplan("validate", TINY).returncode == 0
    r = rdplan("validate", "-", stdin='{"schema_version": 1}')
    assert r.returncode == 2
    assert "horizon: required field is missing" in r.stderr
    r = rdplan("validate", TINY, "--json")
    assert json.loads(r.stdout)["valid"] is True
    # one shape, valid or not: the warnings key was left out of an invalid one's (a QA pass)
    r = rdplan("validate", "-", "--json", stdin='{"schema_version": 1}')
    answer = json.loads(r.stdout)
    assert list(answer) == ["valid", "errors", "warnings"] and answer["warnings"] == []


def test_check_broken_plan_exit_1(tmp_path: Path) -> None:
    r = rdplan("solve", TINY, "--time-limit", "20", "--threads", "1", "--quiet")
    plan = json.loads(r.stdout)
    plan["objective"] += 1
    p = tmp_path / "plan.json"
    p.write_text(json.dumps(plan))
    r = rdplan("check", TINY, str(p))
    assert r.returncode == 1
    assert "objective" in r.stderr
    p.write_text("garbage")
    assert rdplan("check", TINY, str(p)).returncode == 1


def test_diff_names_what_is_not_a_plan_exit_2(tmp_path: Path) -> None:
    r = rdplan("solve", TINY, "--time-limit", "20", "--threads", "1", "--quiet")
    good = tmp_path / "plan.json"
    good.write_text(r.stdout)
    plan = json.loads(r.stdout)
    bad = tmp_path / "bad.json"
    cases = [
        (plan | {"builds": [{"site": 3}]}, "builds[0].site"),
        (plan | {"builds": "none"}, "builds: must be a list"),
        (plan | {"status": "done"}, "status:"),
        ({"schema_version": 1, "name": "a scenario"}, "status: required field is missing"),
        ([1, 2], "must be a JSON object"),
    ]
    for doc, said in cases:
        bad.write_text(json.dumps(doc))
        for args in ((str(bad), str(good)), (str(good), str(bad))):
            r = rdplan("diff", *args)
            assert r.returncode == 2, (doc, r.stderr)
            assert f"{bad} is not a plan document" in r.stderr and said in r.stderr, r.stderr
            assert "Traceback" not in r.stderr
    r = rdplan("diff", str(good), str(good), "--scenario", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "cannot read" in r.stderr and "Traceback" not in r.stderr
    r = rdplan("diff", str(good), str(good), "--scenario", str(good))
    assert r.returncode == 2 and "invalid scenario:" in r.stderr
    assert rdplan("diff", str(good), str(good), "--scenario", TINY).returncode == 0


def test_unwritable_out_refused_before_the_solve_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "plan.json"
    for args in (("--out", str(missing)), ("--csv", str(missing)), ("--out", str(tmp_path))):
        r = rdplan("solve", TINY, "--time-limit", "20", "--threads", "1", *args)
        assert r.returncode == 2 and r.stdout == "", r.stderr
        assert f"argument {args[0]}" in r.stderr and "Traceback" not in r.stderr
    r = rdplan("batch", TINY, "--out", str(missing))
    assert r.returncode == 2 and "argument --out" in r.stderr
    r = rdplan("batch", TINY, "--time-limit", "-1")
    assert r.returncode == 2 and "argument --time-limit" in r.stderr


def test_a_plan_whose_out_went_away_goes_to_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from solver.cli import _finish
    from solver.solve import solve

    plan = solve(json.loads(Path(TINY).read_text()), time_limit=20, threads=1)
    gone = tmp_path / "gone" / "plan.json"  # writable_file passed it; then the folder went
    args = argparse.Namespace(out=str(gone), csv=None, quiet=True)
    assert _finish(plan, args) == 1
    out, err = capsys.readouterr()
    assert f"cannot write {gone}" in err and json.loads(out)["objective"] == 1855


def test_schema() -> None:
    r = rdplan("schema")
    assert r.returncode == 0
    assert "horizon" in json.loads(r.stdout)["properties"]


def test_serve_and_worker_name_a_bad_setting_exit_2() -> None:
    import os

    env = {**os.environ, "RDPLAN_WORKERS": "0", "RDPLAN_MEMORY_LIMIT_MB": "lots"}
    for command in ("serve", "worker"):
        r = subprocess.run(
            [sys.executable, "-m", "solver.cli", command],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr
        assert "RDPLAN_WORKERS='0'" in r.stderr and "greater than or equal to 1" in r.stderr
        assert "RDPLAN_MEMORY_LIMIT_MB='lots'" in r.stderr


def test_solve_stops_at_the_gap_limit(tmp_path: Path) -> None:
    """``--gap 0.01``: national-20x10 stops at its first plan within 1 % of the bound. HiGHS's
    root leaves its bound above the optimum, so that plan is not proved optimal: feasible,
    with the gap it was stopped at, and it holds."""
    national = str(DATA / "national-20x10.json")
    out = tmp_path / "plan.json"
    r = rdplan("solve", national, "--gap", "0.01", "--time-limit", "200", "--out", str(out))
    assert r.returncode == 0, r.stderr
    plan = json.loads(out.read_text())
    assert plan["status"] == "feasible" and 0 < plan["gap"] <= 0.01
    assert plan["bound"] > plan["objective"] >= 0.99 * plan["bound"]
    assert plan["solver"]["gap_limit"] == 0.01
    assert plan["solver"]["seconds"] < 200  # stopped by the gap, not by the time limit
    assert "within the gap limit of 1%" in r.stderr
    check = rdplan("check", national, str(out))
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("value", ["1", "-0.1", "nan", "five"])
def test_bad_gap_refused_exit_2(value: str) -> None:
    for command in ("solve", "batch"):
        r = rdplan(command, TINY, "--gap", value)
        assert r.returncode == 2, r.stderr
        assert "--gap" in r.stderr and "Traceback" not in r.stderr


def test_batch_with_a_gap_shows_each_plans_gap(tmp_path: Path) -> None:
    """``rdplan batch --gap``: every solve stops within the gap, and the table shows each plan's
    gap, since an objective change smaller than it may be the solver's."""
    generated = str(DATA / "conformance" / "generated-b.json")
    out = tmp_path / "batch.json"
    r = rdplan(
        "batch", generated, "--set", "objective.mobilization=0", "--gap", "0.05",
        "--threads", "1", "--time-limit", "30", "--out", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    header, _, *rows = r.stdout.splitlines()
    assert [c.strip() for c in header.split("|")][3:5] == ["objective_change", "gap"]
    plans = json.loads(out.read_text())["plans"]
    assert set(plans) == {"base", "objective.mobilization=0"}
    for row in rows:
        name, gap = row.split("|")[0].strip(), row.split("|")[4].strip()
        plan = plans[name]
        assert plan["gap"] <= 0.05 and plan["solver"]["gap_limit"] == 0.05
        assert gap == f"{100 * plan['gap']:.3f}%"


def test_batch_reads_its_base_scenario_from_stdin(tmp_path: Path) -> None:
    """``… | rdplan batch - --set …`` as ``rdplan solve -`` does: a generated or patched base
    need not be written to a file first. Its plans are those of the same file by path."""
    text = Path(TINY).read_text(encoding="utf-8")
    out = tmp_path / "batch.json"
    common = ("--set", "objective.mobilization=0", "--threads", "1", "--time-limit", "20")
    r = rdplan("batch", "-", *common, "--quiet", "--out", str(out), stdin=text)
    assert r.returncode == 0, r.stderr
    by_path = rdplan("batch", TINY, *common, "--quiet")
    assert r.stdout == by_path.stdout
    plans = json.loads(out.read_text())["plans"]
    assert plans["base"]["objective"] == 1855
    r = rdplan("batch", "-", *common, stdin='{"schema_version": 1}')
    assert r.returncode == 2 and "invalid scenario on stdin:" in r.stderr
    assert "Traceback" not in r.stderr


def test_solver_log_goes_to_stderr_not_into_the_plan() -> None:
    """``rdplan solve S --log | jq``: CP-SAT and HiGHS print their logs from C++ to stdout; the
    plan on stdout must stay one JSON document, the log on stderr."""
    for backend, said in (("cpsat", "CP-SAT"), ("highs", "HiGHS")):
        r = rdplan(
            "solve", TINY, "--backend", backend, "--log", "--quiet", "--threads", "1",
            "--time-limit", "20",
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["objective"] == 1855, backend
        assert said in r.stderr, backend


def test_a_partial_start_proves_nothing(tmp_path: Path) -> None:
    """A baseline naming only some sites' builds (a plan from before sites were added; here the
    first three regions' sites in the basic design) is a warm start HiGHS completes by a MIP
    of its own, with rdplan's callbacks: its bound was taken for the model's, and a plan far
    below the optimum came out "optimal". generated-b weighs stability 0: the baseline only
    starts the solver, the optimum stays 143,310. Also lpguided's neighbourhood with --log."""
    generated = DATA / "conformance" / "generated-b.json"
    r = rdplan("solve", str(generated), "--backend", "cpsat", "--threads", "1", "--quiet")
    builds = [
        {"site": b["site"], "year": b["year"], "option": "basic"}
        for b in json.loads(r.stdout)["builds"]
        if b["region"] in ("R00", "R01", "R02")
    ]
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"builds": builds}))
    for backend in ("highs", "portfolio"):
        r = rdplan(
            "solve", str(generated), "--baseline", str(baseline), "--backend", backend,
            "--threads", "1", "--time-limit", "30", "--quiet",
        )  # fmt: skip
        plan = json.loads(r.stdout)
        assert (plan["status"], plan["objective"]) == ("optimal", 143310), backend
    r = rdplan("solve", TINY, "--backend", "lpguided", "--log", "--threads", "1", "--quiet")
    assert json.loads(r.stdout)["objective"] == 1855


def test_a_start_highs_misvalues_does_not_cost_the_optimum(tmp_path: Path) -> None:
    """From tiny's optimal plan, tiny with mobilisation x2 and training x5: HiGHS 1.16 valued
    the start at 1,438 in its presolved space ("MIP start solution is feasible in the reduced
    space"), called it optimal and returned the start's columns, worth 1,435; the plan came
    out feasible, 1,435 against 1,438, on highs, the portfolio and every batch variant run from
    the base plan. Such a plan is now solved again without the start."""
    r = rdplan("solve", TINY, "--backend", "cpsat", "--threads", "1", "--quiet")
    base = tmp_path / "base.json"
    base.write_text(r.stdout)
    doc = json.loads(Path(TINY).read_text())
    doc["objective"].update({"mobilization": 2, "training": 5})
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(doc))
    for backend in ("cpsat", "highs", "portfolio"):
        r = rdplan(
            "solve", str(changed), "--baseline", str(base), "--backend", backend,
            "--time-limit", "20", "--quiet",
        )  # fmt: skip
        plan = json.loads(r.stdout)
        assert (plan["status"], plan["objective"], plan["bound"]) == ("optimal", 1438, 1438), (
            backend,
            plan["solver"]["detail"],
        )
        if backend == "highs":
            assert "solved again without the start" in plan["solver"]["detail"]


def test_an_output_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    """A full disk (/dev/full) under --out or stdout: exit 1 and one line naming where, not a
    traceback (schema, diff and batch showed one; solve and generate had their own line)."""
    r = rdplan("solve", TINY, "--backend", "cpsat", "--threads", "1", "--quiet")
    plan = tmp_path / "plan.json"
    plan.write_text(r.stdout)
    for args, where in (
        (["schema", "--out", "/dev/full"], "/dev/full"),
        (["diff", str(plan), str(plan), "--out", "/dev/full"], "/dev/full"),
        (
            ["batch", TINY, "--set", "objective.training=0", "--quiet", "--out", "/dev/full"],
            "/dev/full",
        ),
        (["schema"], "stdout"),
        (["validate", TINY, "--json"], "stdout"),
    ):
        with open("/dev/full", "w") as full:
            run = subprocess.run(
                [sys.executable, "-m", "solver.cli", *args],
                stdout=full if where == "stdout" else subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                timeout=120,
            )
        assert run.returncode == 1, (args, run.stderr)
        assert f"cannot write {where}: No space left on device" in run.stderr, (args, run.stderr)
        assert "Traceback" not in run.stderr, (args, run.stderr)


def test_batch_refuses_clashing_variants(tmp_path: Path) -> None:
    """Plans are keyed by variant name: a variant named "base" replaced the base plan in the
    table (every objective_change then against it), a name used twice or a --set path given
    twice lost a plan, and overlapping --set paths crashed or solved another what-if than the
    one named. Each is refused, named, before any solve."""
    variants = tmp_path / "variants.json"
    for listed, said in (
        ([{"name": "base", "patch": {}}], "variants[0].name: 'base' is the base's name"),
        (
            [{"name": "x", "patch": {}}, {"name": "x", "patch": {}}],
            "variants[1].name: 'x' is used by an earlier variant",
        ),
    ):
        variants.write_text(json.dumps(listed))
        r = rdplan("batch", TINY, "--variants", str(variants))
        assert r.returncode == 2 and said in r.stderr, r.stderr
        assert r.stdout == ""
    for sets, said in (
        (["objective.mobilization=0", "objective.mobilization=1"], "given twice"),
        (["objective.x=1", "objective=5"], "--set objective and --set objective.x overlap"),
        (['objective={"mobilization": 0}', "objective.training=0,1"], "overlap"),
        (["objective.training=0,0"], "--set objective.training: 0 is listed twice"),
        (['objective.training=1,"1"'], "1 and '1' both name the variant 'objective.training=1'"),
    ):
        r = rdplan("batch", TINY, *(a for s in sets for a in ("--set", s)))
        assert r.returncode == 2 and said in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and r.stdout == ""


def test_batch_set_splits_between_values_not_inside_them() -> None:
    """``--set`` split its values on every comma: an object or a string with a comma could not
    be given, and the quoting its message suggested was not JSON either."""
    from solver.variants import _parse_set

    assert _parse_set(['quotas.year={"min": 1, "max": 2}', 'name="a,b", "c"']) == {
        "quotas.year": [{"min": 1, "max": 2}],
        "name": ["a,b", "c"],
    }
    assert _parse_set(["objective.mobilization=0, 1,2"]) == {"objective.mobilization": [0, 1, 2]}
    with pytest.raises(
        ValueError, match="'abc' is not a JSON value \\(a string needs quotes: '\"abc\"'\\)"
    ):
        _parse_set(["name=abc"])
    with pytest.raises(ValueError, match="'' is not a JSON value"):
        _parse_set(["objective.training=0,"])


def test_batch_names_what_is_wrong_with_its_inputs(tmp_path: Path) -> None:
    """A --set value that is not JSON, a variants file that is not a list of variants (a plan,
    a number), not JSON or not UTF-8, a base that is not a scenario: exit 2 naming the flag or
    file, never a traceback; a variant invalid once patched shows its errors on stderr."""
    variants = tmp_path / "variants.json"
    r = rdplan("batch", TINY, "--set", "objective.mobilization=0,abc")
    assert r.returncode == 2 and "--set objective.mobilization=0,abc: 'abc'" in r.stderr
    for content, said in (
        (b"5", "variants: "),
        (b'{"status": "optimal", "builds": []}', "variants: "),
        (b"not json", f"--variants {variants} is not a JSON file"),
        (b"\xff\xfe", f"--variants {variants} is not a JSON file"),
    ):
        variants.write_bytes(content)
        r = rdplan("batch", TINY, "--variants", str(variants))
        assert r.returncode == 2 and said in r.stderr, (content, r.stderr)
        assert "Traceback" not in r.stderr and r.stdout == ""
    r = rdplan("batch", str(variants))
    assert r.returncode == 2 and f"invalid scenario {variants}" in r.stderr
    assert "Traceback" not in r.stderr
    variants.write_text(json.dumps([{"name": "short", "patch": {"horizon": {"end": 2000}}}]))
    r = rdplan("batch", TINY, "--variants", str(variants), "--threads", "1")
    assert r.returncode == 0, r.stderr
    assert "short: invalid" in r.stderr and "  horizon" in r.stderr, r.stderr


def test_batch_reads_variants_and_set_paths_as_the_service_does(tmp_path: Path) -> None:
    """A variant named ``null`` came out as a variant called 'None', a number or an empty name
    was taken as text, a misspelt key ('nmae') was ignored; a --variants folder or missing file
    was a bare '[Errno 21]' and one nested too deeply a traceback; ``--set sites.0.required``
    solved the base, then called the variant invalid at 'sites: Input should be a valid list'.
    Each is now refused before any solve (exit 2, the field or flag named), as the service's
    batches refuse them (422); a null name is ``variant-<index>``, as there."""
    variants = tmp_path / "variants.json"
    variants.write_text(
        json.dumps(
            [
                {"name": None, "patch": {}},
                {"name": 7, "patch": {}},
                {"name": "", "patch": {}},
                {"nmae": "x", "patch": {}},
                "oops",
            ]
        )
    )
    r = rdplan("batch", TINY, "--variants", str(variants))
    assert r.returncode == 2 and r.stdout == "", r.stderr
    for said in (
        "invalid variants: 4 error(s)",
        "variants[1].name: a name is a string of 1 to 100 characters, not 7",
        "variants[2].name: a name is a string of 1 to 100 characters, not ''",
        "variants[3].nmae: unknown field 'nmae'",
        "variants[4]: must be a JSON object",
    ):
        assert said in r.stderr, r.stderr
    assert "variants[0]" not in r.stderr
    variants.write_text("[" * 100_000)
    for path, said in (
        (variants, f"--variants {variants} is not a JSON file"),
        (tmp_path, f"cannot read --variants {tmp_path}: Is a directory"),
        (tmp_path / "no.json", f"cannot read --variants {tmp_path / 'no.json'}: No such file"),
    ):
        r = rdplan("batch", TINY, "--variants", str(path))
        assert r.returncode == 2 and said in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and r.stdout == ""
    r = rdplan("batch", TINY, "--set", "sites.0.required=false")
    assert r.returncode == 2 and r.stdout == "", r.stderr
    assert "--set sites.0.required: a path is object keys joined by dots" in r.stderr
    variants.write_text(json.dumps([{"name": None, "patch": {"objective": {"training": 2}}}]))
    r = rdplan("batch", TINY, "--variants", str(variants), "--threads", "1", "--time-limit", "20")
    assert r.returncode == 0, r.stderr
    assert [row.split("|")[0].strip() for row in r.stdout.splitlines()[2:]] == [
        "base",
        "variant-0",
    ]


def test_batch_reads_variants_from_stdin() -> None:
    """``--variants -`` reads stdin, as the README says of any one input file (it was opened as
    a file named '-': "No such file or directory"); with the scenario on stdin too, refused."""
    variants = json.dumps([{"name": "cheap", "patch": {"objective": {"training": 2}}}])
    r = rdplan("batch", TINY, "--variants", "-", "--threads", "1", "--time-limit", "20",
               stdin=variants)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert [row.split("|")[0].strip() for row in r.stdout.splitlines()[2:]] == ["base", "cheap"]
    r = rdplan("batch", TINY, "--variants", "-", stdin="not json")
    assert r.returncode == 2 and "--variants on stdin is not a JSON file" in r.stderr
    r = rdplan("batch", "-", "--variants", "-", stdin=variants)
    assert r.returncode == 2 and "stdin can be read once" in r.stderr


def test_a_file_that_is_not_utf8_is_named_not_a_traceback(tmp_path: Path) -> None:
    """A UTF-16 or binary file given as a scenario or plan crashed solve, validate, check and
    diff with a UnicodeDecodeError traceback; it is a document that is not JSON."""
    binary = tmp_path / "scenario.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    plan = tmp_path / "plan.json"
    assert rdplan("solve", TINY, "--quiet", "--threads", "1", "--out", str(plan)).returncode == 0
    for args, code in (
        (["solve", str(binary)], 2),
        (["validate", str(binary)], 2),
        (["check", str(binary), str(plan)], 2),
        (["check", TINY, str(binary)], 1),
        (["diff", str(binary), str(plan)], 2),
    ):
        r = rdplan(*args)
        assert r.returncode == code, (args, r.stderr)
        assert "Traceback" not in r.stderr and "not a JSON document" in r.stderr, (args, r.stderr)
    r = rdplan("validate", "-", stdin=None)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_check_names_a_plan_that_is_not_one(tmp_path: Path) -> None:
    """``rdplan check S.json S.json`` (the scenario for the plan) said "the plan breaks 4
    rules", its objective weights taken for reported terms; it is not a plan document, and
    check says so field by field, as diff does (exit 1: the plan does not hold)."""
    r = rdplan("check", TINY, TINY)
    assert r.returncode == 1
    assert f"{TINY} is not a plan document" in r.stderr, r.stderr
    assert "status: required field is missing" in r.stderr and "breaks" not in r.stderr


def test_check_of_a_replans_plan_takes_its_baseline(tmp_path: Path) -> None:
    """``rdplan solve S --baseline B`` reports the sites it changed as the stability term, and
    ``rdplan check S`` of that very plan said it broke a rule (its terms "differ from the
    recomputed": S alone has no baseline). ``check --baseline B`` checks it as it was solved;
    without it, the failure says why."""
    plan, moved, replan = tmp_path / "plan.json", tmp_path / "moved.json", tmp_path / "re.json"
    assert rdplan("solve", TINY, "--quiet", "--threads", "1", "--out", str(plan)).returncode == 0
    doc = json.loads(plan.read_text())
    s1 = next(b for b in doc["builds"] if b["site"] == "s1")
    assert s1["year"] == 2031
    s1["year"] = 2030  # the optimum builds s1 in 2031: one change against this baseline
    moved.write_text(json.dumps(doc))
    r = rdplan("solve", TINY, "--baseline", str(moved), "--quiet", "--threads", "1",
               "--out", str(replan))  # fmt: skip
    assert r.returncode == 0 and json.loads(replan.read_text())["terms"]["stability"] == 1
    r = rdplan("check", TINY, str(replan))
    assert r.returncode == 1 and "a re-plan's plan is checked with its --baseline" in r.stderr
    r = rdplan("check", TINY, str(replan), "--baseline", str(moved))
    assert r.returncode == 0, r.stderr
    assert "stability 1" in r.stderr
    r = rdplan("check", TINY, str(replan), "--baseline", str(tmp_path))
    assert r.returncode == 2 and f"cannot read --baseline {tmp_path}" in r.stderr


def test_check_and_diff_of_a_verdict_without_a_plan_say_so(tmp_path: Path) -> None:
    """An infeasible scenario's plan document has no builds: ``check`` listed every required
    site as not built, ``diff`` every site as dropped; both now say it holds no plan (as the
    service's diff answers 409)."""
    verdict, plan = tmp_path / "infeasible.json", tmp_path / "plan.json"
    r = rdplan("solve", INFEASIBLE, "--quiet", "--threads", "1", "--out", str(verdict))
    assert r.returncode == 1 and json.loads(verdict.read_text())["status"] == "infeasible"
    r = rdplan("check", INFEASIBLE, str(verdict))
    assert r.returncode == 1
    assert "holds no plan (status 'infeasible'): it has no builds to check" in r.stderr
    assert "not built" not in r.stderr, r.stderr
    assert rdplan("solve", TINY, "--quiet", "--threads", "1", "--out", str(plan)).returncode == 0
    for a, b in ((plan, verdict), (verdict, plan)):
        r = rdplan("diff", str(a), str(b))
        assert r.returncode == 2, r.stdout
        assert f"{verdict} holds no plan" in r.stderr and r.stdout == ""


def test_solve_refuses_outputs_that_overwrite_an_input_or_each_other(tmp_path: Path) -> None:
    """``--out`` naming the scenario replaced it with the plan; ``--out`` and ``--csv`` naming
    one file kept only the CSV. Both are refused before anything is solved or written."""
    scenario = tmp_path / "s.json"
    scenario.write_text(Path(TINY).read_text())
    before = scenario.read_text()
    r = rdplan("solve", str(scenario), "--out", str(scenario))
    assert r.returncode == 2 and "--out" in r.stderr and "scenario file" in r.stderr, r.stderr
    assert scenario.read_text() == before
    both = tmp_path / "p.json"
    r = rdplan("solve", str(scenario), "--out", str(both), "--csv", str(both))
    assert r.returncode == 2 and "also the --csv file" in r.stderr and not both.exists()


def test_diff_and_batch_refuse_an_out_that_is_one_of_their_inputs(tmp_path: Path) -> None:
    """``rdplan diff old.json new.json --out new.json`` replaced plan b with the report, and
    ``rdplan batch S.json --out S.json`` the scenario (or --variants) with the table, as solve
    already refused; both are refused before anything is read or solved."""
    a, b, scenario = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "s.json"
    assert rdplan("solve", TINY, "--quiet", "--threads", "1", "--out", str(a)).returncode == 0
    b.write_text(a.read_text())
    scenario.write_text(Path(TINY).read_text())
    variants = tmp_path / "v.json"
    variants.write_text(json.dumps([{"name": "x", "patch": {}}]))
    linked = tmp_path / "linked.json"
    os.link(scenario, linked)
    kept = {f: f.read_text() for f in (a, b, scenario, variants)}
    for args, said in (
        (["diff", str(a), str(b), "--out", str(b)], f"--out {b} is also the plan b file"),
        (["diff", str(a), str(b), "--json", "--out", str(a)], "is also the plan a file"),
        (["diff", str(a), str(b), "--scenario", str(scenario), "--out", str(scenario)],
         "is also the --scenario file"),
        (["batch", str(scenario), "--out", str(scenario)], "is also the scenario file"),
        (["batch", str(scenario), "--variants", str(variants), "--out", str(variants)],
         "is also the --variants file"),
        # a hard link: another path, the same file (only a resolved path was compared)
        (["solve", str(scenario), "--out", str(linked)], "is also the scenario file"),
        (["batch", str(scenario), "--out", str(linked)], "is also the scenario file"),
    ):  # fmt: skip
        r = rdplan(*args)
        assert r.returncode == 2 and said in r.stderr, (args, r.stderr)
        assert r.stdout == "" and "Traceback" not in r.stderr
        assert {f: f.read_text() for f in kept} == kept, args


def test_freeze_through_outside_the_horizon_refused_exit_2(tmp_path: Path) -> None:
    """``--freeze-through 226`` (2026 mistyped) re-planned with nothing frozen, ``3000`` with
    everything frozen, both silently; the service refuses such a year (422 at
    options.freeze_through), and so does the CLI: exit 2, the plan with that error."""
    plan = tmp_path / "plan.json"
    assert rdplan("solve", TINY, "--quiet", "--threads", "1", "--out", str(plan)).returncode == 0
    for year in ("226", "3000"):
        r = rdplan("solve", TINY, "--baseline", str(plan), "--freeze-through", year)
        assert r.returncode == 2, r.stderr
        assert json.loads(r.stdout)["errors"][0]["path"] == "freeze_through"
        assert f"--freeze-through {year} is not a year of the horizon 2030..2031" in r.stderr
    r = rdplan("solve", TINY, "--baseline", str(plan), "--freeze-through", "2030", "--quiet")
    assert r.returncode == 0, r.stderr


def test_diff_draws_no_curves_for_a_plan_outside_the_scenarios_horizon(tmp_path: Path) -> None:
    """``diff a b --scenario S`` with b another scenario's plan (other years) printed
    served-population changes with b's builds outside S's horizon left out without a word."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert rdplan("solve", TINY, "--quiet", "--threads", "1", "--out", str(a)).returncode == 0
    moved = json.loads(a.read_text())
    for build in moved["builds"]:
        build["year"] += 10
    b.write_text(json.dumps(moved))
    r = rdplan("diff", str(a), str(b), "--scenario", TINY)
    assert r.returncode == 0, r.stderr
    assert "served     " not in r.stdout
    assert (
        "no served-population curves: plan b builds in years outside the scenario's horizon"
        in r.stdout
    )
    r = rdplan("diff", str(a), str(b), "--scenario", TINY, "--json")
    diff = json.loads(r.stdout)
    assert "served_population" not in diff and "plan b" in diff["served_population_note"]
    r = rdplan("diff", str(a), str(a), "--scenario", TINY, "--json")
    assert "served_population" in json.loads(r.stdout)
    # nor for one of other sites in the horizon's years: its curves read 0 (a QA pass)
    renamed = json.loads(a.read_text())
    for build in renamed["builds"]:
        build["site"] = "elsewhere-" + build["site"]
    b.write_text(json.dumps(renamed))
    r = rdplan("diff", str(a), str(b), "--scenario", TINY, "--json")
    diff = json.loads(r.stdout)
    assert "served_population" not in diff, diff
    assert "plan b builds sites the scenario does not have" in diff["served_population_note"]


def test_diff_out_without_json_writes_the_report(tmp_path: Path) -> None:
    """``rdplan diff A B --out d.txt`` printed the report and wrote nothing (--out was only
    read with --json)."""
    plan, report = tmp_path / "plan.json", tmp_path / "diff.txt"
    assert rdplan("solve", TINY, "--quiet", "--threads", "1", "--out", str(plan)).returncode == 0
    r = rdplan("diff", str(plan), str(plan), "--out", str(report))
    assert r.returncode == 0 and r.stdout == ""
    assert report.read_text().startswith("objective: 1,855 -> 1,855 (change 0)")
    r = rdplan("diff", str(plan), str(plan), "--json", "--out", str(report))
    assert r.returncode == 0 and r.stdout == "" and json.loads(report.read_text())["moved"] == []


def test_diff_text_prints_numbers_and_crews_as_the_other_reports(tmp_path: Path) -> None:
    """The diff report printed objectives and terms bare (1861928) beside its own served
    population and every other summary in thousands (+25,000; 1,861,928), and reassigned crews
    as Python dicts ({'k1': 1}); now as the summaries print numbers and the CSV crews."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert rdplan("solve", TINY, "--quiet", "--threads", "1", "--out", str(a)).returncode == 0
    plan = json.loads(a.read_text())
    n1 = next(x for x in plan["builds"] if x["site"] == "n1")
    assert n1["crews"] == [{"pool": "k1", "count": 1, "distance_km": 58}]
    n1["crews"] = [{"pool": "k2", "count": 1, "distance_km": 58}]
    plan["objective"] += 1000  # a report only: diff takes the plans' own numbers
    b.write_text(json.dumps(plan))
    r = rdplan("diff", str(a), str(b))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "objective: 1,855 -> 2,855 (change +1,000)", lines
    assert "  benefit       2,200 -> 2,200" in lines
    assert "crews      n1 2030: k1:1 -> k2:1" in lines, lines


def test_diff_text_shows_served_population_with_the_scenario(tmp_path: Path) -> None:
    """``--scenario`` gave the served-population curves only with ``--json``: the text report
    now lists, per region, the years whose served population changed."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert rdplan("solve", TINY, "--quiet", "--threads", "1", "--out", str(a)).returncode == 0
    plan = json.loads(a.read_text())
    n2 = next(x for x in plan["builds"] if x["site"] == "n2")
    assert n2["year"] == 2030
    n2["year"] = 2031  # north serves n2's 25,000 a year later
    b.write_text(json.dumps(plan))
    r = rdplan("diff", str(a), str(b), "--scenario", TINY)
    assert r.returncode == 0, r.stderr
    assert "served     north: 2030 -25,000" in r.stdout.splitlines(), r.stdout
    r = rdplan("diff", str(a), str(a), "--scenario", TINY)
    assert "served population: the same in every region and year" in r.stdout
    assert "served" not in rdplan("diff", str(a), str(b)).stdout  # not without the scenario


def test_an_output_no_file_can_be_made_at_is_refused_before_the_solve(tmp_path: Path) -> None:
    """``--out /proc/x.json`` passed the permission check (root passes every one), the solve
    ran, and its optimal plan ended with exit 1 and the plan on stdout (a QA pass): such an
    output is refused at once now, with exit 2, and nothing is left where it was tried."""
    for flag in ("--out", "--csv"):
        r = rdplan("solve", TINY, "--quiet", flag, "/proc/rdplan-x")
        assert r.returncode == 2 and r.stdout == "", r.stderr
        assert f"argument {flag}: cannot write /proc/rdplan-x:" in r.stderr
    kept = tmp_path / "kept.json"
    kept.write_text("earlier")
    # a new file is made and removed again, one there is left as it was, until the plan
    r = rdplan("solve", TINY, "--quiet", "--out", str(kept), "--csv", str(tmp_path / "b.csv"))
    assert r.returncode == 0 and json.loads(kept.read_text())["status"] == "optimal"
    r = rdplan("schema", "--out", str(tmp_path / "s.json"))
    assert r.returncode == 0 and json.loads((tmp_path / "s.json").read_text())
    # a FIFO is not opened to be tried: its reader would take that for the end (a review)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()), daemon=True)
    reader.start()
    r = rdplan("schema", "--out", str(fifo))
    reader.join(30)
    assert r.returncode == 0 and got and json.loads(got[0])["title"].startswith("rdplan")


def test_generate_to_an_unwritable_out_exit_2(tmp_path: Path) -> None:
    """``rdplan generate ... --out DIR`` (or a read-only place) crashed with a traceback."""
    size = ["--regions", "2", "--sites-per-region", "2", "--years", "2", "--crew-pools", "2"]
    r = rdplan("generate", *size, "--seed", "1", "--out", str(tmp_path))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"cannot write {tmp_path}: Is a directory" in r.stderr, r.stderr
    out = tmp_path / "new" / "g.json"  # a missing folder is created, as before
    assert rdplan("generate", *size, "--seed", "1", "--out", str(out)).returncode == 0
    assert rdplan("validate", str(out)).returncode == 0


def test_validate_json_answers_for_a_file_it_cannot_read(tmp_path: Path) -> None:
    """``rdplan validate missing.json --json | jq`` got no JSON at all (only a line on stderr)."""
    r = rdplan("validate", str(tmp_path / "missing.json"), "--json")
    assert r.returncode == 2
    answer = json.loads(r.stdout)
    assert answer["valid"] is False and answer["errors"][0]["path"] == ""
    assert "cannot read" in answer["errors"][0]["message"] and answer["warnings"] == []


def test_csv_of_a_solve_without_a_plan_has_no_builds(tmp_path: Path) -> None:
    """``--csv`` was written only with a plan: a re-run that came out infeasible left the CSV
    of the previous run's builds in place, next to the new infeasible plan."""
    plan, builds = tmp_path / "plan.json", tmp_path / "builds.csv"
    args = ["--quiet", "--threads", "1", "--out", str(plan), "--csv", str(builds)]
    assert rdplan("solve", TINY, *args).returncode == 0
    assert len(builds.read_text().splitlines()) == 4
    assert rdplan("solve", INFEASIBLE, *args).returncode == 1
    assert builds.read_text().splitlines() == ["year,region,site,option,crews,crew_km"]


def test_a_baseline_that_is_no_plan_is_refused_at_baseline(tmp_path: Path) -> None:
    """``--baseline`` with a verdict (``unknown``, ``infeasible``) solved as if no baseline
    were given, stability 0, exit 0; a file that is not JSON was named as the scenario
    (``<document>: not a JSON document``). Both are now errors at ``baseline``, exit 2."""
    unknown = tmp_path / "unknown.json"
    r = rdplan(
        "solve", TINY, "--threads", "1", "--time-limit", "0.01", "--quiet", "--out", str(unknown)
    )
    assert json.loads(unknown.read_text())["status"] == "unknown", r.stderr
    r = rdplan("solve", TINY, "--threads", "1", "--quiet", "--baseline", str(unknown))
    assert r.returncode == 2, r.stderr
    plan = json.loads(r.stdout)
    assert plan["status"] == "invalid"
    assert plan["errors"] == [
        {
            "path": "baseline.status",
            "message": "the baseline plan is unknown: it has no builds to keep",
        }
    ]
    # the heading names the re-plan's flags, not the scenario, which is sound
    assert "invalid re-plan (--baseline, --freeze-through):" in r.stderr, r.stderr
    assert "invalid scenario" not in r.stderr
    not_json, array = tmp_path / "b.csv", tmp_path / "array.json"
    not_json.write_text("site,year\n")
    array.write_text("[1]")
    for path, says in (
        (not_json, f"--baseline {not_json}: not a JSON document"),
        (array, f"--baseline {array}: the document must be a JSON object"),
        (tmp_path / "nope.json", f"cannot read --baseline {tmp_path / 'nope.json'}"),
    ):
        r = rdplan("solve", TINY, "--threads", "1", "--quiet", "--baseline", str(path))
        assert r.returncode == 2, r.stderr
        [error] = json.loads(r.stdout)["errors"]
        assert error["path"] == "baseline" and error["message"].startswith(says), error


def test_json_nested_deeper_than_the_parser_goes_is_not_a_document(tmp_path: Path) -> None:
    """A RecursionError traceback (exit 1) in every command that reads JSON; the service
    already answered 'nested too deeply'."""
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    r = rdplan("validate", str(deep))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "<document>: not a JSON document: it is nested too deeply" in r.stdout + r.stderr
    r = rdplan("diff", str(deep), str(deep))
    assert r.returncode == 2 and "nested too deeply" in r.stderr, r.stderr


def test_threads_beyond_the_cores_are_refused() -> None:
    """``--threads 1000`` made a 0.02-s solve time out, and larger values ran past the time
    limit or out of memory; the service caps threads at the cores too."""
    import os

    cores = os.cpu_count() or 1
    for command in ("solve", "batch"):
        r = rdplan(command, TINY, "--threads", str(cores + 1))
        assert r.returncode == 2 and "Traceback" not in r.stderr
        said = f"this machine has {cores} core(s): at most {cores} threads, not {cores + 1}"
        assert f"argument --threads: {said}" in r.stderr, r.stderr


def test_generate_refuses_a_tolerance_or_count_out_of_range() -> None:
    """``--balance -5`` / ``200`` and ``--precedences -1`` were changed silently (tolerance 11
    or 100, no pairs); fewer pairs than asked for are said on stderr. A ``--name`` of more
    than 200 characters wrote a scenario ``rdplan validate`` refuses, with exit 0."""
    size = ["--regions", "2", "--sites-per-region", "2", "--years", "2", "--crew-pools", "1"]
    for flag, value in (("--balance", "-5"), ("--balance", "200"), ("--precedences", "-1")):
        r = rdplan("generate", *size, "--seed", "1", flag, value)
        assert r.returncode == 2 and r.stdout == "", r.stderr
        assert f"not {value}" in r.stderr and "Traceback" not in r.stderr
    for value in ("-1", str(10**20)):  # taken here, refused by solve's --seed (a QA pass)
        r = rdplan("generate", *size, "--seed", value)
        assert r.returncode == 2 and "--seed: must lie in 0..2147483647" in r.stderr, r.stderr
    r = rdplan("generate", *size, "--seed", "1", "--name", "x" * 201)  # SPEC §1: at most 200
    assert r.returncode == 2 and r.stdout == "", r.stderr
    assert "a name has at most 200 characters, not 201" in r.stderr
    r = rdplan("generate", *size, "--seed", "1", "--name", "x" * 200)
    assert r.returncode == 0 and rdplan("validate", "-", stdin=r.stdout).returncode == 0
    r = rdplan("generate", *size, "--seed", "1", "--precedences", "1000")
    assert r.returncode == 0, r.stderr
    drawn = len(json.loads(r.stdout)["precedences"])
    assert f"{drawn} precedence pair(s) of the 1000 asked for" in r.stderr
    # a count far past the pairs there are spun for minutes (a QA pass): drawn at once now
    started = time.perf_counter()
    r = rdplan("generate", *size, "--seed", "1", "--precedences", str(10**9))
    assert r.returncode == 0 and time.perf_counter() - started < 20, r.stderr
    assert f"precedence pair(s) of the {10**9} asked for" in r.stderr


def _interrupted_after_a_plan(argv: list[str]) -> str:
    """Run ``rdplan solve``, Ctrl-C it once its progress shows a plan; its stderr (exit 0)."""
    import signal

    p = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    assert p.stderr is not None
    for line in p.stderr:  # plain progress lines: wait for a plan
        if line.startswith("incumbent ") and not line.startswith("incumbent -"):
            break
    p.send_signal(signal.SIGINT)
    stderr = p.stderr.read()
    assert p.wait(timeout=60) == 0, stderr
    return stderr


def test_ctrl_c_stops_the_solve_and_writes_its_best_plan(tmp_path: Path) -> None:
    """Ctrl-C during ``rdplan solve`` ended HiGHS, CBC and portfolio solves in a
    KeyboardInterrupt traceback with nothing written (CP-SAT alone stopped and wrote its plan);
    it now stops the solver as its time limit would. A Ctrl-C elsewhere (batch) is exit 130,
    without a traceback."""
    import signal

    gen200 = str(Path(__file__).parents[2] / "instances" / "generated" / "gen-200.json")
    out = tmp_path / "plan.json"
    stderr = _interrupted_after_a_plan(
        [sys.executable, "-m", "solver.cli", "solve", gen200, "--backend", "highs",
         "--time-limit", "120", "--out", str(out)]
    )  # fmt: skip
    assert "interrupted: stopping the solver" in stderr and "Traceback" not in stderr
    plan = json.loads(out.read_text())
    assert plan["status"] == "feasible" and plan["solver"]["seconds"] < 100, plan["solver"]
    assert rdplan("check", gen200, str(out)).returncode == 0
    p = subprocess.Popen(
        [sys.executable, "-m", "solver.cli", "batch", gen200, "--time-limit", "120"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 130, stderr
    assert "rdplan: interrupted" in stderr and "Traceback" not in stderr


@pytest.mark.parametrize("backend", ["cpsat", "cbc"])
def test_ctrl_c_keeps_the_plan_and_an_ignored_sigint_stays_ignored(
    tmp_path: Path, backend: str
) -> None:
    """Ctrl-C during a CBC solve lost the plan CBC had (``unknown``, exit 1; a QA pass); it is
    written now, ``feasible``. And CP-SAT caught SIGINT itself: a solve run with SIGINT
    ignored (a background job of a shell) stopped on it all the same."""
    import signal

    scenario = str(Path(__file__).parents[2] / "instances" / "generated" / "gen-10x12x6.json")
    out = tmp_path / "plan.json"
    argv = [sys.executable, "-m", "solver.cli", "solve", scenario, "--backend", backend,
            "--threads", "1", "--time-limit", "30", "--out", str(out)]  # fmt: skip
    _interrupted_after_a_plan(argv)
    plan = json.loads(out.read_text())
    assert plan["status"] == "feasible" and plan["solver"]["seconds"] < 25, plan["solver"]
    assert rdplan("check", scenario, str(out)).returncode == 0
    if backend != "cpsat":
        return
    ignored = subprocess.Popen(
        argv[:-4] + ["--time-limit", "6", "--quiet", "--out", str(out)],
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    time.sleep(2.5)
    ignored.send_signal(signal.SIGINT)
    assert ignored.wait(timeout=60) == 0
    assert json.loads(out.read_text())["solver"]["seconds"] >= 5.5  # ran to its time limit


def test_stdin_is_read_once_and_an_output_is_never_named_dash(tmp_path: Path) -> None:
    """``--out -`` wrote a file named ``-`` (stdin's name among inputs); two inputs given as
    ``-`` read an empty second document, "not a JSON document" (a QA pass)."""
    tiny = Path(TINY).read_text()
    for argv in (["check", "-", "-"], ["diff", "-", "-"], ["solve", "-", "--baseline", "-"]):
        r = rdplan(*argv, stdin=tiny, cwd=tmp_path)
        assert r.returncode == 2 and "stdin can be read once" in r.stderr, (argv, r.stderr)
    for argv in (["schema", "--out", "-"], ["solve", TINY, "--out", "-"],
                 ["solve", TINY, "--csv", "-"], ["diff", TINY, TINY, "--out", "-"],
                 ["generate", "--regions", "1", "--sites-per-region", "2", "--years", "2",
                  "--crew-pools", "1", "--seed", "1", "--out", "-"]):  # fmt: skip
        r = rdplan(*argv, cwd=tmp_path)
        assert r.returncode == 2 and "'-' is not a file" in r.stderr, (argv, r.stderr)
    assert not (tmp_path / "-").exists()


def test_a_ctrl_c_while_the_command_is_imported_is_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C in the first ~0.4 s of any command, while solver.cli and its modules are
    imported, printed a traceback (a QA pass); the console script's entry answers it as the
    commands do once they run."""
    import importlib.abc
    import signal
    import sys

    from solver import entry

    class Interrupted(importlib.abc.MetaPathFinder):
        def find_spec(self, name: str, *args: object) -> None:
            if name == "solver.cli":  # a Ctrl-C as it is imported; the import goes on
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.delitem(sys.modules, "solver.cli", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Interrupted(), *sys.meta_path])
    assert entry.main() == 130
    assert capsys.readouterr().err == "rdplan: interrupted\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # given back
