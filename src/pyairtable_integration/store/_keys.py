"""Cache keys and the per-resource lifetimes of the original design; pure functions.

Keys are readable prefixes followed by a stable hash of the query, so
``invalidate(KEYS.table_records(table_id="tbl…"))`` (``records:tbl…:``) drops every list of one
table whatever its query, and equal queries (whatever the order of their mapping keys) share one
entry. Every key and every prefix dropped is built here, by ``KEYS`` (the integration's
``pa.cache.strategies``); no other module spells one.

Only what the services read through the store is cached: a user's profile, the workspace list,
a table's schema and record lists (and records). Bases and lists of tables are not cached.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MINUTE = 60.0


@dataclass(frozen=True)
class Lifetime:
    """How long an entry is fresh (``ttl``) and then served stale while it revalidates (``swr``)."""

    ttl: float
    swr: float = 0.0


# The original design's defaults: a profile and the workspace list rarely change and may be
# shown stale while refreshed; record lists and schemas are kept current by invalidation.
USER_PROFILE = Lifetime(ttl=15 * MINUTE, swr=15 * MINUTE)
WORKSPACE_LIST = Lifetime(ttl=5 * MINUTE, swr=5 * MINUTE)
RECORD_LIST = Lifetime(ttl=2 * MINUTE)
TABLE_SCHEMA = Lifetime(ttl=30 * MINUTE)


def stable_hash(value: Any) -> str:
    """A short hash of a JSON-able value that ignores the order of mapping keys."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Strategies:
    """Key builders, one per cached resource (``pa.cache.strategies``)."""

    def record_list(
        self,
        *,
        table_id: str,
        view_id: str | None = None,
        fields: Sequence[str] | None = None,
        sort: Sequence[Mapping[str, Any]] | None = None,
        filter: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        offset: str | None = None,
    ) -> str:
        """``records:<table>:list:<hash of the query>``; ``fields`` order does not matter."""
        query = {
            "view_id": view_id,
            "fields": None if fields is None else sorted(fields),
            "sort": None if sort is None else [dict(spec) for spec in sort],
            "filter": None if filter is None else dict(filter),
            "page_size": page_size,
            "offset": offset,
        }
        return f"records:{table_id}:list:{stable_hash(query)}"

    def table_schema(self, *, table_id: str) -> str:
        """``schema:<table>:table``: the table with its fields."""
        return f"schema:{table_id}:table"

    def workspace_list(self, *, page: int | None = None, per_page: int | None = None) -> str:
        """``workspaces:list:<hash of the page>``."""
        return f"workspaces:list:{stable_hash([page, per_page])}"

    def user_profile(self) -> str:
        """``user:me``: the signed-in user's profile."""
        return "user:me"

    # -- prefixes: what an invalidation drops ---------------------------------------------

    def table_records(self, *, table_id: str) -> str:
        """``records:<table>:``: every cached record list of a table."""
        return f"records:{table_id}:"

    def table_schemas(self, *, table_id: str) -> str:
        """``schema:<table>:``: a table's cached schema."""
        return f"schema:{table_id}:"

    def workspaces(self) -> str:
        """``workspaces:``: every cached page of the workspace list."""
        return "workspaces:"

    def users(self) -> str:
        """``user:``: the signed-in user's profile."""
        return "user:"

    def __repr__(self) -> str:
        return "Strategies()"


#: The one key builder; ``pa.cache.strategies`` is this object.
KEYS = Strategies()
