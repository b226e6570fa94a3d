"""``rdplan bench --compare OLD NEW`` on the results files the repository keeps (real runs of
runs 21, 25 and 26), and on copies of them altered the way a wrong revision would alter them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from benchmarks.run import main

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
RUN21 = RESULTS / "2026-12-06-run21-baseline-seeds12.csv"
RUN25 = RESULTS / "2026-12-06-run25-baseline-seeds12.csv"
RUN25_FROZEN = RESULTS / "2026-12-06-run25-frozen.csv"


def _compare(old: Path, new: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["--compare", str(old), str(new)])
    out, err = capsys.readouterr()
    return code, out, err


def _row(out: str, scenario: str, backend: str) -> list[str]:
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[:2] == [scenario, backend]:
            return cells
    raise AssertionError(f"no row for {scenario} / {backend} in:\n{out}")


def test_two_runs_side_by_side(capsys: pytest.CaptureFixture[str]) -> None:
    """Run 25 against run 21: both proved national-20x10 on seeds 1 and 2 with both rdplan and
    the baseline; the ratios are those of the files' mean solve seconds, and the speed
    references (0.402 s and 0.504 s) correct them for the machine."""
    code, out, _ = _compare(RUN21, RUN25, capsys)
    assert code == 0
    portfolio = _row(out, "national-20x10", "portfolio")
    assert portfolio[2:5] == ["1, 2", "optimal → optimal", "1,861,928"]
    assert portfolio[6:] == ["15.66 → 19.20", "1.23", "0.98"]
    baseline = _row(out, "national-20x10", "baseline")
    assert baseline[6:8] == ["316.14 → 365.92", "1.16"]
    assert "old 0.402 s, new 0.504 s" in out
    assert "over the 2 rows both files proved" in out


def test_a_fresh_smoke_run_against_the_reference_full_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What an analyst does after a change: run the suite, then set it beside the reference
    table. The smoke suite shares kimhwa-pilot and infeasible-technicians (seed 0) with run
    21's full run; every backend must reach the same answers."""
    only = "kimhwa-pilot,infeasible-technicians"
    assert main(["--suite", "smoke", "--only", only, "--out", str(tmp_path), "--plain"]) == 0
    (fresh,) = tmp_path.glob("*.csv")
    capsys.readouterr()
    code, out, _ = _compare(RESULTS / "2026-12-06-run21-full.csv", fresh, capsys)
    assert code == 0
    for backend in ("cpsat", "highs", "cbc", "portfolio", "lpguided", "baseline"):
        assert _row(out, "kimhwa-pilot", backend)[2:5] == ["0", "optimal → optimal", "53,573"]
        infeasible = _row(out, "infeasible-technicians", backend)
        assert infeasible[3] == "infeasible → infeasible"
    assert "contradiction" not in out
    (alone,) = [line for line in out.splitlines() if line.startswith("Runs in the old file only")]
    assert "national-20x10 / portfolio (0)" in alone  # not in the smoke suite
    assert "kimhwa-pilot / highs (1)," in alone  # the smoke run's seed is 0 only
    assert "Runs in the new file only" not in out


def test_two_full_runs_and_the_case_only_one_of_them_ran(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Run 26's full suite against run 21's, both kept in the repository: the same answers
    everywhere; run 24 added national-20x10-gap0.5 to the suite, so run 26 holds two runs that
    run 21 does not, and the comparison names them instead of dropping them silently."""
    code, out, _ = _compare(
        RESULTS / "2026-12-06-run21-full.csv", RESULTS / "2026-12-06-run26-full.csv", capsys
    )
    assert code == 0
    assert "contradiction" not in out
    assert _row(out, "national-20x10", "portfolio")[3:5] == ["optimal → optimal", "1,861,928"]
    assert (
        "Runs in the new file only (not compared): national-20x10-gap0.5 / highs (0),"
        " national-20x10-gap0.5 / portfolio (0)." in out
    )
    assert "Runs in the old file only" not in out


def _run25_altered(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    backend: str,
    seed: int,
) -> tuple[int, str]:
    """Run 25's national file with ``change`` made to one run (its markdown copied too, for the
    speed reference), compared against run 21's: the exit code and the output."""
    with RUN25.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    assert fields is not None
    (hit,) = [r for r in rows if r["backend"] == backend and r["seed"] == str(seed)]
    hit.update(change)
    altered = tmp_path / RUN25.name
    with altered.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    altered.with_suffix(".md").write_text(
        RUN25.with_suffix(".md").read_text(encoding="utf-8"), encoding="utf-8"
    )
    code, out, _ = _compare(RUN21, altered, capsys)
    return code, out


def test_two_proven_optima_contradict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    change = {"objective": "1861929", "bound": "1861929"}
    code, out = _run25_altered(tmp_path, capsys, change, "portfolio", 2)
    assert code == 1
    assert "**contradiction**" in _row(out, "national-20x10", "portfolio")[3]
    assert "national-20x10: two proven optima, 1,861,928 and 1,861,929" in out


def test_a_plan_above_a_bound_contradicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A time-limited run's plan may not exceed another run's bound either."""
    change = {"status": "feasible", "objective": "1861990", "bound": "1862500", "gap": "0.0003"}
    code, out = _run25_altered(tmp_path, capsys, change, "baseline", 1)
    assert code == 1
    assert "national-20x10: a plan of 1,861,990 above a bound of 1,861,928" in out
    # Seconds compare only where both files proved every paired run.
    assert _row(out, "national-20x10", "baseline")[7] == "—"
    assert "Proved in the old file only: national-20x10 / baseline." in out


def test_files_that_share_no_run(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _compare(RUN25_FROZEN, RUN25, capsys)
    assert code == 2 and out == ""
    assert "share no run" in err and RUN25.name in err


def test_a_file_that_is_not_a_results_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "plan.csv"
    other.write_text("site,year,option\nkimhwa.a,2024,basic\n", encoding="utf-8")
    code, out, err = _compare(RUN21, other, capsys)
    assert code == 2 and out == ""
    assert f"{other}: not an rdplan bench results file" in err
    code, _, err = _compare(tmp_path / "missing.csv", RUN25, capsys)
    assert code == 2 and "missing.csv" in err


def test_compare_and_targets_of_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--compare", str(RUN21), str(RUN25), "--targets-of", str(RUN25)])
    assert exit_info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_a_failed_run_is_listed_not_timed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run that failed (no plan, no seconds) is shown as such, without a ratio."""
    change = {"status": "error", "objective": "", "bound": "", "gap": "", "solve_s": ""}
    code, out = _run25_altered(tmp_path, capsys, change, "portfolio", 1)
    assert code == 0
    row = _row(out, "national-20x10", "portfolio")
    assert row[3] == "optimal → error/optimal"
    assert row[6:] == ["15.66 → — (not all proven)", "—", "—"]
    assert "Proved in the old file only: national-20x10 / portfolio." in out


def test_a_run_its_bench_failed_is_no_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run whose plan the evaluator rejected (its ``check`` FAIL) read "optimal → optimal",
    its seconds in the ratios, exit 0 (a QA pass). It is marked, not timed, and exits 1."""
    check = "FAIL: the evaluator rejects the plan: site 'x' is required but not built"
    code, out = _run25_altered(tmp_path, capsys, {"check": check}, "portfolio", 1)
    assert code == 1
    row = _row(out, "national-20x10", "portfolio")
    assert row[3].endswith("**FAIL**") and "(a run failed its checks)" in row[6], row
    assert row[7] == "—"
    assert (
        f"**national-20x10 / portfolio / seed 1 (new): the run failed its checks: {check}**" in out
    )


def test_a_markdown_that_is_not_utf8_leaves_out_the_speed_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A results file's markdown in another encoding raised UnicodeDecodeError: a traceback
    and exit 1, the code of a contradiction (a QA pass)."""
    code, _ = _run25_altered(tmp_path, capsys, {}, "portfolio", 1)
    assert code == 0
    altered = tmp_path / RUN25.name
    altered.with_suffix(".md").write_bytes(b"- speed reference: \xff\xfe 0.4 s at the start\n")
    code, out, err = _compare(RUN21, altered, capsys)
    assert code == 0 and "Traceback" not in err
    assert "Speed reference: not in both files' protocols" in out


def test_runs_set_up_differently_are_not_compared_in_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 64-thread run paired with a 1-thread one read "× 0.05", as if rdplan had changed; the
    seconds of runs with other threads or time limits now give no ratio, and the summary says
    which rows were left out."""
    code, out = _run25_altered(tmp_path, capsys, {"threads": "1"}, "portfolio", 2)
    assert code == 0
    row = _row(out, "national-20x10", "portfolio")
    assert row[6].endswith("(threads 2 → 1, 2)") and row[7:] == ["—", "—"]
    assert "set up differently: national-20x10 / portfolio (threads 2 → 1, 2)" in out
    assert "over the 1 rows both files proved" in out  # the baseline's alone
