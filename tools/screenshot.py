"""Take the README's screenshot of the demo grid: ``docs/screenshot-grid.png``.

    .venv/bin/python tools/screenshot.py [--output docs/screenshot-grid.png]

Runs ``pyairtable-integration demo`` (backend and app, seeded, in a throwaway data folder) on free
ports, signs in as the demo user in the system's Chromium (``/usr/bin/chromium``, or
``PYAIRTABLE_TEST_CHROMIUM``), opens the Tasks table and saves the window. Exits non-zero, with
the demo's output, when the demo does not start or the grid does not appear.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from playwright.sync_api import ViewportSize, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "pyairtable-integration"
CHROMIUM = os.environ.get("PYAIRTABLE_TEST_CHROMIUM", "/usr/bin/chromium")
EMAIL = "demo@example.com"
PASSWORD = "launch-party-42"
STARTUP_SECONDS = 120
VIEWPORT: ViewportSize = {"width": 1400, "height": 860}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Return once ``url`` answers 200; raise SystemExit with the demo's output otherwise."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the demo exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx2.get(url, timeout=2).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the demo did not answer {url} in time:\n{log.read_text()}")


def _capture(app_url: str, output: Path) -> None:
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1)
        expect.set_options(timeout=60_000)
        page.goto(f"{app_url}/login")
        page.locator("input.pa-login-email").fill(EMAIL)
        page.locator("input.pa-login-password").fill(PASSWORD)
        page.locator("button.pa-login-submit").click()
        expect(page.locator(".pa-user")).to_contain_text(EMAIL)
        page.locator(".pa-workspace").first.click()
        page.locator(".pa-base").first.click()
        page.locator(".pa-table", has_text="Tasks").first.click()
        expect(page.locator(".pa-grid .pa-row").first).to_be_visible()
        expect(page.locator(".pa-connection")).to_contain_text("live")
        output.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=output)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "screenshot-grid.png")
    args = parser.parse_args()
    app_port, api_port = _free_port(), _free_port()
    with tempfile.TemporaryDirectory(prefix="pyairtable-screenshot-") as folder:
        log = Path(folder) / "demo.log"
        with log.open("wb") as out:
            # Its own process group, so that the backend the demo starts is stopped with it.
            process = subprocess.Popen(  # noqa: S603 (our own command, fixed arguments)
                [
                    *(CLI, "demo", "--port", str(app_port), "--api-port", str(api_port)),
                    *("--data-dir", str(Path(folder) / "data")),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=folder,
                start_new_session=True,
            )
        try:
            app_url = f"http://127.0.0.1:{app_port}"
            _wait_for(f"{app_url}/login", process, log)
            _capture(app_url, args.output)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
