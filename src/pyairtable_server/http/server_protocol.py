"""The HTTP/1.1 protocol the server runs under uvicorn: h11, with contract §2's error envelope
for requests refused before they reach the app.

uvicorn answers a request it cannot parse (a malformed request line, a head larger than its
limit) with a plain-text 400 and no request id; contract §2 says every answer carries the JSON
envelope and ``X-Request-ID``. ``EnvelopeH11Protocol`` changes only that answer. The head limit
is raised so that a URL up to ``MAX_URL_BYTES`` (contract §6: longer is 400) reaches the app,
which refuses longer ones itself (``http.head_limit``) with a message pointing at
``POST /records/query``.
"""

from __future__ import annotations

import json
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from .request_id import new_request_id

MAX_URL_BYTES = 64 * 1024
#: Head limit: the longest URL the app answers, plus room for ordinary headers.
MAX_HEAD_BYTES = MAX_URL_BYTES + 16 * 1024
_REFUSED = (
    "The request could not be read: its head is malformed or longer than the server accepts "
    f"({MAX_HEAD_BYTES // 1024} KiB); send long queries in a body (POST /records/query)."
)


def refusal_body(request_id: str) -> bytes:
    """The envelope of a request refused while its head was read."""
    return json.dumps(
        {
            "error": {"type": "VALIDATION_ERROR", "message": _REFUSED, "details": {}},
            "request_id": request_id,
        }
    ).encode()


class EnvelopeH11Protocol(H11Protocol):
    """uvicorn's h11 protocol answering unparseable requests with the JSON error envelope."""

    def send_400_response(self, msg: str) -> None:
        request_id = new_request_id()
        body = refusal_body(request_id)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"cache-control", b"no-store"),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()


def protocol_options() -> dict[str, Any]:
    """The uvicorn options that select this protocol and its head limit."""
    return {
        # As an import string: ``--workers`` hands the options to freshly spawned processes.
        "http": f"{__name__}:{EnvelopeH11Protocol.__name__}",
        "h11_max_incomplete_event_size": MAX_HEAD_BYTES,
    }
