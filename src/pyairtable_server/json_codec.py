"""Compact JSON for stored columns and realtime frames, through ``orjson`` where it can.

``orjson`` encodes several times faster than the standard library, which matters for every
record's ``fields`` and every event's ``payload`` (written, read back in lists, fanned out). It
refuses a few values the standard library takes (integers beyond 64 bits); those fall back to
``json``, so nothing that was stored before is refused now. Output is compact (no spaces) and
UTF-8 as it is (``ensure_ascii=False``), as before.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """``value`` as compact JSON text. Raises ``TypeError``/``ValueError`` as ``json.dumps``."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        # Integers beyond 64 bits, or a type orjson does not know: the standard library decides.
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def encode(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON bytes, ready to send (``dumps`` without a decode).

    Raises ``TypeError``/``ValueError`` as ``json.dumps``.
    """
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def loads(text: str | bytes) -> Any:
    """Parse JSON text. Raises ``ValueError`` (``orjson.JSONDecodeError`` is one)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # orjson refuses integers beyond 64 bits that json reads; anything else fails there too.
        return json.loads(text)
