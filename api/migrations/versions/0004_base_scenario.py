"""Jobs name the scenario a re-plan was made from, so that a scenario's jobs list its re-plans.

A re-plan runs on its re-planned scenario (``jobs.scenario_id``); the scenario it was made
from was kept only in ``options.base_scenario_id``, which ``GET /v1/solves?scenario=`` could
not filter on. Existing re-plans are filled in from their options.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("base_scenario_id", sa.String(64), nullable=True))
    op.create_index("ix_jobs_base_scenario_id", "jobs", ["base_scenario_id"])
    jobs = sa.table(
        "jobs",
        sa.column("id", sa.String(36)),
        sa.column("options", sa.JSON()),
        sa.column("base_scenario_id", sa.String(64)),
    )
    bind = op.get_bind()
    for job_id, options in bind.execute(sa.select(jobs.c.id, jobs.c.options)).all():
        base = (options or {}).get("base_scenario_id")
        if base:
            bind.execute(
                jobs.update().where(jobs.c.id == job_id).values(base_scenario_id=str(base))
            )


def downgrade() -> None:
    op.drop_index("ix_jobs_base_scenario_id", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("base_scenario_id")
