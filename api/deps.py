"""Shared dependencies of the routes: settings, storage, runner, API keys."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from api.runners import Runner
from api.schemas import ErrorBody
from api.settings import Settings
from api.storage import Storage

#: The 401 answer every keyed router documents.
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "API keys are on and none (or a wrong one) was sent"}
}
#: The 422 answer of every ``/v1`` route (a bad parameter or body), in the one error shape the
#: service sends (``api.errors``): without it FastAPI documents its own ``HTTPValidationError``.
INVALID_REQUEST: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "invalid request: every error with its path"}
}


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


def get_runner(request: Request) -> Runner:
    runner: Runner = request.app.state.runner
    return runner


SettingsDep = Annotated[Settings, Depends(get_settings)]
StorageDep = Annotated[Storage, Depends(get_storage)]
RunnerDep = Annotated[Runner, Depends(get_runner)]

_api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="one of RDPLAN_API_KEYS"
)
_bearer = HTTPBearer(auto_error=False, description="one of RDPLAN_API_KEYS as a bearer token")


def require_api_key(
    settings: SettingsDep,
    key: Annotated[str | None, Security(_api_key_header)] = None,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
) -> None:
    """With ``RDPLAN_API_KEYS`` set, every ``/v1`` call needs one of the keys (401 otherwise)."""
    keys = settings.api_key_set
    if not keys:
        return
    given = key or (bearer.credentials if bearer is not None else None)
    if given is not None:
        candidate = given.encode("utf-8", "surrogateescape")
        # compare with every key, always, so the timing does not tell which one was close
        matched = [secrets.compare_digest(candidate, k.encode("utf-8")) for k in keys]
        if any(matched):
            return
    raise ApiError(
        401,
        "missing or unknown API key: send 'X-API-Key: <key>' or 'Authorization: Bearer <key>'",
        headers={"WWW-Authenticate": 'Bearer realm="rdplan"'},
    )
