"""Rate-limit counters in Redis are shared by every server process, and a dead Redis fails open."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator

import pytest
import redis

from pyairtable_server.settings import Settings

from .backend import running_api

pytestmark = pytest.mark.anyio

REDIS_URL = os.environ.get("PYAIRTABLE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own, removed afterwards; Redis is required on CI."""
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = f"Redis at {REDIS_URL} is not reachable ({exc})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI requires Redis", pytrace=False)
        pytest.skip(reason)
    prefix = "pyairtable-test-" + secrets.token_hex(6)
    try:
        yield prefix
    finally:
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


async def test_two_instances_share_one_limit_through_redis(
    make_settings: Callable[..., Settings], redis_prefix: str
) -> None:
    settings = make_settings(
        rate_limit_per_ip="4/minute",
        rate_limit_storage_url=REDIS_URL,
        rate_limit_key_prefix=redis_prefix,
    )
    async with running_api(settings) as first, running_api(settings) as second:
        for api in (first, second, first, second):
            assert (await api.client.get("/health")).status_code == 200
        # The fifth request is over the shared limit, whichever instance it reaches.
        for api in (first, second):
            limited = await api.client.get("/health")
            assert limited.status_code == 429
            assert int(limited.headers["retry-after"]) >= 1


async def test_an_unreachable_redis_lets_requests_through(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        rate_limit_per_ip="1/minute", rate_limit_storage_url="redis://127.0.0.1:1"
    )
    async with running_api(settings) as api:
        for _ in range(3):
            assert (await api.client.get("/health")).status_code == 200
