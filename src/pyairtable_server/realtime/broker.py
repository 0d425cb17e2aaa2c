"""Live wake-ups between server instances over Redis pub/sub.

Why Redis and not PostgreSQL ``LISTEN/NOTIFY``: a ``NOTIFY`` inside the writing transaction takes
a database-wide lock at commit, serialising every committing writer behind it, and caps payloads
at 8000 bytes; it also needs a dedicated connection outside SQLAlchemy's pool. Redis pub/sub costs
the writers nothing and works for SQLite deployments too (several workers on one file).

**A message is a hint, never an event.** An instance that committed events publishes only "the
log's head is now N"; the others read the events, their recipients and any membership change
from the event log, which is the truth. So whoever can publish on the channel (a compromised or
shared Redis) can at worst make instances read the log early: a forged message cannot make
anyone a member, deliver an event that was never committed, or hide one that was.

The broker is only a fast path. Each instance's hub also polls the log, so a message lost while
Redis restarts, or dropped because the publish queue was full, only delays those events by one
poll interval. Nothing here may fail a write: publishing happens after commit, in the background.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

import anyio
from anyio.abc import TaskStatus
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .hub import Hub

logger = logging.getLogger("pyairtable_server.realtime")

#: Batches waiting to be published; beyond this they are dropped (the log still has them).
PUBLISH_QUEUE_SIZE = 10_000
RECONNECT_DELAY_SECONDS = 0.2
MAX_RECONNECT_DELAY_SECONDS = 5.0


def _hint(sender: str, head: int) -> str:
    return json.dumps({"from": sender, "head": head}, separators=(",", ":"))


async def publish_hint(url: str, channel: str, head: int) -> None:
    """Tell running instances, once, that the log's head is now ``head`` (for a process that
    wrote to the log without running a hub, e.g. a command line tool).

    Raises ``RedisError`` or ``OSError`` when Redis cannot be reached.
    """
    client: Redis = Redis.from_url(url)
    try:
        await client.publish(channel, _hint("cli-" + secrets.token_hex(4), head))
    finally:
        await client.aclose()


class RedisBroker:
    """Publishes this instance's committed events and feeds other instances' into the hub."""

    def __init__(self, url: str, channel: str) -> None:
        self.channel = channel
        self.instance = secrets.token_hex(8)
        # A pooled connection that Redis dropped fails on its next use: retry on a fresh one
        # rather than lose the batch to the next log poll.
        self._redis: Redis = Redis.from_url(
            url,
            health_check_interval=10,
            retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        self._send, self._queue = anyio.create_memory_object_stream[str](PUBLISH_QUEUE_SIZE)
        self._dropped = 0

    def publish(self, head: int) -> None:
        """Tell the other instances the log's head is now ``head`` (never blocks or raises)."""
        try:
            self._send.send_nowait(_hint(self.instance, head))
        except anyio.WouldBlock:
            self._dropped += 1

    async def run(
        self, hub: Hub, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Publish and listen until cancelled, reconnecting to Redis whenever it goes away."""
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._publish_forever)
                await tasks.start(self._listen_forever, hub)
                task_status.started()
        finally:
            self._send.close()
            self._queue.close()
            with anyio.CancelScope(shield=True):
                await self._redis.aclose()

    async def _publish_forever(self) -> None:
        async for message in self._queue:
            try:
                await self._redis.publish(self.channel, message)
            except (RedisError, OSError) as exc:
                self._dropped += 1
                logger.warning("could not publish an event batch to Redis (%s)", exc)

    async def _listen_forever(
        self, hub: Hub, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        delay = RECONNECT_DELAY_SECONDS
        started = False
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self.channel)
                    hub.broker_error = None
                    delay = RECONNECT_DELAY_SECONDS
                    if not started:
                        started = True
                        task_status.started()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._receive(hub, message["data"])
                        elif message.get("type") == "subscribe":
                            # Confirmed on the first subscribe and again whenever redis-py
                            # reconnected and re-subscribed on its own (its retry does that
                            # without raising): whatever was published while we were not
                            # listening is in the log.
                            hub.poll_soon()
            except (RedisError, OSError) as exc:
                hub.broker_error = f"Redis unavailable ({type(exc).__name__})"
                logger.warning("Redis pub/sub unavailable (%s); retrying in %.1fs", exc, delay)
                if not started:
                    # Serve anyway: the log poll keeps every instance correct without Redis.
                    started = True
                    task_status.started()
                await anyio.sleep(delay)
                delay = min(delay * 2, MAX_RECONNECT_DELAY_SECONDS)

    def _receive(self, hub: Hub, data: Any) -> None:
        try:
            message = json.loads(data)
            sender, head = message["from"], message["head"]
        except (ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring a malformed message on the events channel (%s)", exc)
            return
        if sender == self.instance:
            return
        if not isinstance(head, int) or isinstance(head, bool) or head < 0:
            logger.warning("ignoring a message on the events channel without a valid head")
            return
        hub.hint(head)
