"""Access tokens (JWT, PyJWT) and opaque refresh tokens.

Access tokens carry ``sub``, ``sid`` (the session), ``exp``, ``iat``, ``jti``, ``type``, ``iss`` and
``aud``; only the configured algorithm is accepted, and every one of those claims is required.

Refresh tokens are random at login. Each rotation derives the successor from the token it
replaces with an HMAC of the server key, and the successor's access token from the moment of
rotation. That lets two racing refreshes of one token, inside the grace window, both be answered
with the *same* new pair without the server ever storing a token in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from ..errors import AuthError

ACCESS_TYPE = "access"
#: Verified access tokens remembered (their claims), so that a client's every request does not
#: pay for checking the same signature again; expiry is still checked on each use.
VERIFIED_TOKENS_KEPT = 4096
_REQUIRED_CLAIMS = ["sub", "sid", "exp", "iat", "jti", "type", "iss", "aud"]


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    session_id: str
    jti: str
    issued_at: datetime
    expires_at: datetime
    raw: dict[str, Any]


@dataclass(frozen=True)
class IssuedAccessToken:
    token: str
    expires_at: datetime


class TokenService:
    """Signs and verifies access tokens; derives refresh tokens."""

    def __init__(
        self, *, key: str, algorithm: str, issuer: str, audience: str, access_ttl: timedelta
    ) -> None:
        self._key = key
        self._mac_key = hashlib.sha256(b"pyairtable-refresh:" + key.encode()).digest()
        self.algorithm = algorithm
        self.issuer = issuer
        self.audience = audience
        self.access_ttl = access_ttl
        self._verified: dict[str, AccessClaims] = {}

    def issue_access(
        self, *, user_id: str, session_id: str, issued_at: datetime, jti: str | None = None
    ) -> IssuedAccessToken:
        """Sign an access token; the same arguments always give the same token."""
        iat = int(issued_at.timestamp())
        exp = iat + int(self.access_ttl.total_seconds())
        claims = {
            "sub": user_id,
            "sid": session_id,
            "iat": iat,
            "exp": exp,
            "jti": jti or secrets.token_hex(16),
            "type": ACCESS_TYPE,
            "iss": self.issuer,
            "aud": self.audience,
        }
        token = jwt.encode(claims, self._key, algorithm=self.algorithm)
        return IssuedAccessToken(token, datetime.fromtimestamp(exp, UTC))

    def decode_access(self, token: str) -> AccessClaims:
        """Verify signature, algorithm and claims. Raises ``AuthError`` saying what was wrong.

        A token verified before is not verified again: its claims are remembered (the last
        ``VERIFIED_TOKENS_KEPT`` tokens) and only its expiry is checked, as PyJWT checks it.
        """
        known = self._verified.get(token)
        if known is not None:
            if known.raw["exp"] <= time.time():
                raise AuthError("The access token has expired.", type="AUTH_ERROR")
            return known
        claims = self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[token] = claims
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": _REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("The access token has expired.", type="AUTH_ERROR") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError("The access token is invalid.") from exc
        if claims.get("type") != ACCESS_TYPE:
            raise AuthError("The token is not an access token.")
        if not all(isinstance(claims[name], str) for name in ("sub", "sid", "jti")):
            raise AuthError("The access token is invalid.")
        return AccessClaims(
            user_id=claims["sub"],
            session_id=claims["sid"],
            jti=claims["jti"],
            issued_at=datetime.fromtimestamp(claims["iat"], UTC),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            raw=claims,
        )

    @staticmethod
    def new_refresh_token() -> str:
        return secrets.token_urlsafe(32)

    def successor_refresh_token(self, previous: str) -> str:
        """The refresh token that replaces ``previous`` (deterministic, unguessable without it)."""
        digest = hmac.new(self._mac_key, b"next:" + previous.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def successor_jti(self, previous: str) -> str:
        return hmac.new(self._mac_key, b"jti:" + previous.encode(), hashlib.sha256).hexdigest()[:32]

    @staticmethod
    def digest(refresh_token: str) -> str:
        """What the database keeps of a refresh token."""
        return hashlib.sha256(refresh_token.encode()).hexdigest()
