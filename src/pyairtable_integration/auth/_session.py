"""A signed-in session: the user and their tokens, which never show in reprs or logs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..types import TokenPair, User


@dataclass(frozen=True)
class Tokens:
    """An access token, the refresh token that renews it, and when the access token expires."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    token_type: str = "Bearer"

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header value."""
        return f"{self.token_type} {self.access_token}"

    def expires_within(self, seconds: float, *, now: datetime) -> bool:
        """Whether the access token expires less than ``seconds`` from ``now``."""
        return self.expires_at - now <= timedelta(seconds=seconds)


@dataclass(frozen=True)
class Session:
    """The signed-in user and their tokens."""

    user: User
    tokens: Tokens = field(repr=False)

    @classmethod
    def from_token_pair(cls, pair: TokenPair, *, now: datetime) -> Session:
        """The session a login or refresh answer starts; ``now`` dates its expiry."""
        return cls(
            user=pair.user,
            tokens=Tokens(
                access_token=pair.access_token,
                refresh_token=pair.refresh_token,
                expires_at=now + timedelta(seconds=pair.expires_in),
                token_type=pair.token_type,
            ),
        )

    @property
    def user_id(self) -> str:
        """The signed-in user's id."""
        return self.user.id

    @property
    def expires_at(self) -> datetime:
        """When the access token expires."""
        return self.tokens.expires_at

    def has_role(self, *roles: str) -> bool:
        """Whether the user's platform role is one of ``roles`` (``"admin"``, ``"user"``)."""
        return self.user.role in roles

    def to_json(self) -> str:
        """The session as JSON, tokens included, for a token store."""
        document: dict[str, Any] = {
            "user": self.user.model_dump(mode="json"),
            "access_token": self.tokens.access_token,
            "refresh_token": self.tokens.refresh_token,
            "token_type": self.tokens.token_type,
            "expires_at": self.tokens.expires_at.isoformat(),
        }
        return json.dumps(document)

    @classmethod
    def from_json(cls, text: str) -> Session:
        """The session ``to_json`` wrote.

        Raises:
            ValueError: ``text`` is not such a document.
        """
        try:
            document = json.loads(text)
            return cls(
                user=User.model_validate(document["user"]),
                tokens=Tokens(
                    access_token=str(document["access_token"]),
                    refresh_token=str(document["refresh_token"]),
                    token_type=str(document.get("token_type", "Bearer")),
                    expires_at=datetime.fromisoformat(document["expires_at"]),
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a stored session: {exc}") from exc
