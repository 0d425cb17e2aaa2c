"""The realtime benchmark's baseline: a bare WebSocket broadcast server, built on ``websockets``.

It speaks just enough of contract §8 for the benchmark's subscribers: on ``/`` it answers an
``auth`` message with ``auth_ok`` and a ``subscribe`` message with ``subscription_confirmed``, and
from then on the socket receives every broadcast. A producer connects to ``/produce``; each text
message it sends is handed, as it is, to ``websockets.broadcast`` for every subscribed socket
(one write per socket, no queue, no backpressure: the least a fan-out can do).

``serve_broadcast`` runs it in its own process (``python -m bench._broadcast PORT``) until the
block ends; like the API as ``serve`` runs it, it does not compress frames (no permessage-deflate).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from bench._harness import HOST, REPO_ROOT, STARTUP_TIMEOUT_SECONDS, clean_environment, free_port
from bench._harness import stop as stop_process

PRODUCER_PATH = "/produce"
_AUTH_OK = json.dumps({"type": "auth_ok", "expires_at": None})


@dataclass(frozen=True)
class BroadcastServer:
    """The running broadcast server: its subscribers' URL and its process id."""

    url: str
    pid: int


@contextmanager
def serve_broadcast() -> Iterator[BroadcastServer]:
    """Run the broadcast server in a subprocess until the block ends.

    Raises ``RuntimeError`` when it exits or does not accept connections within
    ``STARTUP_TIMEOUT_SECONDS``.
    """
    port = free_port()
    command = [sys.executable, "-m", "bench._broadcast", str(port)]
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=clean_environment())
    try:
        _wait_until_listening(process, port)
        yield BroadcastServer(f"ws://{HOST}:{port}/", process.pid)
    finally:
        stop_process(process)


def _wait_until_listening(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the broadcast server exited with {process.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the broadcast server did not listen within {STARTUP_TIMEOUT_SECONDS:g} s")


class _Broadcaster:
    """The subscribed sockets, and the handler every connection runs."""

    def __init__(self) -> None:
        self.subscribers: set[ServerConnection] = set()

    async def handle(self, websocket: ServerConnection) -> None:
        try:
            if websocket.request is not None and websocket.request.path == PRODUCER_PATH:
                async for message in websocket:
                    broadcast(self.subscribers, message)
                return
            async for message in websocket:
                request = json.loads(message)
                if request.get("type") == "auth":
                    await websocket.send(_AUTH_OK)
                elif request.get("type") == "subscribe":
                    self.subscribers.add(websocket)
                    await websocket.send(_confirmed(request.get("subscription_id")))
        except ConnectionClosed:
            pass
        finally:
            self.subscribers.discard(websocket)


def _confirmed(subscription_id: object) -> str:
    return json.dumps(
        {
            "type": "subscription_confirmed",
            "subscription_id": subscription_id,
            "position": 0,
            "recovered": False,
        }
    )


async def _run(port: int) -> None:
    # At the end of a cell, broadcasts still reach sockets whose subscribers are closing them;
    # asyncio would warn about every such write.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    broadcaster = _Broadcaster()
    async with serve(broadcaster.handle, HOST, port, compression=None) as server:
        await server.serve_forever()


if __name__ == "__main__":
    with suppress(KeyboardInterrupt):
        asyncio.run(_run(int(sys.argv[1])))
