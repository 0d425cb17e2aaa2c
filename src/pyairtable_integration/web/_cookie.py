"""Sealing the session cookie: authenticated encryption with keys derived from the app's secret.

The cookie is a Fernet token (AES-128-CBC with HMAC-SHA256, timestamped) of a small JSON
document. Its key is derived from the app's secret with HKDF for this one purpose, so the same
secret can key other things (the CSRF tokens) without the keys being related. A cookie that
was altered, sealed with an unknown key, or is older than its maximum age opens to None: the
browser is treated as signed out, never as an error.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

COOKIE_KEY_INFO = b"pyairtable-integration/web/session-cookie/v1"
CSRF_KEY_INFO = b"pyairtable-integration/web/csrf/v1"


def derive_key(secret: str, info: bytes) -> bytes:
    """A 32-byte key for one purpose (``info``), derived from ``secret`` with HKDF-SHA256."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        secret.encode("utf-8")
    )


class CookieSealer:
    """Seals JSON documents into cookie values and opens them again.

    The first secret seals; every secret opens, so a secret can be rotated without signing
    every browser out.
    """

    def __init__(self, secrets: Sequence[str]) -> None:
        self._fernet = MultiFernet(
            [Fernet(base64.urlsafe_b64encode(derive_key(s, COOKIE_KEY_INFO))) for s in secrets]
        )

    def seal(self, document: Mapping[str, Any], *, now: int) -> str:
        """``document`` as an encrypted, authenticated cookie value dated ``now`` (Unix seconds)."""
        data = json.dumps(document, separators=(",", ":")).encode("utf-8")
        return self._fernet.encrypt_at_time(data, now).decode("ascii")

    def open(self, value: str, *, max_age: int, now: int) -> dict[str, Any] | None:
        """The document ``seal`` made, or None when ``value`` is forged, altered or too old."""
        try:
            data = self._fernet.decrypt_at_time(value.encode("ascii"), max_age, now)
            document = json.loads(data)
        except (InvalidToken, UnicodeError, ValueError):
            return None
        return document if isinstance(document, dict) else None

    def __repr__(self) -> str:
        return "CookieSealer(<keys hidden>)"
