"""Opaque record-list offsets (contract §2): a signed keyset position, not a row count.

An offset names the sort-key values of the last record of a page, so the next page starts right
after it whatever was inserted or deleted meanwhile. It is bound to the query that produced it
(a hash of table, view, filter and sort) and signed with the server key, so a forged, truncated
or foreign offset is ``INVALID_OFFSET``, never a wrong page. Offsets expire after a day.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from datetime import datetime
from typing import Any

from ..errors import ValidationFailed

OFFSET_TTL_SECONDS = 24 * 3600
_SIGNATURE_BYTES = 16


class InvalidOffset(ValidationFailed):
    type = "INVALID_OFFSET"


def query_hash(parts: Any) -> str:
    """A short digest of what defines a query's order and membership."""
    encoded = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()[:16]


def _pack(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    return value


def _unpack(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) != {"$dt"} or not isinstance(value["$dt"], str):
            raise ValueError("bad value")
        return datetime.fromisoformat(value["$dt"])
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise ValueError("bad value")


def encode(key: bytes, query: str, values: list[Any], *, now: float | None = None) -> str:
    """The offset for the page after the row whose sort-key values are ``values``."""
    issued = int(now if now is not None else time.time())
    payload = json.dumps(
        {"q": query, "v": [_pack(v) for v in values], "t": issued}, separators=(",", ":")
    ).encode()
    signature = hmac.new(key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
    return base64.urlsafe_b64encode(signature + payload).decode().rstrip("=")


def decode(
    key: bytes, query: str, offset: str, *, width: int, now: float | None = None
) -> list[Any]:
    """The sort-key values an offset carries. Raises ``InvalidOffset`` unless it is one of ours,
    for this very query, and not expired."""
    try:
        raw = base64.urlsafe_b64decode(offset + "=" * (-len(offset) % 4))
        signature, payload = raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]
        expected = hmac.new(key, payload, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
        if not hmac.compare_digest(signature, expected):
            raise ValueError("bad signature")
        data = json.loads(payload)
        values = [_unpack(v) for v in data["v"]]
        issued = int(data["t"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidOffset(
            "The offset is malformed; pass the next_offset of a previous page.",
            details={"fields": {"offset": "malformed"}},
        ) from exc
    if data.get("q") != query or len(values) != width:
        raise InvalidOffset(
            "The offset belongs to a different query (table, view, filter or sort changed).",
            details={"fields": {"offset": "from another query"}},
        )
    current = now if now is not None else time.time()
    if current - issued > OFFSET_TTL_SECONDS:
        raise InvalidOffset(
            "The offset has expired; start again from the first page.",
            details={"fields": {"offset": "expired"}},
        )
    return values
