"""Browser tests: the system's Chromium, driven by Playwright, against the demo stack.

Playwright's sync API is used in plain (non-async) tests: it runs its own event loop, which it
cannot do inside a running one, and the stack's processes are plain subprocesses anyway. No
browser is ever downloaded; without ``/usr/bin/chromium`` these tests are skipped locally and
fail on CI (``CI=true``), where ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, expect, sync_playwright

from .stack import DemoStack

CHROMIUM = Path(os.environ.get("PYAIRTABLE_TEST_CHROMIUM", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[2]
#: Where a run leaves its screenshots (ignored by git).
ARTIFACTS = ROOT / ".pytest-artifacts" / "browser"
#: How long an expectation may wait before it fails; a hang guard, never a measure.
HANG_MS = 60_000
_FAILED = pytest.StashKey[bool]()


def _chromium_or_skip() -> Path:
    if CHROMIUM.exists():
        return CHROMIUM
    reason = (
        f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; "
        "or set PYAIRTABLE_TEST_CHROMIUM to its path)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI requires the browser tests: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    # Module scope, not session: Playwright's loop must be gone before async tests run.
    _chromium_or_skip()
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    expect.set_options(timeout=HANG_MS)
    # --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, browser: Browser) -> Iterator[DemoStack]:
    """The seeded backend and the demo app, shared by the tests of a module."""
    demo = DemoStack.create(tmp_path_factory.mktemp("demo"))
    demo.start()
    yield demo
    demo.stop()


@pytest.fixture
def artifacts(request: pytest.FixtureRequest) -> Path:
    """A folder for this test's screenshots under ``.pytest-artifacts/browser``."""
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.name)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # Remembered so that fixtures can tell, at teardown, that the test itself failed.
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_FAILED] = True
    return report


@pytest.fixture
def contexts(
    browser: Browser, request: pytest.FixtureRequest, artifacts: Path
) -> Iterator[list[BrowserContext]]:
    """Two separate browser contexts (two users' browsers: no shared cookies), closed after.

    When the test fails, every page they hold is saved first, as ``failed-<context>-<page>.png``.
    """
    opened = [browser.new_context(viewport={"width": 1400, "height": 900}) for _ in range(2)]
    yield opened
    if request.node.stash.get(_FAILED, False):
        for c, context in enumerate(opened):
            for p, page in enumerate(context.pages):
                page.screenshot(path=artifacts / f"failed-{c}-{p}.png", full_page=True)
    for context in opened:
        context.close()
