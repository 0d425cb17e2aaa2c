"""Behind a reverse proxy: forwarded client addresses are believed only from trusted proxies.

The per-IP rate limit stands in for every reader of the client address (login and sign-up limits
and the realtime caps read the same ``client_ip``). The test client connects from 127.0.0.1.
The limiter's clock is held still (``clocks``): "2/minute" then means two, however slow the run.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pyairtable_server.settings import Settings

from .backend import running_api
from .clocks import hold_request_limiter_clock

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    hold_request_limiter_clock(monkeypatch)


async def _statuses(settings: Settings, forwarded_for: list[str]) -> list[int]:
    async with running_api(settings) as api:
        return [
            (await api.client.get("/health", headers={"X-Forwarded-For": address})).status_code
            for address in forwarded_for
        ]


async def test_a_trusted_proxy_s_forwarded_clients_are_limited_each_on_their_own(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(rate_limit_per_ip="2/minute", trusted_proxies="127.0.0.1/32")
    statuses = await _statuses(
        settings, ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.9", "203.0.113.9"]
    )
    assert statuses == [200, 200, 200, 200, 200]
    # The same forwarded client a third time is over its own limit.
    async with running_api(settings) as api:
        for _ in range(2):
            await api.client.get("/health", headers={"X-Forwarded-For": "198.51.100.7"})
        limited = await api.client.get("/health", headers={"X-Forwarded-For": "198.51.100.7"})
        assert limited.status_code == 429


async def test_forwarded_headers_from_anyone_else_are_ignored(
    make_settings: Callable[..., Settings],
) -> None:
    # No trusted proxy (the default), or a proxy that is not the peer: the peer is the client.
    for trusted in ("", "10.0.0.0/8"):
        settings = make_settings(rate_limit_per_ip="2/minute", trusted_proxies=trusted)
        statuses = await _statuses(settings, ["203.0.113.1", "203.0.113.2", "203.0.113.3"])
        assert statuses == [200, 200, 429]


async def test_a_client_cannot_prepend_its_way_past_the_proxy(
    make_settings: Callable[..., Settings],
) -> None:
    # The proxy appends the real peer; whatever the client wrote in front is not believed.
    settings = make_settings(rate_limit_per_ip="2/minute", trusted_proxies="127.0.0.1")
    statuses = await _statuses(settings, [f"192.0.2.{n}, 198.51.100.7" for n in range(1, 4)])
    assert statuses == [200, 200, 429]
