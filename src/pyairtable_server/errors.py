"""Errors the API answers with, and the envelope they travel in (contract §2).

    ApiError                      the root; carries status, type, message, details, headers
     ├── MalformedRequest         400 VALIDATION_ERROR   (body is not JSON at all)
     ├── ValidationFailed         422 VALIDATION_ERROR   (details.fields names each bad field)
     ├── AuthError                401 AUTH_ERROR
     ├── PermissionDenied         403 PERMISSION_DENIED
     ├── NotFound                 404 NOT_FOUND          (also what non-members see)
     ├── MethodNotAllowed         405 METHOD_NOT_ALLOWED
     ├── Conflict                 409 CONFLICT           (details.current is the resource now)
     ├── PayloadTooLarge          413 PAYLOAD_TOO_LARGE
     │    └── QuotaExceeded       413 QUOTA_EXCEEDED     (quotas: details.scope user|workspace)
     ├── RateLimited              429 RATE_LIMITED       (Retry-After)
     └── ServiceUnavailable       503 SERVICE_UNAVAILABLE (Retry-After)

A database error that only means "try again" (deadlock, serialization failure, a lock held too
long) is answered 503 with ``Retry-After``; a statement past the database's size limits is 422
naming ``filter``; anything else that escapes a handler is answered as 500 ``SERVER_ERROR``
without internals, and logged without the SQL statement or its parameters.
"""

from __future__ import annotations

import logging
import math
import re
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, OperationalError, StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

logger = logging.getLogger("pyairtable_server")

_TYPES_BY_STATUS = {
    400: "VALIDATION_ERROR",
    401: "AUTH_ERROR",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "VALIDATION_ERROR",
    422: "VALIDATION_ERROR",
    429: "RATE_LIMITED",
    503: "SERVICE_UNAVAILABLE",
}


_MALFORMED_BODY = "The request body is not valid JSON."


class ApiError(Exception):
    """An answer other than success, with the contract's ``type`` and an HTTP status."""

    status_code = 500
    type = "SERVER_ERROR"

    def __init__(
        self,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = dict(details or {})
        self.headers = dict(headers or {})
        if type is not None:
            self.type = type


class MalformedRequest(ApiError):
    status_code = 400
    type = "VALIDATION_ERROR"


class ValidationFailed(ApiError):
    status_code = 422
    type = "VALIDATION_ERROR"

    @classmethod
    def field(cls, name: str, reason: str, message: str | None = None) -> ValidationFailed:
        """A validation error about one named field."""
        return cls(message or f"{name}: {reason}", details={"fields": {name: reason}})


class AuthError(ApiError):
    status_code = 401
    type = "AUTH_ERROR"

    def __init__(self, message: str = "Authentication required.", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class PermissionDenied(ApiError):
    status_code = 403
    type = "PERMISSION_DENIED"


class NotFound(ApiError):
    status_code = 404
    type = "NOT_FOUND"


@contextmanager
def missing_as(noun: str) -> Iterator[None]:
    """Inside, a ``NotFound`` about the resource's parent (the table of a record, the workspace of
    a webhook) is re-raised as "No such <noun>.": an id of something in another tenant's
    workspace then reads exactly like an id that was never issued."""
    try:
        yield
    except NotFound:
        raise NotFound(f"No such {noun}.") from None


class MethodNotAllowed(ApiError):
    status_code = 405
    type = "METHOD_NOT_ALLOWED"


class Conflict(ApiError):
    status_code = 409
    type = "CONFLICT"


class PayloadTooLarge(ApiError):
    status_code = 413
    type = "PAYLOAD_TOO_LARGE"


class RateLimited(ApiError):
    status_code = 429
    type = "RATE_LIMITED"

    def __init__(self, retry_after: float, message: str = "Too many requests.") -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            message, details={"retry_after": seconds}, headers={"Retry-After": str(seconds)}
        )


class ServiceUnavailable(ApiError):
    status_code = 503
    type = "SERVICE_UNAVAILABLE"


class ErrorBody(BaseModel):
    model_config = ConfigDict(title="ErrorBody")

    type: str = Field(examples=["NOT_FOUND"])
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorEnvelope(BaseModel):
    """The shape of every error answer."""

    error: ErrorBody
    request_id: str | None


_RESPONSE_HEADERS: dict[int, dict[str, Any]] = {
    405: {"Allow": {"description": "The methods this path answers.", "schema": {"type": "string"}}},
    429: {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    503: {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting the envelope (and headers) for each status."""
    entries: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        entry: dict[str, Any] = {
            "model": ErrorEnvelope,
            "description": _TYPES_BY_STATUS.get(status, "SERVER_ERROR"),
        }
        if status in _RESPONSE_HEADERS:
            entry["headers"] = _RESPONSE_HEADERS[status]
        entries[status] = entry
    return entries


def request_id_of(scope_or_request: Request | Mapping[str, Any]) -> str | None:
    """The request id the request-id middleware put in the ASGI scope, if any."""
    scope = scope_or_request.scope if isinstance(scope_or_request, Request) else scope_or_request
    state = scope.get("state") or {}
    value = state.get("request_id")
    return value if isinstance(value, str) else None


def envelope(
    status: int,
    error_type: str,
    message: str,
    *,
    request_id: str | None,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """Build the JSON error answer of contract §2."""
    body = {
        "error": {"type": error_type, "message": message, "details": dict(details or {})},
        "request_id": request_id,
    }
    all_headers = dict(headers or {})
    if request_id:
        all_headers["X-Request-ID"] = request_id
    return JSONResponse(body, status_code=status, headers=all_headers)


# PostgreSQL: deadlock detected, serialization failure, lock not available.
_TRANSIENT_SQLSTATES = frozenset({"40P01", "40001", "55P03"})
# A statement past the database's own limits: the request asked too much, nothing is broken.
# PostgreSQL: statement too complex (stack depth); SQLite and asyncpg say it in words.
_TOO_COMPLEX_SQLSTATES = frozenset({"54001"})
_TOO_COMPLEX_MESSAGES = (
    "expression tree is too large",
    "too many sql variables",
    "too many terms in compound select",
    "number of query arguments cannot exceed",
)


def _sqlstate(exc: DBAPIError) -> object:
    """The PostgreSQL SQLSTATE of a driver error (psycopg's ``pgcode``, asyncpg's ``sqlstate``)."""
    return getattr(exc.orig, "pgcode", None) or getattr(exc.orig, "sqlstate", None)


def is_transient(exc: BaseException) -> bool:
    """Whether a database error means "try again" rather than "this is broken": a deadlock or
    serialization failure on PostgreSQL, a lock held past the busy timeout on SQLite."""
    if not isinstance(exc, DBAPIError):
        return False
    if _sqlstate(exc) in _TRANSIENT_SQLSTATES:
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


def is_too_complex(exc: BaseException) -> bool:
    """Whether a database error means the statement exceeded the database's limits on size
    (expression depth, bound variables) rather than that something is broken."""
    if not isinstance(exc, DBAPIError):
        return False
    if _sqlstate(exc) in _TOO_COMPLEX_SQLSTATES:
        return True
    text = str(exc.orig).lower()
    return any(message in text for message in _TOO_COMPLEX_MESSAGES)


def loggable(exc: BaseException) -> str:
    """A one-line description of ``exc`` safe for the log: for a database error the driver's
    message only (cut short), never the statement or its bound parameters, which SQLAlchemy
    puts in the exception's text and which can hold user data and megabytes of SQL."""
    if isinstance(exc, StatementError):
        cause = exc.orig if exc.orig is not None else exc
        return f"{type(exc).__name__} ({type(cause).__name__}): {str(cause)[:300]}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the app answers at ``path``, sorted, read from its OpenAPI paths.

    Starlette's 405 names only the methods of the first route whose path matched, while FastAPI
    makes one route per method; the contract's ``Allow`` lists them all. The OpenAPI document is
    the public, complete list of routes (FastAPI nests included routers in private types).
    """
    table: list[tuple[re.Pattern[str], list[str]]] | None = getattr(
        app.state, "allowed_methods", None
    )
    if table is None:
        table = []
        for template, operations in app.openapi().get("paths", {}).items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            methods = sorted(m.upper() for m in operations if m.upper() in _HTTP_METHODS)
            table.append((re.compile(f"^{pattern}$"), methods))
        app.state.allowed_methods = table
    return sorted({m for pattern, methods in table if pattern.match(path) for m in methods})


_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _is_json(request: Request) -> bool:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def install_error_handlers(app: FastAPI) -> None:
    """Make every error, including unknown routes and crashes, answer with the envelope."""

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return envelope(
            exc.status_code,
            exc.type,
            exc.message,
            request_id=request_id_of(request),
            details=exc.details,
            headers=exc.headers,
        )

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = exc.errors()
        malformed = next((p for p in problems if p.get("type") == "json_invalid"), None)
        if malformed is not None:
            # The decoder's position is part of the reason, never a field name.
            location = malformed.get("loc", ())
            at = f" at character {location[-1]}" if location and location[-1] != "body" else ""
            reason = str((malformed.get("ctx") or {}).get("error") or "invalid JSON")
            return envelope(
                400,
                "VALIDATION_ERROR",
                _MALFORMED_BODY,
                request_id=request_id_of(request),
                details={"fields": {"body": f"not valid JSON: {reason}{at}"}},
            )
        if isinstance(exc.body, bytes) and exc.body and not _is_json(request):
            # FastAPI leaves a body under another media type undecoded, which would read as
            # "body: Input should be a valid dictionary": say what is really wrong.
            return envelope(
                415,
                "VALIDATION_ERROR",
                "Send the body as JSON, with Content-Type: application/json.",
                request_id=request_id_of(request),
                details={"fields": {"header.Content-Type": "expected application/json"}},
            )
        fields: dict[str, str] = {}
        for problem in problems:
            location = [str(part) for part in problem.get("loc", ()) if part != "body"]
            fields[".".join(location) or "body"] = str(problem.get("msg", "invalid"))
        summary = "; ".join(f"{name}: {reason}" for name, reason in list(fields.items())[:5])
        return envelope(
            422,
            "VALIDATION_ERROR",
            f"Invalid request: {summary}",
            request_id=request_id_of(request),
            details={"fields": fields},
        )

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        if status == 400:  # FastAPI's answer to a body it cannot decode at all (not UTF-8)
            return envelope(
                400,
                "VALIDATION_ERROR",
                _MALFORMED_BODY,
                request_id=request_id_of(request),
                details={"fields": {"body": "not valid UTF-8 JSON"}},
            )
        messages = {404: "No such route.", 405: "Method not allowed on this route."}
        message = messages.get(status) or (exc.detail if isinstance(exc.detail, str) else "Error.")
        headers = dict(exc.headers or {})
        if status == 405:
            headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        return envelope(
            status,
            _TYPES_BY_STATUS.get(status, "SERVER_ERROR"),
            message,
            request_id=request_id_of(request),
            headers=headers,
        )

    async def on_database_error(request: Request, exc: Exception) -> Response:
        if is_too_complex(exc):
            return envelope(
                422,
                "VALIDATION_ERROR",
                "The query is too complex for the database; use fewer conditions or values.",
                request_id=request_id_of(request),
                details={"fields": {"filter": "too complex for the database"}},
            )
        if is_transient(exc):
            return envelope(
                503,
                "SERVICE_UNAVAILABLE",
                "The database was busy with a conflicting change; retry the request.",
                request_id=request_id_of(request),
                headers={"Retry-After": "1"},
            )
        return await on_crash(request, exc)

    async def on_crash(request: Request, exc: Exception) -> Response:
        # The stack without the exception's own text (see ``loggable``).
        stack = "".join(traceback.format_tb(exc.__traceback__))
        logger.error(
            "unhandled error: %s\n%s",
            loggable(exc),
            stack,
            extra={"request_id": request_id_of(request)},
        )
        return envelope(
            500,
            "SERVER_ERROR",
            "The server failed to handle this request.",
            request_id=request_id_of(request),
        )

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(DBAPIError, on_database_error)
    app.add_exception_handler(Exception, on_crash)
