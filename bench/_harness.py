"""Shared benchmark plumbing: uvicorn servers in subprocesses, and load phases in a client process.

- ``serve`` starts ``uvicorn`` (one worker, no access log) on a free 127.0.0.1 port, waits until a
  health path answers 200, and stops the process on exit, also on error or Ctrl-C.
- ``run_load`` drives one URL (or a rotation of paths and bodies on its host, with any method)
  with N concurrent keep-alive connections from a fresh process, for a warm-up and then a
  measuring window, and returns every latency of that window and any errors.
  Its client is a minimal HTTP/1.1 one (asyncio streams, httptools parser): a general client such
  as httpx2 spends several times more CPU per request than a bare Starlette server, so it tops out
  first, and a baseline measured with it would measure the client.
- ``HttpConnection`` is that client's keep-alive connection, for a script that builds each request
  itself; ``stop`` ends a server process started some other way.
- ``baseline_app`` is a bare Starlette app with one small JSON endpoint, to compare servers with.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import httptools
import httpx2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

HOST = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parent.parent
BASELINE_APP = "bench._harness:baseline_app"
BASELINE_PATH = "/"
STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
MAX_ERROR_KINDS = 10
_ERROR_DETAIL_CHARS = 300
_READ_CHUNK = 64 * 1024
_STDERR_TAIL_CHARS = 4000


@dataclass(frozen=True)
class Server:
    """A running uvicorn process and the base URL it answers on."""

    process: subprocess.Popen[bytes]
    base_url: str


@contextmanager
def serve(
    app: str,
    *,
    env: Mapping[str, str],
    health_path: str,
    factory: bool = False,
    workers: int = 1,
    startup_timeout: float = STARTUP_TIMEOUT_SECONDS,
    options: Sequence[str] = (),
) -> Iterator[Server]:
    """Run ``uvicorn <app>`` (an import string, resolved from the repo root) until the block ends.

    ``env`` is the process's whole environment; ``workers`` above 1 starts that many worker
    processes under uvicorn's supervisor (``Server.process``). Raises ``RuntimeError`` with the
    server's stderr when it exits or does not answer ``health_path`` with 200 within
    ``startup_timeout`` seconds.
    """
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        *(["--factory"] if factory else []),
        *("--app-dir", str(REPO_ROOT), "--host", HOST, "--port", str(port)),
        *("--workers", str(workers), "--log-level", "warning", "--no-access-log"),
        # The WebSocket set-up ``pyairtable-integration serve`` runs (uvicorn's default is the
        # legacy implementation, with per-message deflate).
        *("--ws", "websockets-sansio", "--ws-per-message-deflate", "false"),
        *options,
    ]
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(command, env=dict(env), stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            server = Server(process, f"http://{HOST}:{port}")
            _wait_until_healthy(server, health_path, stderr, startup_timeout)
            yield server
        finally:
            stop(process)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def clean_environment() -> dict[str, str]:
    """This process's environment without ``PYAIRTABLE_*``, so servers see only what is passed."""
    return {key: value for key, value in os.environ.items() if not key.startswith("PYAIRTABLE_")}


def _wait_until_healthy(server: Server, path: str, stderr: IO[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx2.Client(base_url=server.base_url, timeout=2.0) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {server.process.returncode}:\n{_tail(stderr)}"
                )
            try:
                if client.get(path).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer {path} within {timeout:g} s:\n{_tail(stderr)}")


def _tail(stream: IO[bytes]) -> str:
    stream.seek(0)
    return stream.read().decode(errors="replace")[-_STDERR_TAIL_CHARS:]


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process`` and wait for it; kill it if it outlives ``STOP_TIMEOUT_SECONDS``."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class LoadSpec:
    """One load phase: requests to ``url`` (on 127.0.0.1) over ``concurrency`` connections.

    By default every request is the same: ``url``'s path and query, no body. With ``paths`` (path
    and query on ``url``'s host) and/or ``bodies``, the n-th request sent (counted over all
    connections) goes to ``paths[n % len(paths)]`` with ``bodies[n % len(bodies)]``, sent as
    ``Content-Type: application/json``. A request succeeds when it answers ``expect_status``.

    Requests run for ``warmup`` seconds, then for ``duration`` seconds in which latencies are
    recorded; at most ``max_requests`` are sent in all, each with ``timeout`` seconds to finish.
    """

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    concurrency: int = 32
    warmup: float = 1.0
    duration: float = 5.0
    max_requests: int = 2_000_000
    timeout: float = 10.0
    method: str = "GET"
    paths: tuple[str, ...] = ()
    bodies: tuple[bytes, ...] = ()
    expect_status: int = 200

    def __post_init__(self) -> None:
        url = urlsplit(self.url)
        if url.scheme != "http" or url.hostname != HOST:
            raise ValueError(f"load is only ever sent to http://{HOST}, not {self.url}")
        if self.concurrency < 1 or self.duration <= 0 or self.warmup < 0:
            raise ValueError("concurrency must be >= 1, duration > 0 and warmup >= 0")
        if not all(path.startswith("/") for path in self.paths):
            raise ValueError("paths are absolute paths on the url's host, starting with /")

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 80

    def request_bytes(self, index: int = 0) -> bytes:
        """The HTTP/1.1 request sent as the ``index``-th request (0 when all are the same)."""
        url = urlsplit(self.url)
        if self.paths:
            target = self.paths[index % len(self.paths)]
        else:
            target = url.path + (f"?{url.query}" if url.query else "")
        body = self.bodies[index % len(self.bodies)] if self.bodies else None
        headers = {"Host": url.netloc, "User-Agent": "pyairtable-bench", **self.headers}
        if body is not None:
            headers |= {"Content-Type": "application/json", "Content-Length": str(len(body))}
        lines = [
            f"{self.method} {target or '/'} HTTP/1.1",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")

    def all_request_bytes(self) -> list[bytes]:
        """Every distinct request, in the order they are sent (one unless paths or bodies)."""
        count = math.lcm(len(self.paths) or 1, len(self.bodies) or 1)
        return [self.request_bytes(index) for index in range(count)]


@dataclass(frozen=True)
class LoadResult:
    """What one load phase saw: latencies (seconds) of the measuring window, and every error.

    ``errors`` counts failures by kind ("HTTP 401", "ReadTimeout"…); ``error_samples`` keeps the
    first detail of each kind.
    """

    latencies: list[float]
    window_seconds: float
    errors: Counter[str]
    error_samples: dict[str, str]

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def requests_per_second(self) -> float:
        return len(self.latencies) / self.window_seconds if self.window_seconds > 0 else 0.0

    def percentile_ms(self, percent: int) -> float:
        """The ``percent``-th percentile latency in ms (1-99); NaN with under two latencies."""
        return percentile(self.latencies, percent) * 1000


def percentile(values: list[float], percent: int) -> float:
    """The ``percent``-th percentile (1-99) of ``values``, interpolated; NaN with under two."""
    if len(values) < 2:
        return math.nan
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def run_load(spec: LoadSpec) -> LoadResult:
    """Run one load phase in a fresh process, so that the client never shares the caller's CPU.

    Failed requests do not raise: they are counted in the result, for the caller to judge.
    """
    # Leaving the block terminates the worker, also when the caller is interrupted.
    with multiprocessing.get_context("spawn").Pool(1, initializer=_ignore_sigint) as pool:
        result: LoadResult = pool.apply(_load_in_this_process, (spec,))
    return result


def _ignore_sigint() -> None:
    """Leave Ctrl-C to the caller, which stops the worker (without a second traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _load_in_this_process(spec: LoadSpec) -> LoadResult:
    return asyncio.run(_load(spec))


class _Recorder:
    """Decides when workers stop, and keeps latencies that finish inside the measuring window."""

    def __init__(self, spec: LoadSpec) -> None:
        self.spec = spec
        self.measure_from = time.perf_counter() + spec.warmup
        self.measure_until = self.measure_from + spec.duration
        self.sent = 0
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.error_samples: dict[str, str] = {}

    def next_request(self) -> int | None:
        """The number (from 0) of the next request to send, or None to stop; counts it."""
        if self.sent >= self.spec.max_requests or time.perf_counter() >= self.measure_until:
            return None
        self.sent += 1
        return self.sent - 1

    def success(self, started: float, finished: float) -> None:
        if self.measure_from <= finished < self.measure_until:
            self.latencies.append(finished - started)

    def failure(self, kind: str, detail: str) -> None:
        self.errors[kind] += 1
        if kind not in self.error_samples and len(self.error_samples) < MAX_ERROR_KINDS:
            self.error_samples[kind] = detail[:_ERROR_DETAIL_CHARS]

    def result(self) -> LoadResult:
        window = min(time.perf_counter(), self.measure_until) - self.measure_from
        return LoadResult(self.latencies, window, self.errors, self.error_samples)


async def _load(spec: LoadSpec) -> LoadResult:
    recorder = _Recorder(spec)
    requests = spec.all_request_bytes()
    workers = [_worker(spec, requests, recorder) for _ in range(spec.concurrency)]
    bound = spec.warmup + spec.duration + spec.timeout + 5
    await asyncio.wait_for(asyncio.gather(*workers), timeout=bound)
    return recorder.result()


async def _worker(spec: LoadSpec, requests: list[bytes], recorder: _Recorder) -> None:
    """Send the next of ``requests`` (in turn, over all workers) on one connection until told to
    stop; reconnect after any failure."""
    connection: HttpConnection | None = None
    try:
        while (index := recorder.next_request()) is not None:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(spec.timeout):
                    connection = connection or await HttpConnection.open(HOST, spec.port)
                    status, body = await connection.send(requests[index % len(requests)])
            except (OSError, TimeoutError, httptools.HttpParserError) as exc:
                recorder.failure(type(exc).__name__, str(exc) or repr(exc))
                if connection is not None:
                    connection.close()
                connection = None
                continue
            finished = time.perf_counter()
            if status == spec.expect_status:
                recorder.success(started, finished)
            else:
                recorder.failure(f"HTTP {status}", body.decode(errors="replace"))
    finally:
        if connection is not None:
            connection.close()


class HttpConnection:
    """One keep-alive HTTP/1.1 connection: writes prepared request bytes, parses with httptools."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.parser = httptools.HttpResponseParser(self)
        self.body = bytearray()
        self.complete = False

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send one request and read its whole response: (status, body).

        Raises ``ConnectionError`` when the server closes the connection first.
        """
        self.body.clear()
        self.complete = False
        self.writer.write(request)
        while not self.complete:
            data = await self.reader.read(_READ_CHUNK)
            if not data:
                raise ConnectionError("the server closed the connection")
            self.parser.feed_data(data)
        return self.parser.get_status_code(), bytes(self.body)

    def close(self) -> None:
        self.writer.close()

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.complete = True


async def _baseline(_: Request) -> JSONResponse:
    return JSONResponse(_BASELINE_BODY)


def baseline_app() -> Starlette:
    """A bare Starlette app: ``GET /`` answers a small JSON list page, like the API's."""
    return Starlette(routes=[Route(BASELINE_PATH, _baseline)])


# Shaped like the API's workspace list with five workspaces (ids, timestamps, pagination).
_BASELINE_BODY = {
    "data": [
        {
            "id": f"wsp{index:016d}",
            "name": f"Workspace {index}",
            "description": "",
            "owner_id": "usr" + "0" * 16,
            "is_active": True,
            "member_count": 1,
            "base_count": 0,
            "created_at": "2026-01-01T00:00:00.000000Z",
            "updated_at": "2026-01-01T00:00:00.000000Z",
        }
        for index in range(5)
    ],
    "pagination": {
        "page": 1,
        "per_page": 20,
        "total": 5,
        "total_pages": 1,
        "has_next": False,
        "has_prev": False,
    },
}
