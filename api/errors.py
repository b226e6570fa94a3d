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
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from solver.scenario import FieldError, JsonFieldErrors, error_message, format_path

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
        if len(loc) > 1 and isinstance(loc[1], int):  # the parser's position (a character)
            reason += f" {'' if reason.endswith(' at') else 'at '}character {loc[1]}"
        return {"path": "", "message": f"not a JSON document: {reason}"}
    if err.get("type") == "missing" and loc == ("body",):  # pydantic's "Field required"
        return {"path": "", "message": "the body is empty: send a JSON document"}
    message = error_message(err)
    if rest and rest[-1] == "[key]":  # pydantic's mark of an object's key, not its value
        rest = rest[:-1]
        message = f"the key {rest[-1]!r}: {message}" if rest else message
    path = format_path(rest) if where == "body" else ".".join(str(p) for p in (where, *rest))
    return {"path": path, "message": message}


def _unreadable_json(exc: StarletteHTTPException) -> list[dict[str, str]] | None:
    """Why a JSON body could not be read, when FastAPI's 400 "There was an error parsing the
    body" hides it: bytes that are not UTF-8, nesting deeper than the parser goes, or what
    :func:`solver.scenario.read_json` names at its path (a key given twice, an integer longer
    than Python reads) — a JSON syntax error is a 422 already, through
    :class:`RequestValidationError`."""
    if exc.status_code != 400:
        return None
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return [{"path": "", "message": "not a JSON document: the body is not UTF-8 text"}]
    if isinstance(cause, RecursionError):
        return [{"path": "", "message": "not a JSON document: it is nested too deeply"}]
    if isinstance(cause, JsonFieldErrors):  # api.deps.JsonRoute's reading
        return [e.model_dump() for e in cause.errors]
    return None


#: The methods a path may take here (what :func:`allowed_methods` asks every route about).
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method ``request``'s path takes, over all the routes of that path (Starlette's
    405 names the first route's alone: ``GET`` for a path that also takes ``DELETE``); with
    HEAD wherever GET is but on event streams (:class:`api.middleware.HeadAsGet`), and OPTIONS.
    Each route is asked through its ``matches`` alone, which reaches into included routers."""
    methods = {
        method
        for method in METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    }
    if "GET" in methods and not request.url.path.endswith("/events"):
        methods.add("HEAD")
    methods.add("OPTIONS")
    return sorted(methods)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.detail, exc.errors, exc.headers)

    async def _refused(request: Request) -> JSONResponse | None:
        from api.deps import unauthorised  # api.deps raises this module's ApiError

        error = await unauthorised(request)
        if error is None:
            return None
        return error_response(error.status_code, error.detail, error.errors, error.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        refused = await _refused(request)
        if refused is not None:  # no key: not a word about the body
            return refused
        raw = exc.errors()
        errors = [_request_error(e) for e in raw]
        if raw and all(tuple(e.get("loc", ()))[:1] == ("path",) for e in raw):
            # not an id of the form this service gives (a typo, a truncated copy): no such
            # job, batch or scenario, as for an unknown id of the right form
            ids = ", ".join(f"{e['loc'][-1]} {e.get('input')!r}" for e in raw)
            return error_response(404, f"not found: {ids} is not an id of this service", errors)
        return error_response(422, f"invalid request: {len(errors)} error(s)", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400:
            refused = await _refused(request)
            if refused is not None:
                return refused
            from api.deps import compressed

            packed = compressed(request)
            if packed is not None:
                return error_response(packed.status_code, packed.detail, packed.errors)
        unread = _unreadable_json(exc)
        if isinstance(exc.__cause__, JsonFieldErrors) and request.url.path == "/v1/validate":
            # it answers any JSON body, valid or not, and a key given twice is JSON
            return JSONResponse({"valid": False, "errors": unread, "warnings": []})
        if unread is not None:
            return error_response(422, f"invalid request: {len(unread)} error(s)", unread)
        if exc.status_code == 405:
            allow = ", ".join(allowed_methods(request))
            if request.method == "OPTIONS":  # what the path takes (RFC 9110 §9.3.7)
                return Response(status_code=204, headers={"Allow": allow})
            return error_response(
                405,
                f"{request.method} is not a method of {request.url.path}: it takes {allow}",
                headers={"Allow": allow},
            )
        return error_response(
            exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        # The database does not answer (a server down, a file gone or locked): every data
        # endpoint was a 500 with a traceback in the log per request (a QA pass); /healthz
        # says degraded meanwhile. A statement that is wrong stays a 500 (api.storage.is_outage).
        from api.storage import is_outage, why

        if not is_outage(exc):
            return await _unexpected(request, exc)

        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, why(exc))
        return error_response(
            503,
            "the database is unavailable: try again later (GET /healthz says when it answers)",
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal error; the server log has the details")
