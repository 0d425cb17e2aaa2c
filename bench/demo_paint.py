"""Write → painted in another user's browser: the Solara demo, against a bare SSE subscriber.

    python bench/demo_paint.py [--edits 50]

Starts the browser tests' demo stack (a seeded ``serve`` backend and ``demo --app-only``), signs
``demo2@example.com`` in to the demo in Chromium with the Tasks grid open, then, one edit at a
time, changes a task's name through the API as ``demo@example.com`` and times, from the moment
the request is sent:

- ``sse``: a bare SSE subscriber in this process (httpx2, the contract's ``/events`` stream)
  receiving the change: the baseline, what the backend itself costs;
- ``paint``: the new text in the other browser's grid cell, stamped by a MutationObserver in the
  page and taken after the next animation frame (the frame that paints it).

It prints p50/p95 of both and of their difference, which is what the demo process, Solara and
the browser add. Loopback only; the run stops by itself after ``--edits`` edits.
"""

from __future__ import annotations

import argparse
import json
import queue
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx2
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.pages import cell, open_tasks, row_ids, sign_in  # noqa: E402
from tests.browser.stack import DemoStack  # noqa: E402

from bench._harness import percentile  # noqa: E402
from pyairtable_server.seed import DEMO_PASSWORD  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
OTHER_USER = "demo2@example.com"
FIELD = "Name"

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


def _sse_arrivals(
    stack: DemoStack,
    table_id: str,
    arrivals: queue.Queue[tuple[str, float]],
    ready: threading.Event,
    stop: threading.Event,
) -> None:
    """Follow the table's record events over SSE; put (record id + name, arrival time) per event."""
    login = httpx2.post(
        f"{stack.backend.api_url}/auth/login",
        json={"email": OTHER_USER, "password": DEMO_PASSWORD},
        timeout=30,
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
                    event: dict[str, Any] = json.loads(line[5:])
                    record = (event.get("payload") or {}).get("record") or {}
                    fields = record.get("fields") or {}
                    arrivals.put((f"{event.get('aggregate_id')}:{fields.get(FIELD)}", time.time()))
    except httpx2.TransportError:
        if not stop.is_set():
            raise  # the stream ended before the run did; at the end, the server stopping ends it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=50)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        stack = DemoStack.create(Path(folder))
        stack.start()
        try:
            _run(stack, args.edits)
        finally:
            stack.stop()


def _run(stack: DemoStack, edits: int) -> None:
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        sign_in(page, stack, OTHER_USER)
        open_tasks(page)
        record_id = row_ids(page)[0]
        table_id = stack.api("GET", f"/records/{record_id}")["table_id"]
        selector = f".pa-row-{record_id} .pa-cell.pa-field-{FIELD}"
        assert cell(page, record_id, FIELD).count() == 1

        arrivals: queue.Queue[tuple[str, float]] = queue.Queue()
        ready, stop = threading.Event(), threading.Event()
        follower = threading.Thread(
            target=_sse_arrivals, args=(stack, table_id, arrivals, ready, stop), daemon=True
        )
        follower.start()
        ready.wait(30)

        sse_ms: list[float] = []
        paint_ms: list[float] = []
        for n in range(edits):
            wanted = f"paint-{n}-{time.time_ns()}"
            page.evaluate(WATCH_CELL, [selector, wanted])
            sent = time.time()
            stack.api("PATCH", f"/records/{record_id}", json={"fields": {FIELD: wanted}})
            seen: list[str] = []
            while True:
                try:
                    key, arrived = arrivals.get(timeout=30)
                except queue.Empty:
                    raise AssertionError(f"no event for the edit; saw {seen}") from None
                if key == f"{record_id}:{wanted}":
                    break
                seen.append(key)
            stamps = page.evaluate("() => window.__paint")
            sse_ms.append((arrived - sent) * 1000)
            paint_ms.append(stamps["painted"] - sent * 1000)
            time.sleep(0.2)  # at rest: one edit at a time, the page idle before the next
        stop.set()
        browser.close()

    extra = [p - s for p, s in zip(paint_ms, sse_ms, strict=True)]
    print(f"write → delivered / painted, {edits} edits one at a time (ms from the request's start)")
    print(f"{'measure':<44}{'p50':>9}{'p95':>9}")
    for name, values in (
        ("bare SSE subscriber receives the event", sse_ms),
        ("painted in the other browser (Solara demo)", paint_ms),
        ("added by the demo app, Solara and browser", extra),
    ):
        print(f"{name:<44}{percentile(values, 50):>9.1f}{percentile(values, 95):>9.1f}")
    print(f"paint / SSE at p50: {percentile(paint_ms, 50) / percentile(sse_ms, 50):.1f}x")


if __name__ == "__main__":
    main()
