"""A real HTTP receiver for webhook tests: a threaded ``http.server`` on a free local port.

It records every request (headers, body, path, the status it answered) and answers from a plan
that a test sets: a queue of statuses, then a default. It also counts requests in flight per
``webhook-id``, so a test can prove no delivery was ever sent twice at the same time. ``hold()``
makes requests wait, unanswered, until ``release()``: a slow receiver whose pace the test sets.
With an ``ssl_context`` it speaks HTTPS.

Webhooks may point at it only with ``webhook_allow_private_targets`` on: it listens on localhost.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int
    path: str = "/hook"

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Start with ``with Receiver() as receiver``; point webhooks at ``receiver.url``."""

    #: How long a held request waits for ``release()`` at most, so no thread outlives a test.
    HOLD_LIMIT_SECONDS = 60.0

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._released.set()
        self._held = 0
        self.max_held = 0
        self._scheme = "https" if ssl_context is not None else "http"
        self._plan: deque[int] = deque()
        self._default = 200
        self._delay = 0.0
        self._received: list[Received] = []
        self._in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        if ssl_context is not None:
            self._server.socket = ssl_context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self.port}/hook"

    def hold(self) -> None:
        """Keep the next requests waiting, unanswered, until ``release()``."""
        self._released.clear()

    def release(self) -> None:
        """Let every held request (and later ones) be answered."""
        self._released.set()

    @property
    def held(self) -> int:
        """How many requests are waiting for ``release()`` now (``max_held``: at most, ever)."""
        with self._lock:
            return self._held

    def answer(self, *statuses: int, then: int = 200, delay: float = 0.0) -> None:
        """Answer the next requests with ``statuses`` in turn, later ones with ``then``."""
        with self._lock:
            self._plan = deque(statuses)
            self._default = then
            self._delay = delay

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def _respond(self, headers: dict[str, str], body: bytes, path: str) -> int:
        webhook_id = headers.get("webhook-id", "")
        with self._lock:
            status = self._plan.popleft() if self._plan else self._default
            delay = self._delay
            self._in_flight[webhook_id] += 1
            self.max_in_flight[webhook_id] = max(
                self.max_in_flight[webhook_id], self._in_flight[webhook_id]
            )
            self._held += 1
            self.max_held = max(self.max_held, self._held)
        try:
            self._released.wait(self.HOLD_LIMIT_SECONDS)
            with self._lock:
                self._held -= 1
            if delay:
                time.sleep(delay)
        finally:
            with self._lock:
                self._in_flight[webhook_id] -= 1
                self._received.append(
                    Received(headers=headers, body=body, status=status, path=path)
                )
        return status

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                headers = {key.lower(): value for key, value in self.headers.items()}
                status = receiver._respond(headers, body, self.path)
                answer = b'{"ok": true}' if status < 300 else b"receiver says no"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        return Handler
