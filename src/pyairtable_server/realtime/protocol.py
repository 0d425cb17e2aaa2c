"""The WebSocket protocol of contract §8: client messages parsed strictly, server frames built once.

A frame that is not JSON, has an unknown ``type`` or a malformed field is answered with an
``error`` message naming the problem, and the socket stays open (the contract is silent on this;
closing a socket over one bad frame would make clients reconnect in a loop for a bug).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .hub import EventOut, Notice, Outgoing
from .interest import Channel

MAX_ID_LENGTH = 128
MAX_TOKEN_LENGTH = 8192

Identifier = Annotated[
    str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[^\x00-\x1f]+$")
]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthMessage(_Message):
    type: Literal["auth"]
    token: Annotated[str, Field(min_length=1, max_length=MAX_TOKEN_LENGTH)]


class Filters(_Message):
    workspace_id: Identifier | None = None
    base_id: Identifier | None = None
    table_id: Identifier | None = None
    aggregate_id: Identifier | None = None


class SubscribeMessage(_Message):
    type: Literal["subscribe"]
    subscription_id: Identifier
    #: One channel; ``"*"`` or omitted: every channel.
    channel: Channel | Literal["*"] | None = None
    filters: Filters = Filters()
    since: Annotated[int, Field(ge=0)] | None = None


class UnsubscribeMessage(_Message):
    type: Literal["unsubscribe"]
    subscription_id: Identifier


class PingMessage(_Message):
    type: Literal["ping"]
    timestamp: Any = None


ClientMessage = Annotated[
    AuthMessage | SubscribeMessage | UnsubscribeMessage | PingMessage,
    Field(discriminator="type"),
]
_CLIENT_MESSAGE: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


class ProtocolError(Exception):
    """A client frame that cannot be understood; ``details`` says where and why."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


def parse(text: str) -> ClientMessage:
    """Parse one client frame. Raises ``ProtocolError`` with the reason."""
    try:
        return _CLIENT_MESSAGE.validate_json(text)
    except ValidationError as exc:
        fields = {
            ".".join(str(part) for part in error["loc"]) or "message": error["msg"]
            for error in exc.errors(include_url=False)
        }
        raise ProtocolError("The message is not valid.", {"fields": fields}) from None


def error_message(error_type: str, message: str, details: dict[str, Any] | None = None) -> Notice:
    """The ``error`` message answering a client frame that cannot be understood."""
    return {
        "type": "error",
        "error": {
            "type": error_type,
            "message": message,
            **({"details": details} if details else {}),
        },
    }


def frame(item: Outgoing) -> str:
    """The JSON text of an outgoing item (an event's is encoded once for its whole audience)."""
    if isinstance(item, EventOut):
        return item.text
    return _dump(item)


def _dump(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)
