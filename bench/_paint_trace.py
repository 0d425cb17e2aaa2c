"""The backend and the demo app with the steps of a live update timed, for ``bench/demo_paint.py``.

    python -m bench._paint_trace server TRACE_FILE serve --port …   # pyairtable-integration
    python -m bench._paint_trace demo TRACE_FILE --app-only …       # pyairtable-demo

Each wraps a few functions of its process, as a profiler would (a benchmark's instrument, not
the product's), then runs the command. Every wrapped step appends ``<step> <key> <time_ns>`` to
``TRACE_FILE``; only the first line per step and key counts. ``key`` is an event's ``seq``, or
a watched text (``NAME_PATTERN``, the names the benchmark writes) where only the text is known.

In the backend (``server``):

- ``request``: a ``PATCH /api/v1/records/…`` reaches the app (key: the request's order);
- ``committed``, ``dispatched``: the hub takes the write's events, dispatches one (key: seq);
- ``ws_frame``, ``sse_frame``: a WebSocket or SSE frame carrying the event is built for a
  socket or stream, right before it is written (key: seq).

In the demo app (``demo``), on its pages' event loop:

- ``sdk_frame``: the SDK's realtime connection applies the event's frame (key: seq);
- ``callback``: a subscription's callback starts (key: seq and the callback's name);
- ``query``: a live query's state first holds a watched text (key: the text);
- ``render``: the grid builds the row showing it (key: the text);
- ``ws_send``: Solara starts sending the browser a message holding it, and ``ws_sent``: done.

A wrapped function that a later change renamed is skipped with a note in the trace
(``missing <what>``), so the benchmark prints the steps it could time, not a traceback.
"""

from __future__ import annotations

import itertools
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

#: The names ``bench/demo_paint.py`` writes: ``paint-<n>-<ns>``.
NAME_PATTERN = re.compile(r"paint-\d+-\d+")
_NAME_BYTES = re.compile(rb"paint-\d+-\d+")


class Trace:
    """Appends ``<step> <key> <time_ns>`` lines, the first per step and key only; thread-safe."""

    def __init__(self, out: IO[str]) -> None:
        self._out = out
        self._seen: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def mark(self, step: str, key: object, now: int | None = None) -> None:
        stamp = time.time_ns() if now is None else now
        with self._lock:
            if (step, str(key)) in self._seen:
                return
            self._seen.add((step, str(key)))
            self._out.write(f"{step} {key} {stamp}\n")

    def names(self, step: str, text: str | bytes, now: int | None = None) -> None:
        """Mark ``step`` for every watched name in ``text``."""
        stamp = time.time_ns() if now is None else now
        if isinstance(text, bytes):
            for found in _NAME_BYTES.findall(text):
                self.mark(step, found.decode(), stamp)
        else:
            for found in NAME_PATTERN.findall(text):
                self.mark(step, found, stamp)


def read(path: str) -> dict[str, dict[str, int]]:
    """A trace file as ``{step: {key: time_ns}}`` (first line per step and key)."""
    steps: dict[str, dict[str, int]] = {}
    with open(path) as lines:
        for line in lines:
            parts = line.split()
            if len(parts) == 3 and parts[2].isdigit():
                steps.setdefault(parts[0], {}).setdefault(parts[1], int(parts[2]))
    return steps


def _wrap(trace: Trace, owner: Any, name: str, make: Callable[[Any], Any]) -> None:
    original = getattr(owner, name, None)
    if original is None:
        trace.mark("missing", f"{getattr(owner, '__name__', owner)}.{name}")
        return
    setattr(owner, name, make(original))


# -- the backend ----------------------------------------------------------------------------------


def _trace_server(trace: Trace) -> None:
    from pyairtable_server import app as app_module
    from pyairtable_server.realtime import hub as hub_module
    from pyairtable_server.realtime import sse as sse_module
    from pyairtable_server.realtime import websocket as websocket_module

    def received(original: Any) -> Any:
        def traced(self: Any, published: Any) -> None:
            now = time.time_ns()
            for item in published:
                trace.mark("committed", item.seq, now)
            original(self, published)

        return traced

    def dispatch(original: Any) -> Any:
        def traced(self: Any, item: Any) -> None:
            trace.mark("dispatched", item.seq)
            original(self, item)

        return traced

    def ws_frame(original: Any) -> Any:
        def traced(item: Any) -> Any:
            framed = original(item)
            if isinstance(item, hub_module.EventOut):
                trace.mark("ws_frame", item.published.seq)
            return framed

        return traced

    def sse_frame(original: Any) -> Any:
        def traced(published: Any) -> bytes:
            encoded: bytes = original(published)
            trace.mark("sse_frame", published.seq)
            return encoded

        return traced

    def create_app(original: Any) -> Any:
        def traced(*args: Any, **kwargs: Any) -> Any:
            app = original(*args, **kwargs)
            return _RequestStamp(app, trace)

        return traced

    _wrap(trace, hub_module.Hub, "received", received)
    _wrap(trace, hub_module.Hub, "_dispatch", dispatch)
    # The socket's frame of an item: ``_frame`` (bytes written straight to the transport) where
    # the backend has it, else ``frame`` (the text sent through ASGI).
    framing = "_frame" if hasattr(websocket_module, "_frame") else "frame"
    _wrap(trace, websocket_module, framing, ws_frame)
    _wrap(trace, sse_module, "_encode_event", sse_frame)
    _wrap(trace, app_module, "create_app", create_app)


class _RequestStamp:
    """ASGI middleware: marks ``request <n>`` when the n-th record PATCH arrives."""

    def __init__(self, app: Any, trace: Trace) -> None:
        self.app = app
        self._trace = trace
        self._count = itertools.count()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "PATCH" and "/records/" in scope["path"]:
            self._trace.mark("request", next(self._count))
        await self.app(scope, receive, send)


# -- the demo app ---------------------------------------------------------------------------------


def _trace_demo(trace: Trace) -> None:
    from solara.server import kernel as kernel_module

    from pyairtable_demo import _pages as pages_module
    from pyairtable_integration.live import _query as query_module
    from pyairtable_integration.realtime import _delivery as delivery_module
    from pyairtable_integration.realtime import _registry as registry_module
    from pyairtable_integration.realtime._frames import Delivered

    def apply(original: Any) -> Any:
        def traced(self: Any, frame: Any, *args: Any, **kwargs: Any) -> None:
            if isinstance(frame, Delivered):
                trace.mark("sdk_frame", frame.event.seq)
            original(self, frame, *args, **kwargs)

        return traced

    def call(original: Any) -> Any:
        async def traced(callback: Any, argument: Any) -> None:
            seq = getattr(argument, "seq", None)
            if seq is not None:
                name = getattr(callback, "__qualname__", type(callback).__name__)
                trace.mark("callback", f"{seq}:{name.replace(' ', '_')}")
            await original(callback, argument)

        return traced

    def dispatch(original: Any) -> Any:
        def traced(self: Any, action: Any) -> None:
            # Stamped before: the new state's observers (the grid's render) run inside.
            now, before = time.time_ns(), self._state
            original(self, action)
            if self._state is not before and isinstance(self._state.data, list):
                for record in self._state.data:
                    fields = getattr(record, "fields", None)
                    if isinstance(fields, dict):
                        value = fields.get("Name")
                        if isinstance(value, str) and NAME_PATTERN.fullmatch(value):
                            trace.mark("query", value, now)

        return traced

    def row(original: Any) -> Any:
        def traced(record: Any, fields: Any) -> Any:
            value = record.fields.get("Name")
            if isinstance(value, str) and NAME_PATTERN.fullmatch(value):
                trace.mark("render", value)
            return original(record, fields)

        return traced

    def send(original: Any) -> Any:
        def traced(websockets: Any, message: Any) -> None:
            if isinstance(message, str | bytes):
                trace.names("ws_send", message)
            original(websockets, message)
            if isinstance(message, str | bytes):
                trace.names("ws_sent", message)

        return traced

    _wrap(trace, registry_module.Subscriptions, "apply", apply)
    _wrap(trace, delivery_module, "_call", call)
    _wrap(trace, query_module.LiveQuery, "_dispatch", dispatch)
    _wrap(trace, pages_module, "_row", row)
    _wrap(trace, kernel_module, "send_websockets", send)


def main() -> None:
    which, path, *argv = sys.argv[1:]
    trace = Trace(open(path, "a", buffering=1))  # noqa: SIM115 - open for the process's life
    if which == "server":
        _trace_server(trace)
        from pyairtable_server.cli import app as cli
    else:
        _trace_demo(trace)
        from pyairtable_demo.cli import app as cli
    cli(argv, prog_name=which)


if __name__ == "__main__":
    main()
