"""CSRF tokens: signed double-submit tokens bound to the browser's session.

A token is ``<nonce>.<HMAC(key, binding + nonce)>``. The app sets it in a cookie that page
scripts can read, and a state-changing request must repeat it in a header (or a form field).
Another site can make the browser send the cookie but cannot read it, so it cannot repeat it;
and because the MAC covers the session id (``binding``), a token planted in the cookie by a
sibling subdomain does not match the victim's session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from ._cookie import CSRF_KEY_INFO, derive_key

NONCE_BYTES = 16
ANONYMOUS = "anonymous"  # the binding before sign-in (the login form itself is protected too)


class CsrfTokens:
    """Issues and checks CSRF tokens; the first secret issues, every secret checks."""

    def __init__(self, secrets_: Sequence[str]) -> None:
        self._keys = [derive_key(secret, CSRF_KEY_INFO) for secret in secrets_]

    def issue(self, binding: str) -> str:
        """A fresh token for the session ``binding`` (its id, or ``ANONYMOUS``)."""
        nonce = secrets.token_urlsafe(NONCE_BYTES)
        return f"{nonce}.{_mac(self._keys[0], binding, nonce)}"

    def valid(self, token: str | None, binding: str) -> bool:
        """Whether ``token`` was issued by this app for ``binding``."""
        if not token or token.count(".") != 1:
            return False
        nonce, mac = token.split(".")
        return any(hmac.compare_digest(mac, _mac(key, binding, nonce)) for key in self._keys)

    def __repr__(self) -> str:
        return "CsrfTokens(<keys hidden>)"


def submitted_matches(cookie: str | None, submitted: str | None) -> bool:
    """Whether the token the request repeated is the one in its cookie (the double submit)."""
    return bool(cookie) and bool(submitted) and hmac.compare_digest(str(cookie), str(submitted))


def _mac(key: bytes, binding: str, nonce: str) -> str:
    digest = hmac.new(key, f"{binding}\x00{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
