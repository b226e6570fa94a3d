"""One error shape for every failure: ``{"detail": "...", "errors": [{"path", "message"}]}``.

Scenario errors keep the SPEC's field paths (the same list ``rdplan validate``
prints); request errors name the field of the request body or the parameter.
No handler ever returns a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from solver.scenario import FieldError, error_message, format_path

log = logging.getLogger("rdplan.api")


class ApiError(Exception):
    """An error answer: status, a sentence, and the field-level problems behind it."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        errors: Sequence[FieldError | dict[str, str]] = (),
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.errors = [e.model_dump() if isinstance(e, FieldError) else dict(e) for e in errors]
        self.headers = headers


def error_response(
    status_code: int,
    detail: str,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"detail": detail, "errors": errors or []}, status_code=status_code, headers=headers
    )


def _request_error(err: dict[str, Any]) -> dict[str, str]:
    loc = tuple(err.get("loc", ()))
    where, rest = (loc[0], loc[1:]) if loc else ("body", ())
    if err.get("type") == "json_invalid":
        reason = (err.get("ctx") or {}).get("error", "invalid JSON")
        return {"path": "", "message": f"not a JSON document: {reason}"}
    message = error_message(err)
    if rest and rest[-1] == "[key]":  # pydantic's mark of an object's key, not its value
        rest = rest[:-1]
        message = f"the key {rest[-1]!r}: {message}" if rest else message
    path = format_path(rest) if where == "body" else ".".join(str(p) for p in (where, *rest))
    return {"path": path, "message": message}


def _unreadable_json(exc: StarletteHTTPException) -> str | None:
    """Why a JSON body could not be read, when FastAPI's 400 "There was an error parsing the
    body" hides it: bytes that are not UTF-8, or nesting deeper than the parser goes (a JSON
    syntax error is a 422 already, through :class:`RequestValidationError`)."""
    if exc.status_code != 400:
        return None
    if isinstance(exc.__cause__, UnicodeDecodeError):
        return "not a JSON document: the body is not UTF-8 text"
    if isinstance(exc.__cause__, RecursionError):
        return "not a JSON document: it is nested too deeply"
    return None


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.detail, exc.errors, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_request_error(e) for e in exc.errors()]
        return error_response(422, f"invalid request: {len(errors)} error(s)", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        unread = _unreadable_json(exc)
        if unread is not None:
            return error_response(
                422, "invalid request: 1 error(s)", [{"path": "", "message": unread}]
            )
        return error_response(
            exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error; the server log has the details")
