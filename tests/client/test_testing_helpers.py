"""The public test helpers: rules pick requests by method, path and count; the clock obeys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx2
import pytest

import pyairtable_integration.testing as testing
from pyairtable_integration.testing import (
    FakeClock,
    FaultTransport,
    garbage,
    reset,
    status,
    wrong_shape,
)

pytestmark = pytest.mark.anyio


def echo(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(200, json={"path": request.url.path})


@pytest.fixture
def served() -> list[str]:
    return []


@pytest.fixture
def client(served: list[str]) -> FaultTransport:
    def handler(request: httpx2.Request) -> httpx2.Response:
        served.append(f"{request.method} {request.url.path}")
        return echo(request)

    return FaultTransport(httpx2.MockTransport(handler))


async def send(faults: FaultTransport, method: str, path: str, **kwargs: object) -> httpx2.Response:
    async with httpx2.AsyncClient(transport=faults, base_url="http://api") as http:
        return await http.request(method, path, **kwargs)  # type: ignore[arg-type]


def _isort_order(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetically."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_complete() -> None:
    assert testing.__all__ == sorted(testing.__all__, key=_isort_order)
    assert all(hasattr(testing, name) for name in testing.__all__)


async def test_rules_match_by_method_and_path_end_and_are_used_up(
    client: FaultTransport, served: list[str]
) -> None:
    rule = client.add(status(503), method="GET", path="/records", times=2)
    assert (await send(client, "POST", "/api/v1/records")).status_code == 200
    assert (await send(client, "GET", "/api/v1/records/rec1")).status_code == 200
    assert (await send(client, "GET", "/api/v1/records")).status_code == 503
    assert (await send(client, "GET", "/api/v1/records")).status_code == 503
    assert (await send(client, "GET", "/api/v1/records")).status_code == 200
    assert rule.hits == 2 and not rule.active
    assert served == ["POST /api/v1/records", "GET /api/v1/records/rec1", "GET /api/v1/records"]
    assert [seen.status for seen in client.seen("GET", "/records")] == [503, 503, 200]


async def test_a_canned_error_is_the_contract_envelope_echoing_the_request_id(
    client: FaultTransport,
) -> None:
    client.add(status(429, retry_after=3))
    response = await send(client, "GET", "/x", headers={"X-Request-ID": "rid-1"})
    assert response.headers["Retry-After"] == "3"
    assert response.headers["X-Request-ID"] == "rid-1"
    assert response.json() == {
        "error": {"type": "RATE_LIMITED", "message": "Injected 429 RATE_LIMITED.", "details": {}},
        "request_id": "rid-1",
    }


async def test_a_script_applies_faults_in_order_and_none_passes(client: FaultTransport) -> None:
    client.script(garbage(), None, wrong_shape([1]), path="/x")
    bodies = [(await send(client, "GET", "/x")).content for _ in range(4)]
    assert bodies[0].startswith(b"<html>")
    assert bodies[1] == bodies[3] == b'{"path":"/x"}'
    assert bodies[2] == b"[1]"


async def test_a_reset_is_raised_after_the_server_handled_the_request(
    client: FaultTransport, served: list[str]
) -> None:
    client.add(reset(), path="/x")
    with pytest.raises(httpx2.RemoteProtocolError):
        await send(client, "POST", "/x", json={"a": 1})
    assert served == ["POST /x"]
    (seen,) = client.requests
    assert (seen.error, seen.content) == ("RemoteProtocolError", b'{"a":1}')
    client.add(reset(forward=False), path="/x")
    with pytest.raises(httpx2.RemoteProtocolError):
        await send(client, "POST", "/x")
    assert served == ["POST /x"]


def test_add_refuses_a_count_below_one(client: FaultTransport) -> None:
    with pytest.raises(ValueError, match="times"):
        client.add(status(500), times=0)


async def test_the_fake_clock_moves_only_when_told_or_slept_on() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    clock = FakeClock(start)
    assert (clock.monotonic(), clock.now()) == (0.0, start)
    await clock.sleep(2.5)
    clock.advance(10)
    assert clock.sleeps == [2.5]
    assert clock.monotonic() == 12.5
    assert clock.now() == start + timedelta(seconds=12.5)
    with pytest.raises(ValueError, match="back"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="timezone"):
        FakeClock(datetime(2030, 1, 1))
