"""Access tokens (``?token=``) and download signatures (``?signature=``) never reach the logs:
uvicorn's access log and its WebSocket handshake lines show them as ``[redacted]``."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx2
import pytest
from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import connect as ws_connect

from pyairtable_server.http.log_redaction import RedactQuerySecrets, redact_query_secrets

from .process import clean_environment, serving

TOKEN = "eyJTOKENVALUE.payload.sig"
SIGNATURE = "SIGNATUREVALUE123"


def test_a_served_request_logs_its_path_without_tokens_or_signatures(tmp_path: Path) -> None:
    with serving("--log-level", "info", env=clean_environment(), cwd=tmp_path) as served:
        origin = f"http://127.0.0.1:{served.port}"
        with httpx2.Client(base_url=origin, timeout=30) as client:
            download = client.get(
                "/api/v1/files/filAAAAAAAAAAAAAAA/content",
                params={"expires": "4102444800", "signature": SIGNATURE},
            )
            assert download.status_code in (403, 404)
            assert client.get("/events", params={"token": TOKEN}).status_code == 401
            assert client.get(f"/api/v1/health?Token={TOKEN}&x=1").status_code == 200
        try:
            with ws_connect(f"ws://127.0.0.1:{served.port}/ws?token={TOKEN}") as ws:
                ws.recv(timeout=10)
        except (InvalidStatus, WebSocketException):
            pass  # refused or closed 4401: either way it was logged

    output = served.output
    assert "/api/v1/health?Token=[redacted]&x=1" in output
    assert "/events?token=[redacted]" in output
    assert "signature=[redacted]" in output
    assert "/ws?token=[redacted]" in output
    assert TOKEN not in output
    assert SIGNATURE not in output


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/ws?token=abc", "/ws?token=[redacted]"),
        ("/x?a=1&signature=s%2F1&expires=9", "/x?a=1&signature=[redacted]&expires=9"),
        ("/x?%74oken=abc", "/x?%74oken=[redacted]"),
        (
            "/x?refresh_token=r;access_token=a",
            "/x?refresh_token=[redacted];access_token=[redacted]",
        ),
        ("/x?tokens=keep&page=2", "/x?tokens=keep&page=2"),
        ("no query at all", "no query at all"),
    ],
)
def test_only_secret_parameters_are_redacted(line: str, expected: str) -> None:
    assert redact_query_secrets(line) == expected


def test_the_filter_rewrites_the_arguments_uvicorn_formats() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "GET", "/events?token=abc", "1.1", 200),
        None,
    )
    assert RedactQuerySecrets().filter(record)
    assert record.getMessage() == '127.0.0.1:1 - "GET /events?token=[redacted] HTTP/1.1" 200'
