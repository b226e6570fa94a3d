"""Shared dependencies of the routes: settings, storage, runner, API keys."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError
from api.runners import Runner
from api.schemas import ErrorBody
from api.settings import Settings
from api.storage import Storage
from solver.scenario import read_json

#: The answers every ``/v1`` route can give besides its own: 401 (keys on, none or a wrong one
#: sent) and 422 (a bad parameter or body), in the one error shape the service sends
#: (``api.errors``) — without it FastAPI documents its own ``HTTPValidationError``.
V1_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "API keys are on and none (or a wrong one) was sent"},
    422: {"model": ErrorBody, "description": "invalid request: every error with its path"},
}

#: The 415 answer of every route that reads a JSON body (:func:`require_json_body`).
NOT_JSON: dict[int | str, dict[str, Any]] = {
    415: {
        "model": ErrorBody,
        "description": "the body is not sent as JSON (its Content-Type) or is compressed",
    }
}


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def require_json_body(request: Request) -> None:
    """415 for a body sent compressed (:func:`compressed`) or with another Content-Type than
    JSON (``curl -d`` sends a form's):
    FastAPI would hand such a body on as bytes, and the route answer for them — "not a valid
    dictionary", or ``/v1/validate``'s "not a JSON object" for a valid scenario."""
    has_body = request.headers.get("content-length", "0") != "0" or (
        "transfer-encoding" in request.headers
    )
    if has_body and (refused := compressed(request)) is not None:
        raise refused  # whether or not its bytes happen to read as JSON
    if has_body and not _is_json(request.headers.get("content-type", "")):
        raise ApiError(
            415,
            f"unsupported media type {request.headers.get('content-type', '(none)')!r}: "
            "the body must be JSON",
            [{"path": "", "message": "send the body as JSON: Content-Type: application/json"}],
        )


def compressed(request: Request) -> ApiError | None:
    """415 for a body sent compressed (``Content-Encoding: gzip``): it was read as the bytes of
    the compressed body, "not UTF-8 text" (a QA pass)."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return None
    return ApiError(
        415,
        f"unsupported content encoding {encoding!r}: the body must be sent uncompressed",
        [{"path": "", "message": "send the JSON uncompressed, without Content-Encoding"}],
    )


class _JsonRequest(Request):
    """A request whose JSON body is read by :func:`solver.scenario.read_json`: a key given
    twice in one object is an error at its path (FastAPI keeps the last value silently)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = read_json(await self.body())
        return self._json


class JsonRoute(APIRoute):
    """Every ``/v1`` route: its body read as :class:`_JsonRequest` reads it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(_JsonRequest(request.scope, request.receive, request._send))

        return route


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
    error = _key_error(settings, key or (bearer.credentials if bearer is not None else None))
    if error is not None:
        raise error


def _key_error(settings: Settings, given: str | None) -> ApiError | None:
    """The 401 for ``given`` (the key sent, if any), or None when it opens the service."""
    keys = settings.api_key_set
    if not keys:
        return None
    if given is not None:
        candidate = given.encode("utf-8", "surrogateescape")
        # compare with every key, always, so the timing does not tell which one was close
        matched = [secrets.compare_digest(candidate, k.encode("utf-8")) for k in keys]
        if any(matched):
            return None
    return ApiError(
        401,
        "missing or unknown API key: send 'X-API-Key: <key>' or 'Authorization: Bearer <key>'",
        headers={"WWW-Authenticate": 'Bearer realm="rdplan"'},
    )


async def unauthorised(request: Request) -> ApiError | None:
    """The 401 a ``/v1`` request without a valid key gets, for the error handlers: FastAPI
    reads the body before it runs :func:`require_api_key`, so a body it cannot read would
    otherwise be answered (422) to a caller without a key. The key is read by the same
    security schemes as there."""
    if not request.url.path.startswith("/v1"):
        return None
    bearer = await _bearer(request)
    given = await _api_key_header(request) or (bearer.credentials if bearer else None)
    return _key_error(get_settings(request), given)
