"""Where the server once differed from contract v1.1 (issue 13): ``Allow`` on 405, the envelope on
requests refused while their head was read, 415 for JSON under another media type, malformed
JSON without a position as a field, the OpenAPI document's 405/503/``signature``/long URL,
``Cache-Control: no-store`` on JSON answers, and one 404 text for foreign and made-up ids.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from pyairtable_server.http.server_protocol import MAX_URL_BYTES
from pyairtable_server.settings import Settings

from .backend import Actor, Api
from .live import live_server

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def api(module_api: Api) -> Api:
    """One app for the module; every test signs up users of its own."""
    return module_api


def envelope_of(response: Any, status: int, error_type: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert body["error"]["type"] == error_type
    assert body["request_id"] == response.headers["x-request-id"]
    return body


# --- 405 ---------------------------------------------------------------------------------------


async def test_a_405_lists_every_method_of_the_path_in_allow(api: Api) -> None:
    owner, table = await api.new_table()
    cases = {
        ("PATCH", "/workspaces"): "GET, POST",
        ("POST", "/health"): "GET",
        ("PATCH", f"/tables/{table['id']}"): "DELETE, GET, PUT",
        ("DELETE", "/records/query"): None,  # DELETE /records/{id} answers: not a 405
        ("PATCH", "/files/upload"): "DELETE, GET, POST",  # /files/{file_id} matches too
    }
    for (method, path), allow in cases.items():
        response = await api.client.request(method, path, headers=owner.headers)
        if allow is None:
            assert response.status_code != 405
            continue
        envelope_of(response, 405, "METHOD_NOT_ALLOWED")
        assert response.headers["allow"] == allow, (method, path)


# --- bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_json_body_under_another_media_type_is_415(
    api: Api, content_type: str | None
) -> None:
    owner, table = await api.new_table()
    headers = dict(owner.headers)
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await api.client.post(
        "/records/query", content=json.dumps({"table_id": table["id"]}), headers=headers
    )
    body = envelope_of(response, 415, "VALIDATION_ERROR")
    fields = body["error"]["details"]["fields"]
    assert fields == {"header.Content-Type": "expected application/json"}
    with_json = await api.client.post(
        "/records/query",
        content=json.dumps({"table_id": table["id"]}),
        headers={**owner.headers, "Content-Type": "application/json; charset=utf-8"},
    )
    assert with_json.status_code == 200, with_json.text


@pytest.mark.parametrize("raw", [b'{"table_id": 1,', b"{'a': 1}", b'{"a": [1, 2}'])
async def test_malformed_json_names_the_body_not_a_position(api: Api, raw: bytes) -> None:
    owner = await api.actor()
    response = await api.client.post(
        "/records/query", content=raw, headers={**owner.headers, "Content-Type": "application/json"}
    )
    fields = envelope_of(response, 400, "VALIDATION_ERROR")["error"]["details"]["fields"]
    assert list(fields) == ["body"]
    assert fields["body"].startswith("not valid JSON")


# --- caching -----------------------------------------------------------------------------------


async def test_json_answers_are_not_stored_by_caches(api: Api) -> None:
    owner, table = await api.new_table()
    for path in ("/workspaces", f"/tables/{table['id']}", "/users/me", "/events", "/nope"):
        response = await api.client.get(path, headers=owner.headers)
        assert response.headers["content-type"].startswith("application/json"), path
        assert response.headers["cache-control"] == "no-store", path


# --- one 404 for foreign and made-up ids ---------------------------------------------------------


async def every_kind(api: Api, owner: Actor) -> dict[str, str]:
    """An id of each resource kind, all in one workspace of ``owner``."""
    workspace = await api.workspace(owner)
    base = await api.base(owner, workspace["id"])
    table = await api.table(owner, base["id"], [{"name": "Name", "type": "text"}])
    record = await api.post(owner, "/records", {"table_id": table["id"], "fields": {"Name": "x"}})
    view = await api.post(owner, "/views", {"table_id": table["id"], "name": "V"})
    upload = await api.client.post(
        "/files/upload",
        files={"file": ("a.txt", b"hello")},
        data={"table_id": table["id"]},
        headers=owner.headers,
    )
    assert upload.status_code == 201, upload.text
    webhook = await api.post(
        owner,
        "/webhooks",
        {"workspace_id": workspace["id"], "url": "https://example.com/hook", "event_types": ["*"]},
    )
    return {
        "workspaces": workspace["id"],
        "bases": base["id"],
        "tables": table["id"],
        "fields": table["fields"][0]["id"],
        "views": view["id"],
        "records": record["id"],
        "files": upload.json()["file"]["id"],
        "webhooks": webhook["id"],
    }


async def test_a_foreign_id_and_a_made_up_one_get_the_same_404(api: Api) -> None:
    owner, stranger = await api.actor(), await api.actor()
    existing = await every_kind(api, owner)
    for kind, foreign in existing.items():
        made_up = foreign[:3] + "Z" * (len(foreign) - 3)
        for method in ("GET", "DELETE"):
            answers = []
            for resource_id in (foreign, made_up, "nonsense"):
                response = await api.client.request(
                    method, f"/{kind}/{resource_id}", headers=stranger.headers
                )
                body = envelope_of(response, 404, "NOT_FOUND")["error"]
                answers.append((body["message"], body["details"]))
            assert answers[0] == answers[1] == answers[2], (kind, method, answers)
    still = await api.client.get(f"/records/{existing['records']}", headers=owner.headers)
    assert still.status_code == 200


# --- OpenAPI -----------------------------------------------------------------------------------


async def test_the_openapi_document_declares_405_503_the_signature_and_the_long_url_400(
    api: Api,
) -> None:
    document = (await api.client.get("/openapi.json")).json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "405" in responses, (method, path)
            if not path.startswith("/api/v1/health"):
                assert "503" in responses, (method, path)
                assert "Retry-After" in responses["503"]["headers"], (method, path)
    content = document["paths"]["/api/v1/files/{file_id}/content"]["get"]
    assert {"signature", "expires"} <= {p["name"] for p in content["parameters"]}
    long_url = document["paths"]["/api/v1/records"]["get"]["responses"]["400"]
    schema = long_url["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/ErrorEnvelope")


# --- the limits of a request's head (real sockets) ----------------------------------------------


async def raw_exchange(port: int, *pieces: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send the request's bytes as they are, in ``pieces`` a moment apart (the server may have
    answered before the last: then it is not sent); the status, headers and body of the answer.
    """
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        for index, piece in enumerate(pieces):
            if index:
                await anyio.sleep(0.2)  # lets the server read the head so far on its own
            try:
                await stream.send(piece)
            except (anyio.BrokenResourceError, OSError):
                break
        received = b""
        with anyio.fail_after(30):
            while True:
                try:
                    received += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    break
                head, _, rest = received.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    None,
                )
                if length is not None and len(rest) >= length:
                    break
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, value in (line.split(":", 1) for line in lines[1:])
    }
    return int(lines[0].split()[1]), headers, body


def get(path: str, *extra: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def test_a_head_over_the_limit_and_a_url_over_64_kib_get_the_envelope(
    make_settings: Callable[..., Settings],
) -> None:
    async with live_server(make_settings()) as live:
        # 20 KiB of URL: once refused by the HTTP server's 16 KiB head limit, now answered.
        status, _, _ = await raw_exchange(live.port, get("/api/v1/health?x=" + "a" * 20_000))
        assert status == 200
        big_header = get("/api/v1/health", "X-Big: " + "b" * 100_000)
        cases = [
            [get("/api/v1/health?x=" + "a" * 70_000)],  # read, then refused by the app
            [big_header],  # read whole in one go, refused by the app
            [big_header[:90_000], big_header[90_000:]],  # refused while being read
            [b"NONSENSE\r\n\r\n"],  # not HTTP at all
        ]
        for pieces in cases:
            status, headers, body = await raw_exchange(live.port, *pieces)
            assert status == 400, body[:200]
            assert headers["content-type"].startswith("application/json")
            envelope = json.loads(body)
            assert envelope["error"]["type"] == "VALIDATION_ERROR"
            assert envelope["request_id"] == headers["x-request-id"]
            assert envelope["request_id"].startswith("req_")


async def test_a_url_of_64_kib_is_answered_and_one_byte_more_is_refused_by_the_app(
    make_settings: Callable[..., Settings],
) -> None:
    """The HTTP parser reads URLs of at most 65,535 bytes; the server still answers one of
    exactly 64 KiB (path and query), reading its query as sent, and one byte longer gets the
    app's own refusal pointing at ``POST /records/query``."""
    async with live_server(make_settings()) as live:
        owner, table = await live.api.new_table()
        await live.api.write_records(owner, table["id"], 2)
        auth = f"Authorization: Bearer {owner.access_token}"
        path = "/api/v1/%72ecords"  # escaped: the app reads the decoded path
        query = f"table_id={table['id']}&page_size=1&x="
        query += "a" * (MAX_URL_BYTES - len(path) - len(query))
        status, headers, body = await raw_exchange(live.port, get(f"{path}?{query}", auth))
        assert status == 200, body[:200]
        assert len(json.loads(body)["data"]) == 1
        status, headers, body = await raw_exchange(live.port, get(f"{path}?{query}b", auth))
        envelope = json.loads(body)
        assert status == 400
        assert envelope["error"]["type"] == "VALIDATION_ERROR"
        assert "POST /records/query" in envelope["error"]["message"]
        assert envelope["error"]["details"] == {"max_bytes": MAX_URL_BYTES}
        assert envelope["request_id"] == headers["x-request-id"]
