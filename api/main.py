"""The FastAPI app: settings, storage and runner wired together; routes live in ``api/routes``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from api import errors
from api.metrics import make_registry
from api.middleware import BodySizeLimit, HeadAsGet
from api.routes import batches, health, scenarios, solves, validate
from api.runners import make_runner
from api.settings import Settings, get_settings
from api.storage import Storage, migrate

log = logging.getLogger("rdplan.api")

DESCRIPTION = """\
Plans multi-year regional development programmes (rdplan SPEC v1).

Solves are **jobs**: `POST /v1/solves` answers 202 at once; a worker process
runs the solver. Watch a job with `GET /v1/solves/{id}` (status and the
incumbent/bound/gap history) or `GET /v1/solves/{id}/events` (server-sent
events), then fetch `GET /v1/solves/{id}/plan`. Every plan has been checked by
the evaluator.

`POST /v1/validate` checks a scenario without storing it (SPEC errors, then counting
checks as warnings). Re-plan with `options.baseline_solve_id` (or `options.baseline`) and
`options.freeze_through`; compare two plans with `GET /v1/solves/{a}/diff/{b}`. What-if:
`POST /v1/scenarios/{id}/variants` stores a JSON-merge-patched variant; `POST /v1/batches`
solves a base and its variants and `GET /v1/batches/{id}` compares them with the base plan.
Errors are `{"detail": "...", "errors": [{"path", "message"}]}`
with the SPEC's field paths.
"""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if app.state.migrate_database:
        await to_thread.run_sync(migrate, settings.database_url)
    storage = Storage(settings.database_url)
    runner = make_runner(settings, storage)
    await to_thread.run_sync(runner.start)
    app.state.storage = storage
    app.state.runner = runner
    app.state.registry = make_registry(storage, runner)
    log.info("rdplan service ready: %s runner, database %s", runner.name, storage.dialect)
    try:
        yield
    finally:
        await to_thread.run_sync(runner.stop)
        storage.dispose()


def create_app(settings: Settings | None = None, *, migrate_database: bool = True) -> FastAPI:
    """Build the app for ``settings`` (default: the environment, ``RDPLAN_*``); it brings
    the database to the newest schema as it starts, unless ``migrate_database`` is False
    (the caller has)."""
    settings = settings or get_settings()
    app = FastAPI(
        title="rdplan",
        version=health.VERSION,
        summary="Regional development programme planner",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.migrate_database = migrate_database
    errors.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(HeadAsGet)
    app.include_router(scenarios.router)
    app.include_router(validate.router)
    app.include_router(solves.router)
    app.include_router(batches.router)
    app.include_router(health.router)
    return app
