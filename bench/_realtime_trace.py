"""The API with its realtime path timed, for ``bench/realtime_latency.py`` (served by uvicorn).

``create_app`` is the backend's own factory after wrapping three steps of the realtime path, each
of which appends ``<step> <seq> <time.time_ns()>`` to the file named by ``TRACE_FILE_VARIABLE``:

- ``committed``: the hub takes a local commit's events (``Hub.received``, right after commit);
- ``dispatched``: the hub dispatches the event to its subscribers (``Hub._dispatch``);
- ``sent``: a WebSocket frame carrying the event is built to be sent (``websocket.frame``).

Only the first line per step and ``seq`` counts. The wrapping is a benchmark's instrument, not the
backend's: it reaches into the hub as a profiler would, and costs a file write per step.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import IO, Any

from fastapi import FastAPI

from pyairtable_server import app as app_module
from pyairtable_server.realtime import hub as hub_module
from pyairtable_server.realtime import websocket as websocket_module

TRACE_FILE_VARIABLE = "PYAIRTABLE_BENCH_TRACE_FILE"
STEPS = ("committed", "dispatched", "sent")


def create_app() -> FastAPI:
    """The backend's app, its realtime steps traced to the file ``TRACE_FILE_VARIABLE`` names."""
    trace = open(os.environ.pop(TRACE_FILE_VARIABLE), "a", buffering=1)  # noqa: SIM115
    _wrap(trace)
    return app_module.create_app()


def _wrap(trace: IO[str]) -> None:
    hub_class: Any = hub_module.Hub
    transport = vars(websocket_module)
    received, dispatch, frame = hub_class.received, hub_class._dispatch, transport["frame"]

    def traced_received(self: Any, published: Sequence[Any]) -> None:
        now = time.time_ns()
        for item in published:
            trace.write(f"committed {item.seq} {now}\n")
        received(self, published)

    def traced_dispatch(self: Any, item: Any) -> None:
        trace.write(f"dispatched {item.seq} {time.time_ns()}\n")
        dispatch(self, item)

    def traced_frame(item: Any) -> str:
        if isinstance(item, hub_module.EventOut):
            trace.write(f"sent {item.published.seq} {time.time_ns()}\n")
        text: str = frame(item)
        return text

    hub_class.received = traced_received
    hub_class._dispatch = traced_dispatch
    transport["frame"] = traced_frame
