"""CORS allow-list (contract §9): Starlette's middleware, with refusals in the error envelope."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from ..errors import envelope


class EnvelopeCORSMiddleware(CORSMiddleware):
    """Like ``CORSMiddleware``, but a refused preflight answers 403 with the JSON envelope."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        reason = bytes(response.body).decode("utf-8", "replace")
        refused = envelope(
            403,
            "PERMISSION_DENIED",
            f"{reason}.",
            request_id=request_headers.get("x-request-id"),
        )
        # Keep the CORS headers Starlette computed (Vary, allowed methods...) on the refusal.
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "content-type"):
                refused.headers.setdefault(name, value)
        return refused
