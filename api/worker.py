"""``rdplan worker``: a Celery worker that runs solve jobs from ``RDPLAN_BROKER_URL``."""

from __future__ import annotations

import sys

from api.settings import get_settings


def run_worker(concurrency: int = 1) -> int:
    """Run a Celery worker with ``concurrency`` pool processes until it is stopped."""
    settings = get_settings()
    if not settings.broker_url:
        print(
            "rdplan worker: set RDPLAN_BROKER_URL (e.g. redis://127.0.0.1:6379/0)", file=sys.stderr
        )
        return 2
    from api.storage import DatabaseUnavailable, migrate
    from api.tasks import connect_recovery, make_celery

    try:
        migrate(settings.database_url)
    except DatabaseUnavailable as exc:
        print(f"rdplan worker: RDPLAN_DATABASE_URL: {exc}", file=sys.stderr)
        return 2
    connect_recovery(settings)
    app = make_celery(settings)
    argv = [
        "worker",
        f"--concurrency={max(1, concurrency)}",
        "--loglevel=INFO",
        f"--hostname={settings.worker_name}",
        "--without-gossip",
        "--without-mingle",
        "--pool=prefork",
    ]
    try:
        app.worker_main(argv)
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 1
    return 0
