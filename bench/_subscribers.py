"""WebSocket subscribers for the realtime benchmark, spread over worker processes.

``SubscriberPool`` owns worker processes (spawned, so none shares the caller's event loop): one
per CPU, and more if the most connections a cell wants need more than ``per_process`` each
(``CONNECTIONS_PER_PROCESS`` unless said otherwise). For one measurement ("cell") ``open`` splits
the wanted connections evenly over all workers (fewer when there are fewer connections than
workers); every connection authenticates (``auth`` → ``auth_ok``) and subscribes to one table's
``record`` channel (``subscribe`` → ``subscription_confirmed``), as contract §8 describes. Then
the caller makes its changes, and ``collect`` says how many each connection should have seen: the
workers wait until every connection has that many (or was closed) or the deadline passes, close
their sockets and report what they saw.

Each change carries ``<marker><time.time_ns() at send>~`` somewhere in its frame (``marker``
names the cell, so a straggler of an earlier cell is never counted). A subscriber finds it with a
string search rather than a JSON parse, to spend as little of the machine as it can, and records
receive - send in milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import signal
import time
import traceback
from array import array
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from types import TracebackType

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

CONNECTIONS_PER_PROCESS = 250
#: Handshakes in flight per worker, so that a thousand sockets do not all time out at once.
CONNECT_CONCURRENCY = 50
CONNECT_TIMEOUT_SECONDS = 60.0
CLOSE_TIMEOUT_SECONDS = 2.0
SUBSCRIPTION_ID = "bench"
_ABNORMAL_CLOSURE = 1006
_MAX_FAILURE_SAMPLE = 300


@dataclass(frozen=True)
class Share:
    """What one cell asks of the workers: ``connections`` sockets to ``url``, each signed in with
    ``token`` and subscribed to ``table_id``'s records, counting frames that carry ``marker``."""

    url: str
    token: str
    table_id: str
    connections: int
    marker: str


@dataclass
class Tally:
    """What subscribers saw in one cell, summed over workers.

    ``connected``: sockets subscribed before the changes began; ``failed``: sockets that could not
    connect or subscribe, by kind (``failure_sample`` is the first detail); ``received``: frames
    of the cell; ``latencies_ms``: receive - send of each; ``closed``: sockets the server closed
    before the end, by close code (1006: without a close frame); ``last_received_ns``: when the
    last frame arrived (``time.time_ns``).
    """

    connected: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    failure_sample: str = ""
    received: int = 0
    latencies_ms: array[float] = field(default_factory=lambda: array("d"))
    closed: Counter[int] = field(default_factory=Counter)
    last_received_ns: int = 0

    def add(self, other: Tally) -> None:
        self.connected += other.connected
        self.failed += other.failed
        self.failure_sample = self.failure_sample or other.failure_sample
        self.received += other.received
        self.latencies_ms.extend(other.latencies_ms)
        self.closed += other.closed
        self.last_received_ns = max(self.last_received_ns, other.last_received_ns)


@dataclass(frozen=True)
class _Collect:
    """Wait until each socket saw ``expected`` frames (or closed), or ``deadline_ns`` passes."""

    expected: int
    deadline_ns: int


@dataclass(frozen=True)
class _WorkerFailed:
    traceback: str


class SubscriberPool:
    """Worker processes that hold subscribers; use as a context manager (it stops them on exit)."""

    def __init__(self, max_connections: int, *, per_process: int = CONNECTIONS_PER_PROCESS) -> None:
        self._size = max(os.cpu_count() or 1, math.ceil(max_connections / per_process))
        self._workers: list[tuple[BaseProcess, Connection]] = []
        self._busy: list[Connection] = []

    def __enter__(self) -> SubscriberPool:
        context = multiprocessing.get_context("spawn")
        try:
            for _ in range(self._size):
                ours, theirs = context.Pipe()
                process = context.Process(target=_worker, args=(theirs,), daemon=True)
                process.start()
                theirs.close()
                self._workers.append((process, ours))
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def open(self, share: Share) -> Tally:
        """Connect and subscribe ``share.connections`` sockets; how many made it and why not.

        Raises ``RuntimeError`` when a worker fails (with its traceback), or when the previous
        cell was not collected.
        """
        if self._busy:
            raise RuntimeError("the previous cell was not collected")
        processes = max(1, min(self._size, share.connections))
        base, extra = divmod(share.connections, processes)
        for index, (_, pipe) in enumerate(self._workers[:processes]):
            count = base + (1 if index < extra else 0)
            pipe.send(Share(share.url, share.token, share.table_id, count, share.marker))
            self._busy.append(pipe)
        return self._gather()

    def collect(self, expected: int, deadline_ns: int) -> Tally:
        """Let every socket wait for ``expected`` frames until ``deadline_ns``; what they saw.

        The sockets are closed before this returns. Raises ``RuntimeError`` when a worker fails.
        """
        for pipe in self._busy:
            pipe.send(_Collect(expected, deadline_ns))
        try:
            return self._gather()
        finally:
            self._busy.clear()

    def _gather(self) -> Tally:
        total = Tally()
        for pipe in self._busy:
            try:
                answer = pipe.recv()
            except EOFError:
                raise RuntimeError("a subscriber process exited unexpectedly") from None
            if isinstance(answer, _WorkerFailed):
                raise RuntimeError(f"a subscriber process failed:\n{answer.traceback}")
            total.add(answer)
        return total

    def _stop(self) -> None:
        for process, pipe in self._workers:
            with contextlib.suppress(OSError):
                pipe.send(None)
            pipe.close()
            process.join(CLOSE_TIMEOUT_SECONDS * 2)
            if process.is_alive():
                process.kill()
                process.join()
        self._workers.clear()


# -- in a worker process --------------------------------------------------------------------------


def _worker(pipe: Connection) -> None:
    """Serve cells until told to stop (``None``); Ctrl-C is the parent's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while (share := pipe.recv()) is not None:
        try:
            asyncio.run(_cell(pipe, share))
        except Exception:
            pipe.send(_WorkerFailed(traceback.format_exc()))


class _Listener:
    """One subscribed socket and what it saw."""

    def __init__(self, websocket: ClientConnection) -> None:
        self.websocket = websocket
        self.received = 0
        self.closed_by_server: int | None = None


class _Cell:
    """One worker's share of a cell: its sockets, and the latencies all of them recorded."""

    def __init__(self, share: Share) -> None:
        self.share = share
        self.listeners: list[_Listener] = []
        self.tally = Tally()
        self.closing = False
        #: From ``collect`` on: how many frames each socket waits for, and who still waits.
        self.expected: int | None = None
        self.waiting: set[_Listener] = set()
        self.all_done = asyncio.Event()

    async def open_all(self) -> None:
        limit = asyncio.Semaphore(CONNECT_CONCURRENCY)
        await asyncio.gather(*(self._open(limit) for _ in range(self.share.connections)))
        self.tally.connected = len(self.listeners)

    async def _open(self, limit: asyncio.Semaphore) -> None:
        async with limit:
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                    websocket = await connect(
                        self.share.url, close_timeout=CLOSE_TIMEOUT_SECONDS, max_size=None
                    )
                    try:
                        await self._subscribe(websocket)
                    except BaseException:
                        websocket.transport.abort()
                        raise
            except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed, ValueError) as exc:
                kind = type(exc).__name__
                self.tally.failed[kind] += 1
                if not self.tally.failure_sample:
                    self.tally.failure_sample = f"{kind}: {exc}"[:_MAX_FAILURE_SAMPLE]
                return
        self.listeners.append(_Listener(websocket))

    async def _subscribe(self, websocket: ClientConnection) -> None:
        """Sign in and subscribe; raises ``ValueError`` when the server answers otherwise."""
        share = self.share
        await websocket.send(json.dumps({"type": "auth", "token": share.token}))
        await _expect(websocket, "auth_ok")
        subscribe = {
            "type": "subscribe",
            "subscription_id": SUBSCRIPTION_ID,
            "channel": "record",
            "filters": {"table_id": share.table_id},
        }
        await websocket.send(json.dumps(subscribe))
        await _expect(websocket, "subscription_confirmed")

    async def listen(self, listener: _Listener) -> None:
        """Count the cell's frames on one socket and record their latency, until it closes."""
        marker = self.share.marker
        skip = len(marker)
        latencies = self.tally.latencies_ms
        websocket = listener.websocket
        try:
            async for message in websocket:
                received = time.time_ns()
                if not isinstance(message, str) or (at := message.find(marker)) < 0:
                    continue
                sent = int(message[at + skip : message.index("~", at + skip)])
                latencies.append((received - sent) / 1e6)
                listener.received += 1
                self.tally.last_received_ns = received
                if listener.received == self.expected:
                    self._done(listener)
        except ConnectionClosed:
            pass
        if not self.closing:
            listener.closed_by_server = websocket.close_code or _ABNORMAL_CLOSURE
            self._done(listener)

    def _done(self, listener: _Listener) -> None:
        self.waiting.discard(listener)
        if not self.waiting:
            self.all_done.set()

    async def wait(self, collect: _Collect) -> None:
        """Until every socket saw ``expected`` frames or closed, or the deadline."""
        self.expected = collect.expected
        self.waiting = {
            listener
            for listener in self.listeners
            if listener.received < collect.expected and listener.closed_by_server is None
        }
        if not self.waiting:
            return
        seconds = max(0.0, (collect.deadline_ns - time.time_ns()) / 1e9)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.all_done.wait()

    async def close_all(self) -> None:
        self.closing = True
        await asyncio.gather(
            *(listener.websocket.close() for listener in self.listeners), return_exceptions=True
        )
        for listener in self.listeners:
            self.tally.received += listener.received
            if listener.closed_by_server is not None:
                self.tally.closed[listener.closed_by_server] += 1


async def _cell(pipe: Connection, share: Share) -> None:
    cell = _Cell(share)
    try:
        await cell.open_all()
        async with asyncio.TaskGroup() as tasks:
            for listener in cell.listeners:
                tasks.create_task(cell.listen(listener))
            tally = cell.tally
            pipe.send(Tally(tally.connected, tally.failed, tally.failure_sample))
            collect: _Collect = await asyncio.to_thread(pipe.recv)
            await cell.wait(collect)
            await cell.close_all()
    finally:
        for listener in cell.listeners:
            listener.websocket.transport.abort()
    pipe.send(cell.tally)


async def _expect(websocket: ClientConnection, kind: str) -> None:
    message = await websocket.recv()
    if not isinstance(message, str) or json.loads(message).get("type") != kind:
        raise ValueError(f"expected {kind!r}, the server sent {message[:200]!r}")
