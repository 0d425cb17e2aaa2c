"""Shared cache levels below memory: SQLite on disk (survives a restart) and Redis (shared).

A level stores JSON text with wall-clock deadlines (seconds since the epoch), because its
entries outlive the process whose monotonic clock wrote them.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache_entries (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    fresh_until REAL NOT NULL,
    stale_until REAL NOT NULL
)
"""


@dataclass(frozen=True)
class StoredEntry:
    """An entry as a shared level keeps it: JSON-able value and wall-clock deadlines."""

    value: Any
    fresh_until: float
    stale_until: float


class CacheLevel(Protocol):
    """A cache level below memory."""

    async def get(self, key: str, now: float) -> StoredEntry | None:
        """The entry for ``key`` unless it expired before ``now``."""
        ...

    async def set(self, key: str, entry: StoredEntry) -> None:
        """Store ``entry`` under ``key``."""
        ...

    async def delete_prefix(self, prefix: str) -> None:
        """Drop every key starting with ``prefix`` (all when empty)."""
        ...

    async def aclose(self) -> None:
        """Release the level's connections."""
        ...


class SQLiteCacheLevel:
    """Entries in a SQLite file (WAL), read and written in a worker thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        # One connection used from worker threads one call at a time.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SQLiteCacheLevel({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            self._db = db
        return self._db

    def _get(self, key: str, now: float) -> StoredEntry | None:
        with self._lock:
            row = (
                self._connect()
                .execute(
                    "SELECT value, fresh_until, stale_until FROM cache_entries WHERE key = ?",
                    (key,),
                )
                .fetchone()
            )
        if row is None or row[2] <= now:
            return None
        return StoredEntry(json.loads(row[0]), row[1], row[2])

    def _set(self, key: str, entry: StoredEntry) -> None:
        with self._lock:
            self._connect().execute(
                "INSERT OR REPLACE INTO cache_entries VALUES (?, ?, ?, ?)",
                (key, json.dumps(entry.value), entry.fresh_until, entry.stale_until),
            )

    def _delete_prefix(self, prefix: str) -> None:
        # Compared exactly: LIKE would ignore case, and keys hold case-sensitive ids.
        with self._lock:
            self._connect().execute(
                "DELETE FROM cache_entries WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
            )

    def _close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    async def get(self, key: str, now: float) -> StoredEntry | None:
        """The entry for ``key`` unless it expired before ``now``."""
        return await asyncio.to_thread(self._get, key, now)

    async def set(self, key: str, entry: StoredEntry) -> None:
        """Store ``entry`` under ``key`` (replacing what was there)."""
        await asyncio.to_thread(self._set, key, entry)

    async def delete_prefix(self, prefix: str) -> None:
        """Drop every key starting with ``prefix`` (all when empty)."""
        await asyncio.to_thread(self._delete_prefix, prefix)

    async def aclose(self) -> None:
        """Close the file."""
        await asyncio.to_thread(self._close)


class RedisCacheLevel:
    """Entries in Redis, shared by every process that points at the same server and prefix.

    Needs the ``redis`` extra. Keys are ``<prefix><cache key>``; each value carries its deadlines
    (read from the integration's clock), and a reader skips the expired ones.

    Raises:
        ImportError: the ``redis`` package is not installed.
    """

    def __init__(self, url: str, *, prefix: str = "pyairtable:cache:") -> None:
        import redis.asyncio as redis

        self.url = url
        self.prefix = prefix
        self._redis = redis.Redis.from_url(url)

    def __repr__(self) -> str:
        return f"RedisCacheLevel(prefix={self.prefix!r})"

    async def get(self, key: str, now: float) -> StoredEntry | None:
        """The entry for ``key`` unless it expired before ``now``."""
        raw = await self._redis.get(self.prefix + key)
        if raw is None:
            return None
        data = json.loads(raw)
        if data["stale_until"] <= now:
            return None
        return StoredEntry(data["value"], data["fresh_until"], data["stale_until"])

    async def set(self, key: str, entry: StoredEntry) -> None:
        """Store ``entry`` under ``key``; Redis expires it when it is no longer servable."""
        text = json.dumps(
            {
                "value": entry.value,
                "fresh_until": entry.fresh_until,
                "stale_until": entry.stale_until,
            }
        )
        await self._redis.set(self.prefix + key, text)

    async def delete_prefix(self, prefix: str) -> None:
        """Drop every key starting with ``prefix`` (all of this cache's when empty)."""
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self.prefix + prefix) + "*"
        keys = [key async for key in self._redis.scan_iter(match=pattern, count=500)]
        if keys:
            await self._redis.delete(*keys)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
