"""``--compare`` / ``--targets-of`` on files that are not whole results files: exit 2, named."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from benchmarks.run import COLUMNS, main


def _results(path: Path, *lines: str) -> Path:
    path.write_text(",".join(COLUMNS) + "\n" + "".join(line + "\n" for line in lines))
    return path


@pytest.mark.parametrize("kind", ["truncated", "huge-field", "gzip"])
def test_unreadable_results_exit_2(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _results(tmp_path / "good.csv")
    bad = tmp_path / "bad.csv"
    if kind == "truncated":  # a row cut short: a partial copy of a file
        _results(bad, "2026-12-06,smoke,tiny,solve,highs")
    elif kind == "huge-field":
        _results(bad, "x" * 200_000)
    else:
        bad.write_bytes(gzip.compress(good.read_bytes()))
    for argv in (["--compare", str(bad), str(good)], ["--targets-of", str(bad)]):
        assert main(argv) == 2
        assert str(bad) in capsys.readouterr().err
