"""``python -m benchmarks.load``: a real ``rdplan serve`` and a few tiny solves from concurrent
clients; its report says what ran (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.api.conftest import service_env

pytestmark = [pytest.mark.service, pytest.mark.timeout(300)]


def _load(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.load", *args],
        cwd=cwd,
        env=service_env(),
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )


def test_a_small_load_run_reports_its_backend_and_finished_jobs(tmp_path: Path) -> None:
    """The report said "CP-SAT" whatever the service solved with (it sent no backend), and its
    throughput counted the jobs asked for, finished or not."""
    out = tmp_path / "load.md"
    r = _load(
        "--jobs", "4", "--clients", "2", "--distinct", "2", "--workers", "1",
        "--backend", "highs", "--time-limit", "5", "--out", str(out), cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    text = out.read_text(encoding="utf-8")
    assert "time limit 5 s, 1 thread, backend highs)" in text
    assert "`rdplan serve` on the embedded defaults (SQLite, 1 worker processes)" in text
    assert (
        "| jobs finished | 4 / 4 |" in text and "| plans checked by the evaluator | 4 / 4 |" in text
    )
    assert "| throughput (jobs finished) |" in text


def test_no_distinct_scenario_is_refused(tmp_path: Path) -> None:
    """``--distinct 0`` killed every client thread (ZeroDivisionError) and still reported a
    throughput of tens of jobs a second."""
    r = _load("--distinct", "0", "--out", str(tmp_path / "load.md"), cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "argument --distinct: must be at least 1, not 0" in r.stderr
    assert not (tmp_path / "load.md").exists()
