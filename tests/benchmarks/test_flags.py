"""Bad flags of ``rdplan bench``: a named message and exit 2 before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.run import main


def _exit(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's own refusals
        return int(exc.code or 0)


@pytest.mark.parametrize("seeds", ["a,b", ",", "-1", "0,0"])
def test_bad_seeds_exit_2(seeds: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit(["--seeds", seeds, "--out", str(tmp_path)]) == 2
    assert "--seeds" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("flag", "value"), [("--time-limit", "0"), ("--time-limit", "-1"), ("--threads", "0")]
)
def test_non_positive_limits_exit_2(
    flag: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit([flag, value, "--only", "tiny", "--out", str(tmp_path)]) == 2
    assert flag in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_only_matching_nothing_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit(["--only", "nothing", "--out", str(tmp_path)]) == 2
    assert "matches no scenario" in capsys.readouterr().err


@pytest.mark.parametrize("backends", [",", "cpsat,cpsat"])
def test_empty_or_repeated_backends_exit_2(
    backends: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A backend (or a seed) given twice ran one run twice, into a results file that
    ``--targets-of`` then refused (a QA pass)."""
    assert _exit(["--backends", backends, "--out", str(tmp_path)]) == 2
    assert "backend" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_unwritable_out_is_refused_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert _exit(["--only", "tiny", "--out", str(blocker / "results")]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "Traceback" not in err and "[1/" not in err


def test_backends_a_case_does_not_run_leave_no_run_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """gen-3000 runs the portfolio only: with --backends cbc nothing ran, yet the run exited 0
    and wrote "every plan holds" over the day's earlier --only results. ``--only ""`` ran the
    whole suite (~30 min)."""
    argv = ["--suite", "full", "--only", "gen-3000", "--backends", "cbc", "--out", str(tmp_path)]
    assert _exit(argv) == 2
    assert "--only gen-3000 with --backends cbc leaves no run" in capsys.readouterr().err
    assert _exit(["--only", "", "--out", str(tmp_path)]) == 2
    assert "--only '' matches no scenario" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_a_second_run_the_same_day_keeps_the_first(tmp_path: Path) -> None:
    """Two ``--only`` runs of a day wrote one file name: the second replaced the first."""
    argv = ["--only", "tiny", "--backends", "highs", "--no-baseline", "--time-limit", "5"]
    assert main([*argv, "--threads", "1", "--plain", "--out", str(tmp_path)]) == 0
    first = sorted(tmp_path.glob("*.csv"))
    assert [p.name.endswith("-smoke-only.csv") for p in first] == [True]
    kept = first[0].read_text(encoding="utf-8")
    assert main([*argv, "--threads", "1", "--plain", "--out", str(tmp_path)]) == 0
    both = {p.name for p in tmp_path.glob("*.csv")}
    assert both == {first[0].name, first[0].stem + "-2.csv"}
    assert first[0].read_text(encoding="utf-8") == kept


def test_seeds_and_a_part_of_the_full_suite_are_what_was_asked() -> None:
    """``--seeds 3,4`` ran the cases with seeds of their own (kimhwa-pilot, the infeasible
    ones, gen-1000 and gen-3000) on those still, and a run of some backends of the full suite
    took the name of the whole full suite's results (a QA pass)."""
    import argparse

    from benchmarks.run import RDPLAN_BACKENDS, _stem, plan_runs, select
    from benchmarks.suites import suite

    cases = select(suite("full"), "kimhwa-pilot,national-infeasible,gen-1000")
    runs = plan_runs(cases, ["highs"], [3, 4], 60.0, 2, baseline=False, explicit_seeds=True)
    assert {r["seed"] for r in runs} == {3, 4}
    own = plan_runs(cases, ["highs"], [0], 60.0, 2, baseline=False)
    assert {r["seed"] for r in own if r["scenario"] == "kimhwa-pilot"} == {0, 1}

    def stem(**given: object) -> str:
        args = {"suite": "full", "only": None, "seeds": None, "time_limit": None}
        args |= {
            "no_baseline": False,
            "backends": list(RDPLAN_BACKENDS),
            "out": Path("/nonexistent"),
        }
        return _stem(argparse.Namespace(**(args | given)), "2026-12-08")

    assert stem() == "2026-12-08"
    for part in (
        {"backends": ["highs"]},
        {"seeds": [7]},
        {"time_limit": 1.0},
        {"no_baseline": True},
    ):
        assert stem(**part) == "2026-12-08-full-only", part


@pytest.mark.parametrize("nth", [1, 2])  # the calibration's process, the first run's
def test_ctrl_c_stops_the_runs_without_a_childs_traceback(nth: int, tmp_path: Path) -> None:
    """A Ctrl-C reaches the whole process group; a run's process still importing printed
    KeyboardInterrupt's traceback over the parent's one line (a QA pass, once in four). Runs
    start with SIGINT ignored now, and the interrupted parent stops them at once. The Ctrl-C
    comes as the ``nth`` spawned process starts, while it imports."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    rdplan = str(Path(sys.executable).with_name("rdplan"))  # the console script
    argv = [rdplan, "bench", "--only", "generated-b"]
    argv += ["--backends", "highs", "--no-baseline", "--threads", "1", "--plain"]
    proc = subprocess.Popen(
        [*argv, "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        # as from a terminal: a job started in the background by a script (CI's, say) has
        # SIGINT ignored, and that is inherited and kept
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    spawned: set[int] = set()
    deadline = time.monotonic() + 60
    while len(spawned) < nth and proc.poll() is None and time.monotonic() < deadline:
        for child in psutil.Process(proc.pid).children():
            try:
                if "--multiprocessing-fork" in child.cmdline():
                    spawned.add(child.pid)
            except psutil.Error:
                pass
        time.sleep(0.02)
    assert len(spawned) == nth, "the bench ended before its runs started"
    os.killpg(proc.pid, signal.SIGINT)  # as the terminal sends it: to every process
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    time.sleep(0.5)
    left = [  # a zombie is no run left running (an init that does not reap keeps it)
        p
        for p in psutil.process_iter(["pid", "status"])
        if _group(p) == proc.pid and p.info["status"] != psutil.STATUS_ZOMBIE
    ]
    assert not left, left


def _group(process: object) -> int | None:
    import os

    import psutil

    try:
        return os.getpgid(process.pid)  # type: ignore[attr-defined]
    except (ProcessLookupError, psutil.Error):
        return None
