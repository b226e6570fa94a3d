"""``rdplan worker``: a Celery worker that runs solve jobs from ``RDPLAN_BROKER_URL``."""

from __future__ import annotations

import logging
import sys

from celery import Celery
from celery.utils.nodenames import host_format

from api.settings import get_settings

log = logging.getLogger("rdplan.worker")

#: How long the start waits for live workers to answer the name check.
PING_SECONDS = 1.0


def transport_problem(url: str) -> str | None:
    """Why ``url`` names no broker transport kombu knows (``notabroker://``), or None. The
    server started with such a URL and answered 503 to every solve (a QA pass)."""
    from kombu.connection import Connection

    try:
        # built inside: a query kombu does not take (?socket_timeout=5) raised TypeError here,
        # a traceback at start (a QA pass)
        connection = Connection(url)  # type: ignore[no-untyped-call]
        transport = connection.get_transport_cls()  # type: ignore[no-untyped-call]
    except TypeError as exc:  # kombu passes the query on as keyword arguments
        return f"RDPLAN_BROKER_URL: its query names an option the connection does not take ({exc})"
    except Exception as exc:  # KeyError's str() quotes its message
        said = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        return f"RDPLAN_BROKER_URL: {said}"
    name = str(getattr(transport, "driver_type", "") or connection.transport_cls).lower()
    if name == "memory":  # the server's own memory: a worker in another process never reads it
        return "RDPLAN_BROKER_URL: memory:// lives in one process, and workers run in others"
    vhost = str(connection.virtual_host or "").strip("/")
    if name == "redis" and vhost and not vhost.isdigit():
        # the worker printed three tracebacks and exited 0 on redis://host:6379/abc
        return f"RDPLAN_BROKER_URL: a Redis database is a number (0-15 by default), not {vhost!r}"
    return None


def _broker_problem(app: Celery, nodename: str) -> str | None:
    """Why this worker must not start, or None: a broker URL of no known transport, or a live
    worker with the same node name (its restart would fail that worker's running jobs; Celery's
    own check is off with gossip and mingle). An unreachable broker is waited for, as before."""
    bad_url = transport_problem(str(app.conf.broker_url))
    if bad_url is not None:
        return bad_url
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
            answers = app.control.ping(timeout=PING_SECONDS, connection=conn)
    except Exception as exc:  # unreachable: the worker retries, as it always has
        log.warning("broker not reachable yet (%s); no check for a worker named %s", exc, nodename)
        return None
    if any(nodename in answer for answer in answers):
        return (
            f"a worker named {nodename} is already running (it answered a ping): give each"
            " worker its own RDPLAN_WORKER_NAME, e.g. rdplan2@%h"
        )
    return None


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
    app = make_celery(settings)
    nodename = host_format(settings.worker_name)
    connect_recovery(settings, app, nodename)
    problem = _broker_problem(app, nodename)
    if problem is not None:
        print(f"rdplan worker: {problem}", file=sys.stderr)
        return 2
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
