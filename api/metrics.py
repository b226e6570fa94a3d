"""Prometheus metrics, read from the database at scrape time.

Jobs run in other processes (worker processes, Celery workers on other
machines), so the job store is the one place that knows them all: the gauges
and the solve-time histogram are computed from it on every scrape and survive
restarts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from api.runners import Runner
from api.storage import Storage, log_failure

log = logging.getLogger("rdplan.api")

SOLVE_SECONDS_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class JobCollector(Collector):
    def __init__(self, storage: Storage):
        self.storage = storage

    def collect(self) -> Iterator[Metric]:
        try:
            counts = self.storage.counts_by_status()
            buckets, count, total = self.storage.seconds_histogram(SOLVE_SECONDS_BUCKETS)
        except Exception:
            log_failure(log, "metrics: the database did not answer")
            up = GaugeMetricFamily("rdplan_database_up", "1 when the job store answered the scrape")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("rdplan_database_up", "1 when the job store answered the scrape")
        up.add_metric([], 1)
        yield up
        jobs = GaugeMetricFamily(
            "rdplan_jobs", "Solve jobs in the store by status", labels=["status"]
        )
        for status, n in counts.items():
            jobs.add_metric([status], n)
        yield jobs
        hist = HistogramMetricFamily(
            "rdplan_solve_seconds",
            "Wall seconds of finished solve jobs, from start to end (all workers)",
        )
        pairs = [(f"{b:g}", float(n)) for b, n in zip(SOLVE_SECONDS_BUCKETS, buckets, strict=True)]
        pairs.append(("+Inf", float(count)))
        hist.add_metric([], pairs, total)
        yield hist


class WorkerCollector(Collector):
    """``rdplan_workers``: the Celery workers that answered the server's last ping (none
    before the first ping, while the broker does not answer, or without Celery)."""

    def __init__(self, runner: Runner):
        self.runner = runner

    def collect(self) -> Iterator[Metric]:
        seen = self.runner.workers_seen()
        if seen is None:
            return
        workers = GaugeMetricFamily(
            "rdplan_workers", "Celery workers that answered the server's last ping"
        )
        workers.add_metric([], len(seen[0]))
        yield workers


def make_registry(storage: Storage, runner: Runner) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobCollector(storage))
    registry.register(WorkerCollector(runner))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
