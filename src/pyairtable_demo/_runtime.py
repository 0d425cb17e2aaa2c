"""What the demo app shares between its web routes and its pages, and the pages' event loop.

Solara loads its page module by name, so the pages find the app they serve through
``current()``: one demo app per process, set by ``create_app``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pyairtable_integration import PyAirtableIntegration, create_integration
from pyairtable_integration.web import PyAirtableAuth

from ._sessions import SessionEntryTokenStore, SharedSessionStore

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread: where every page's integration lives.

    Solara renders each page on its kernel's thread; the integrations need a loop that keeps
    running between renders (realtime sockets, the outbox, token refresh), so they share this one.
    """

    def __init__(self, name: str = "pyairtable-demo-pages") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the loop and wait for its result (or raise its error)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coroutine`` on the loop without waiting; its future."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def stop(self) -> None:
        """Stop the loop and wait for its thread to end."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()


@dataclass
class DemoRuntime:
    """The demo app's shared parts: the backend's URL, the web sessions, the pages' loop."""

    api_url: str
    data_dir: Path
    auth: PyAirtableAuth
    store: SharedSessionStore
    loop: LoopThread

    def session_id(self, cookies: dict[str, str]) -> str | None:
        """The signed-in session id a browser's cookies carry, or None."""
        opened = self.auth.open_cookie(cookies.get(self.auth.config.cookie_name))
        if opened is None or self.store.get(opened[0]) is None:
            return None
        return opened[0]

    def outbox_path(self, user_id: str) -> Path:
        """Where a user's offline outbox lives (the SDK creates it 0600 in 0700 folders)."""
        return self.data_dir / "outbox" / f"{user_id}.sqlite3"

    def page_integration(self, session_id: str) -> PyAirtableIntegration:
        """A started integration for one page, signed in as the browser's session.

        Its tokens live in the browser's session entry; its outbox is the user's own file.

        Raises:
            LookupError: the session is gone from the store.
        """
        session = self.store.get(session_id)
        if session is None:
            raise LookupError("the browser's session has ended")
        tokens = SessionEntryTokenStore(self.store, session_id, ttl=self.auth.config.max_age)
        outbox = self.outbox_path(session.user_id)
        integration = create_integration(
            base_url=self.api_url,
            token_store=tokens,
            enable_caching=True,
            enable_offline_queue=True,
            offline_path=str(outbox),
            features={
                "enable_realtime": True,
                "enable_optimistic_updates": True,
                "enable_offline_support": True,
            },
            environ={},
        )
        self.loop.run(integration.initialize())
        return integration


_current: DemoRuntime | None = None


def install(runtime: DemoRuntime) -> None:
    """Make ``runtime`` the one the pages use."""
    global _current
    _current = runtime


def current() -> DemoRuntime:
    """The demo app this process serves.

    Raises:
        RuntimeError: no demo app was created in this process.
    """
    if _current is None:
        raise RuntimeError("pyairtable_demo.create_app() has not been called in this process.")
    return _current
