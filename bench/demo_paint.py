"""Write → painted in another user's browser: the Solara demo, against a bare SSE subscriber.

    .venv/bin/python bench/demo_paint.py [--edits 50] [--pause 0.2]

Starts the browser tests' demo stack (a seeded ``serve`` backend and ``demo --app-only``, both
with their steps timed by ``bench._paint_trace``), signs ``demo2@example.com`` in to the demo in
Chromium with the Tasks grid open, then, one edit at a time (``--pause`` seconds of rest
between them), changes a task's name through the API as ``demo@example.com`` over one
keep-alive connection, and times, from the moment the request is sent:

- ``sse``: a bare SSE subscriber in this process (httpx2, the contract's ``/events`` stream)
  receiving the change: the baseline, what the backend itself costs;
- ``paint``: the new text in the other browser's grid cell, stamped by a MutationObserver in the
  page and taken after the next animation frame (the frame that paints it).

Then where the paint's time went, step by step, from the timestamps every process took on the
same clock (``time.time_ns`` and the page's ``performance.timeOrigin + now()``): the request
reaching the backend, its commit, the event's frame for the demo's socket, the demo's SDK
applying it, the live query holding it, the grid rendering it, Solara sending it, the browser
receiving it, the DOM showing it, the frame painting it. Each step's p50/p95 is over the edits
(the p50s need not add up to the total's). The machine's load (1-minute average, and how busy
its CPUs were during the run) is printed with the figures: the machine may be shared.
Loopback only; the run stops by itself after ``--edits`` edits.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.pages import cell, open_tasks, row_ids, sign_in  # noqa: E402
from tests.browser.stack import DemoStack  # noqa: E402

from bench import _paint_trace  # noqa: E402
from bench._harness import percentile  # noqa: E402
from pyairtable_server.seed import DEMO_EMAIL, DEMO_PASSWORD  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
OTHER_USER = "demo2@example.com"
FIELD = "Name"
TRACER = str(Path(_paint_trace.__file__).resolve())
#: A guard against a hang, never a measure.
WAIT_SECONDS = 30

#: Installed in the page as ``window.__paint`` (not awaited: evaluate would wait for it): stamps
#: (epoch ms) when the watched cell first shows the wanted text,
#: then resolves after the following animation frame, the one that paints it.
WATCH_CELL = """([selector, wanted]) => { window.__paint = new Promise((resolve) => {
  const target = document.querySelector(selector);
  const done = () => {
    const now = () => performance.timeOrigin + performance.now();
    const changed = now();
    requestAnimationFrame(() => resolve({changed, painted: now()}));
  };
  if (target && target.textContent.includes(wanted)) { done(); return; }
  const observer = new MutationObserver(() => {
    const now = document.querySelector(selector);
    if (now && now.textContent.includes(wanted)) { observer.disconnect(); done(); }
  });
  observer.observe(document.body, {subtree: true, childList: true, characterData: true});
}); }"""

#: Run before the page's own scripts: stamps (epoch ms, in ``window.__arrived``) when a
#: WebSocket message first carrying each written name is dispatched, before the page's own
#: handlers (a listener added in the constructor runs first).
WATCH_SOCKETS = """(() => {
  const arrived = window.__arrived = {};
  const pattern = /paint-\\d+-\\d+/g;
  const stamp = (text, at) => {
    for (const found of text.matchAll(pattern)) {
      if (!(found[0] in arrived)) arrived[found[0]] = at;
    }
  };
  const Original = window.WebSocket;
  window.WebSocket = class extends Original {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (message) => {
        const at = performance.timeOrigin + performance.now();
        const data = message.data;
        if (typeof data === "string") stamp(data, at);
        else if (data instanceof ArrayBuffer) stamp(new TextDecoder().decode(data), at);
        else if (data instanceof Blob) data.text().then((text) => stamp(text, at));
      });
    }
  };
})();"""

#: The paint's path, in order: (label, mark before, mark after).
STEPS = (
    ("request reaches the backend", "sent", "request"),
    ("backend: request → commit (write path)", "request", "committed"),
    ("backend: commit → frame for the demo's socket", "committed", "ws_frame"),
    ("socket → demo SDK applies the frame", "ws_frame", "sdk_frame"),
    ("SDK: frame → live query holds the change", "sdk_frame", "query"),
    ("Solara: query → grid row rendered", "query", "render"),
    ("Solara: row rendered → message sent", "render", "ws_send"),
    ("Solara send → browser receives message", "ws_send", "browser"),
    ("browser: message → DOM changed", "browser", "dom"),
    ("browser: DOM changed → painted", "dom", "painted"),
)
#: Beside the path: the write's answer and the bare subscriber's.
OTHERS = (
    ("write answered (request round trip)", "sent", "answered"),
    ("backend: commit → SSE frame built", "committed", "sse_frame"),
    ("SSE frame → bare subscriber has it", "sse_frame", "sse"),
)
TOTALS = (
    ("bare SSE subscriber receives the event", "sent", "sse"),
    ("painted in the other browser (Solara demo)", "sent", "painted"),
)


@dataclass
class Edit:
    """One edit's name, ``seq`` and marks (ns on the one clock), by mark name."""

    name: str
    seq: int
    marks: dict[str, int]


class Load:
    """The machine's load over a run: 1-minute averages, and the CPUs' busy share between."""

    def __init__(self) -> None:
        self.start_average = os.getloadavg()[0]
        self._start = _cpu_times()

    def summary(self) -> str:
        busy_start, total_start = self._start
        busy, total = _cpu_times()
        share = (busy - busy_start) / max(total - total_start, 1)
        return (
            f"load: 1-min average {self.start_average:.2f} → {os.getloadavg()[0]:.2f}, "
            f"CPUs {share:.0%} busy during the run ({os.cpu_count()} CPUs, this run included)"
        )


class _ProcessCpu:
    """The CPU time (user + system) each of some processes spends between ``start`` and
    ``stop``: what one edit costs them, whatever else the machine runs."""

    def __init__(self, processes: dict[str, subprocess.Popen[bytes] | None]) -> None:
        self._pids = {name: process.pid for name, process in processes.items() if process}
        self._start: dict[str, int] = {}
        self._spent: dict[str, int] = {}

    def start(self) -> None:
        self._start = {name: _process_ticks(pid) for name, pid in self._pids.items()}

    def stop(self) -> None:
        self._spent = {
            name: _process_ticks(pid) - self._start[name] for name, pid in self._pids.items()
        }

    def summary(self, edits: int) -> str:
        tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
        spent = ", ".join(
            f"{name} {ticks * tick_ms / max(edits, 1):.1f}" for name, ticks in self._spent.items()
        )
        return f"CPU ms per edit (user + system, whole process): {spent}"


def _process_ticks(pid: int) -> int:
    """User + system clock ticks process ``pid`` has used, from ``/proc/<pid>/stat``."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from ``/proc/stat``."""
    with open("/proc/stat") as stat:
        values = [int(part) for part in stat.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _sse_arrivals(
    stack: DemoStack,
    table_id: str,
    arrivals: queue.Queue[tuple[str, int, int]],
    ready: threading.Event,
    stop: threading.Event,
) -> None:
    """Follow the table's record events over SSE; put (record id:name, seq, arrival ns) each."""
    login = httpx2.post(
        f"{stack.backend.api_url}/auth/login",
        json={"email": OTHER_USER, "password": DEMO_PASSWORD},
        timeout=WAIT_SECONDS,
    )
    token = login.json()["access_token"]
    try:
        with (
            httpx2.Client(timeout=None) as client,
            client.stream(
                "GET",
                # The stream is at the root (contract §8); /api/v1/events is the event log.
                f"http://127.0.0.1:{stack.backend.port}/events",
                params={"channel": "record", "table_id": table_id},
                headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"},
            ) as stream,
        ):
            ready.set()
            for line in stream.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("data:"):
                    arrived = time.time_ns()
                    event: dict[str, Any] = json.loads(line[5:])
                    record = (event.get("payload") or {}).get("record") or {}
                    fields = record.get("fields") or {}
                    key = f"{event.get('aggregate_id')}:{fields.get(FIELD)}"
                    arrivals.put((key, int(event.get("seq") or 0), arrived))
    except httpx2.TransportError:
        if not stop.is_set():
            raise  # the stream ended before the run did; at the end, the server stopping ends it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--pause", type=float, default=0.2, help="seconds of rest between edits")
    parser.add_argument("--keep", type=Path, help="copy the trace files and logs to this folder")
    args = parser.parse_args()
    print(f"$ {' '.join([os.path.relpath(sys.executable), *sys.argv])}")

    with tempfile.TemporaryDirectory() as folder:
        server_trace, demo_trace = Path(folder) / "server.trace", Path(folder) / "demo.trace"
        stack = DemoStack.create(
            Path(folder),
            backend_command=(sys.executable, "-P", TRACER, "server", str(server_trace)),
            app_command=(sys.executable, "-P", TRACER, "demo", str(demo_trace)),
        )
        stack.start()
        try:
            load = Load()
            cpu = _ProcessCpu({"backend": stack.backend.process, "demo app": stack.app.process})
            edits = _run(stack, args.edits, args.pause, cpu)
            summary = f"{load.summary()}\n{cpu.summary(len(edits))}"
        finally:
            stack.stop()
        server = _paint_trace.read(str(server_trace))
        demo = _paint_trace.read(str(demo_trace))
        if args.keep is not None:
            shutil.copytree(folder, args.keep, dirs_exist_ok=True, ignore=_not_kept)
    _report(edits, server, demo, summary)


def _not_kept(folder: str, names: list[str]) -> list[str]:
    return [name for name in names if not name.endswith((".trace", ".log"))]


def _run(stack: DemoStack, count: int, pause: float, cpu: _ProcessCpu) -> list[Edit]:
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.add_init_script(WATCH_SOCKETS)
        sign_in(page, stack, OTHER_USER)
        open_tasks(page)
        record_id = row_ids(page)[0]
        table_id = stack.api("GET", f"/records/{record_id}")["table_id"]
        assert cell(page, record_id, FIELD).count() == 1

        arrivals: queue.Queue[tuple[str, int, int]] = queue.Queue()
        ready, stop = threading.Event(), threading.Event()
        follower = threading.Thread(
            target=_sse_arrivals, args=(stack, table_id, arrivals, ready, stop), daemon=True
        )
        follower.start()
        ready.wait(WAIT_SECONDS)
        try:
            with httpx2.Client(base_url=stack.backend.api_url, timeout=WAIT_SECONDS) as writer:
                login = writer.post(
                    "/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
                )
                writer.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
                cpu.start()
                edits = [_edit(page, writer, arrivals, record_id, n, pause) for n in range(count)]
                cpu.stop()
                return edits
        finally:
            stop.set()
            browser.close()


def _edit(
    page: Page,
    writer: httpx2.Client,
    arrivals: queue.Queue[tuple[str, int, int]],
    record_id: str,
    n: int,
    pause: float,
) -> Edit:
    """Write one name and wait until both the SSE subscriber and the other browser show it."""
    name = f"paint-{n}-{time.time_ns()}"
    selector = f".pa-row-{record_id} .pa-cell.pa-field-{FIELD}"
    page.evaluate(WATCH_CELL, [selector, name])
    sent = time.time_ns()
    answer = writer.patch(f"/records/{record_id}", json={"fields": {FIELD: name}})
    answered = time.time_ns()
    assert answer.status_code == 200, answer.text
    seen: list[str] = []
    while True:
        try:
            key, seq, arrived = arrivals.get(timeout=WAIT_SECONDS)
        except queue.Empty:
            raise AssertionError(f"no event for the edit; saw {seen}") from None
        if key == f"{record_id}:{name}":
            break
        seen.append(key)
    stamps = page.evaluate("() => window.__paint")
    browser_ms = page.evaluate("(name) => window.__arrived[name]", name)
    marks = {
        "sent": sent,
        "answered": answered,
        "sse": arrived,
        "dom": round(stamps["changed"] * 1e6),
        "painted": round(stamps["painted"] * 1e6),
        "request": n,  # replaced by the trace's time of the n-th request
    }
    if browser_ms is not None:
        marks["browser"] = round(browser_ms * 1e6)
    time.sleep(pause)  # at rest: one edit at a time, the page idle before the next
    return Edit(name, seq, marks)


def _report(
    edits: list[Edit],
    server: dict[str, dict[str, int]],
    demo: dict[str, dict[str, int]],
    load: str,
) -> None:
    for edit in edits:
        marks = edit.marks
        request = server.get("request", {}).get(str(marks.pop("request")))
        if request is not None:
            marks["request"] = request
        for step in ("committed", "dispatched", "ws_frame", "sse_frame"):
            if (at := server.get(step, {}).get(str(edit.seq))) is not None:
                marks[step] = at
        if (at := demo.get("sdk_frame", {}).get(str(edit.seq))) is not None:
            marks["sdk_frame"] = at
        for step in ("query", "render", "ws_send", "ws_sent"):
            if (at := demo.get(step, {}).get(edit.name)) is not None:
                marks[step] = at

    print(
        f"write → delivered / painted, {len(edits)} edits one at a time "
        "(ms; each step's p50/p95 over the edits)"
    )
    print(load)
    print(f"{'':<4}{'step':<50}{'p50':>8}{'p95':>8}{'n':>5}")
    _rows([(f"{i}.", *step) for i, step in enumerate(STEPS, 1)], edits)
    print("beside the path:")
    _rows([("", *step) for step in OTHERS], edits)
    building = _client_builds()
    label = "a new httpx2 client (this bench's per write, once)"
    print(
        f"{'':<4}{label:<50}{percentile(building, 50):>8.1f}"
        f"{percentile(building, 95):>8.1f}{len(building):>5}"
    )
    print("end to end, from the request's start:")
    _rows([("", *step) for step in TOTALS], edits)
    _rows([("", "added by the demo app, Solara and browser", "sse", "painted")], edits)
    paint = _durations(edits, "sent", "painted")
    sse = _durations(edits, "sent", "sse")
    print(f"paint / SSE at p50: {percentile(paint, 50) / percentile(sse, 50):.2f}x")
    callbacks = sorted(
        {key.split(":", 1)[1] for key in demo.get("callback", {})},
        key=lambda name: min(
            at for key, at in demo["callback"].items() if key.endswith(":" + name)
        ),
    )
    if callbacks:
        print(f"demo SDK callbacks per event (first first): {', '.join(callbacks)}")
    for what in sorted({*server.get("missing", {}), *demo.get("missing", {})}):
        print(f"not traced (renamed since?): {what}")


def _client_builds(count: int = 20) -> list[float]:
    """Milliseconds to make and close an httpx2 client (its SSL context) ``count`` times: what
    each write cost when this bench made a client per write inside the timed window."""
    spent = []
    for _ in range(count):
        started = time.perf_counter()
        with httpx2.Client(timeout=WAIT_SECONDS):
            pass
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def _durations(edits: list[Edit], start: str, end: str) -> list[float]:
    return [
        (edit.marks[end] - edit.marks[start]) / 1e6
        for edit in edits
        if start in edit.marks and end in edit.marks
    ]


def _rows(rows: list[tuple[str, str, str, str]], edits: list[Edit]) -> None:
    for number, label, start, end in rows:
        values = _durations(edits, start, end)
        p50, p95 = percentile(values, 50), percentile(values, 95)
        print(f"{number:<4}{label:<50}{p50:>8.1f}{p95:>8.1f}{len(values):>5}")


if __name__ == "__main__":
    main()
