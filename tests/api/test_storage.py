"""The job store's state machine on a real SQLite file (no server): guarded transitions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.settings import Settings
from api.storage import ProgressPoint, Storage, migrate, normalize_url, scenario_id
from solver.scenario import parse_scenario


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    """A migrated SQLite job store in a temporary directory."""
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    migrate(url)
    migrate(url)  # idempotent: a restart runs it again
    s = Storage(url)
    yield s
    s.dispose()


def test_scenarios_are_content_hashed(storage: Storage, tiny_doc: dict[str, Any]) -> None:
    a, created = storage.add_scenario(parse_scenario(tiny_doc))
    assert created and a.id == scenario_id(parse_scenario(tiny_doc).to_document())
    # the same content with integral floats written differently is the same scenario
    same = {**tiny_doc, "sites": [{**tiny_doc["sites"][0], "lat": 40}, *tiny_doc["sites"][1:]]}
    b, created = storage.add_scenario(parse_scenario(same))
    assert not created and b.id == a.id
    c, created = storage.add_scenario(parse_scenario({**tiny_doc, "name": "other"}))
    assert created and c.id != a.id
    rows, total = storage.list_scenarios(10, 0)
    assert total == 2 and {r.id for r in rows} == {a.id, c.id}


def test_job_life_cycle_is_guarded(storage: Storage, tiny_doc: dict[str, Any]) -> None:
    sc, _ = storage.add_scenario(parse_scenario(tiny_doc))
    job = storage.create_job(
        sc.id, {"backend": "cpsat", "time_limit": 1.0, "threads": 1, "seed": 0}
    )
    claim = storage.claim(job.id, runner="local", worker="host/1")
    assert claim is not None and claim.document["name"] == "tiny"
    assert storage.claim(job.id, runner="local", worker="host/2") is None  # claimed once only
    assert storage.heartbeat(job.id, "host/2", []) is None  # not that worker's job
    assert storage.heartbeat(job.id, "host/1", [ProgressPoint(1, 0.1, 10, 20, 0.5)]) is False
    assert storage.request_cancel(job.id) is not None
    assert storage.heartbeat(job.id, "host/1", [ProgressPoint(2, 0.2, 15, 15, 0.0)]) is True
    assert [p.seq for p in storage.progress(job.id)] == [1, 2]
    assert [p.seq for p in storage.progress(job.id, after=1)] == [2]
    assert not storage.finish(job.id, "host/2", "done", None, {"status": "optimal"}, True, 1.0)
    assert storage.finish(
        job.id, "host/1", "cancelled", "stop", {"status": "feasible", "objective": 15}, True, 1.0
    )
    row = storage.get_job(job.id)
    assert row is not None and row.status == "cancelled" and row.objective == 15
    assert not storage.finish(job.id, "host/1", "done", None, None, None, 2.0)  # already ended


def test_queued_cancel_and_recovery(storage: Storage, tiny_doc: dict[str, Any]) -> None:
    sc, _ = storage.add_scenario(parse_scenario(tiny_doc))
    opts = {"backend": "cpsat", "time_limit": 1.0, "threads": 1, "seed": 0}
    queued, running, stale = (storage.create_job(sc.id, opts) for _ in range(3))
    cancelled = storage.request_cancel(queued.id)
    assert cancelled is not None and cancelled.status == "cancelled"
    assert storage.claim(queued.id, "local", "h/1") is None
    assert storage.claim(running.id, "local", "h/1") is not None
    assert storage.claim(stale.id, "celery", "node@h/7") is not None
    assert storage.fail_running("gone", runner="celery", worker_prefix="node@h/") == [stale.id]
    future = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    assert storage.fail_running("silent", heartbeat_before=future) == [running.id]
    assert storage.counts_by_status() == {
        "queued": 0,
        "running": 0,
        "done": 0,
        "failed": 2,
        "cancelled": 1,
    }
    rows, total = storage.list_jobs("failed", sc.id, 1, 0)
    assert total == 2 and len(rows) == 1


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RDPLAN_API_KEYS", " a, b ,,")
    monkeypatch.setenv("RDPLAN_BROKER_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("RDPLAN_WORKERS", "3")
    s = Settings()
    assert s.api_key_set == {"a", "b"} and s.runner == "celery" and s.workers == 3
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
