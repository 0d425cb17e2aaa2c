"""The error answers of the web layer, in the platform's error envelope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .._errors import APIConnectionError, ServiceError


class WebAuthError(HTTPException):
    """A request the web session layer refuses: 401 signed out, 403 CSRF or permission, ...

    ``PyAirtableAuth.install`` registers a handler that answers it as
    ``{"error": {"type", "message", "details"}}``; without the handler Starlette and FastAPI
    still answer with its status.
    """

    def __init__(
        self,
        status_code: int,
        type: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status_code, detail=message, headers=headers)
        self.type = type
        self.message = message
        self.details = details or {}

    def response(self) -> Response:
        """The JSON answer for this refusal."""
        return error_response(
            self.status_code, self.type, self.message, self.details, headers=self.headers
        )

    @classmethod
    def from_service_error(cls, error: ServiceError) -> WebAuthError:
        """The answer to give the browser when a backend call made for it failed."""
        if isinstance(error, APIConnectionError) or error.code is None:
            return cls(503, "SERVICE_UNAVAILABLE", "The service is unreachable; try again.")
        status = error.code if 400 <= error.code < 500 else 502
        retry_after = getattr(error, "retry_after", None)
        headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
        return cls(status, error.type, error.message, details=error.details, headers=headers)


def error_response(
    status: int,
    type: str,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """``{"error": {"type", "message", "details"}}`` with ``status``."""
    body = {"error": {"type": type, "message": message, "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


async def handle_web_auth_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler answering a ``WebAuthError`` in the error envelope."""
    if not isinstance(exc, WebAuthError):  # registered for WebAuthError only
        raise exc
    return exc.response()
