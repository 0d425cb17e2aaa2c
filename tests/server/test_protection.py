"""Protection of the API (contract §2, §9): envelope everywhere, request ids, headers, CORS,
body limits, bad input, rate limits."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi import FastAPI

from pyairtable_server.errors import install_error_handlers
from pyairtable_server.http.request_id import RequestIdMiddleware
from pyairtable_server.settings import Settings

from .backend import PASSWORD, Api, running_api

pytestmark = pytest.mark.anyio

ELEVEN_MIB = 11 * 1024 * 1024


def assert_envelope(response: Any, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "request_id"}
    assert body["error"]["type"] == error_type
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert "Traceback" not in response.text
    return body


# --- envelope on everything -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nope", "/workspaces/x/y/z", "/../../etc/passwd"])
async def test_unknown_routes_answer_the_envelope(api: Api, path: str) -> None:
    assert_envelope(await api.client.get(path), 404, "NOT_FOUND")


async def test_routes_outside_the_api_prefix_answer_the_envelope(api: Api) -> None:
    response = await api.client.get("http://testserver/")
    assert_envelope(response, 404, "NOT_FOUND")


async def test_unknown_methods_answer_the_envelope(api: Api) -> None:
    assert_envelope(await api.client.delete("/health"), 405, "METHOD_NOT_ALLOWED")
    assert_envelope(await api.client.put("/auth/login", json={}), 405, "METHOD_NOT_ALLOWED")


async def test_a_crash_answers_500_without_internals() -> None:
    """Unhandled exceptions become SERVER_ERROR with the request id, never a traceback."""
    import httpx2

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_middleware(RequestIdMiddleware)
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://t") as client:
        response = await client.get("/boom", headers={"X-Request-ID": "trace-1"})
    body = assert_envelope(response, 500, "SERVER_ERROR")
    assert body["request_id"] == "trace-1"
    assert "secret internals" not in response.text


# --- request ids and headers ------------------------------------------------------------------


async def test_request_id_is_echoed_when_well_formed(api: Api) -> None:
    response = await api.client.get("/health", headers={"X-Request-ID": "client-abc.123"})
    assert response.headers["x-request-id"] == "client-abc.123"


@pytest.mark.parametrize("offered", ["", "x" * 200, "has space", 'quote"s', "é"])
async def test_request_id_is_generated_when_missing_or_unsafe(api: Api, offered: str) -> None:
    headers = {"X-Request-ID": offered} if offered.isascii() else {}
    response = await api.client.get("/nope", headers=headers)
    generated = response.headers["x-request-id"]
    assert generated.startswith("req_") and generated != offered
    assert response.json()["request_id"] == generated


async def test_security_headers_are_set(api: Api) -> None:
    response = await api.client.get("/health")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


async def test_auth_answers_are_not_cached(api: Api) -> None:
    await api.register("cache@example.com")
    response = await api.client.post(
        "/auth/login", json={"email": "cache@example.com", "password": PASSWORD}
    )
    assert response.headers["cache-control"] == "no-store"


async def test_health_of_one_service_and_of_an_unknown_one(api: Api) -> None:
    ok = await api.client.get("/health/auth")
    assert ok.status_code == 200 and ok.json()["status"] == "ok"
    assert ok.json()["latency_ms"] >= 0
    assert_envelope(await api.client.get("/health/nope"), 404, "NOT_FOUND")


# --- CORS -------------------------------------------------------------------------------------


@pytest.fixture
async def cors_api(make_settings: Callable[..., Settings]) -> AsyncIterator[Api]:
    async with running_api(make_settings(cors_origins=["https://app.example"])) as api:
        yield api


def _preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }


async def test_cors_allows_listed_origins(cors_api: Api) -> None:
    preflight = await cors_api.client.options(
        "/workspaces", headers=_preflight("https://app.example")
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    simple = await cors_api.client.get("/health", headers={"Origin": "https://app.example"})
    assert simple.headers["access-control-allow-origin"] == "https://app.example"
    assert "X-Request-ID" in simple.headers["access-control-expose-headers"]


async def test_cors_refuses_other_origins_with_the_envelope(cors_api: Api) -> None:
    preflight = await cors_api.client.options(
        "/workspaces", headers=_preflight("https://evil.example")
    )
    assert_envelope(preflight, 403, "PERMISSION_DENIED")
    assert "access-control-allow-origin" not in preflight.headers
    simple = await cors_api.client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


# --- body size --------------------------------------------------------------------------------


async def test_an_11_mib_body_is_refused_with_413(api: Api) -> None:
    body = json.dumps({"name": "x" * ELEVEN_MIB})
    response = await api.client.post(
        "/auth/register", content=body, headers={"Content-Type": "application/json"}
    )
    body_json = assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert body_json["error"]["details"]["max_bytes"] == 10 * 1024 * 1024


async def test_an_11_mib_chunked_body_without_length_is_refused_with_413(api: Api) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(11):
            yield b"x" * (1024 * 1024)
        yield b'"}'

    response = await api.client.post(
        "/auth/register", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


async def test_a_body_just_under_the_limit_is_read(api: Api) -> None:
    body = json.dumps({"email": "a@example.com", "password": "p" * (9 * 1024 * 1024)})
    response = await api.client.post(
        "/auth/login", content=body, headers={"Content-Type": "application/json"}
    )
    # Read and validated (the password is over its own limit), not cut off as too large.
    assert_envelope(response, 422, "VALIDATION_ERROR")


# --- malformed and hostile input --------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", [b"{", b"{'a': 1}", b"\xff\xfe", b'{"email": "a@b.c",}', b"nul\x00"]
)
async def test_malformed_json_is_400(api: Api, raw: bytes) -> None:
    response = await api.client.post(
        "/auth/login", content=raw, headers={"Content-Type": "application/json"}
    )
    error = assert_envelope(response, 400, "VALIDATION_ERROR")["error"]
    assert error["message"] == "The request body is not valid JSON."
    assert error["details"]["fields"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": 5, "password": PASSWORD}, "email"),
        ({"email": ["a@b.c"], "password": PASSWORD}, "email"),
        ({"email": "a@b.c", "password": None}, "password"),
        ({"email": "a@b.c"}, "password"),
        ({"email": "a@b.c", "password": PASSWORD, "extra": 1}, "extra"),
    ],
)
async def test_wrong_types_and_missing_fields_name_the_field(
    api: Api, body: dict[str, Any], field: str
) -> None:
    response = await api.client.post("/auth/login", json=body)
    error = assert_envelope(response, 422, "VALIDATION_ERROR")["error"]
    assert field in error["details"]["fields"]


@pytest.mark.parametrize("payload", [[], "text", 42, None])
async def test_a_body_that_is_not_an_object_is_422(api: Api, payload: Any) -> None:
    response = await api.client.post("/auth/login", json=payload)
    assert_envelope(response, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "name",
    ["nul\u0000byte", "bell\u0007", "escape\u001b[31m", "line\nbreak", "x" * 256, "   "],
)
async def test_names_with_controls_or_bad_sizes_are_refused(api: Api, name: str) -> None:
    actor = await api.actor()
    response = await api.client.post("/workspaces", json={"name": name}, headers=actor.headers)
    error = assert_envelope(response, 422, "VALIDATION_ERROR")["error"]
    assert "name" in error["details"]["fields"]


async def test_lone_surrogates_are_refused_not_crashed_on(api: Api) -> None:
    actor = await api.actor()
    raw = b'{"name": "broken \\ud800 surrogate"}'
    response = await api.client.post(
        "/workspaces",
        content=raw,
        headers={**actor.headers, "Content-Type": "application/json"},
    )
    assert_envelope(response, 422, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "name",
    [
        "Équipe café",
        "数据工作区",
        "مساحة العمل",  # right-to-left
        "e\u0301\u0301 combining",
        "🚀 Launch 👩🏽‍💻",
        "zero\u200bwidth",
        "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    ],
)
async def test_unicode_names_round_trip(api: Api, name: str) -> None:
    actor = await api.actor()
    created = await api.client.post("/workspaces", json={"name": name}, headers=actor.headers)
    assert created.status_code == 201, created.text
    fetched = await api.client.get(f"/workspaces/{created.json()['id']}", headers=actor.headers)
    assert fetched.json()["name"] == name


@pytest.mark.parametrize(
    "params",
    [{"page": "0"}, {"page": "abc"}, {"per_page": "101"}, {"per_page": "-1"}, {"page": "1e9"}],
)
async def test_bad_paging_parameters_are_422(api: Api, params: dict[str, str]) -> None:
    actor = await api.actor()
    response = await api.client.get("/workspaces", params=params, headers=actor.headers)
    assert_envelope(response, 422, "VALIDATION_ERROR")


# --- rate limits ------------------------------------------------------------------------------


async def test_requests_are_limited_per_ip(make_settings: Callable[..., Settings]) -> None:
    async with running_api(make_settings(rate_limit_per_ip="5/minute")) as api:
        for _ in range(5):
            assert (await api.client.get("/health")).status_code == 200
        limited = await api.client.get("/health")
        body = assert_envelope(limited, 429, "RATE_LIMITED")
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        assert body["error"]["details"]["retry_after"] == int(limited.headers["retry-after"])


async def test_requests_are_limited_per_token(make_settings: Callable[..., Settings]) -> None:
    async with running_api(make_settings(rate_limit_per_token="4/minute")) as api:
        first = await api.actor()
        second = await api.actor()
        for _ in range(4):
            assert (await api.client.get("/auth/me", headers=first.headers)).status_code == 200
        limited = await api.client.get("/auth/me", headers=first.headers)
        assert_envelope(limited, 429, "RATE_LIMITED")
        assert int(limited.headers["retry-after"]) >= 1
        # The limit is the token's, not the IP's: another token goes on working.
        assert (await api.client.get("/auth/me", headers=second.headers)).status_code == 200
