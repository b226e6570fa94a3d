"""The Celery pool of ``rdplan worker``: Celery's prefork pool, replacing a finished job's
process at once instead of up to 5 s later.

Each pool process runs one job and exits (``worker_max_tasks_per_child=1``, so that every
solve starts with a fresh solver; HiGHS's ``threads`` is process-global). Celery's
``AsynPool`` starts the replacement when the exiting process's sentinel becomes readable,
but the sentinel closes while the process is still exiting: ``exitcode`` is still ``None``
then, the pool skips it, stops watching the sentinel, and the replacement waits for the
pool's maintenance timer, every 5 s. A job submitted in that window waited up to 5 s before
it started (measured, *Run 30* in ``benchmarks/RESULTS.md``). Here the timer runs every
:data:`MAINTAIN_INTERVAL` seconds: an idle worker's main process uses 0.25 s of CPU a
minute instead of 0.07 s (0.3 % of a core).
"""

from __future__ import annotations

from collections.abc import Callable

from celery.concurrency import asynpool, prefork

#: Seconds between the pool's maintenance passes (Celery's own: 5.0).
MAINTAIN_INTERVAL = 0.1


class AsynPool(asynpool.AsynPool):  # type: ignore[misc]
    """Celery's event-loop prefork pool, with the maintenance timer at :data:`MAINTAIN_INTERVAL`."""

    @property
    def timers(self) -> dict[Callable[[], None], float]:
        return {self.maintain_pool: MAINTAIN_INTERVAL}


class TaskPool(prefork.TaskPool):  # type: ignore[misc]
    """The prefork task pool of ``rdplan worker`` (Celery's ``worker_pool`` setting)."""

    Pool = AsynPool
