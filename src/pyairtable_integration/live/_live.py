"""``pa.live``: live queries, mutations and the connection, for UI code to subscribe to."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from ..services.records import SortKey
from ..types import Base, Record, Table, Workspace
from ._connection import LiveConnection
from ._mutation import LiveMutation
from ._query import LiveQuery, QueryKey, QuerySource
from ._query_cache import QueryCache
from ._sources import (
    BasesSource,
    RecordSource,
    RecordsSource,
    TableSource,
    TablesSource,
    WorkspacesSource,
    query_text,
)

if TYPE_CHECKING:
    from ._host import LiveHost

P = ParamSpec("P")
T = TypeVar("T")
logger = logging.getLogger("pyairtable_integration.live")
#: Seconds a query without observers keeps listening before it is released.
DEFAULT_GC_TIME = 0.0
TASK_PREFIX = "pa-live:"


class Live:
    """Observable queries and mutations over one integration (``pa.live``).

    Queries with the same key are one ``LiveQuery`` (``queries``), so two components showing
    the same table share one fetch and one set of listeners. Every task it starts (fetches) is
    owned here: ``aclose()`` cancels them and releases every query.
    """

    def __init__(self, pa: LiveHost, *, gc_time: float = DEFAULT_GC_TIME) -> None:
        self._pa = pa
        self.gc_time = gc_time
        self.queries = QueryCache()
        self.connection = LiveConnection(pa)
        self.connection.on_online(self.queries.resume)
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False

    def __repr__(self) -> str:
        return f"Live(queries={len(self.queries)}, tasks={len(self._tasks)})"

    def records(
        self,
        table_id: str,
        *,
        view_id: str | None = None,
        filter: Mapping[str, Any] | None = None,
        sort: Sequence[SortKey] | None = None,
        fields: Sequence[str] | None = None,
    ) -> LiveQuery[list[Record]]:
        """The records of a table (the first page, up to 100) as ``filter``, ``sort``,
        ``fields`` and ``view_id`` select them, kept current with every change."""
        key: QueryKey = (
            "records",
            table_id,
            view_id,
            query_text(filter),
            query_text(None if sort is None else [dict(spec) for spec in sort]),
            query_text(None if fields is None else sorted(fields)),
        )
        return self._query(
            key,
            lambda: RecordsSource(
                self._pa, table_id, view_id=view_id, filter=filter, sort=sort, fields=fields
            ),
        )

    def record(self, record_id: str) -> LiveQuery[Record | None]:
        """One record, kept current (``data`` is None while a pending delete hides it)."""
        return self._query(("record", record_id), lambda: RecordSource(self._pa, record_id))

    def workspaces(self) -> LiveQuery[list[Workspace]]:
        """The signed-in user's workspaces."""
        return self._query(("workspaces",), lambda: WorkspacesSource(self._pa))

    def bases(self, workspace_id: str) -> LiveQuery[list[Base]]:
        """The bases of a workspace."""
        return self._query(("bases", workspace_id), lambda: BasesSource(self._pa, workspace_id))

    def tables(self, base_id: str) -> LiveQuery[list[Table]]:
        """The tables of a base, with their fields."""
        return self._query(("tables", base_id), lambda: TablesSource(self._pa, base_id))

    def table(self, table_id: str) -> LiveQuery[Table]:
        """One table with its fields."""
        return self._query(("table", table_id), lambda: TableSource(self._pa, table_id))

    def mutation(
        self, fn: Callable[P, Awaitable[T]], *, optimistic: bool | None = None
    ) -> LiveMutation[P, T]:
        """A write to run and watch: ``await m.run(*args)``, ``m.state``, ``m.subscribe``.

        ``optimistic`` says whether ``fn`` shows its change before the server confirms it
        (``pa.mutate`` and ``pa.offline`` writes do when optimistic updates are on, the
        default guess).
        """
        return LiveMutation(
            fn,
            optimistic=self._pa.mutate.optimistic_enabled if optimistic is None else optimistic,
            outbox=self._pa.offline,
        )

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        """The tasks of the live layer still running (fetches under way)."""
        return [task for task in self._tasks if not task.done()]

    async def settle(self) -> None:
        """Wait until the fetches under way have finished (or been cancelled)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def aclose(self) -> None:
        """Release every query and cancel every fetch under way; safe to call twice."""
        self._closed = True
        for query in self.queries.all():
            query.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _query(self, key: QueryKey, source: Callable[[], QuerySource[T]]) -> LiveQuery[T]:
        return self.queries.build(
            key,
            lambda: LiveQuery(
                key,
                source(),
                clock=self._pa.clock,
                connection=self.connection,
                spawn=self._spawn,
                attached=self.queries.attached,
                released=self.queries.released,
                gc_time=self.gc_time,
            ),
        )

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        if self._closed:
            work.close()
            raise RuntimeError("This integration is closed; create a new one.")
        task = asyncio.create_task(work, name=f"{TASK_PREFIX}{name}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Service errors are in the query's state; anything else is a bug worth a trace.
            logger.error("a live query fetch failed", exc_info=task.exception())
