"""The HTTP/1.1 protocol the server runs under uvicorn: httptools (llhttp, in C), with contract
§2's error envelope for requests refused before they reach the app, and a limit on the head.

uvicorn answers a request it cannot parse (a malformed request line or header) with a plain-text
400 and no request id; contract §2 says every answer carries the JSON envelope and
``X-Request-ID``. ``EnvelopeHttpToolsProtocol`` changes only that answer.

llhttp sets no limit on a request's head, and uvicorn gathers the URL and the headers as they
arrive, so a client could grow them without end. This protocol counts the bytes of a head as they
are read and refuses one past ``MAX_HEAD_BYTES`` while it is still arriving (the count may run
one read past a body, so a head can get through up to one read longer). The limit leaves room
for a URL up to ``MAX_URL_BYTES`` (contract §6: longer is 400); the app refuses longer URLs and
heads itself (``http.head_limit``), with a message pointing at ``POST /records/query``.

uvicorn's httptools protocol, not its pure-Python h11 one: on the same app under ``wrk`` it
spends less CPU per request (parsing, and writing the answer's head), by ~0.1 ms on a 404 and
more on a list of 100 records (``bench/http_edge.py``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote, urlsplit

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from .request_id import new_request_id

MAX_URL_BYTES = 64 * 1024
#: Head limit: the longest URL the app answers, plus room for ordinary headers.
MAX_HEAD_BYTES = MAX_URL_BYTES + 16 * 1024
#: The longest URL llhttp's parser reads (``httptools.parse_url``).
_PARSED_URL_BYTES = 0xFFFF
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


class EnvelopeHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol answering unparseable requests, and heads longer than
    ``MAX_HEAD_BYTES``, with the JSON error envelope (400, then the connection is closed)."""

    # Bytes read since the current head began (since the last head was complete), and whether
    # the parser is past a head, in its body. uvicorn calls the protocol from the event loop
    # only, so these need no lock.
    _head_bytes = 0
    _in_body = False

    def data_received(self, data: bytes) -> None:
        if not self._in_body:
            self._head_bytes += len(data)
        super().data_received(data)
        if (
            not self._in_body
            and self._head_bytes > MAX_HEAD_BYTES
            and not self.transport.is_closing()
        ):
            self.send_400_response("The request's head is too long.")

    def on_headers_complete(self) -> None:
        self._head_bytes = 0
        self._in_body = True
        url = self.url
        if len(url) <= _PARSED_URL_BYTES:
            super().on_headers_complete()
            return
        # llhttp's URL parser keeps offsets in 16 bits and refuses longer URLs, which the app
        # must see (to answer up to MAX_URL_BYTES, and refuse longer ones with its own message).
        # uvicorn reads the URL with it: it is given a stand-in, and the scope then gets the
        # real path and query, before the request's task first runs (it is only scheduled).
        self.url = b"/"
        try:
            super().on_headers_complete()
        finally:
            self.url = url  # a WebSocket upgrade hands it on to the WebSocket protocol
        if "path" in self.scope:
            _set_target(self.scope, url, self.root_path)

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        request_id = new_request_id()
        body = refusal_body(request_id)
        headers = [
            *self.server_state.default_headers,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"cache-control", b"no-store"),
            (b"connection", b"close"),
        ]
        head = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        self.transport.write(STATUS_LINE[400] + head + b"\r\n" + body)
        self.transport.close()


def _set_target(scope: Any, url: bytes, root_path: str) -> None:
    """Put a request target's path and query in ``scope`` as uvicorn does from llhttp's parse."""
    target = urlsplit(url)
    path = target.path.decode("ascii")
    if "%" in path:
        path = unquote(path)
    scope["path"] = root_path + path
    scope["raw_path"] = root_path.encode("ascii") + target.path
    scope["query_string"] = target.query


def protocol_options() -> dict[str, Any]:
    """The uvicorn options that select this protocol."""
    return {
        # As an import string: ``--workers`` hands the options to freshly spawned processes.
        "http": f"{__name__}:{EnvelopeHttpToolsProtocol.__name__}",
    }
