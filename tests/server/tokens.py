"""Forge access tokens the way an attacker would, to prove the server refuses them."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt

from .backend import TEST_SECRET


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a JWT, read without checking anything."""
    payload: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return payload


def forge(
    claims: dict[str, Any], *, key: str = TEST_SECRET, algorithm: str = "HS256", **changes: Any
) -> str:
    """Sign ``claims`` updated with ``changes``; a change to ``None`` removes that claim."""
    payload = {**claims, **changes}
    payload = {name: value for name, value in payload.items() if value is not None}
    return jwt.encode(payload, key, algorithm=algorithm)


def unsigned(claims: dict[str, Any]) -> str:
    """An ``alg: none`` token (no signature), built by hand since PyJWT refuses to."""

    def part(data: dict[str, Any]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def expired(claims: dict[str, Any]) -> str:
    now = int(time.time())
    return forge(claims, iat=now - 3600, exp=now - 60)
