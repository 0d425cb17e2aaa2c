"""Webhooks and their delivery log (contract §7)."""

from __future__ import annotations

from typing import Annotated, Literal

import httpx2
from pydantic import AfterValidator, BaseModel, Field, StringConstraints, field_validator

from ..webhooks.policy import is_event_pattern
from .bases import refuse_null
from .common import PageMeta, RequestModel, ResponseModel, Text, Timestamp

MAX_URL_LENGTH = 2048
MAX_EVENT_TYPES = 50
DeliveryStatus = Literal["pending", "succeeded", "failed"]


def _check_url(value: str) -> str:
    """An absolute http(s) URL the sender can use, without credentials in it."""
    if any(char.isspace() for char in value):
        raise ValueError("must not contain whitespace")
    try:
        url = httpx2.URL(value)
    except Exception as exc:  # the client's own parser decides what it can send to
        raise ValueError("is not a valid URL") from exc
    if url.scheme not in ("http", "https"):
        raise ValueError("must be an http or https URL")
    if not url.host:
        raise ValueError("must name a host")
    if url.port is not None and not 0 < url.port < 65536:
        raise ValueError("must name a port between 1 and 65535")
    if url.userinfo:
        raise ValueError("must not contain credentials; authenticate with the signature")
    return value


def _check_patterns(value: list[str]) -> list[str]:
    unknown = [pattern for pattern in value if not is_event_pattern(pattern)]
    if unknown:
        raise ValueError(
            f"unknown event types {unknown[:5]}: use a type such as 'record.created', "
            "'<channel>.*' or '*'"
        )
    return list(dict.fromkeys(value))


WebhookUrl = Annotated[
    Text,
    StringConstraints(min_length=1, max_length=MAX_URL_LENGTH),
    AfterValidator(_check_url),
]
EventPatterns = Annotated[
    list[Annotated[str, StringConstraints(min_length=1, max_length=64)]],
    Field(min_length=1, max_length=MAX_EVENT_TYPES),
    AfterValidator(_check_patterns),
]
ResourceId = Annotated[Text, StringConstraints(min_length=1, max_length=64)]


class WebhookIn(RequestModel):
    workspace_id: ResourceId
    url: WebhookUrl
    event_types: EventPatterns = Field(
        description="Event types of contract §8, '<channel>.*', or '*'."
    )
    table_id: ResourceId | None = Field(
        default=None, description="Only events of this table (of the same workspace)."
    )
    is_active: bool = True


class WebhookUpdate(RequestModel):
    """A partial update: keys left out keep their value; ``table_id: null`` widens the webhook
    to the whole workspace, ``null`` elsewhere is refused."""

    url: WebhookUrl | None = None
    event_types: EventPatterns | None = None
    table_id: ResourceId | None = None
    is_active: bool | None = None

    _not_null = field_validator("url", "event_types", "is_active", mode="before")(refuse_null)


class WebhookOut(ResponseModel):
    id: str
    workspace_id: str
    table_id: str | None
    url: str
    event_types: list[str]
    is_active: bool
    #: Why the server disabled it (a long run of failures); null when active or disabled by hand.
    disabled_reason: str | None
    #: Failed attempts in a row, and since when; both reset by a success.
    failure_count: int
    failing_since: Timestamp | None
    created_by: str | None
    created_at: Timestamp
    updated_at: Timestamp


class WebhookCreated(WebhookOut):
    """The answer to create: the only time the signing secret is shown."""

    secret: str = Field(description="The Standard Webhooks signing secret (whsec_…).")


class WebhookList(BaseModel):
    data: list[WebhookOut]
    pagination: PageMeta


class DeliveryOut(ResponseModel):
    id: str
    webhook_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: Timestamp | None
    last_attempt_at: Timestamp | None
    last_status_code: int | None
    last_error: str | None
    last_response_body: str | None
    last_duration_ms: int | None
    created_at: Timestamp
    updated_at: Timestamp


class DeliveryList(BaseModel):
    data: list[DeliveryOut]
    pagination: PageMeta
