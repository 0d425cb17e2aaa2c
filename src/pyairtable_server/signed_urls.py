"""Signed download URLs (contract §7): a file's content URL that works without a token until it
expires.

The signature is an HMAC-SHA256, under a key derived from the server's secret for this purpose
only, over the file id and the expiry (Unix seconds). It travels as ``?expires=…&signature=…``
and is compared in constant time. Pure: the caller passes the key and the time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

_KEY_LABEL = b"pyairtable-file-urls:"
#: The largest ``expires`` a URL may carry: 9999-12-31T23:59:59Z, the last datetime Python has.
MAX_EXPIRES = 253_402_300_799


class InvalidSignature(Exception):
    """The URL's signature is wrong, or it has expired; the message says which."""


def derive_key(secret_key: str) -> bytes:
    """The signing key for file URLs, derived from (never equal to) the server's secret."""
    return hashlib.sha256(_KEY_LABEL + secret_key.encode()).digest()


def signature(key: bytes, file_id: str, expires: int) -> str:
    """The URL-safe signature of ``file_id`` until ``expires`` (Unix seconds)."""
    mac = hmac.new(key, f"{file_id}\n{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def sign(key: bytes, file_id: str, *, now: datetime, ttl_seconds: int) -> tuple[int, str]:
    """``(expires, signature)`` for a URL valid ``ttl_seconds`` from ``now``."""
    expires = int(now.timestamp()) + ttl_seconds
    return expires, signature(key, file_id, expires)


def verify(key: bytes, file_id: str, expires: int, given: str, *, now: datetime) -> None:
    """Accept a signed URL's ``expires`` and ``signature`` for ``file_id`` at ``now``.

    Raises ``InvalidSignature`` when the signature does not match (a tampered id, expiry or
    signature) or when the URL has expired. The signature is checked first, so an expired
    URL is only called expired if it was genuine.
    """
    expected = signature(key, file_id, expires)
    if not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
        raise InvalidSignature("The download link's signature is invalid.")
    if expires <= now.timestamp():
        expired_at = datetime.fromtimestamp(expires, UTC).isoformat().replace("+00:00", "Z")
        raise InvalidSignature(f"The download link expired at {expired_at}; ask for a new one.")
