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
