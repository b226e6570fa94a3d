"""``rdplan serve``: the service under uvicorn on the embedded defaults."""

from __future__ import annotations

import logging


def run_server(host: str = "127.0.0.1", port: int = 8000, *, migrated: bool = False) -> None:
    """Serve the API on ``host:port`` until interrupted (settings from ``RDPLAN_*``);
    ``migrated``: the caller has brought the database to the newest schema already
    (``rdplan serve`` does, to say why it cannot), so the start-up does not again."""
    import uvicorn

    from api.main import create_app

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uvicorn.run(
        create_app(migrate_database=not migrated),
        host=host,
        port=port,
        workers=1,  # one process owns the worker pool; solves run in its worker processes
        timeout_graceful_shutdown=5,
        log_level="info",
    )
