"""Service settings: environment variables with the prefix ``RDPLAN_`` (pydantic-settings).

The defaults are the embedded ones: a SQLite file in the working directory and an
in-process pool of worker processes. ``RDPLAN_DATABASE_URL`` points at
PostgreSQL, ``RDPLAN_BROKER_URL`` sends jobs to Celery workers instead.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from solver.backends import base
from solver.backends.base import MEMORY_LIMIT_MB

#: The longest time any setting in seconds may name (a year).
MAX_SECONDS = 365 * 24 * 3600.0


class Settings(BaseSettings):
    """Every knob of the service; each field is ``RDPLAN_<NAME>`` in the environment."""

    # Seconds at most (a year): 1e11 passed and broke the dispatcher's timedelta every step,
    # so no job ran while /healthz said ok (a QA pass); inf was refused already.

    # inf passes every bound here and then breaks the service (timedelta and wait overflow)
    model_config = SettingsConfigDict(env_prefix="RDPLAN_", extra="ignore", allow_inf_nan=False)

    database_url: str = Field(
        default="sqlite:///./rdplan.db", description="SQLAlchemy URL of the job store"
    )
    broker_url: str | None = Field(
        default=None, description="Celery broker (redis://...); unset = in-process workers"
    )
    workers: int = Field(
        default=2, ge=1, le=256, description="in-process worker processes (solves at a time)"
    )
    worker_name: str = Field(
        default="rdplan@%h", description="Celery node name of `rdplan worker` (%h = host)"
    )
    api_keys: str = Field(
        default="", description="comma-separated API keys; empty = no authentication"
    )

    max_body_bytes: int = Field(
        default=10_000_000, ge=1024, description="largest request body accepted (413 above)"
    )
    max_sites: int = Field(default=5_000, ge=1)
    max_years: int = Field(default=50, ge=1)
    max_crew_pools: int = Field(default=1_000, ge=0)
    max_columns: int = Field(
        default=5_000_000,
        ge=1,
        description="largest model (columns) a solve may build (413 above); gen-3000 has 1.6 M",
    )
    max_time_limit: float = Field(
        default=3600.0,
        gt=0,
        le=MAX_SECONDS,
        description="largest time_limit a solve may ask for, seconds",
    )
    default_time_limit: float = Field(default=60.0, gt=0, le=MAX_SECONDS)
    default_threads: int = Field(
        default=1, ge=1, description="solver threads of a job that names none"
    )
    max_threads: int = Field(default_factory=base.default_threads, ge=1)  # the cores

    progress_interval: float = Field(
        default=0.5,
        gt=0,
        le=MAX_SECONDS,
        description="seconds between progress/heartbeat writes of a job",
    )
    heartbeat_timeout: float = Field(
        default=60.0,
        gt=0,
        le=MAX_SECONDS,
        description="a running job silent this long is marked failed",
    )
    requeue_after: float = Field(
        default=300.0,
        ge=0,
        le=MAX_SECONDS,
        description="Celery: a job still queued this long is sent to the broker again, then at "
        "doubling intervals (a lost message); 0 = never",
    )
    cancel_grace: float = Field(
        default=10.0,
        ge=0,
        le=MAX_SECONDS,
        description="seconds a cancelled solver gets before it is killed",
    )
    sse_poll_interval: float = Field(default=0.25, gt=0, le=MAX_SECONDS)
    memory_limit_mb: float = Field(
        default=MEMORY_LIMIT_MB,
        ge=0,
        description="resident MB a solve may add to its process before its HiGHS MIP run stops "
        "with its best plan so far (soft: checked at HiGHS's callbacks); 0 = none",
    )

    @field_validator("broker_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        # " " switched the service to Celery on amqp://localhost (a QA pass): blank is unset
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("heartbeat_timeout")
    @classmethod
    def _outlasts_the_beats(cls, value: float, info: ValidationInfo) -> float:
        """A running job beats every progress interval: a timeout not twice as long fails
        healthy jobs ("no heartbeat ... for 2 s", a QA pass)."""
        interval = info.data.get("progress_interval")
        if interval is not None and value < 2 * interval:
            raise ValueError(
                f"must be at least twice RDPLAN_PROGRESS_INTERVAL ({interval:g} s), the time"
                " between a running job's heartbeats"
            )
        return value

    @field_validator("api_keys")
    @classmethod
    def _keys_fit_a_header(cls, value: str) -> str:
        """A key travels in an HTTP header, which carries visible ASCII: a key with any other
        character could never be matched (the server reads header bytes as Latin-1)."""
        keys = [k.strip() for k in value.split(",")]
        for key in keys:
            if key and not all("!" <= c <= "~" for c in key):
                raise ValueError(
                    "every key must be visible ASCII characters (no spaces or accented letters): "
                    "it travels in an HTTP header"
                )
        if value and not any(keys):
            # "," or " ": meant as keys, it named none, and the service would run open
            raise ValueError(
                "names no key (only commas or spaces): give keys, or leave it empty for no"
                " authentication"
            )
        return value

    @property
    def api_key_set(self) -> frozenset[str]:
        return frozenset(k.strip() for k in self.api_keys.split(",") if k.strip())

    @property
    def runner(self) -> str:
        return "celery" if self.broker_url else "local"


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read once from the environment."""
    return Settings()
